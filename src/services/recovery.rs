//! Account recovery and email verification: asking for a reset link, setting a new
//! password with one, verifying an address, and an admin's reset.
//!
//! Asking for a reset does the same work whatever the address (one rate-limit count
//! and one outbox row), so its answer and its timing say nothing about which accounts
//! exist; the outbox worker looks the account up and sends, or not. Links carry a
//! random token made when the mail is sent; the database keeps only its hash.
//!
//! Lock order, on every path that touches a user's link tokens (`email_tokens`) or
//! mails (`outbox`): first the user's row (`users::lock`), then, only where the
//! per-address mail limit is counted, the address's lock (`locks::lock("outbox",
//! ..)`), then the token and outbox rows. Taking the user's row first serialises
//! every maker and spender of one user's links, across instances: the newest link
//! voids the older ones (no two are ever live at once), and no two paths wait on each
//! other's token rows in opposite orders (a deadlock: an admin's reset against the
//! outbox worker).

use chrono::NaiveDateTime;

use crate::credentials::refresh::hash_token;
use crate::db::Conn;
use crate::domain::permission::USERS_WRITE;
use crate::domain::{Email, Password};
use crate::error::{AppError, AppResult};
use crate::models::audit::{Audit, Delivery};
use crate::models::email_tokens::{self, NewEmailToken, RESET, VERIFY};
use crate::models::outbox::{self, NewMail, EMAIL_VERIFICATION, PASSWORD_CHANGED, PASSWORD_RESET};
use crate::models::users::{self, User};
use crate::models::{login_failures, now, sessions};
use crate::net::ClientInfo;
use crate::secret::random_url_safe;
use crate::services::roles::check_outranks;
use crate::services::{authorize, ratelimit, Caller, Principal};
use crate::settings::Seconds;
use crate::state::AppState;

/// A link's token: 256 random bits, URL-safe.
pub fn new_link_token() -> String {
    random_url_safe(32)
}

/// Makes a token for `user` and `purpose`, stores its hash (voiding the user's earlier
/// ones of that purpose), and returns it with its expiry. The caller holds the user's
/// row lock (`users::lock`; see the lock order above), so two makers cannot both see
/// no older token and leave two live ones.
pub fn issue_token(
    conn: &mut Conn,
    user: &User,
    purpose: &str,
    ttl: Seconds<1>,
    at: NaiveDateTime,
) -> AppResult<(String, NaiveDateTime)> {
    let token = new_link_token();
    let expires_at = at + ttl.delta();
    email_tokens::create(
        conn,
        &NewEmailToken {
            user_id: user.id,
            purpose,
            token_hash: &hash_token(&token),
            email: &user.email,
            password_version: user.password_version,
            created_at: at,
            expires_at,
            security_stamp: user.security_stamp,
        },
    )?;
    Ok((token, expires_at))
}

/// Queues a mail when email is configured (in the caller's transaction).
pub fn queue_if_on(
    conn: &mut Conn,
    on: bool,
    kind: &str,
    user: &User,
    ip: Option<&str>,
    at: NaiveDateTime,
) -> AppResult<bool> {
    if !on {
        return Ok(false);
    }
    let mail = NewMail {
        kind,
        user_id: Some(user.id),
        to_addr: &user.email,
        ip,
    };
    outbox::enqueue(conn, &mail, at)?;
    Ok(true)
}

/// `POST /auth/password-reset`: 202 for every well-formed address; the per-client
/// limit answers 429, the same for every address.
pub async fn request_reset(state: &AppState, email: Email, client: &ClientInfo) -> AppResult<()> {
    state.require_mail()?;
    let auth = &state.settings.auth;
    let (max, window) = (
        auth.login_max_failures.get(),
        auth.login_window_secs.delta(),
    );
    let key = format!("password-reset:{}", client.lockout_key());
    let ip = client.ip.clone();
    state
        .db
        .transaction(move |conn| {
            let at = now();
            ratelimit::hit(conn, &key, max, window, at)?;
            let mail = NewMail {
                kind: PASSWORD_RESET,
                user_id: None,
                to_addr: email.as_str(),
                ip: ip.as_deref(),
            };
            outbox::enqueue(conn, &mail, at)?;
            Ok(())
        })
        .await?;
    state.mail_queued(PASSWORD_RESET);
    Ok(())
}

/// `POST /auth/password-reset/confirm`: sets the password, bumps the password version,
/// revokes every session, clears the lockout and marks the address verified.
pub async fn confirm_reset(state: &AppState, token: String, new_password: String) -> AppResult<()> {
    let hash = hash_token(&token);
    let lookup = hash.clone();
    let found = state
        .db
        .run(move |conn| Ok(email_tokens::find(conn, RESET, &lookup)?))
        .await?;
    if !found.is_some_and(|t| t.is_usable(now())) {
        return Err(AppError::InvalidResetToken);
    }
    // A weak password is refused before the token is touched: it stays usable.
    let password = Password::parse(new_password)?;
    let password_hash = state.hasher.hash(password).await?;
    let mail_on = state.mailer.is_some();
    let queued = state
        .change(move |tx| {
            let at = now();
            let token = email_tokens::find(tx, RESET, &hash)?.ok_or(AppError::InvalidResetToken)?;
            // A link made before a change of the role, the password, the address or
            // the disabled flag is void: it was handed over for the account as it was.
            let user = match users::lock(tx, token.user_id)? {
                Some(u) if token.still_binds(&u) => u,
                _ => return Err(AppError::InvalidResetToken),
            };
            if email_tokens::consume(tx, token.id, at)? == 0 {
                return Err(AppError::InvalidResetToken);
            }
            if users::set_password(tx, user.id, &password_hash, user.password_version, at)? == 0 {
                return Err(AppError::InvalidResetToken);
            }
            sessions::revoke_all_for_user(tx, user.id, None, at)?;
            login_failures::clear_email(tx, &user.email)?;
            users::set_email_verified(tx, user.id, at)?;
            email_tokens::void_all(tx, user.id, RESET)?;
            let queued = queue_if_on(tx, mail_on, PASSWORD_CHANGED, &user, None, at)?;
            Audit::password_reset().by_owner(user.id).record(tx, at)?;
            Ok(queued)
        })
        .await?;
    if queued {
        state.mail_queued(PASSWORD_CHANGED);
    }
    Ok(())
}

/// `POST /api/profile/email-verification`: queues a verification mail to the caller.
pub async fn send_verification(state: &AppState, caller: &Caller) -> AppResult<()> {
    state.require_mail()?;
    let (uid, ip) = (caller.user_id, caller.client.ip.clone());
    state
        .db
        .transaction(move |conn| {
            // The row lock makes "already queued?" and the insert one step.
            let user = users::lock(conn, uid)?.ok_or(AppError::InvalidToken)?;
            if user.email_verified {
                return Err(AppError::AlreadyVerified);
            }
            // One waiting mail per account, however often the button is pressed.
            if !outbox::is_queued(conn, EMAIL_VERIFICATION, uid)? {
                queue_if_on(conn, true, EMAIL_VERIFICATION, &user, ip.as_deref(), now())?;
            }
            Ok(())
        })
        .await?;
    state.mail_queued(EMAIL_VERIFICATION);
    Ok(())
}

/// `POST /auth/email-verification/confirm`: the address the link was sent to is
/// verified, if it is still the account's.
pub async fn confirm_verification(state: &AppState, token: String) -> AppResult<()> {
    let hash = hash_token(&token);
    state
        .change(move |tx| {
            let at = now();
            let token =
                email_tokens::find(tx, VERIFY, &hash)?.ok_or(AppError::InvalidVerificationToken)?;
            // A disabled account verifies nothing until it is enabled again.
            let user = match users::lock(tx, token.user_id)? {
                Some(u) if u.email == token.email && !u.disabled => u,
                _ => return Err(AppError::InvalidVerificationToken),
            };
            if email_tokens::consume(tx, token.id, at)? == 0 {
                return Err(AppError::InvalidVerificationToken);
            }
            users::set_email_verified(tx, user.id, at)?;
            Audit::email_verified(&user.email)
                .by_owner(user.id)
                .record(tx, at)?;
            Ok(())
        })
        .await
}

/// What an admin's reset produced.
pub enum AdminReset {
    /// A reset mail is queued.
    Mailed,
    /// A link for the admin to hand over.
    Link {
        link: String,
        expires_at: NaiveDateTime,
    },
}

/// `POST /api/admin/users/{id}/password-reset`. The caller must hold every permission
/// of the user's role: a reset link is the account.
pub async fn admin_reset(
    state: &AppState,
    caller: &Principal,
    id: i64,
    send_email: bool,
) -> AppResult<AdminReset> {
    authorize(&state.metrics, caller, [USERS_WRITE])?;
    if send_email {
        state.require_mail()?;
    }
    let (metrics, who) = (state.metrics.clone(), caller.clone());
    let ttl = state.settings.auth.reset_token_ttl_secs;
    let template = state.settings.email.reset_link.clone();
    let result = state
        .db
        .transaction(move |conn| {
            let at = now();
            let user = users::lock(conn, id)?.ok_or(AppError::NotFound("user"))?;
            check_outranks(conn, &metrics, &who, &user.role)?;
            let delivery = match send_email {
                true => Delivery::Email,
                false => Delivery::Link,
            };
            Audit::password_reset_requested(delivery)
                .by(who.by())
                .target(user.id)
                .ip(who.client().ip.as_deref())
                .record(conn, at)?;
            if send_email {
                queue_if_on(
                    conn,
                    true,
                    PASSWORD_RESET,
                    &user,
                    who.client().ip.as_deref(),
                    at,
                )?;
                return Ok(AdminReset::Mailed);
            }
            let (token, expires_at) = issue_token(conn, &user, RESET, ttl, at)?;
            Ok(AdminReset::Link {
                link: template.with_token(&token),
                expires_at,
            })
        })
        .await?;
    if let AdminReset::Mailed = result {
        state.mail_queued(PASSWORD_RESET);
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::new_link_token;
    use crate::credentials::refresh::hash_token;

    #[test]
    fn link_tokens_carry_256_random_bits_in_url_safe_text() {
        let a = new_link_token();
        // 32 bytes in unpadded base64url.
        assert_eq!(a.len(), 43, "{a}");
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(a, new_link_token());
    }

    #[test]
    fn only_the_hash_of_a_link_token_is_kept_and_it_never_shows_the_token() {
        let t = new_link_token();
        let h = hash_token(&t);
        assert_eq!(h, hash_token(&t));
        assert!(!h.contains(&t));
        assert_ne!(h, hash_token(&new_link_token()));
    }
}
