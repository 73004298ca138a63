//! Writes to what the bearer middleware checks (a user's row, a session's state), and
//! the record of them that keeps every instance's auth cache honest.
//!
//! The model functions that make such writes (`users::update`, `users::set_password`,
//! `users::set_email_verified`, `users::set_mfa_enabled`, `users::delete`,
//! `users::touch_last_login`, `sessions::revoke`, `sessions::revoke_all_for_user`,
//! `roles::create`, `roles::update`, `roles::delete`, `signing_keys::rotate`, `api_keys::delete`) take an [`AuthTx`] instead of a
//! plain connection, and record their own [`Change`] as part of the write. An `AuthTx` is
//! made only by [`track`], which publishes the changes to other instances from inside
//! the transaction and hands them back for local invalidation after commit
//! (`AppState::change` does both). So a new auth-state write cannot forget its
//! invalidation: called with a plain connection, it does not compile.
//!
//! ```compile_fail
//! // A revocation outside a tracked transaction is a type error.
//! fn revoke(conn: &mut turnstile::db::Conn) {
//!     let now = chrono::Utc::now().naive_utc();
//!     let _ = turnstile::models::sessions::revoke(conn, "session-id", now);
//! }
//! ```

use std::ops::{Deref, DerefMut};

use diesel::sql_types::Text;
use diesel::{QueryResult, RunQueryDsl};

use crate::db::Conn;
use crate::error::AppResult;

/// One change to auth state, as invalidated locally and broadcast to other instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The user's row changed (role, disabled, password, last login) or it was deleted.
    User(i64),
    /// One session was revoked.
    Session(String),
    /// Every session of the user was revoked.
    AllSessions(i64),
    /// A role was created, deleted, or its permissions changed.
    Roles,
    /// The signing keys changed (a rotation, an algorithm switch).
    Keys,
    /// An API key was deleted.
    ApiKey(i64),
}

/// A transaction that may change auth state. Dereferences to the connection, so every
/// other query runs on it as usual.
pub struct AuthTx<'c> {
    conn: &'c mut Conn,
    changes: Vec<Change>,
}

impl AuthTx<'_> {
    /// Records what a write changed. Only the model functions making the write call it.
    pub(in crate::models) fn record(&mut self, change: Change) {
        if !self.changes.contains(&change) {
            self.changes.push(change);
        }
    }
}

impl Deref for AuthTx<'_> {
    type Target = Conn;

    fn deref(&self) -> &Conn {
        self.conn
    }
}

impl DerefMut for AuthTx<'_> {
    fn deref_mut(&mut self) -> &mut Conn {
        self.conn
    }
}

/// Runs `f` on `conn`, which must already be inside a transaction, with a handle that
/// records auth-state changes; then sends them to the other instances (PostgreSQL
/// `NOTIFY`, delivered only if the transaction commits). Returns the changes, which
/// the caller applies to its own cache once the transaction has committed.
#[must_use = "the changes must be applied to the local cache after commit"]
pub(crate) fn track<R>(
    conn: &mut Conn,
    origin: &str,
    f: impl FnOnce(&mut AuthTx<'_>) -> AppResult<R>,
) -> AppResult<(R, Vec<Change>)> {
    let mut tx = AuthTx {
        conn,
        changes: Vec::new(),
    };
    let result = f(&mut tx)?;
    let AuthTx { conn, changes } = tx;
    publish(conn, origin, &changes)?;
    Ok((result, changes))
}

/// The PostgreSQL channel the changes travel on.
pub const CHANNEL: &str = "turnstile_auth";

fn publish(conn: &mut Conn, origin: &str, changes: &[Change]) -> QueryResult<()> {
    if let Conn::Postgres(pg) = conn {
        for change in changes {
            diesel::sql_query("SELECT pg_notify($1, $2)")
                .bind::<Text, _>(CHANNEL)
                .bind::<Text, _>(encode(origin, change))
                .execute(pg)?;
        }
    }
    Ok(())
}

/// `origin|kind:value`. The origin lets an instance skip its own echoes: it applied
/// those to its cache already, right after commit.
fn encode(origin: &str, change: &Change) -> String {
    match change {
        Change::User(id) => format!("{origin}|u:{id}"),
        Change::Session(sid) => format!("{origin}|s:{sid}"),
        Change::AllSessions(id) => format!("{origin}|a:{id}"),
        Change::Roles => format!("{origin}|r:"),
        Change::Keys => format!("{origin}|k:"),
        Change::ApiKey(id) => format!("{origin}|t:{id}"),
    }
}

/// A notification's origin and change, or `None` for anything else.
pub fn decode(payload: &str) -> Option<(&str, Change)> {
    let (origin, change) = payload.split_once('|')?;
    let (kind, value) = change.split_once(':')?;
    let change = match kind {
        "u" => value.parse().ok().map(Change::User),
        "s" => Some(Change::Session(value.to_string())),
        "a" => value.parse().ok().map(Change::AllSessions),
        "r" => Some(Change::Roles),
        "k" => Some(Change::Keys),
        "t" => value.parse().ok().map(Change::ApiKey),
        _ => None,
    }?;
    Some((origin, change))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_survive_the_wire_format() {
        for c in [
            Change::User(42),
            Change::Session("abc-_DEF".into()),
            Change::AllSessions(7),
            Change::Roles,
            Change::Keys,
            Change::ApiKey(9),
        ] {
            assert_eq!(decode(&encode("me", &c)), Some(("me", c)));
        }
        assert_eq!(decode("me|x:1"), None);
        assert_eq!(decode("me|u:notanumber"), None);
        assert_eq!(decode("u:1"), None);
        assert_eq!(decode("garbage"), None);
    }
}
