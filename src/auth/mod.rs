//! HTTP authentication: the bearer middleware that guards `/api`, the authenticated
//! caller as an extractor, and the guards that answer 403.

pub mod bearer;
pub mod middleware;

pub use middleware::{bearer_auth, require_any_permission, require_permission, AuthUser};
