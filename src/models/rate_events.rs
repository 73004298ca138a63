//! The `rate_events` table: requests counted per key for rate limits other than the
//! login lockout (e.g. password-reset requests per client).

use chrono::NaiveDateTime;
use diesel::dsl::min;
use diesel::prelude::*;

use crate::db::Conn;
use crate::schema::rate_events;

pub fn record(conn: &mut Conn, key: &str, at: NaiveDateTime) -> QueryResult<usize> {
    diesel::insert_into(rate_events::table)
        .values((rate_events::key.eq(key), rate_events::at.eq(at)))
        .execute(conn)
}

/// How many events of `key` since `since`, and the oldest of them.
pub fn window(
    conn: &mut Conn,
    key: &str,
    since: NaiveDateTime,
) -> QueryResult<(i64, Option<NaiveDateTime>)> {
    rate_events::table
        .filter(rate_events::key.eq(key))
        .filter(rate_events::at.ge(since))
        .select((diesel::dsl::count_star(), min(rate_events::at)))
        .first(conn)
}

pub fn purge(conn: &mut Conn, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(rate_events::table.filter(rate_events::at.lt(before))).execute(conn)
}
