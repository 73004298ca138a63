//! Recent sign-in: adding a factor to an account (a TOTP secret, new recovery codes;
//! passkeys, when they come) needs a session that authenticated within `REAUTH_WINDOW_SECS`, or the
//! current password in the request. A stolen access token alone must not be enough
//! to bind the thief's authenticator to the account.

use crate::error::{AppError, AppResult};
use crate::models::now;
use crate::services::accounts::check_current_password;
use crate::services::Caller;
use crate::state::AppState;

/// Passes when the caller's session authenticated recently enough, or when
/// `current_password` is the account's (checked like a login's: a wrong one counts
/// toward the lockout and answers 401 `invalid_credentials`). Otherwise 401
/// `reauthentication_required`.
pub async fn require_recent(
    state: &AppState,
    caller: &Caller,
    current_password: Option<String>,
) -> AppResult<()> {
    let window = state.settings.auth.reauth_window_secs;
    let Some(password) = current_password else {
        let age = now().and_utc().timestamp() - caller.auth_time;
        return match u64::try_from(age).is_ok_and(|age| age <= window) {
            true => Ok(()),
            false => Err(AppError::ReauthenticationRequired { max_age: window }),
        };
    };
    let (policy, attempt, _) = check_current_password(state, caller, password).await?;
    // The right password proves presence; like a second factor's check it clears
    // nothing else.
    state
        .db
        .transaction(move |conn| policy.release(conn, &attempt))
        .await
}
