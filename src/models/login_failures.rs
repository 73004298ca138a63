//! The `login_failures` table: recent failed password checks, counted per account and
//! per client IP for brute-force lockout, plus `pending` rows: attempts whose password
//! is being checked right now, which count toward the lock until they are settled.
//! Stored in the database so the lockout holds across restarts and instances.

use crate::db::Conn;
use crate::models::locks;
use crate::schema::login_failures;
use chrono::NaiveDateTime;
use diesel::dsl::min;
use diesel::prelude::*;

/// Serialises every lockout decision about these keys until the transaction ends.
pub fn lock(conn: &mut Conn, keys: &[&str]) -> QueryResult<()> {
    locks::lock(conn, "login_failures", keys)
}

/// Inserts a pending attempt and returns its id.
pub fn reserve(conn: &mut Conn, email: &str, ip: &str, at: NaiveDateTime) -> QueryResult<i64> {
    diesel::insert_into(login_failures::table)
        .values((
            login_failures::email.eq(email),
            login_failures::ip.eq(ip),
            login_failures::at.eq(at),
            login_failures::pending.eq(true),
        ))
        .returning(login_failures::id)
        .get_result(conn)
}

/// Turns a pending attempt into a counted failure; 0 when it is gone (an admin
/// unlock cleared it meanwhile).
pub fn confirm(conn: &mut Conn, id: i64) -> QueryResult<usize> {
    diesel::update(
        login_failures::table
            .find(id)
            .filter(login_failures::pending.eq(true)),
    )
    .set(login_failures::pending.eq(false))
    .execute(conn)
}

/// Forgets a pending attempt (the password was right, or it could not be checked).
pub fn release(conn: &mut Conn, id: i64) -> QueryResult<usize> {
    diesel::delete(
        login_failures::table
            .find(id)
            .filter(login_failures::pending.eq(true)),
    )
    .execute(conn)
}

/// Attempts since `since` and the oldest of them (which decides when the lock lifts).
pub struct Window {
    pub count: i64,
    pub oldest: Option<NaiveDateTime>,
}

/// Who the attempts are counted for.
#[derive(Clone, Copy)]
pub enum Key<'a> {
    Email(&'a str),
    Ip(&'a str),
}

/// Which attempts a window counts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    /// Failures and attempts still being checked: what decides a lock.
    FailuresAndPending,
    /// Failures only: what decides that a lock has just been reached.
    Failures,
}

pub fn window(
    conn: &mut Conn,
    key: Key<'_>,
    since: NaiveDateTime,
    counting: Counting,
) -> QueryResult<Window> {
    let mut q = login_failures::table
        .filter(login_failures::at.ge(since))
        .into_boxed();
    q = match key {
        Key::Email(email) => q.filter(login_failures::email.eq(email)),
        Key::Ip(ip) => q.filter(login_failures::ip.eq(ip)),
    };
    if counting == Counting::Failures {
        q = q.filter(login_failures::pending.eq(false));
    }
    let (count, oldest) = q
        .select((diesel::dsl::count_star(), min(login_failures::at)))
        .first(conn)?;
    Ok(Window { count, oldest })
}

/// Clears an account's counted failures (a successful login or password change).
/// Attempts still being checked stay: they are settled by their own requests.
pub fn clear_failures(conn: &mut Conn, email: &str) -> QueryResult<usize> {
    diesel::delete(
        login_failures::table
            .filter(login_failures::email.eq(email))
            .filter(login_failures::pending.eq(false)),
    )
    .execute(conn)
}

/// Clears everything counted against an account (an admin unlock, a deletion).
pub fn clear_email(conn: &mut Conn, email: &str) -> QueryResult<usize> {
    diesel::delete(login_failures::table.filter(login_failures::email.eq(email))).execute(conn)
}

pub fn purge(conn: &mut Conn, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(login_failures::table.filter(login_failures::at.lt(before))).execute(conn)
}
