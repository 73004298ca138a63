//! Parsed input types: once one of these exists, its value is known to be valid.

mod email;
mod password;
mod role;

pub use email::Email;
pub use password::Password;
pub use role::Role;
