//! The `sessions` table: one row per login on a device.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::Conn;
use crate::models::auth_state::{AuthTx, Change};
use crate::models::users::User;
use crate::schema::{sessions, users};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = sessions)]
pub struct Session {
    pub id: String,
    pub user_id: i64,
    pub password_version: i32,
    pub created_at: NaiveDateTime,
    pub last_used_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub revoked_at: Option<NaiveDateTime>,
    /// How the session was authenticated (`Amr::as_str`).
    pub amr: String,
    /// When its holder last proved who they are; `None` on sessions older than the
    /// column, which count from `created_at`.
    pub authenticated_at: Option<NaiveDateTime>,
}

impl Session {
    pub fn is_live(&self, now: NaiveDateTime) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }

    /// When its holder last proved who they are (the tokens' `auth_time`).
    pub fn auth_time(&self) -> NaiveDateTime {
        self.authenticated_at.unwrap_or(self.created_at)
    }
}

/// One query: the user's current row and the token's session, or `None` when either
/// is gone or they do not belong together.
pub fn with_user(
    conn: &mut Conn,
    user_id: i64,
    session_id: &str,
) -> QueryResult<Option<(User, Session)>> {
    sessions::table
        .inner_join(users::table)
        .filter(sessions::id.eq(session_id))
        .filter(sessions::user_id.eq(user_id))
        .select((User::as_select(), Session::as_select()))
        .first(conn)
        .optional()
}

pub fn insert(conn: &mut Conn, session: &Session) -> QueryResult<usize> {
    diesel::insert_into(sessions::table)
        .values(session)
        .execute(conn)
}

pub fn find(conn: &mut Conn, id: &str) -> QueryResult<Option<Session>> {
    sessions::table
        .find(id)
        .select(Session::as_select())
        .first(conn)
        .optional()
}

/// The session's row, locked until the end of the transaction on PostgreSQL, so that
/// a refresh and a revocation of one session cannot interleave.
pub fn lock(conn: &mut Conn, id: &str) -> QueryResult<Option<Session>> {
    match conn {
        Conn::Postgres(pg) => sessions::table
            .find(id)
            .select(Session::as_select())
            .for_update()
            .first(pg)
            .optional(),
        Conn::Sqlite(_) => sessions::table
            .find(id)
            .select(Session::as_select())
            .first(conn)
            .optional(),
    }
}

pub fn list_live(conn: &mut Conn, user_id: i64, now: NaiveDateTime) -> QueryResult<Vec<Session>> {
    sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::expires_at.gt(now))
        .order((sessions::created_at.desc(), sessions::id.asc()))
        .select(Session::as_select())
        .load(conn)
}

pub fn touch(conn: &mut Conn, id: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(sessions::table.find(id))
        .set(sessions::last_used_at.eq(now))
        .execute(conn)
}

/// Revokes one session; returns 0 when it was already revoked or does not exist.
pub fn revoke(tx: &mut AuthTx<'_>, id: &str, now: NaiveDateTime) -> QueryResult<usize> {
    tx.record(Change::Session(id.to_string()));
    diesel::update(
        sessions::table
            .find(id)
            .filter(sessions::revoked_at.is_null()),
    )
    .set(sessions::revoked_at.eq(now))
    .execute(&mut **tx)
}

/// Revokes every live session of a user, except `keep` if given.
pub fn revoke_all_for_user(
    tx: &mut AuthTx<'_>,
    user_id: i64,
    keep: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    tx.record(Change::AllSessions(user_id));
    let target = sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::revoked_at.is_null());
    match keep {
        Some(id) => diesel::update(target.filter(sessions::id.ne(id)))
            .set(sessions::revoked_at.eq(now))
            .execute(&mut **tx),
        None => diesel::update(target)
            .set(sessions::revoked_at.eq(now))
            .execute(&mut **tx),
    }
}

/// Deletes sessions that can no longer authenticate anything (revoked, or past
/// their absolute expiry) once `before` has passed; their refresh tokens go with
/// them (ON DELETE CASCADE). Safe at any time: a token whose session row is gone is
/// rejected like a revoked one.
pub fn purge(conn: &mut Conn, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(
        sessions::table.filter(
            sessions::expires_at
                .lt(before)
                .or(sessions::revoked_at.lt(before)),
        ),
    )
    .execute(conn)
}
