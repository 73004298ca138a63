//! The `mfa_challenges` table: the pending second step of a login, one per user (a
//! newer login's replaces it), its token stored only as a hash and bound to the
//! password version it was issued under.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::Conn;
use crate::schema::mfa_challenges;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mfa_challenges)]
pub struct MfaChallenge {
    pub user_id: i64,
    pub token_hash: String,
    pub password_version: i32,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    /// The account's security stamp when the password was checked.
    pub security_stamp: i64,
}

/// Issues the user's challenge, replacing any earlier one.
pub fn put(conn: &mut Conn, challenge: &MfaChallenge) -> QueryResult<usize> {
    delete(conn, challenge.user_id)?;
    diesel::insert_into(mfa_challenges::table)
        .values((
            mfa_challenges::user_id.eq(challenge.user_id),
            mfa_challenges::token_hash.eq(&challenge.token_hash),
            mfa_challenges::password_version.eq(challenge.password_version),
            mfa_challenges::created_at.eq(challenge.created_at),
            mfa_challenges::expires_at.eq(challenge.expires_at),
            mfa_challenges::security_stamp.eq(challenge.security_stamp),
        ))
        .execute(conn)
}

pub fn find_by_hash(conn: &mut Conn, hash: &str) -> QueryResult<Option<MfaChallenge>> {
    mfa_challenges::table
        .filter(mfa_challenges::token_hash.eq(hash))
        .select(MfaChallenge::as_select())
        .first(conn)
        .optional()
}

/// Spends the challenge with this hash: 1 for exactly one of any number of
/// concurrent callers.
pub fn spend(conn: &mut Conn, hash: &str) -> QueryResult<usize> {
    diesel::delete(mfa_challenges::table.filter(mfa_challenges::token_hash.eq(hash))).execute(conn)
}

pub fn delete(conn: &mut Conn, user_id: i64) -> QueryResult<usize> {
    diesel::delete(mfa_challenges::table.find(user_id)).execute(conn)
}

/// Deletes challenges that expired.
pub fn purge(conn: &mut Conn, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(mfa_challenges::table.filter(mfa_challenges::expires_at.le(now))).execute(conn)
}
