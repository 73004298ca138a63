//! The `email_tokens` table: the tokens of reset and verification links, stored only
//! as SHA-256 hashes. Single use, expiring, and a newer one of the same purpose
//! replaces the older ones of the user.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::Conn;
use crate::schema::email_tokens;

pub const RESET: &str = "reset";
pub const VERIFY: &str = "verify";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = email_tokens)]
pub struct EmailToken {
    pub id: i64,
    pub user_id: i64,
    pub purpose: String,
    pub token_hash: String,
    pub email: String,
    pub password_version: i32,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    /// The account's security stamp when the link was made.
    pub security_stamp: i64,
}

impl EmailToken {
    pub fn is_usable(&self, now: NaiveDateTime) -> bool {
        self.used_at.is_none() && self.expires_at > now
    }

    /// True while the account is as it was when the link was made: same address,
    /// password, role and disabled flag (the stamp moves with any of them), and
    /// enabled.
    pub fn still_binds(&self, user: &crate::models::users::User) -> bool {
        !user.disabled
            && user.email == self.email
            && user.password_version == self.password_version
            && user.security_stamp == self.security_stamp
    }
}

pub struct NewEmailToken<'a> {
    pub user_id: i64,
    pub purpose: &'a str,
    pub token_hash: &'a str,
    pub email: &'a str,
    pub password_version: i32,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub security_stamp: i64,
}

/// Stores a token and voids every earlier token of the same user and purpose.
pub fn create(conn: &mut Conn, new: &NewEmailToken<'_>) -> QueryResult<()> {
    diesel::delete(
        email_tokens::table
            .filter(email_tokens::user_id.eq(new.user_id))
            .filter(email_tokens::purpose.eq(new.purpose)),
    )
    .execute(conn)?;
    diesel::insert_into(email_tokens::table)
        .values((
            email_tokens::user_id.eq(new.user_id),
            email_tokens::purpose.eq(new.purpose),
            email_tokens::token_hash.eq(new.token_hash),
            email_tokens::email.eq(new.email),
            email_tokens::password_version.eq(new.password_version),
            email_tokens::created_at.eq(new.created_at),
            email_tokens::expires_at.eq(new.expires_at),
            email_tokens::security_stamp.eq(new.security_stamp),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut Conn, purpose: &str, hash: &str) -> QueryResult<Option<EmailToken>> {
    email_tokens::table
        .filter(email_tokens::token_hash.eq(hash))
        .filter(email_tokens::purpose.eq(purpose))
        .select(EmailToken::as_select())
        .first(conn)
        .optional()
}

/// Spends the token if nobody has: 1 for exactly one of any number of concurrent
/// callers, 0 for the others.
pub fn consume(conn: &mut Conn, id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        email_tokens::table
            .find(id)
            .filter(email_tokens::used_at.is_null())
            .filter(email_tokens::expires_at.gt(now)),
    )
    .set(email_tokens::used_at.eq(now))
    .execute(conn)
}

/// Voids every token of the user of this purpose (a password changed: no reset link
/// made before may be used).
pub fn void_all(conn: &mut Conn, user_id: i64, purpose: &str) -> QueryResult<usize> {
    diesel::delete(
        email_tokens::table
            .filter(email_tokens::user_id.eq(user_id))
            .filter(email_tokens::purpose.eq(purpose)),
    )
    .execute(conn)
}

/// Deletes spent and expired tokens.
pub fn purge(conn: &mut Conn, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(
        email_tokens::table.filter(
            email_tokens::expires_at
                .lt(now)
                .or(email_tokens::used_at.is_not_null()),
        ),
    )
    .execute(conn)
}

#[cfg(test)]
mod tests {
    use super::EmailToken;
    use chrono::{Duration, NaiveDateTime};

    fn token(expires_in: i64, used: bool) -> (EmailToken, NaiveDateTime) {
        let now = chrono::DateTime::from_timestamp(1_800_000_000, 0)
            .unwrap()
            .naive_utc();
        let t = EmailToken {
            id: 1,
            user_id: 1,
            purpose: super::RESET.into(),
            token_hash: "h".into(),
            email: "a@example.com".into(),
            password_version: 1,
            created_at: now - Duration::seconds(10),
            expires_at: now + Duration::seconds(expires_in),
            used_at: used.then_some(now),
            security_stamp: 0,
        };
        (t, now)
    }

    #[test]
    fn a_token_is_usable_once_and_until_it_expires() {
        let (fresh, now) = token(60, false);
        assert!(fresh.is_usable(now));
        let (spent, now) = token(60, true);
        assert!(!spent.is_usable(now));
        // Expiry is exclusive: at the very second it ends, it is gone.
        let (ending, now) = token(0, false);
        assert!(!ending.is_usable(now));
        let (expired, now) = token(-1, false);
        assert!(!expired.is_usable(now));
    }
}
