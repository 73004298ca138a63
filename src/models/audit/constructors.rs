//! One constructor of [`Audit`] per action: the only way to make an event, so an
//! action is always stored with its own detail's shape and fixed values.

use super::detail::{
    Delivery, Detail, KeyRotation, LockedBy, LoginName, LoginRefused, MfaOff, PermissionDiff,
    SecondFactor,
};
use super::{Audit, AuditAction};

/// Several where an action is recorded in more than one shape, each named for its case.
impl<'a> Audit<'a> {
    pub fn register(email: &'a str, role: &'a str) -> Self {
        Self::new(AuditAction::Register, Detail::Account { email, role })
    }

    /// An account made by an admin (or an API key).
    pub fn user_created(email: &'a str, role: &'a str) -> Self {
        Self::new(AuditAction::UserCreated, Detail::Account { email, role })
    }

    /// `second_factor`: what completed the login after the password, if anything.
    pub fn login_success(session_id: &'a str, second_factor: Option<SecondFactor>) -> Self {
        let detail = match second_factor {
            None => Detail::Session { session_id },
            Some(second_factor) => Detail::SessionLogin {
                session_id,
                second_factor,
            },
        };
        Self::new(AuditAction::LoginSuccess, detail)
    }

    pub fn login_failure(name: LoginName<'a>, reason: LoginRefused) -> Self {
        Self::new(AuditAction::LoginFailure, Detail::login(name, reason))
    }

    pub fn lockout(by: LockedBy<'a>) -> Self {
        let detail = match by {
            LockedBy::Login(name) => Detail::login(name, LoginRefused::InvalidCredentials),
            LockedBy::Mfa => Detail::Reason { reason: "mfa" },
            LockedBy::PasswordChange => Detail::Reason {
                reason: "password_change",
            },
        };
        Self::new(AuditAction::Lockout, detail)
    }

    pub fn password_change() -> Self {
        Self::new(AuditAction::PasswordChange, Detail::Empty {})
    }

    pub fn password_change_failure() -> Self {
        let reason = "invalid_credentials";
        Self::new(
            AuditAction::PasswordChangeFailure,
            Detail::Reason { reason },
        )
    }

    pub fn refresh_reuse_detected(session_id: &'a str) -> Self {
        Self::new(
            AuditAction::RefreshReuseDetected,
            Detail::Session { session_id },
        )
    }

    pub fn refresh_replayed(session_id: &'a str, ms_since_spent: i64) -> Self {
        let detail = Detail::SessionReplayed {
            session_id,
            ms_since_spent,
        };
        Self::new(AuditAction::RefreshReplayed, detail)
    }

    pub fn logout(session_id: &'a str) -> Self {
        Self::new(AuditAction::Logout, Detail::Session { session_id })
    }

    /// Revoked by its own user.
    pub fn session_revoked(session_id: &'a str) -> Self {
        Self::new(AuditAction::SessionRevoked, Detail::Session { session_id })
    }

    /// Revoked by a client at `POST /oauth/revoke`, with one of its tokens.
    pub fn session_revoked_by_oauth(session_id: &'a str) -> Self {
        let via = "oauth_revoke";
        Self::new(
            AuditAction::SessionRevoked,
            Detail::SessionVia { session_id, via },
        )
    }

    /// Every session of a user revoked by an admin.
    pub fn sessions_revoked(sessions: usize) -> Self {
        Self::new(AuditAction::SessionsRevoked, Detail::Sessions { sessions })
    }

    pub fn role_change(from: &'a str, to: &'a str) -> Self {
        Self::new(AuditAction::RoleChange, Detail::RoleChange { from, to })
    }

    pub fn user_disabled(sessions_revoked: usize) -> Self {
        let detail = Detail::SessionsRevoked { sessions_revoked };
        Self::new(AuditAction::UserDisabled, detail)
    }

    pub fn user_enabled() -> Self {
        let detail = Detail::SessionsRevoked {
            sessions_revoked: 0,
        };
        Self::new(AuditAction::UserEnabled, detail)
    }

    pub fn user_deleted(email: &'a str) -> Self {
        Self::new(AuditAction::UserDeleted, Detail::Email { email })
    }

    pub fn unlock(cleared_failures: usize) -> Self {
        let detail = Detail::ClearedFailures { cleared_failures };
        Self::new(AuditAction::Unlock, detail)
    }

    pub fn admin_bootstrapped() -> Self {
        Self::new(AuditAction::AdminBootstrapped, Detail::Empty {})
    }

    pub fn role_created(name: &'a str, permissions: &'a [String]) -> Self {
        let detail = Detail::RoleCreated { name, permissions };
        Self::new(AuditAction::RoleCreated, detail)
    }

    /// `permissions` when they changed, `description` when it was set.
    pub fn role_updated(
        name: &'a str,
        permissions: Option<PermissionDiff<'a>>,
        description: Option<&'a str>,
    ) -> Self {
        let detail = Detail::RoleUpdated {
            name,
            permissions,
            description,
        };
        Self::new(AuditAction::RoleUpdated, detail)
    }

    pub fn role_deleted(name: &'a str) -> Self {
        Self::new(AuditAction::RoleDeleted, Detail::Role { name })
    }

    pub fn password_reset_requested(delivery: Delivery) -> Self {
        Self::new(
            AuditAction::PasswordResetRequested,
            Detail::Delivery { delivery },
        )
    }

    pub fn password_reset() -> Self {
        Self::new(AuditAction::PasswordReset, Detail::Empty {})
    }

    pub fn email_verification_sent(email: &'a str) -> Self {
        Self::new(AuditAction::EmailVerificationSent, Detail::Email { email })
    }

    /// Verified by the link sent to the address.
    pub fn email_verified(email: &'a str) -> Self {
        Self::new(AuditAction::EmailVerified, Detail::Email { email })
    }

    /// Marked verified, or not, by an admin.
    pub fn email_verified_set(email: &'a str, verified: bool) -> Self {
        let detail = Detail::EmailVerified { email, verified };
        Self::new(AuditAction::EmailVerified, detail)
    }

    /// TOTP confirmed.
    pub fn mfa_enabled() -> Self {
        Self::new(AuditAction::MfaEnabled, Detail::Method { method: "totp" })
    }

    pub fn mfa_disabled(by: MfaOff) -> Self {
        Self::new(AuditAction::MfaDisabled, Detail::MfaOff(by))
    }

    pub fn mfa_failure() -> Self {
        let reason = "invalid_mfa_code";
        Self::new(AuditAction::MfaFailure, Detail::Reason { reason })
    }

    /// `remaining`: the recovery codes still unused.
    pub fn recovery_code_used(remaining: i64) -> Self {
        Self::new(
            AuditAction::RecoveryCodeUsed,
            Detail::Remaining { remaining },
        )
    }

    pub fn recovery_codes_regenerated() -> Self {
        Self::new(AuditAction::RecoveryCodesRegenerated, Detail::Empty {})
    }

    pub fn key_rotated(rotation: KeyRotation<'a>) -> Self {
        Self::new(AuditAction::KeyRotated, Detail::KeyRotated(rotation))
    }

    pub fn api_key_created(key_id: i64, name: &'a str, permissions: &'a [String]) -> Self {
        let detail = Detail::ApiKeyCreated {
            key_id,
            name,
            permissions,
        };
        Self::new(AuditAction::ApiKeyCreated, detail)
    }

    pub fn api_key_deleted(key_id: i64, name: &'a str) -> Self {
        Self::new(AuditAction::ApiKeyDeleted, Detail::ApiKey { key_id, name })
    }
}
