//! The second step of a login for an account with MFA: the challenge issued after the
//! right password, and `POST /auth/mfa`, which turns it and a code into a session
//! that passed a second factor.

use chrono::{Duration, NaiveDateTime};

use crate::credentials::refresh::hash_token;
use crate::credentials::totp::Code;
use crate::db::Conn;
use crate::error::{AppError, AppResult};
use crate::models::audit::SecondFactor;
use crate::models::mfa_challenges::{self, MfaChallenge};
use crate::models::now;
use crate::models::users::{self, User};
use crate::net::ClientInfo;
use crate::secret::random_url_safe;
use crate::services::admission::{Gate, Proof, Refusal};
use crate::services::lockout::Policy;
use crate::services::mfa::{counted, guarded_check, refusal, CodeCheck, Factor, Stage, Verdict};
use crate::services::sessions::{self, sign_in, Grant, SignedIn};
use crate::state::AppState;

/// How long the second step of a login may take.
pub const MFA_TOKEN_TTL_SECS: i64 = 300;

/// Issues the second step of a login for `user` (the right password was given):
/// returns the `mfa_token`, replacing any earlier one. Call in the settling
/// transaction of the password check.
pub fn challenge(conn: &mut Conn, user: &User, at: NaiveDateTime) -> AppResult<String> {
    let token = random_url_safe(32);
    mfa_challenges::put(
        conn,
        &MfaChallenge {
            user_id: user.id,
            token_hash: hash_token(&token),
            password_version: user.password_version,
            created_at: at,
            expires_at: at + Duration::seconds(MFA_TOKEN_TTL_SECS),
            security_stamp: user.security_stamp,
        },
    )?;
    Ok(token)
}

enum SecondStep {
    LoggedIn(Box<User>, Grant, Factor),
    Refused(Verdict),
    /// The gate refused: the account changed since the password step.
    Barred(Refusal),
    InvalidToken,
}

/// `POST /auth/mfa`: the `mfa_token` of a login and a code finish the login with a
/// session that passed a second factor. A wrong code counts as a failed login; the
/// token stays usable until it expires, is used, or a newer login replaces it.
///
/// Concurrent second steps with one token (a double click, a client's retry) take
/// turns on the user's row, and each reads the challenge again under that lock: the
/// first spends it, the others find it gone and answer `invalid_mfa_token` without
/// checking their code, so a right code sent twice is never counted as a wrong one.
pub async fn complete_login(
    state: &AppState,
    mfa_token: &str,
    code: &str,
    client: ClientInfo,
) -> AppResult<SignedIn> {
    let (hash, code) = (hash_token(mfa_token), Code::parse(code));
    let sealer = state.totp_sealer.clone();
    let policy = Policy::from_settings(&state.settings.auth);
    let gate = Gate::from_settings(&state.settings.auth);
    let ttl = state.settings.auth.refresh_token_ttl_secs;
    let outcome = state
        .change(move |tx| {
            let at = now();
            // Whose challenge it is, then that user's row locked, then the challenge
            // again: what was read before the lock may have been spent meanwhile.
            let Some(first_read) = mfa_challenges::find_by_hash(tx, &hash)? else {
                return Ok(SecondStep::InvalidToken);
            };
            let Some(user) = users::lock(tx, first_read.user_id)? else {
                return Ok(SecondStep::InvalidToken);
            };
            let challenge = match mfa_challenges::find_by_hash(tx, &hash)? {
                Some(c) if c.expires_at > at && c.user_id == user.id => c,
                _ => return Ok(SecondStep::InvalidToken),
            };
            let proof = Proof::SecondFactor {
                stamp: challenge.security_stamp,
            };
            match gate.decide(tx, &user, proof, at)? {
                Ok(()) if user.password_version == challenge.password_version => {}
                Ok(()) | Err(Refusal::Stale) => return Ok(SecondStep::InvalidToken),
                Err(refusal) => return Ok(SecondStep::Barred(refusal)),
            }
            let check = CodeCheck::new(Stage::Enrolled, &user, &client, code.as_ref());
            let factor = match guarded_check(tx, policy, &sealer, check, at)? {
                Verdict::Right(f) => f,
                refused => return Ok(SecondStep::Refused(refused)),
            };
            if mfa_challenges::spend(tx, &hash)? == 0 {
                return Err(AppError::InvalidMfaToken);
            }
            let second = match factor {
                Factor::Totp => SecondFactor::Totp,
                Factor::Recovery => SecondFactor::RecoveryCode,
            };
            let (user, grant) = sessions::start_login(tx, user, &client, Some(second), ttl, at)?;
            Ok(SecondStep::LoggedIn(Box::new(user), grant, factor))
        })
        .await;
    match outcome {
        Ok(SecondStep::LoggedIn(user, grant, factor)) => {
            counted(state, factor);
            state.metrics.login("success");
            sign_in(state, *user, grant).await
        }
        Ok(SecondStep::Refused(v)) => Err(refusal(state, v, AppError::MfaCodeRejected)),
        Ok(SecondStep::Barred(r)) => {
            state.metrics.login(match r {
                Refusal::Disabled => "disabled",
                Refusal::Unverified => "unverified",
                _ => "locked",
            });
            Err(r.error(AppError::InvalidMfaToken))
        }
        Ok(SecondStep::InvalidToken) | Err(AppError::InvalidMfaToken) => {
            state
                .metrics
                .second_factor
                .with_label_values(&["invalid_token"])
                .inc();
            Err(AppError::InvalidMfaToken)
        }
        Err(e) => Err(e),
    }
}
