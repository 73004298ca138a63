//! Registration, logout and password change.

use crate::auth::refresh::hash_token;
use crate::auth::AuthUser;
use crate::cache::Change;
use crate::domain::{Email, Password, Role};
use crate::error::{AppError, AppResult};
use crate::models::audit::{self, action, NewAuditEvent};
use crate::models::users::{self, NewUser, User};
use crate::models::{now, refresh_tokens, sessions as session_rows};
use crate::net::ClientInfo;
use crate::services::lockout::{Attempt, AttemptKeys, Policy, Reservation};
use crate::services::login::release;
use crate::services::sessions::{self, token_pair, Grant};
use crate::state::AppState;
use crate::views::{TokenPairView, UserView};

/// Creates an account. The caller decides the role (self-registration: `user`).
pub async fn create_user(
    state: &AppState,
    email: Email,
    password: Password,
    role: Role,
    actor: Option<i64>,
    client: ClientInfo,
) -> AppResult<User> {
    let hash = state.hasher.hash(password).await?;
    state
        .db
        .transaction(move |conn| {
            let at = now();
            if users::find_by_email(conn, email.as_str())?.is_some() {
                return Err(AppError::EmailTaken);
            }
            let user = users::insert(
                conn,
                &NewUser {
                    email: email.as_str(),
                    password_hash: &hash,
                    role: role.as_str(),
                    disabled: false,
                    password_version: 1,
                    created_at: at,
                    updated_at: at,
                },
            )
            // Two registrations racing for one address: the loser lands here.
            .map_err(|e| match AppError::from(e) {
                AppError::Conflict => AppError::EmailTaken,
                other => other,
            })?;
            let (name, actor) = match actor {
                Some(a) => (action::USER_CREATED, a),
                None => (action::REGISTER, user.id),
            };
            audit::record(
                conn,
                NewAuditEvent::new(name, at)
                    .actor(actor)
                    .target(user.id)
                    .ip(client.ip.as_deref())
                    .detail(serde_json::json!({ "email": user.email, "role": user.role })),
            )?;
            Ok(user)
        })
        .await
}

pub async fn register(
    state: &AppState,
    email: Email,
    password: Password,
    client: ClientInfo,
) -> AppResult<UserView> {
    let user = create_user(state, email, password, Role::User, None, client).await?;
    Ok(UserView::from(&user))
}

/// Ends the caller's session: its refresh tokens and every access token carrying its
/// id stop working at once. A refresh token of another of the caller's sessions, if
/// given, ends that session too.
pub async fn logout(
    state: &AppState,
    user: &AuthUser,
    refresh_token: Option<String>,
    client: ClientInfo,
) -> AppResult<()> {
    let (uid, sid) = (user.id, user.session_id.clone());
    state
        .change(move |conn, changed| {
            let at = now();
            let mut ended = vec![sid.clone()];
            if let Some(t) = refresh_token {
                if let Some(token) = refresh_tokens::find_by_hash(conn, &hash_token(&t))? {
                    let owned = session_rows::find(conn, &token.session_id)?
                        .is_some_and(|s| s.user_id == uid);
                    if owned && token.session_id != sid {
                        ended.push(token.session_id);
                    }
                }
            }
            // One order for every transaction that revokes several sessions: two
            // logouts ending each other's sessions cannot deadlock.
            ended.sort();
            for id in ended {
                session_rows::revoke(conn, &id, at)?;
                changed.push(Change::Session(id));
            }
            audit::record(
                conn,
                NewAuditEvent::new(action::LOGOUT, at)
                    .actor(uid)
                    .target(uid)
                    .ip(client.ip.as_deref())
                    .detail(serde_json::json!({ "session_id": sid })),
            )?;
            Ok(())
        })
        .await
}

enum PasswordChange {
    Done(User, Grant),
    /// Someone changed the password between the check and the write.
    Conflict,
}

/// Checks the current password, stores the new one and bumps the password version in
/// one transaction: every earlier token, on every device, dies. Returns a fresh pair.
///
/// The check is a password check like a login's: it reserves a place in the
/// account's (and the client's) lockout window first, a wrong current password counts
/// as a failure and is audited, and a locked account gets 429, so a stolen access
/// token cannot be used to guess the password.
pub async fn change_password(
    state: &AppState,
    caller: &AuthUser,
    current: String,
    new: Password,
    client: ClientInfo,
) -> AppResult<TokenPairView> {
    let uid = caller.id;
    let policy = Policy::from_settings(&state.settings.auth);
    let client_key = client.lockout_key();
    let reserved = state
        .db
        .transaction(move |conn| {
            let user = users::find(conn, uid)?.ok_or(AppError::InvalidToken)?;
            let keys = AttemptKeys {
                account: user.email.clone(),
                client: client_key,
            };
            Ok(match policy.reserve(conn, keys, now())? {
                Reservation::Granted(attempt) => Ok((attempt, user)),
                Reservation::Locked(retry) => Err(retry),
            })
        })
        .await?;
    let (attempt, user) = match reserved {
        Ok(found) => found,
        Err(retry_after_secs) => return Err(AppError::TooManyAttempts { retry_after_secs }),
    };
    let checked = state
        .hasher
        .verify(current, Some(user.password_hash.clone()))
        .await;
    let hash = match checked {
        Ok(true) => state.hasher.hash(new).await,
        Ok(false) => return Err(wrong_current_password(state, policy, attempt, uid, client).await),
        Err(e) => Err(e),
    };
    let hash = match hash {
        Ok(h) => h,
        Err(e) => return Err(release(state, policy, attempt, e).await),
    };
    let ttl = state.settings.auth.refresh_token_ttl_secs;
    let outcome = state
        .change(move |conn, changed| {
            let at = now();
            if users::set_password(conn, uid, &hash, user.password_version, at)? == 0 {
                policy.release(conn, &attempt)?;
                return Ok(PasswordChange::Conflict);
            }
            policy.succeed(conn, &attempt)?;
            session_rows::revoke_all_for_user(conn, uid, None, at)?;
            changed.extend([Change::User(uid), Change::AllSessions(uid)]);
            let user = users::find(conn, uid)?.ok_or(AppError::InvalidToken)?;
            let grant = sessions::start(conn, &user, &client, ttl, at)?;
            audit::record(
                conn,
                NewAuditEvent::new(action::PASSWORD_CHANGE, at)
                    .actor(uid)
                    .target(uid)
                    .ip(client.ip.as_deref()),
            )?;
            Ok(PasswordChange::Done(user, grant))
        })
        .await?;
    match outcome {
        PasswordChange::Done(user, grant) => token_pair(state, &user, grant),
        PasswordChange::Conflict => Err(AppError::Conflict),
    }
}

/// Counts a wrong current password toward the lockout and audits it.
async fn wrong_current_password(
    state: &AppState,
    policy: Policy,
    attempt: Attempt,
    uid: i64,
    client: ClientInfo,
) -> AppError {
    let recorded = state
        .db
        .transaction(move |conn| {
            let at = now();
            let locked = policy.fail(conn, &attempt, at)?;
            let event = |name| {
                NewAuditEvent::new(name, at)
                    .actor(uid)
                    .target(uid)
                    .ip(client.ip.as_deref())
            };
            let detail = serde_json::json!({ "reason": "invalid_credentials" });
            audit::record(conn, event(action::PASSWORD_CHANGE_FAILURE).detail(detail))?;
            if locked {
                let detail = serde_json::json!({ "reason": "password_change" });
                audit::record(conn, event(action::LOCKOUT).detail(detail))?;
            }
            Ok(locked)
        })
        .await;
    match recorded {
        Ok(locked) => {
            if locked {
                state.metrics.lockouts.inc();
            }
            AppError::InvalidCredentials
        }
        Err(e) => e,
    }
}
