//! `RoleName`: the name of a role, as stored in `users.role` and sent in the `role`
//! claim. `admin` and `user` always exist; others are defined by admins.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct RoleName(String);

/// The built-in role with every permission.
pub const ADMIN: &str = "admin";
/// The built-in role of every new account.
pub const USER: &str = "user";
const MAX_LEN: usize = 32;

/// Why a role name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a role name is 2 to {MAX_LEN} characters: a lowercase letter, then lowercase letters, digits, '_' or '-'")]
pub struct RoleNameError;

impl RoleName {
    /// `^[a-z][a-z0-9_-]{1,31}$`.
    pub fn parse(raw: &str) -> Result<RoleName, RoleNameError> {
        let mut chars = raw.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        let rest_ok =
            chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if first_ok && rest_ok && (2..=MAX_LEN).contains(&raw.len()) {
            Ok(RoleName(raw.to_string()))
        } else {
            Err(RoleNameError)
        }
    }

    pub fn admin() -> RoleName {
        RoleName(ADMIN.into())
    }

    pub fn user() -> RoleName {
        RoleName(USER.into())
    }

    /// A name read back from the database, where only parsed names are ever written.
    pub fn from_stored(name: String) -> RoleName {
        RoleName(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_admin(&self) -> bool {
        self.0 == ADMIN
    }

    /// `admin` and `user`: they always exist.
    pub fn is_builtin(&self) -> bool {
        self.0 == ADMIN || self.0 == USER
    }
}

impl std::fmt::Display for RoleName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_names_parse() {
        for good in ["user", "admin", "support", "auditor-2", "read_only", "ab"] {
            assert_eq!(RoleName::parse(good).unwrap().as_str(), good);
        }
    }

    #[test]
    fn malformed_names_are_rejected() {
        let long = "a".repeat(33);
        for bad in [
            "",
            "a",
            "Admin",
            "1st",
            "-x",
            "has space",
            "dots.no",
            "émile",
            long.as_str(),
            " user",
        ] {
            assert_eq!(RoleName::parse(bad), Err(RoleNameError), "{bad:?}");
        }
        assert_eq!(
            RoleNameError.to_string(),
            "a role name is 2 to 32 characters: a lowercase letter, then lowercase letters, digits, '_' or '-'"
        );
        assert!(RoleName::parse(&"a".repeat(32)).is_ok());
    }

    #[test]
    fn the_builtin_roles_are_known() {
        assert!(RoleName::admin().is_admin() && RoleName::admin().is_builtin());
        assert!(RoleName::user().is_builtin() && !RoleName::user().is_admin());
        assert!(!RoleName::parse("support").unwrap().is_builtin());
    }
}
