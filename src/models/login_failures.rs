//! The `login_failures` table: recent failed logins, counted per account and per
//! client IP for brute-force lockout. Stored in the database so the lockout holds
//! across restarts and instances.

use chrono::NaiveDateTime;
use diesel::dsl::min;
use diesel::prelude::*;

use crate::db::Conn;
use crate::schema::login_failures;

pub fn record(conn: &mut Conn, email: &str, ip: &str, at: NaiveDateTime) -> QueryResult<usize> {
    diesel::insert_into(login_failures::table)
        .values((
            login_failures::email.eq(email),
            login_failures::ip.eq(ip),
            login_failures::at.eq(at),
        ))
        .execute(conn)
}

/// Failures since `since` and the oldest of them (which decides when the lock lifts).
pub struct Window {
    pub count: i64,
    pub oldest: Option<NaiveDateTime>,
}

/// Who the failures are counted for.
pub enum Key<'a> {
    Email(&'a str),
    Ip(&'a str),
}

pub fn window(conn: &mut Conn, key: Key<'_>, since: NaiveDateTime) -> QueryResult<Window> {
    let mut q = login_failures::table
        .filter(login_failures::at.ge(since))
        .into_boxed();
    q = match key {
        Key::Email(email) => q.filter(login_failures::email.eq(email)),
        Key::Ip(ip) => q.filter(login_failures::ip.eq(ip)),
    };
    let (count, oldest) = q
        .select((diesel::dsl::count_star(), min(login_failures::at)))
        .first(conn)?;
    Ok(Window { count, oldest })
}

pub fn clear_email(conn: &mut Conn, email: &str) -> QueryResult<usize> {
    diesel::delete(login_failures::table.filter(login_failures::email.eq(email))).execute(conn)
}

pub fn purge(conn: &mut Conn, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(login_failures::table.filter(login_failures::at.lt(before))).execute(conn)
}
