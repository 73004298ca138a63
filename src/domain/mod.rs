//! Parsed input types: once one of these exists, its value is known to be valid.

mod amr;
mod email;
mod password;
pub mod permission;
pub mod role;

pub use amr::Amr;
pub use email::Email;
pub use password::Password;
pub use permission::{Permission, PermissionSet};
pub use role::RoleName;
