//! The `recovery_codes` table: a user's single-use recovery codes, as hashes only.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::Conn;
use crate::schema::recovery_codes;

/// Replaces every code of the user with `hashes`: the old codes stop working.
pub fn replace_all(conn: &mut Conn, user_id: i64, hashes: &[String]) -> QueryResult<usize> {
    delete_all(conn, user_id)?;
    // One row at a time: batch inserts are not available on the multi-backend
    // connection, and there are only ten.
    let mut inserted = 0;
    for hash in hashes {
        inserted += diesel::insert_into(recovery_codes::table)
            .values((
                recovery_codes::user_id.eq(user_id),
                recovery_codes::code_hash.eq(hash.as_str()),
            ))
            .execute(conn)?;
    }
    Ok(inserted)
}

/// Spends the code with this hash: 1 for exactly one of any number of concurrent
/// callers, 0 for the others and for a code that is unknown or spent.
pub fn spend(conn: &mut Conn, user_id: i64, hash: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        recovery_codes::table
            .filter(recovery_codes::user_id.eq(user_id))
            .filter(recovery_codes::code_hash.eq(hash))
            .filter(recovery_codes::used_at.is_null()),
    )
    .set(recovery_codes::used_at.eq(now))
    .execute(conn)
}

/// Codes the user can still use.
pub fn unused(conn: &mut Conn, user_id: i64) -> QueryResult<i64> {
    recovery_codes::table
        .filter(recovery_codes::user_id.eq(user_id))
        .filter(recovery_codes::used_at.is_null())
        .count()
        .get_result(conn)
}

pub fn delete_all(conn: &mut Conn, user_id: i64) -> QueryResult<usize> {
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id))).execute(conn)
}
