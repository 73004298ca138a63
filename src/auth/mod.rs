//! HTTP authentication: the bearer middleware that guards `/api` (access tokens of
//! people, API keys of services), the authenticated caller as an extractor, and the
//! guards that answer 403.

pub mod api_key;
pub mod bearer;
pub mod declared;
pub mod middleware;
pub mod principal;
pub mod roles;

pub use declared::PermissionTable;
pub use middleware::{
    bearer_auth, declared_permission, require_any_permission, require_permission,
};
pub use principal::{AuthUser, Caller, Principal, ServiceCaller};
