//! Accounts: creating one (self-registration or by an admin) and changing its password.

use crate::domain::permission::USERS_WRITE;
use crate::domain::{Email, Password, RoleName};
use crate::error::{AppError, AppResult};
use crate::models::audit::{Audit, LockedBy};
use crate::models::email_tokens::{self, RESET};
use crate::models::outbox::{EMAIL_VERIFICATION, PASSWORD_CHANGED};
use crate::models::users::{self, NewUser, User};
use crate::models::{now, sessions as session_rows};
use crate::net::ClientInfo;
use crate::services::lockout::{release, Attempt, AttemptKeys, Policy, Reservation};
use crate::services::recovery::queue_if_on;
use crate::services::sessions::{self, sign_in, Grant, SignedIn};
use crate::services::{authorize, roles, Caller, Principal};
use crate::state::AppState;

/// Who creates an account.
pub enum Creator<'a> {
    /// The person registering it.
    Themselves(&'a ClientInfo),
    /// An admin (or a provisioning service's API key), on behalf of someone.
    Admin(&'a Principal),
}

/// Creates an account with `role`. An admin needs `users:write`, and the right to
/// give that role (`roles::check_assignment`).
pub async fn create_user(
    state: &AppState,
    email: Email,
    password: Password,
    role: RoleName,
    creator: Creator<'_>,
) -> AppResult<User> {
    let (actor, ip) = match creator {
        Creator::Themselves(client) => (None, client.ip.clone()),
        Creator::Admin(caller) => {
            authorize(&state.metrics, caller, [USERS_WRITE])?;
            (Some(caller.clone()), caller.client().ip.clone())
        }
    };
    let hash = state.hasher.hash(password).await?;
    let metrics = state.metrics.clone();
    let mail_on = state.mailer.is_some();
    let (user, queued) = state
        .db
        .transaction(move |conn| {
            let at = now();
            if let Some(caller) = &actor {
                roles::check_assignment(conn, &metrics, caller, &role, None)?;
            }
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
                    email_verified: false,
                },
            )
            // Two registrations racing for one address: the loser lands here.
            .map_err(|e| match AppError::from(e) {
                AppError::Conflict => AppError::EmailTaken,
                other => other,
            })?;
            let event = match &actor {
                Some(a) => Audit::user_created(&user.email, &user.role).by(a.by()),
                None => Audit::register(&user.email, &user.role).actor(user.id),
            };
            event.target(user.id).ip(ip.as_deref()).record(conn, at)?;
            let queued = queue_if_on(conn, mail_on, EMAIL_VERIFICATION, &user, ip.as_deref(), at)?;
            Ok((user, queued))
        })
        .await?;
    if queued {
        state.mail_queued(EMAIL_VERIFICATION);
    }
    Ok(user)
}

/// Self-registration: always role `user`.
pub async fn register(
    state: &AppState,
    email: Email,
    password: Password,
    client: &ClientInfo,
) -> AppResult<User> {
    create_user(
        state,
        email,
        password,
        RoleName::user(),
        Creator::Themselves(client),
    )
    .await
}

enum PasswordChange {
    /// Changed; whether a notification mail was queued.
    Done(Box<User>, Grant, bool),
    /// Someone changed the password between the check and the write.
    Conflict,
}

/// A signed-in user's current password, checked like a login's password: the check
/// first reserves a place in the account's (and the client's) lockout window, a wrong
/// password counts as a failure and is audited (401 `invalid_credentials`), and a
/// locked account gets 429, so a stolen access token cannot be used to guess the
/// password. On the right password, hands back the reservation (the caller settles
/// it) and the user's row as it was read before bcrypt.
pub(crate) async fn check_current_password(
    state: &AppState,
    caller: &Caller,
    current: String,
) -> AppResult<(Policy, Attempt, User)> {
    let uid = caller.user_id;
    let policy = Policy::from_settings(&state.settings.auth);
    let client_key = caller.client.lockout_key();
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
    match checked {
        Ok(true) => Ok((policy, attempt, user)),
        Ok(false) => Err(wrong_current_password(state, policy, attempt, caller).await),
        Err(e) => Err(release(state, policy, attempt, e.into()).await),
    }
}

/// Checks the current password, stores the new one and bumps the password version in
/// one transaction: every earlier token, on every device, dies. Returns a fresh pair
/// in a new session (authenticated as the caller's was).
pub async fn change_password(
    state: &AppState,
    caller: &Caller,
    current: String,
    new: Password,
) -> AppResult<SignedIn> {
    let uid = caller.user_id;
    let (policy, attempt, user) = check_current_password(state, caller, current).await?;
    let hash = match state.hasher.hash(new).await {
        Ok(h) => h,
        Err(e) => return Err(release(state, policy, attempt, e.into()).await),
    };
    let ttl = state.settings.auth.refresh_token_ttl_secs;
    let (client, amr) = (caller.client.clone(), caller.amr);
    let mail_on = state.mailer.is_some();
    let outcome = state
        .change(move |tx| {
            let at = now();
            if users::set_password(tx, uid, &hash, user.password_version, at)? == 0 {
                policy.release(tx, &attempt)?;
                return Ok(PasswordChange::Conflict);
            }
            policy.succeed(tx, &attempt)?;
            session_rows::revoke_all_for_user(tx, uid, None, at)?;
            // No reset link made before the change may be used after it.
            email_tokens::void_all(tx, uid, RESET)?;
            let user = users::find(tx, uid)?.ok_or(AppError::InvalidToken)?;
            let queued = queue_if_on(
                tx,
                mail_on,
                PASSWORD_CHANGED,
                &user,
                client.ip.as_deref(),
                at,
            )?;
            let grant = sessions::start(tx, &user, &client, amr, ttl, at)?;
            Audit::password_change()
                .by_owner(uid)
                .ip(client.ip.as_deref())
                .record(tx, at)?;
            Ok(PasswordChange::Done(Box::new(user), grant, queued))
        })
        .await?;
    match outcome {
        PasswordChange::Done(user, grant, queued) => {
            let user = *user;
            if queued {
                state.mail_queued(PASSWORD_CHANGED);
            }
            sign_in(state, user, grant).await
        }
        PasswordChange::Conflict => Err(AppError::Conflict),
    }
}

/// Counts a wrong current password toward the lockout and audits it.
async fn wrong_current_password(
    state: &AppState,
    policy: Policy,
    attempt: Attempt,
    caller: &Caller,
) -> AppError {
    let (uid, ip) = (caller.user_id, caller.client.ip.clone());
    let recorded = state
        .db
        .transaction(move |conn| {
            let at = now();
            let locked = policy.fail(conn, &attempt, at)?;
            let lockout = locked.then(|| Audit::lockout(LockedBy::PasswordChange));
            for event in std::iter::once(Audit::password_change_failure()).chain(lockout) {
                event.by_owner(uid).ip(ip.as_deref()).record(conn, at)?;
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
