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

pub fn for_email(conn: &mut Conn, email: &str, since: NaiveDateTime) -> QueryResult<Window> {
    let q = login_failures::table
        .filter(login_failures::email.eq(email))
        .filter(login_failures::at.ge(since));
    let count = q.count().get_result(conn)?;
    let oldest = q.select(min(login_failures::at)).first(conn)?;
    Ok(Window { count, oldest })
}

pub fn for_ip(conn: &mut Conn, ip: &str, since: NaiveDateTime) -> QueryResult<Window> {
    let q = login_failures::table
        .filter(login_failures::ip.eq(ip))
        .filter(login_failures::at.ge(since));
    let count = q.count().get_result(conn)?;
    let oldest = q.select(min(login_failures::at)).first(conn)?;
    Ok(Window { count, oldest })
}

pub fn clear_email(conn: &mut Conn, email: &str) -> QueryResult<usize> {
    diesel::delete(login_failures::table.filter(login_failures::email.eq(email))).execute(conn)
}

pub fn purge(conn: &mut Conn, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(login_failures::table.filter(login_failures::at.lt(before))).execute(conn)
}
