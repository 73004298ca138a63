//! The `refresh_tokens` table: one row per issued refresh token, stored as its SHA-256.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::Conn;
use crate::schema::{refresh_tokens, sessions};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshToken {
    pub id: i64,
    pub session_id: String,
    pub token_hash: String,
    pub parent_id: Option<i64>,
    pub issued_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
}

#[derive(Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct NewRefreshToken<'a> {
    pub session_id: &'a str,
    pub token_hash: &'a str,
    pub parent_id: Option<i64>,
    pub issued_at: NaiveDateTime,
}

pub fn insert(conn: &mut Conn, new: &NewRefreshToken<'_>) -> QueryResult<usize> {
    diesel::insert_into(refresh_tokens::table)
        .values(new)
        .execute(conn)
}

/// The token with this hash.
pub fn find_by_hash(conn: &mut Conn, hash: &str) -> QueryResult<Option<RefreshToken>> {
    refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(hash))
        .select(RefreshToken::as_select())
        .first(conn)
        .optional()
}

/// The token with this hash and the user its session belongs to (one query: a
/// refresh locks that user's row before the session's).
pub fn find_with_owner(conn: &mut Conn, hash: &str) -> QueryResult<Option<(RefreshToken, i64)>> {
    refresh_tokens::table
        .inner_join(sessions::table)
        .filter(refresh_tokens::token_hash.eq(hash))
        .select((RefreshToken::as_select(), sessions::user_id))
        .first(conn)
        .optional()
}

/// Marks the token used if nobody has yet. Exactly one caller ever gets 1 back:
/// the conditional UPDATE is atomic on both backends.
pub fn claim(conn: &mut Conn, id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .find(id)
            .filter(refresh_tokens::used_at.is_null()),
    )
    .set(refresh_tokens::used_at.eq(now))
    .execute(conn)
}

pub fn used_at(conn: &mut Conn, id: i64) -> QueryResult<Option<NaiveDateTime>> {
    refresh_tokens::table
        .find(id)
        .select(refresh_tokens::used_at)
        .first(conn)
}
