//! The names of audit actions: what `audit_events.action` stores, what the trail is
//! filtered on and what the OpenAPI document lists, all from the one table below.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Declares [`AuditAction`], its stored names and [`AuditAction::ALL`] from one list,
/// so that a new action cannot be missing from any of them. Names are taken as `tt`,
/// not `literal`: a `literal` reaches the derives wrapped in a group, which utoipa
/// does not read as a `rename`.
macro_rules! audit_actions {
    ($($variant:ident = $name:tt,)+) => {
        /// Every audit action, as stored and filtered on.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        pub enum AuditAction {
            $(#[serde(rename = $name)] $variant,)+
        }

        impl AuditAction {
            /// Every action, in the order the OpenAPI document lists them.
            pub const ALL: &'static [AuditAction] = &[$(AuditAction::$variant,)+];

            /// The name stored in `audit_events.action` (and its JSON).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(AuditAction::$variant => $name,)+
                }
            }
        }
    };
}

// Stored names: rows keep them for as long as the retention, and clients filter on
// them, so a name never changes once released.
audit_actions! {
    Register = "register",
    LoginSuccess = "login_success",
    LoginFailure = "login_failure",
    Lockout = "lockout",
    PasswordChange = "password_change",
    // A wrong `current_password` on a password change.
    PasswordChangeFailure = "password_change_failure",
    RefreshReuseDetected = "refresh_reuse_detected",
    // A spent refresh token presented again within the reuse interval.
    RefreshReplayed = "refresh_replayed",
    Logout = "logout",
    SessionRevoked = "session_revoked",
    SessionsRevoked = "sessions_revoked",
    UserCreated = "user_created",
    RoleChange = "role_change",
    UserDisabled = "user_disabled",
    UserEnabled = "user_enabled",
    UserDeleted = "user_deleted",
    Unlock = "unlock",
    AdminBootstrapped = "admin_bootstrapped",
    RoleCreated = "role_created",
    RoleUpdated = "role_updated",
    RoleDeleted = "role_deleted",
    PasswordResetRequested = "password_reset_requested",
    PasswordReset = "password_reset",
    EmailVerificationSent = "email_verification_sent",
    EmailVerified = "email_verified",
    MfaEnabled = "mfa_enabled",
    MfaDisabled = "mfa_disabled",
    // A wrong second-factor code (login, or managing MFA).
    MfaFailure = "mfa_failure",
    RecoveryCodeUsed = "recovery_code_used",
    RecoveryCodesRegenerated = "recovery_codes_regenerated",
    KeyRotated = "key_rotated",
    ApiKeyCreated = "api_key_created",
    ApiKeyDeleted = "api_key_deleted",
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::AuditAction;

    #[test]
    fn each_action_serialises_as_the_name_it_is_stored_under() {
        for action in AuditAction::ALL {
            let json = serde_json::to_value(action).unwrap();
            assert_eq!(json, action.as_str());
            let back: AuditAction = serde_json::from_value(json).unwrap();
            assert_eq!(back, *action);
        }
    }

    #[test]
    fn no_two_actions_share_a_name() {
        let names: std::collections::BTreeSet<&str> =
            AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(names.len(), AuditAction::ALL.len());
    }
}
