//! Parsed input types: once one of these exists, its value is known to be valid.

mod email;
mod password;
pub mod permission;
pub mod role;

pub use email::Email;
pub use password::Password;
pub use permission::{Permission, PermissionSet};
pub use role::RoleName;
