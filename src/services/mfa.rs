//! Multi-factor authentication: TOTP enrollment, recovery codes, turning it off, and
//! an admin's reset for a lost device; and the code check they share with the second
//! step of a login (`services::mfa_login`).
//!
//! Every check of a code is a check like a password's: it reserves a place in the
//! account's (and the client's) lockout window first, so wrong codes count toward the
//! lockout wherever they are sent, and a locked account gets 429. A TOTP code is
//! accepted at most once: the last accepted time step is stored with the secret and
//! only a later one passes (one conditional UPDATE, so also across instances). The
//! secret is sealed at rest and never shown again after enrollment starts.

use chrono::NaiveDateTime;

use crate::credentials::sealed::Sealer;
use crate::credentials::totp::{self, Code};
use crate::db::Conn;
use crate::domain::permission::USERS_WRITE;
use crate::error::{AppError, AppResult};
use crate::models::audit::{Audit, LockedBy, MfaOff};
use crate::models::mfa_challenges;
use crate::models::users::{self, User};
use crate::models::{now, recovery_codes, sessions as session_rows, totp_secrets};
use crate::net::ClientInfo;
use crate::services::accounts::check_current_password;
use crate::services::lockout::{AttemptKeys, Policy, Reservation};
use crate::services::reauth::require_recent;
use crate::services::roles::check_outranks;
use crate::services::{authorize, Caller, Principal};
use crate::state::AppState;

/// A started enrollment: what the authenticator app needs, shown this once.
pub struct Enrollment {
    pub secret: String,
    pub otpauth_uri: String,
}

/// Which second factor passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Factor {
    Totp,
    Recovery,
}

/// What a code is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Confirming an enrollment: a code of the pending secret, which it confirms (there
    /// are no recovery codes yet).
    Enrolling,
    /// MFA is on: a code of the confirmed secret, or an unused recovery code.
    Enrolled,
}

/// One code to check: whose, sent from where, and against what.
pub(crate) struct CodeCheck<'a> {
    user: &'a User,
    client: &'a ClientInfo,
    code: Option<&'a Code>,
    stage: Stage,
}

impl<'a> CodeCheck<'a> {
    pub(crate) fn new(
        stage: Stage,
        user: &'a User,
        client: &'a ClientInfo,
        code: Option<&'a Code>,
    ) -> Self {
        CodeCheck {
            user,
            client,
            code,
            stage,
        }
    }
}

/// How a guarded code check ended.
pub(crate) enum Verdict {
    Right(Factor),
    Wrong { locked: bool },
    Locked(u64),
}

/// What the sealed secret is bound to: a sealed value copied to another user's row
/// does not open.
fn binding(user_id: i64) -> Vec<u8> {
    format!("user:{user_id}").into_bytes()
}

fn unix(at: NaiveDateTime) -> u64 {
    at.and_utc().timestamp().max(0) as u64
}

/// True when `code` is the user's: a TOTP code of a step later than any accepted
/// before (of the pending secret when `Enrolling`), or an unused recovery code, which
/// it spends.
fn accept_code(
    conn: &mut Conn,
    sealer: &Sealer,
    user_id: i64,
    code: Option<&Code>,
    stage: Stage,
    at: NaiveDateTime,
) -> AppResult<Option<Factor>> {
    let confirm = stage == Stage::Enrolling;
    match code {
        Some(Code::Totp(digits)) => {
            let Some(row) = totp_secrets::find(conn, user_id)? else {
                return Ok(None);
            };
            if row.confirmed == confirm {
                return Ok(None);
            }
            // Sealed under another server secret: no code can match any more.
            let Some(secret) = sealer.open(&row.secret_sealed, &binding(user_id)) else {
                log::warn!("the TOTP secret of user {user_id} does not open under the current server secret");
                return Ok(None);
            };
            let Some(step) = totp::matching_step(&secret, digits, unix(at)) else {
                return Ok(None);
            };
            let step = i64::try_from(step).map_err(AppError::internal)?;
            let accepted = totp_secrets::accept_step(conn, user_id, step, confirm)? == 1;
            Ok(accepted.then_some(Factor::Totp))
        }
        Some(Code::Recovery(normalised)) if !confirm => {
            let hash = totp::hash_recovery_code(user_id, normalised);
            let spent = recovery_codes::spend(conn, user_id, &hash, at)? == 1;
            Ok(spent.then_some(Factor::Recovery))
        }
        _ => Ok(None),
    }
}

/// Checks a code under the lockout, and audits the outcome. Call inside the
/// transaction that acts on a right code.
pub(crate) fn guarded_check(
    conn: &mut Conn,
    policy: Policy,
    sealer: &Sealer,
    check: CodeCheck<'_>,
    at: NaiveDateTime,
) -> AppResult<Verdict> {
    let (user, client) = (check.user, check.client);
    let keys = AttemptKeys {
        account: user.email.clone(),
        client: client.lockout_key(),
    };
    let attempt = match policy.reserve(conn, keys, at)? {
        Reservation::Granted(a) => a,
        Reservation::Locked(retry) => return Ok(Verdict::Locked(retry)),
    };
    let ip = client.ip.as_deref();
    match accept_code(conn, sealer, user.id, check.code, check.stage, at)? {
        Some(factor) => {
            policy.succeed(conn, &attempt)?;
            if factor == Factor::Recovery {
                let left = recovery_codes::unused(conn, user.id)?;
                Audit::recovery_code_used(left)
                    .by_owner(user.id)
                    .ip(ip)
                    .record(conn, at)?;
            }
            Ok(Verdict::Right(factor))
        }
        None => {
            let locked = policy.fail(conn, &attempt, at)?;
            let lockout = locked.then(|| Audit::lockout(LockedBy::Mfa));
            for event in std::iter::once(Audit::mfa_failure()).chain(lockout) {
                event.by_owner(user.id).ip(ip).record(conn, at)?;
            }
            Ok(Verdict::Wrong { locked })
        }
    }
}

/// The error a settled wrong or locked verdict answers, counted in the metrics.
pub(crate) fn refusal(state: &AppState, verdict: Verdict, wrong: AppError) -> AppError {
    match verdict {
        Verdict::Locked(retry_after_secs) => {
            state
                .metrics
                .second_factor
                .with_label_values(&["locked"])
                .inc();
            AppError::TooManyAttempts { retry_after_secs }
        }
        Verdict::Wrong { locked } => {
            if locked {
                state.metrics.lockouts.inc();
            }
            state
                .metrics
                .second_factor
                .with_label_values(&["invalid_code"])
                .inc();
            wrong
        }
        Verdict::Right(_) => AppError::internal("a right code refused"),
    }
}

pub(crate) fn counted(state: &AppState, factor: Factor) {
    let label = match factor {
        Factor::Totp => "totp",
        Factor::Recovery => "recovery_code",
    };
    state
        .metrics
        .second_factor
        .with_label_values(&[label])
        .inc();
}

/// Ten fresh recovery codes for `user_id`, replacing the old ones; returns them in
/// clear, once.
fn issue_recovery_codes(conn: &mut Conn, user_id: i64) -> AppResult<Vec<String>> {
    let codes = totp::new_recovery_codes();
    let hashes: Vec<String> = codes
        .iter()
        .filter_map(|c| Code::parse(c))
        .filter_map(|c| match c {
            Code::Recovery(n) => Some(totp::hash_recovery_code(user_id, &n)),
            Code::Totp(_) => None,
        })
        .collect();
    if hashes.len() != codes.len() {
        return Err(AppError::internal(
            "a generated recovery code does not parse",
        ));
    }
    recovery_codes::replace_all(conn, user_id, &hashes)?;
    Ok(codes)
}

/// `POST /api/profile/mfa/totp`: a new secret for the caller, pending until a code of
/// it confirms it. Starting again replaces a pending secret. Needs a recent sign-in
/// or the current password (`services::reauth`); the pending secret is bound to the
/// account's security stamp.
pub async fn start_enrollment(
    state: &AppState,
    caller: &Caller,
    current_password: Option<String>,
) -> AppResult<Enrollment> {
    require_recent(state, caller, current_password).await?;
    let (uid, sealer) = (caller.user_id, state.totp_sealer.clone());
    let issuer = state.settings.auth.issuer.clone();
    state
        .db
        .transaction(move |conn| {
            let user = users::lock(conn, uid)?.ok_or(AppError::InvalidToken)?;
            if user.mfa_enabled {
                return Err(AppError::MfaAlreadyEnabled);
            }
            let secret = totp::new_secret();
            let sealed = sealer.seal(&secret, &binding(uid));
            totp_secrets::put_pending(conn, uid, &sealed, user.security_stamp, now())?;
            Ok(Enrollment {
                secret: totp::base32(&secret),
                otpauth_uri: totp::otpauth_uri(&issuer, &user.email, &secret),
            })
        })
        .await
}

enum Managed<T> {
    Done(T),
    Refused(Verdict),
}

/// `POST /api/profile/mfa/totp/confirm`: a code of the pending secret turns MFA on
/// (that code counts as used) and returns the first recovery codes. Needs a recent
/// sign-in or the current password; a pending secret started before a change of the
/// account's role, password, address or disabled flag is no enrollment.
pub async fn confirm_enrollment(
    state: &AppState,
    caller: &Caller,
    code: &str,
    current_password: Option<String>,
) -> AppResult<Vec<String>> {
    require_recent(state, caller, current_password).await?;
    let code = Code::parse(code);
    let (uid, client, sealer) = (
        caller.user_id,
        caller.client.clone(),
        state.totp_sealer.clone(),
    );
    let policy = Policy::from_settings(&state.settings.auth);
    let outcome = state
        .change(move |tx| {
            let at = now();
            let user = users::lock(tx, uid)?.ok_or(AppError::InvalidToken)?;
            if user.mfa_enabled {
                return Err(AppError::MfaAlreadyEnabled);
            }
            match totp_secrets::find(tx, uid)? {
                Some(row) if !row.confirmed && row.security_stamp == user.security_stamp => {}
                _ => return Err(AppError::NoEnrollment),
            }
            let check = CodeCheck::new(Stage::Enrolling, &user, &client, code.as_ref());
            match guarded_check(tx, policy, &sealer, check, at)? {
                Verdict::Right(_) => {}
                refused => return Ok(Managed::Refused(refused)),
            }
            users::set_mfa_enabled(tx, uid, true, at)?;
            let codes = issue_recovery_codes(tx, uid)?;
            Audit::mfa_enabled()
                .by_owner(uid)
                .ip(client.ip.as_deref())
                .record(tx, at)?;
            Ok(Managed::Done(codes))
        })
        .await?;
    match outcome {
        Managed::Done(codes) => {
            counted(state, Factor::Totp);
            Ok(codes)
        }
        Managed::Refused(v) => Err(refusal(state, v, AppError::InvalidMfaCode)),
    }
}

/// `POST /api/profile/mfa/recovery-codes`: with a current code, ten new recovery
/// codes; the old ones stop working. Needs a recent sign-in or the current password.
pub async fn regenerate_recovery_codes(
    state: &AppState,
    caller: &Caller,
    code: &str,
    current_password: Option<String>,
) -> AppResult<Vec<String>> {
    require_recent(state, caller, current_password).await?;
    let code = Code::parse(code);
    let (uid, client, sealer) = (
        caller.user_id,
        caller.client.clone(),
        state.totp_sealer.clone(),
    );
    let policy = Policy::from_settings(&state.settings.auth);
    let outcome = state
        .db
        .transaction(move |conn| {
            let at = now();
            let user = users::lock(conn, uid)?.ok_or(AppError::InvalidToken)?;
            if !user.mfa_enabled {
                return Err(AppError::NoEnrollment);
            }
            let check = CodeCheck::new(Stage::Enrolled, &user, &client, code.as_ref());
            let factor = match guarded_check(conn, policy, &sealer, check, at)? {
                Verdict::Right(f) => f,
                refused => return Ok(Managed::Refused(refused)),
            };
            let codes = issue_recovery_codes(conn, uid)?;
            Audit::recovery_codes_regenerated()
                .by_owner(uid)
                .ip(client.ip.as_deref())
                .record(conn, at)?;
            Ok(Managed::Done((codes, factor)))
        })
        .await?;
    match outcome {
        Managed::Done((codes, factor)) => {
            counted(state, factor);
            Ok(codes)
        }
        Managed::Refused(v) => Err(refusal(state, v, AppError::InvalidMfaCode)),
    }
}

/// Turns MFA off for `user_id`: the flag, the secret, the recovery codes and any
/// pending login step.
fn remove_mfa(
    tx: &mut crate::models::auth_state::AuthTx<'_>,
    user_id: i64,
    at: NaiveDateTime,
) -> AppResult<()> {
    users::set_mfa_enabled(tx, user_id, false, at)?;
    totp_secrets::delete(tx, user_id)?;
    recovery_codes::delete_all(tx, user_id)?;
    mfa_challenges::delete(tx, user_id)?;
    Ok(())
}

/// `POST /api/profile/mfa/disable`: the current password and a current code turn
/// MFA off. Both are checked like a login's: wrong ones count toward the lockout.
pub async fn disable(
    state: &AppState,
    caller: &Caller,
    current_password: String,
    code: &str,
) -> AppResult<()> {
    let code = Code::parse(code);
    let (policy, password_attempt, _) =
        check_current_password(state, caller, current_password).await?;
    let (uid, client, sealer) = (
        caller.user_id,
        caller.client.clone(),
        state.totp_sealer.clone(),
    );
    let outcome = state
        .change(move |tx| {
            let at = now();
            // The password alone clears nothing: only a right code settles the check.
            policy.release(tx, &password_attempt)?;
            let user = users::lock(tx, uid)?.ok_or(AppError::InvalidToken)?;
            if !user.mfa_enabled {
                return Ok(Managed::Done(false));
            }
            let check = CodeCheck::new(Stage::Enrolled, &user, &client, code.as_ref());
            match guarded_check(tx, policy, &sealer, check, at)? {
                Verdict::Right(_) => {}
                refused => return Ok(Managed::Refused(refused)),
            }
            remove_mfa(tx, uid, at)?;
            Audit::mfa_disabled(MfaOff::User)
                .by_owner(uid)
                .ip(client.ip.as_deref())
                .record(tx, at)?;
            Ok(Managed::Done(true))
        })
        .await?;
    match outcome {
        Managed::Done(true) => Ok(()),
        Managed::Done(false) => Err(AppError::NoEnrollment),
        Managed::Refused(v) => Err(refusal(state, v, AppError::InvalidMfaCode)),
    }
}

/// `DELETE /api/admin/users/{id}/mfa`: MFA off for a user who lost the device, and
/// every session of the user revoked. Needs `users:write`, and every permission of
/// the user's role: taking a factor off an account weakens it.
pub async fn admin_reset(state: &AppState, caller: &Principal, id: i64) -> AppResult<()> {
    authorize(&state.metrics, caller, [USERS_WRITE])?;
    let (metrics, who) = (state.metrics.clone(), caller.clone());
    state
        .change(move |tx| {
            let at = now();
            let user = users::lock(tx, id)?.ok_or(AppError::NotFound("user"))?;
            check_outranks(tx, &metrics, &who, &user.role)?;
            let was_on = user.mfa_enabled;
            remove_mfa(tx, id, at)?;
            session_rows::revoke_all_for_user(tx, id, None, at)?;
            Audit::mfa_disabled(MfaOff::Admin {
                was_enabled: was_on,
            })
            .by(who.by())
            .target(id)
            .ip(who.client().ip.as_deref())
            .record(tx, at)?;
            Ok(())
        })
        .await
}
