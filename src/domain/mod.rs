//! Parsed input types: once one of these exists, its value is known to be valid. Each
//! parser refuses with an error of its own, free of HTTP (`error` maps them to answers).

mod amr;
pub mod cursor;
mod email;
mod password;
pub mod permission;
pub mod role;

pub use amr::Amr;
pub use cursor::{Cursor, CursorError, Listing};
pub use email::{Email, EmailError};
pub use password::{Password, PasswordError};
pub use permission::{Permission, PermissionError, PermissionSet};
pub use role::{RoleName, RoleNameError};
