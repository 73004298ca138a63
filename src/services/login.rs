//! Login: a password check that holds its promises under concurrency.
//!
//! 1. One transaction reserves the attempt's place in the lockout window (or answers
//!    429) and reads the account.
//! 2. bcrypt runs outside any transaction, on the hashing pool.
//! 3. One transaction settles it. On the right password the user's row is re-read
//!    *locked* and the gate (`services::admission`) decides: if the password changed,
//!    or the account was disabled, deleted or marked unverified while bcrypt ran, no
//!    session is created; otherwise the session is created from that locked row, so
//!    the session and its token carry the version that was verified, and a password
//!    change, disable or deletion committing later revokes it. For an account with a
//!    second factor it issues the second step's token instead (`services::mfa_login`).

use crate::domain::Email;
use crate::error::{AppError, AppResult};
use crate::models::audit::{Audit, LockedBy, LoginName, LoginRefused};
use crate::models::now;
use crate::models::users::{self, User};
use crate::net::ClientInfo;
use crate::secret::Secret;
use crate::services::admission::{Gate, Proof, Refusal};
use crate::services::lockout::{release, Attempt, AttemptKeys, Policy, Reservation};
use crate::services::mfa_login;
use crate::services::sessions::{self, sign_in, Grant, SignedIn};
use crate::state::AppState;

/// What was typed into the email field, as far as the server keeps it.
#[derive(Clone)]
enum Identifier {
    Email(Email),
    /// Not an address: it names no account, and is kept only as a keyed hash (people
    /// type passwords into the wrong field), so the lockout still counts it without
    /// storing or showing what was typed.
    Malformed(String),
}

impl Identifier {
    fn parse(raw: &str, key: &Secret) -> Identifier {
        match Email::parse(raw) {
            Ok(email) => Identifier::Email(email),
            Err(_) => {
                let normalised = raw.trim().to_lowercase();
                let mac = key.mac("turnstile login identifier v1", normalised.as_bytes());
                let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
                Identifier::Malformed(format!("malformed:{hex}"))
            }
        }
    }

    fn key(&self) -> &str {
        match self {
            Identifier::Email(e) => e.as_str(),
            Identifier::Malformed(k) => k,
        }
    }

    /// What the audit trail may show.
    fn audit_name(&self) -> LoginName<'_> {
        match self {
            Identifier::Email(e) => LoginName::Email(e.as_str()),
            Identifier::Malformed(_) => LoginName::Malformed,
        }
    }
}

/// How the settling transaction of a right password ended.
enum Settled {
    LoggedIn(User, Grant),
    Disabled,
    /// `REQUIRE_VERIFIED_EMAIL` and the address is not verified.
    Unverified,
    /// The account has a second factor: the login continues at `POST /auth/mfa`
    /// with this token.
    SecondFactor(String),
    /// The password was changed, or the account deleted, while bcrypt ran: the
    /// password that was checked is no longer the account's.
    Stale,
}

/// Verifies credentials and starts a session. Unknown email and wrong password are
/// indistinguishable: same body, and the same bcrypt work (a dummy hash).
pub async fn login(
    state: &AppState,
    raw_email: &str,
    password: String,
    client: ClientInfo,
) -> AppResult<SignedIn> {
    // A login that could not be hashed anyway is refused before any database work.
    if state.hasher.pool().is_saturated() {
        return Err(AppError::Busy);
    }
    let policy = Policy::from_settings(&state.settings.auth);
    let identifier = Identifier::parse(raw_email, &state.settings.auth.jwt_secret);
    let keys = AttemptKeys {
        account: identifier.key().to_string(),
        client: client.lockout_key(),
    };
    let email = match &identifier {
        Identifier::Email(e) => Some(e.as_str().to_string()),
        Identifier::Malformed(_) => None,
    };
    let reserved = state
        .db
        .transaction(move |conn| {
            let attempt = match policy.reserve(conn, keys, now())? {
                Reservation::Granted(a) => a,
                Reservation::Locked(retry) => return Ok(Err(retry)),
            };
            let user = match email {
                Some(e) => users::find_by_email(conn, &e)?,
                None => None,
            };
            Ok(Ok((attempt, user)))
        })
        .await?;
    let (attempt, user) = match reserved {
        Ok(found) => found,
        Err(retry_after_secs) => {
            state.metrics.login("locked");
            return Err(AppError::TooManyAttempts { retry_after_secs });
        }
    };

    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let verified = match state.hasher.verify(password, hash).await {
        Ok(v) => v,
        Err(e) => return Err(release(state, policy, attempt, e.into()).await),
    };
    let target = user.as_ref().map(|u| u.id);
    if let (Some(user), true) = (user, verified) {
        match settle_right_password(state, policy, &attempt, user, &identifier, &client).await? {
            Settled::LoggedIn(user, grant) => {
                state.metrics.login("success");
                return sign_in(state, user, grant).await;
            }
            Settled::Disabled => {
                state.metrics.login("disabled");
                return Err(AppError::AccountDisabled);
            }
            Settled::Unverified => {
                state.metrics.login("unverified");
                return Err(AppError::EmailNotVerified);
            }
            Settled::SecondFactor(mfa_token) => {
                state.metrics.login("mfa_required");
                return Err(AppError::MfaChallenge {
                    mfa_token,
                    expires_in: mfa_login::MFA_TOKEN_TTL_SECS,
                });
            }
            Settled::Stale => {}
        }
    }
    record_failure(state, policy, attempt, target, identifier, client).await?;
    state.metrics.login("invalid_credentials");
    Err(AppError::InvalidCredentials)
}

async fn settle_right_password(
    state: &AppState,
    policy: Policy,
    attempt: &Attempt,
    checked: User,
    identifier: &Identifier,
    client: &ClientInfo,
) -> AppResult<Settled> {
    let ttl = state.settings.auth.refresh_token_ttl_secs;
    let gate = Gate::from_settings(&state.settings.auth);
    let (attempt, client, identifier) = (attempt.clone(), client.clone(), identifier.clone());
    state
        .change(move |tx| {
            let at = now();
            let Some(user) = users::lock(tx, checked.id)? else {
                return Ok(Settled::Stale);
            };
            let proof = Proof::Password {
                version: checked.password_version,
            };
            let refused = gate.decide(tx, &user, proof, at)?.err();
            let failure = |reason| {
                Audit::login_failure(identifier.audit_name(), reason)
                    .target(user.id)
                    .ip(client.ip.as_deref())
            };
            match refused {
                None => {}
                Some(Refusal::Stale) => return Ok(Settled::Stale),
                // The right password: no failure to count, but no session either.
                Some(Refusal::Disabled) => {
                    policy.release(tx, &attempt)?;
                    failure(LoginRefused::Disabled).record(tx, at)?;
                    return Ok(Settled::Disabled);
                }
                Some(Refusal::Unverified) => {
                    policy.release(tx, &attempt)?;
                    failure(LoginRefused::EmailNotVerified).record(tx, at)?;
                    return Ok(Settled::Unverified);
                }
                // Not a failure, but it clears nothing either: only the second factor
                // completes the login, so a known password cannot reset the count of
                // wrong codes.
                Some(Refusal::SecondFactorNeeded) => {
                    policy.release(tx, &attempt)?;
                    return Ok(Settled::SecondFactor(mfa_login::challenge(tx, &user, at)?));
                }
                // A password login reserved its place in the window before bcrypt:
                // the gate does not check the lock again for it.
                Some(Refusal::Locked(_)) => {
                    return Err(AppError::internal("a reserved login found locked"))
                }
            }
            policy.succeed(tx, &attempt)?;
            let (user, grant) = sessions::start_login(tx, user, &client, None, ttl, at)?;
            Ok(Settled::LoggedIn(user, grant))
        })
        .await
}

/// Counts the attempt as a failure and audits it (and the lockout it may cause).
async fn record_failure(
    state: &AppState,
    policy: Policy,
    attempt: Attempt,
    target: Option<i64>,
    identifier: Identifier,
    client: ClientInfo,
) -> AppResult<()> {
    let locked = state
        .db
        .transaction(move |conn| {
            let at = now();
            let locked = policy.fail(conn, &attempt, at)?;
            let name = identifier.audit_name();
            let failure = Audit::login_failure(name, LoginRefused::InvalidCredentials);
            let lockout = locked.then(|| Audit::lockout(LockedBy::Login(name)));
            for event in std::iter::once(failure).chain(lockout) {
                event
                    .target(target)
                    .ip(client.ip.as_deref())
                    .record(conn, at)?;
            }
            Ok(locked)
        })
        .await?;
    if locked {
        state.metrics.lockouts.inc();
    }
    Ok(())
}
