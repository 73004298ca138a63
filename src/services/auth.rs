//! Registration, login, refresh-token rotation, logout and password change.

use chrono::Duration;

use crate::auth::refresh::hash_token;
use crate::auth::AuthUser;
use crate::cache::Change;
use crate::domain::{Email, Password, Role};
use crate::error::{AppError, AppResult};
use crate::models::audit::{self, action, NewAuditEvent};
use crate::models::users::{self, NewUser, User};
use crate::models::{login_failures, now, refresh_tokens, sessions as session_rows};
use crate::net::ClientInfo;
use crate::services::lockout::Policy;
use crate::services::sessions::{self, mint_refresh, token_pair, Grant};
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

/// What a malformed login address is counted under: no control characters (NUL
/// cannot be stored in PostgreSQL text), bounded length.
fn failure_key(raw: &str) -> String {
    raw.trim()
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_control())
        .take(254)
        .collect()
}

enum LoginCheck {
    Locked(u64),
    Proceed(Option<User>),
}

/// Verifies credentials and starts a session. Unknown email and wrong password are
/// indistinguishable: same body, and the same bcrypt work (a dummy hash).
pub async fn login(
    state: &AppState,
    raw_email: &str,
    password: String,
    client: ClientInfo,
) -> AppResult<TokenPairView> {
    // A login that could not be hashed anyway is refused before any database work.
    if state.hasher.pool().is_saturated() {
        return Err(AppError::Busy);
    }
    let policy = Policy::from_settings(&state.settings.auth);
    // A malformed address cannot name an account; it is still counted and timed alike.
    // A malformed address names no account, but it is still counted and timed like
    // any other failure, under a key stripped of what the database cannot store.
    let (email, well_formed) = match Email::parse(raw_email) {
        Ok(e) => (e.as_str().to_string(), true),
        Err(_) => (failure_key(raw_email), false),
    };
    let ip = client.ip_key().to_string();

    let (e, i) = (email.clone(), ip.clone());
    let check = state
        .db
        .run(move |conn| {
            if let Some(retry) = policy.check(conn, &e, &i, now())? {
                return Ok(LoginCheck::Locked(retry));
            }
            let user = match well_formed {
                true => users::find_by_email(conn, &e)?,
                false => None,
            };
            Ok(LoginCheck::Proceed(user))
        })
        .await?;
    let user = match check {
        LoginCheck::Locked(retry_after_secs) => {
            state.metrics.login("locked");
            return Err(AppError::TooManyAttempts { retry_after_secs });
        }
        LoginCheck::Proceed(user) => user,
    };

    let verified = state
        .hasher
        .verify(password, user.as_ref().map(|u| u.password_hash.clone()))
        .await?;

    match user {
        Some(user) if verified => {
            if user.disabled {
                let uid = user.id;
                let c = client.clone();
                state
                    .db
                    .transaction(move |conn| {
                        audit::record(
                            conn,
                            NewAuditEvent::new(action::LOGIN_FAILURE, now())
                                .target(uid)
                                .ip(c.ip.as_deref())
                                .detail(
                                    serde_json::json!({ "email": email, "reason": "disabled" }),
                                ),
                        )?;
                        Ok(())
                    })
                    .await?;
                state.metrics.login("disabled");
                return Err(AppError::AccountDisabled);
            }
            let ttl = state.settings.auth.refresh_token_ttl_secs;
            let (user, grant) = state
                .change(move |conn, changed| {
                    let at = now();
                    users::touch_last_login(conn, user.id, at)?;
                    changed.push(Change::User(user.id));
                    login_failures::clear_email(conn, &user.email)?;
                    let grant = sessions::start(conn, &user, &client, ttl, at)?;
                    audit::record(
                        conn,
                        NewAuditEvent::new(action::LOGIN_SUCCESS, at)
                            .actor(user.id)
                            .target(user.id)
                            .ip(client.ip.as_deref())
                            .detail(serde_json::json!({ "session_id": grant.session_id })),
                    )?;
                    let user = users::find(conn, user.id)?.ok_or(AppError::InvalidCredentials)?;
                    Ok((user, grant))
                })
                .await?;
            state.metrics.login("success");
            token_pair(state, &user, grant)
        }
        user => {
            let target = user.map(|u| u.id);
            let locked = state
                .db
                .transaction(move |conn| {
                    let at = now();
                    let locked = policy.record_failure(conn, &email, &ip, at)?;
                    let mut event = NewAuditEvent::new(action::LOGIN_FAILURE, at)
                        .ip(Some(&ip))
                        .detail(
                            serde_json::json!({ "email": email, "reason": "invalid_credentials" }),
                        );
                    if let Some(t) = target {
                        event = event.target(t);
                    }
                    audit::record(conn, event)?;
                    if locked {
                        let mut event = NewAuditEvent::new(action::LOCKOUT, at)
                            .ip(Some(&ip))
                            .detail(serde_json::json!({ "email": email }));
                        if let Some(t) = target {
                            event = event.target(t);
                        }
                        audit::record(conn, event)?;
                    }
                    Ok(locked)
                })
                .await?;
            if locked {
                state.metrics.lockouts.inc();
            }
            state.metrics.login("invalid_credentials");
            Err(AppError::InvalidCredentials)
        }
    }
}

enum RefreshOutcome {
    Rotated(User, Grant),
    /// The session was revoked in the transaction (user disabled, deleted or with a
    /// new password); the caller answers 401 after commit.
    Revoked,
    /// A spent token came back after the reuse interval: the session was revoked.
    ReuseDetected,
    Invalid,
}

/// Rotates a refresh token: the presented one is spent and a new pair is issued, in one
/// transaction. A spent token presented again revokes its whole session, unless it was
/// spent less than the reuse interval ago (several tabs, a retried request): then it
/// gets a fresh pair of the same session.
pub async fn refresh(
    state: &AppState,
    presented: &str,
    client: ClientInfo,
) -> AppResult<TokenPairView> {
    let hash = hash_token(presented);
    let reuse_interval = Duration::seconds(state.settings.auth.refresh_reuse_interval_secs as i64);
    let outcome = state
        .change(move |conn, changed| {
            let at = now();
            let Some((token, session)) = refresh_tokens::find_by_hash(conn, &hash)? else {
                return Ok(RefreshOutcome::Invalid);
            };
            if !session.is_live(at) {
                return Ok(RefreshOutcome::Invalid);
            }
            let user = match users::find(conn, session.user_id)? {
                Some(u) if !u.disabled && u.password_version == session.password_version => u,
                _ => {
                    session_rows::revoke(conn, &session.id, at)?;
                    changed.push(Change::Session(session.id));
                    return Ok(RefreshOutcome::Revoked);
                }
            };
            if refresh_tokens::claim(conn, token.id, at)? == 0 {
                let spent_at = refresh_tokens::used_at(conn, token.id)?.unwrap_or(at);
                if reuse_interval.is_zero() || at - spent_at >= reuse_interval {
                    session_rows::revoke(conn, &session.id, at)?;
                    changed.push(Change::Session(session.id.clone()));
                    audit::record(
                        conn,
                        NewAuditEvent::new(action::REFRESH_REUSE_DETECTED, at)
                            .target(user.id)
                            .ip(client.ip.as_deref())
                            .detail(serde_json::json!({ "session_id": session.id })),
                    )?;
                    return Ok(RefreshOutcome::ReuseDetected);
                }
            }
            session_rows::touch(conn, &session.id, at)?;
            let refresh_token = mint_refresh(conn, &session.id, Some(token.id), at)?;
            Ok(RefreshOutcome::Rotated(
                user,
                Grant {
                    session_id: session.id,
                    refresh_token,
                    expires_at: session.expires_at,
                },
            ))
        })
        .await?;
    match outcome {
        RefreshOutcome::Rotated(user, grant) => {
            state.metrics.refresh("success");
            token_pair(state, &user, grant)
        }
        RefreshOutcome::ReuseDetected => {
            state.metrics.refresh("reuse_detected");
            Err(AppError::InvalidRefreshToken)
        }
        RefreshOutcome::Revoked => {
            state.metrics.refresh("revoked");
            Err(AppError::InvalidRefreshToken)
        }
        RefreshOutcome::Invalid => {
            state.metrics.refresh("invalid");
            Err(AppError::InvalidRefreshToken)
        }
    }
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
            session_rows::revoke(conn, &sid, at)?;
            changed.push(Change::Session(sid.clone()));
            if let Some(t) = refresh_token {
                if let Some((_, s)) = refresh_tokens::find_by_hash(conn, &hash_token(&t))? {
                    if s.user_id == uid {
                        session_rows::revoke(conn, &s.id, at)?;
                        changed.push(Change::Session(s.id));
                    }
                }
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

/// Checks the current password, stores the new one and bumps the password version in
/// one transaction: every earlier token, on every device, dies. Returns a fresh pair.
pub async fn change_password(
    state: &AppState,
    caller: &AuthUser,
    current: String,
    new: Password,
    client: ClientInfo,
) -> AppResult<TokenPairView> {
    let uid = caller.id;
    let user = state
        .db
        .run(move |conn| Ok(users::find(conn, uid)?))
        .await?
        .ok_or(AppError::InvalidToken)?;
    if !state
        .hasher
        .verify(current, Some(user.password_hash.clone()))
        .await?
    {
        return Err(AppError::InvalidCredentials);
    }
    let hash = state.hasher.hash(new).await?;
    let ttl = state.settings.auth.refresh_token_ttl_secs;
    let (user, grant) = state
        .change(move |conn, changed| {
            let at = now();
            if users::set_password(conn, uid, &hash, user.password_version, at)? == 0 {
                // Someone changed it between our check and now.
                return Err(AppError::Conflict);
            }
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
            Ok((user, grant))
        })
        .await?;
    token_pair(state, &user, grant)
}
