//! JSON shapes of the HTTP contract (`docs/api.md`), built from the domain values the
//! services return.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::PermissionSet;
use crate::models::audit::{AuditAction, AuditEvent};
use crate::models::roles::Role;
use crate::models::sessions::Session;
use crate::models::users::User;
use crate::services::audit::Stats;
use crate::services::roles::PermissionInfo;
use crate::services::sessions::SignedIn;
use crate::services::Page;

pub(crate) fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

/// A user as clients see it: never the hash, never the password version.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: i64,
    pub email: String,
    /// The name of the user's role.
    #[schema(example = "user")]
    pub role: String,
    pub disabled: bool,
    /// The address was confirmed (a verification link, a password reset, or an admin).
    pub email_verified: bool,
    /// Login takes a second factor (TOTP or a recovery code).
    pub mfa_enabled: bool,
    #[serde(serialize_with = "crate::routes::time::rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::routes::time::rfc3339")]
    pub updated_at: DateTime<Utc>,
    /// Null until the first login.
    #[schema(required = true)]
    #[serde(serialize_with = "crate::routes::time::rfc3339_opt")]
    pub last_login_at: Option<DateTime<Utc>>,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        UserView {
            id: u.id,
            email: u.email.clone(),
            role: u.role.clone(),
            disabled: u.disabled,
            email_verified: u.email_verified,
            mfa_enabled: u.mfa_enabled,
            created_at: utc(u.created_at),
            updated_at: utc(u.updated_at),
            last_login_at: u.last_login_at.map(utc),
        }
    }
}

/// The caller's own account, with what its role grants. Borrowed from the cached row:
/// this is the answer of the hottest authenticated route.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileView<'a> {
    pub id: i64,
    pub email: &'a str,
    #[schema(example = "user")]
    pub role: &'a str,
    pub disabled: bool,
    pub email_verified: bool,
    pub mfa_enabled: bool,
    #[serde(serialize_with = "crate::routes::time::rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::routes::time::rfc3339")]
    pub updated_at: DateTime<Utc>,
    /// Null until the first login.
    #[schema(required = true)]
    #[serde(serialize_with = "crate::routes::time::rfc3339_opt")]
    pub last_login_at: Option<DateTime<Utc>>,
    /// The caller's effective permissions, sorted (`["*"]` for `admin`).
    #[schema(value_type = Vec<String>)]
    pub permissions: Vec<&'a str>,
}

impl<'a> ProfileView<'a> {
    pub fn new(u: &'a User, permissions: &'a PermissionSet) -> Self {
        ProfileView {
            id: u.id,
            email: &u.email,
            role: &u.role,
            disabled: u.disabled,
            email_verified: u.email_verified,
            mfa_enabled: u.mfa_enabled,
            created_at: utc(u.created_at),
            updated_at: utc(u.updated_at),
            last_login_at: u.last_login_at.map(utc),
            permissions: permissions.iter().collect(),
        }
    }
}

/// An answer with nothing to say: `{}` (a request accepted for later work).
#[derive(Debug, Serialize, ToSchema)]
#[schema(max_properties = 0)]
pub struct Accepted {}

/// A reset link for an admin to hand over.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResetLinkView {
    /// `APP__EMAIL__RESET_LINK` with the token: works once, until `expires_at`.
    pub reset_link: String,
    #[serde(serialize_with = "crate::routes::time::rfc3339")]
    pub expires_at: DateTime<Utc>,
}

impl ResetLinkView {
    pub fn new(link: String, expires_at: NaiveDateTime) -> Self {
        ResetLinkView {
            reset_link: link,
            expires_at: utc(expires_at),
        }
    }
}

/// A role: a named set of permissions.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleView {
    #[schema(example = "support")]
    pub name: String,
    pub description: String,
    /// Sorted; `*` is every permission.
    pub permissions: Vec<String>,
    /// `admin` and `user`: they always exist.
    pub builtin: bool,
    /// How many users hold it.
    pub users: i64,
    #[serde(serialize_with = "crate::routes::time::rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::routes::time::rfc3339")]
    pub updated_at: DateTime<Utc>,
}

impl From<Role> for RoleView {
    fn from(r: Role) -> Self {
        RoleView {
            name: r.row.name,
            description: r.row.description,
            permissions: r.permissions,
            builtin: r.row.builtin,
            users: r.users,
            created_at: utc(r.row.created_at),
            updated_at: utc(r.row.updated_at),
        }
    }
}

/// Every role, ordered by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleList {
    pub items: Vec<RoleView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionView {
    #[schema(example = "users:read")]
    pub name: String,
    /// What it grants; empty for a permission of the application's own.
    pub description: String,
    /// Checked by turnstile's own admin API.
    pub builtin: bool,
}

impl From<PermissionInfo> for PermissionView {
    fn from(p: PermissionInfo) -> Self {
        PermissionView {
            name: p.name,
            description: p.description,
            builtin: p.builtin,
        }
    }
}

/// The built-in catalogue, then every other permission some role grants.
#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionList {
    pub items: Vec<PermissionView>,
}

/// The answer to login, refresh and password change.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPairView {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: TokenType,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub user: UserView,
}

/// Always `Bearer` (RFC 6750).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub enum TokenType {
    Bearer,
}

impl From<SignedIn> for TokenPairView {
    fn from(s: SignedIn) -> Self {
        TokenPairView {
            access_token: s.access_token,
            refresh_token: s.refresh_token,
            token_type: TokenType::Bearer,
            expires_in: s.expires_in,
            user: UserView::from(&s.user),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub id: String,
    #[serde(serialize_with = "crate::routes::time::rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::routes::time::rfc3339")]
    pub last_used_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::routes::time::rfc3339")]
    pub expires_at: DateTime<Utc>,
    /// Null when the client sent none.
    #[schema(required = true)]
    pub user_agent: Option<String>,
    /// Null when unknown.
    #[schema(required = true)]
    pub ip: Option<String>,
    /// True for the session of the token that made this request.
    pub current: bool,
}

impl SessionView {
    pub fn new(s: &Session, current_id: &str) -> Self {
        SessionView {
            id: s.id.clone(),
            created_at: utc(s.created_at),
            last_used_at: utc(s.last_used_at),
            expires_at: utc(s.expires_at),
            user_agent: s.user_agent.clone(),
            ip: s.ip.clone(),
            current: s.id == current_id,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventView {
    pub id: i64,
    #[serde(serialize_with = "crate::routes::time::rfc3339")]
    pub at: DateTime<Utc>,
    /// Who did it; null when nobody signed in did (a failed login, the bootstrap).
    #[schema(required = true)]
    pub actor_id: Option<i64>,
    #[schema(value_type = AuditAction)]
    pub action: String,
    /// Whom it concerned; null when no account (a login to an unknown address).
    #[schema(required = true)]
    pub target_id: Option<i64>,
    /// The client's address; null when unknown.
    #[schema(required = true)]
    pub ip: Option<String>,
    /// Facts about the event, by action (e.g. `session_id`, `reason`).
    #[schema(value_type = std::collections::HashMap<String, serde_json::Value>)]
    pub detail: serde_json::Value,
}

impl From<AuditEvent> for AuditEventView {
    fn from(e: AuditEvent) -> Self {
        AuditEventView {
            id: e.id,
            at: utc(e.at),
            actor_id: e.actor_id,
            action: e.action,
            target_id: e.target_id,
            ip: e.ip,
            detail: serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// One page of users.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<UserView>,
    /// Users matching the filters, on every page; exact up to 10,000 (then
    /// `total_capped`).
    pub total: i64,
    /// True when there are more than 10,000 matches: `total` is then 10,000.
    pub total_capped: bool,
    pub page: i64,
    pub per_page: i64,
    /// Send it back as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

impl From<Page<User>> for UserPage {
    fn from(p: Page<User>) -> Self {
        UserPage {
            items: p.items.iter().map(UserView::from).collect(),
            total: p.total,
            total_capped: p.total_capped,
            page: p.page,
            per_page: p.per_page,
            next_cursor: p.next.map(|c| c.encode()),
        }
    }
}

/// One page of audit events.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEventView>,
    /// Events matching the filters, on every page; exact up to 10,000 (then
    /// `total_capped`).
    pub total: i64,
    /// True when there are more than 10,000 matches: `total` is then 10,000.
    pub total_capped: bool,
    pub page: i64,
    pub per_page: i64,
    /// Send it back as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

impl From<Page<AuditEvent>> for AuditPage {
    fn from(p: Page<AuditEvent>) -> Self {
        AuditPage {
            items: p.items.into_iter().map(AuditEventView::from).collect(),
            total: p.total,
            total_capped: p.total_capped,
            page: p.page,
            per_page: p.per_page,
            next_cursor: p.next.map(|c| c.encode()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatsView {
    pub users_total: i64,
    pub admins_total: i64,
    pub disabled_total: i64,
    pub logins_24h: i64,
    pub failed_logins_24h: i64,
    /// Users with a second factor.
    pub mfa_enabled_total: i64,
}

impl From<Stats> for StatsView {
    fn from(s: Stats) -> Self {
        StatsView {
            users_total: s.users_total,
            admins_total: s.admins_total,
            disabled_total: s.disabled_total,
            logins_24h: s.logins_24h,
            failed_logins_24h: s.failed_logins_24h,
            mfa_enabled_total: s.mfa_enabled_total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_lists_every_audit_action_under_its_stored_name() {
        let doc = serde_json::to_value(crate::routes::openapi_document()).unwrap();
        let documented = &doc["components"]["schemas"]["AuditAction"]["enum"];
        let stored: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(documented, &serde_json::json!(stored));
    }
}
