//! Parsed input types: once one of these exists, its value is known to be valid.

mod amr;
pub mod cursor;
mod email;
mod password;
pub mod permission;
pub mod role;

pub use amr::Amr;
pub use cursor::{Cursor, Listing};
pub use email::Email;
pub use password::Password;
pub use permission::{Permission, PermissionSet};
pub use role::RoleName;
