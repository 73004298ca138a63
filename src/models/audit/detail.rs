//! The `detail` of each kind of audit event: the shapes it is stored in, and the
//! values a caller picks from for it. Clients read these keys (`detail.session_id`,
//! `detail.reason`...), so a shape never loses or renames one.

use serde::Serialize;

/// What was typed as the login address, as far as the trail may show it.
#[derive(Debug, Clone, Copy)]
pub enum LoginName<'a> {
    Email(&'a str),
    /// Not an address: what was typed is not shown (people type passwords into the
    /// wrong field).
    Malformed,
}

/// Why a login with a known address failed (`detail.reason`).
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginRefused {
    /// The right password for a disabled account.
    Disabled,
    /// The right password, but `REQUIRE_VERIFIED_EMAIL` and the address is not.
    EmailNotVerified,
    InvalidCredentials,
}

/// What locked an account (`detail.reason`).
#[derive(Debug, Clone, Copy)]
pub enum LockedBy<'a> {
    /// Wrong passwords at login: the detail names the login, like its failures'.
    Login(LoginName<'a>),
    /// Wrong second-factor codes.
    Mfa,
    /// Wrong current passwords on a password change.
    PasswordChange,
}

/// The second factor that completed a login (`detail.second_factor`).
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecondFactor {
    Totp,
    RecoveryCode,
}

/// How a password reset reaches its user (`detail.delivery`).
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    Email,
    /// A link handed to an admin.
    Link,
}

/// Who turned MFA off (`detail.by`).
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum MfaOff {
    /// The user, with their password and a code.
    User,
    /// An admin's reset for a lost device.
    Admin { was_enabled: bool },
}

/// How a role's permissions changed: what it gained and lost.
#[derive(Debug, Clone, Serialize)]
pub struct PermissionDiff<'a> {
    pub added: Vec<&'a str>,
    pub removed: Vec<&'a str>,
}

/// A new signing key replacing `previous_kid` (null when there was none).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct KeyRotation<'a> {
    pub kid: &'a str,
    pub alg: &'a str,
    pub previous_kid: Option<&'a str>,
    pub reason: &'a str,
}

/// Every shape a detail is stored in. Only the constructors of `Audit` make one, each
/// with its action's shape; fixed values (a `reason`, a `method`) are theirs too.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(super) enum Detail<'a> {
    Empty {},
    Account {
        email: &'a str,
        role: &'a str,
    },
    Email {
        email: &'a str,
    },
    EmailVerified {
        email: &'a str,
        verified: bool,
    },
    Session {
        session_id: &'a str,
    },
    SessionLogin {
        session_id: &'a str,
        second_factor: SecondFactor,
    },
    SessionReplayed {
        session_id: &'a str,
        ms_since_spent: i64,
    },
    SessionVia {
        session_id: &'a str,
        via: &'static str,
    },
    Reason {
        reason: &'static str,
    },
    LoginEmail {
        email: &'a str,
        reason: LoginRefused,
    },
    LoginMalformed {
        malformed_email: bool,
        reason: LoginRefused,
    },
    Sessions {
        sessions: usize,
    },
    SessionsRevoked {
        sessions_revoked: usize,
    },
    ClearedFailures {
        cleared_failures: usize,
    },
    Remaining {
        remaining: i64,
    },
    RoleChange {
        from: &'a str,
        to: &'a str,
    },
    Role {
        name: &'a str,
    },
    RoleCreated {
        name: &'a str,
        permissions: &'a [String],
    },
    RoleUpdated {
        name: &'a str,
        #[serde(flatten)]
        permissions: Option<PermissionDiff<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        description: Option<&'a str>,
    },
    Delivery {
        delivery: Delivery,
    },
    Method {
        method: &'static str,
    },
    MfaOff(MfaOff),
    KeyRotated(KeyRotation<'a>),
    ApiKeyCreated {
        key_id: i64,
        name: &'a str,
        permissions: &'a [String],
    },
    ApiKey {
        key_id: i64,
        name: &'a str,
    },
}

impl<'a> Detail<'a> {
    /// A login's failure, or the lockout it caused: the address or the fact that
    /// there was none, and why.
    pub(super) fn login(name: LoginName<'a>, reason: LoginRefused) -> Self {
        match name {
            LoginName::Email(email) => Detail::LoginEmail { email, reason },
            LoginName::Malformed => Detail::LoginMalformed {
                malformed_email: true,
                reason,
            },
        }
    }
}
