//! The one decision every path that issues tokens takes: may this account be given
//! tokens now? Password login, the second step of a login and refresh ask
//! [`Gate::decide`] (and so must any later way in: a browser sign-in, a passkey login), in the transaction
//! that issues the tokens, with the account's row locked, so that a change
//! committing meanwhile (a disable, a new password, a role change, an address marked
//! unverified) is either seen here or waits for this transaction and revokes what it
//! issued.

use chrono::NaiveDateTime;

use crate::db::Conn;
use crate::error::{AppError, AppResult};
use crate::models::users::User;
use crate::services::lockout::Policy;
use crate::settings::AuthSettings;

/// What the path proved, and what that proof was bound to when it was made.
#[derive(Debug, Clone, Copy)]
pub enum Proof {
    /// The right password, checked against this password version. Locked accounts
    /// were refused when the attempt reserved its place in the lockout window.
    Password { version: i32 },
    /// The second step of a login: the challenge was made under this security stamp
    /// (so a change of role, password, address or disabled flag since voids it). The
    /// code check itself is guarded by the lockout.
    SecondFactor { stamp: i64 },
    /// A refresh of a session started under this password version. No secret is
    /// checked, so the lockout is checked here.
    Session { password_version: i32 },
}

/// Why tokens are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Disabled,
    /// `REQUIRE_VERIFIED_EMAIL` and the address is not verified.
    Unverified,
    /// The proof no longer binds: the password (or, for a second step, the role,
    /// address or MFA state) changed since it was made.
    Stale,
    /// The account is locked out; retry after this many seconds.
    Locked(u64),
    /// The right password for an account with a second factor: the login continues
    /// at its second step.
    SecondFactorNeeded,
}

impl Refusal {
    /// The answer of a path that has no better one of its own.
    pub fn error(self, stale: AppError) -> AppError {
        match self {
            Refusal::Disabled => AppError::AccountDisabled,
            Refusal::Unverified => AppError::EmailNotVerified,
            Refusal::Locked(retry_after_secs) => AppError::TooManyAttempts { retry_after_secs },
            Refusal::Stale | Refusal::SecondFactorNeeded => stale,
        }
    }
}

/// The settings the decision reads.
#[derive(Debug, Clone, Copy)]
pub struct Gate {
    require_verified: bool,
    policy: Policy,
}

impl Gate {
    pub fn from_settings(auth: &AuthSettings) -> Gate {
        Gate {
            require_verified: auth.require_verified_email,
            policy: Policy::from_settings(auth),
        }
    }

    /// Decides for `user`, whose row the caller read locked (`users::lock`) in the
    /// transaction that will issue the tokens.
    pub fn decide(
        &self,
        conn: &mut Conn,
        user: &User,
        proof: Proof,
        at: NaiveDateTime,
    ) -> AppResult<Result<(), Refusal>> {
        if user.disabled {
            return Ok(Err(Refusal::Disabled));
        }
        let binds = match proof {
            Proof::Password { version } => user.password_version == version,
            Proof::SecondFactor { stamp } => user.security_stamp == stamp && user.mfa_enabled,
            Proof::Session { password_version } => user.password_version == password_version,
        };
        if !binds {
            return Ok(Err(Refusal::Stale));
        }
        if self.require_verified && !user.email_verified {
            return Ok(Err(Refusal::Unverified));
        }
        if let Proof::Session { .. } = proof {
            if let Some(retry) = self.policy.account_locked(conn, &user.email, at)? {
                return Ok(Err(Refusal::Locked(retry)));
            }
        }
        if let (Proof::Password { .. }, true) = (proof, user.mfa_enabled) {
            return Ok(Err(Refusal::SecondFactorNeeded));
        }
        Ok(Ok(()))
    }
}
