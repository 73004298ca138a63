//! Permissions: `resource:action` strings (or `*`, every permission), the sets a role
//! grants, and the built-in catalogue the admin API checks.

use std::collections::BTreeSet;

use serde::Serialize;

/// Every permission.
pub const ALL: &str = "*";

/// The permissions the admin API itself checks, with what each grants.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "users:read",
        "List and read users; read the dashboard stats",
    ),
    (
        "users:write",
        "Create users with role `user`; change `disabled`; give a user role `user`",
    ),
    ("users:delete", "Delete users"),
    ("users:unlock", "Clear a user's login lockout"),
    ("sessions:revoke", "Revoke every session of a user"),
    ("audit:read", "Read the audit trail"),
    ("roles:read", "List and read roles and permissions"),
    (
        "roles:manage",
        "Create, change and delete roles; give a user any role other than `user`",
    ),
    ("keys:manage", "Manage signing keys and API keys"),
    ("tokens:introspect", "Introspect tokens (RFC 7662)"),
];

pub const USERS_READ: &str = "users:read";
pub const USERS_WRITE: &str = "users:write";
pub const USERS_DELETE: &str = "users:delete";
pub const USERS_UNLOCK: &str = "users:unlock";
pub const SESSIONS_REVOKE: &str = "sessions:revoke";
pub const AUDIT_READ: &str = "audit:read";
pub const ROLES_READ: &str = "roles:read";
pub const ROLES_MANAGE: &str = "roles:manage";
pub const KEYS_MANAGE: &str = "keys:manage";
pub const TOKENS_INTROSPECT: &str = "tokens:introspect";

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Permission(String);

const PART_MAX: usize = 32;

/// The most permissions one role or API key holds (`maxItems` in the document): far
/// more than any real one needs, and few enough that a set loaded, cached and checked
/// on every request stays small. Without a cap a single request stored thousands.
pub const MAX_PER_HOLDER: usize = 256;

/// Why a permission, or a list of them, was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PermissionError {
    #[error("a permission is `resource:action` (lowercase letters, digits, '_', '.' or '-', each part starting with a letter and at most {PART_MAX} long) or `*`")]
    Malformed,
    #[error("permissions holds at most {MAX_PER_HOLDER} entries (this list has {0})")]
    TooMany(usize),
}

fn part_ok(part: &str) -> bool {
    let mut chars = part.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c))
        && part.len() <= PART_MAX
}

impl Permission {
    /// Every one of `raw`, or the error for the first that is not a permission; at
    /// most [`MAX_PER_HOLDER`] of them.
    pub fn parse_all(raw: &[String]) -> Result<Vec<Permission>, PermissionError> {
        if raw.len() > MAX_PER_HOLDER {
            return Err(PermissionError::TooMany(raw.len()));
        }
        raw.iter().map(|p| Permission::parse(p)).collect()
    }

    /// `^[a-z][a-z0-9_.-]{0,31}:[a-z][a-z0-9_.-]{0,31}$`, or `*`.
    pub fn parse(raw: &str) -> Result<Permission, PermissionError> {
        let ok = raw == ALL
            || raw
                .split_once(':')
                .is_some_and(|(r, a)| part_ok(r) && part_ok(a));
        if ok {
            Ok(Permission(raw.to_string()))
        } else {
            Err(PermissionError::Malformed)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_builtin(&self) -> bool {
        BUILTIN.iter().any(|(name, _)| *name == self.0)
    }
}

/// What a role grants. `*` grants everything, including permissions nobody has
/// defined yet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PermissionSet(BTreeSet<String>);

impl PermissionSet {
    pub fn new(permissions: impl IntoIterator<Item = String>) -> PermissionSet {
        PermissionSet(permissions.into_iter().collect())
    }

    pub fn everything() -> PermissionSet {
        PermissionSet::new([ALL.to_string()])
    }

    pub fn allows(&self, permission: &str) -> bool {
        self.0.contains(ALL) || self.0.contains(permission)
    }

    /// True when everything `other` grants is granted here too: the test against
    /// escalation.
    pub fn covers<'a>(&self, other: impl IntoIterator<Item = &'a str>) -> bool {
        other.into_iter().all(|p| match p {
            ALL => self.0.contains(ALL),
            p => self.allows(p),
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// What both grant: each permission one of them names that the other covers (so
    /// `*` and a set give the set).
    pub fn intersect(&self, other: &PermissionSet) -> PermissionSet {
        let mine = self.iter().filter(|p| other.covers([*p]));
        let theirs = other.iter().filter(|p| self.covers([*p]));
        PermissionSet::new(mine.chain(theirs).map(str::to_string))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_are_resource_colon_action_or_star() {
        for good in [
            "users:read",
            "notes:write",
            "a:b",
            "orders.v2:export-csv",
            "x_y:z_1",
            "*",
        ] {
            assert!(Permission::parse(good).is_ok(), "{good}");
        }
        let long = format!("{}:read", "a".repeat(33));
        for bad in [
            "",
            "users",
            "Users:read",
            "users:",
            ":read",
            "1x:read",
            "users:read:more",
            "users :read",
            "**",
            "users:*",
            long.as_str(),
        ] {
            assert!(Permission::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Permission::parse(&format!("{}:read", "a".repeat(32))).is_ok());
    }

    #[test]
    fn a_list_holds_at_most_256_and_names_its_length_when_longer() {
        let ok = vec!["a:b".to_string(); MAX_PER_HOLDER];
        assert_eq!(Permission::parse_all(&ok).unwrap().len(), MAX_PER_HOLDER);
        let long = vec!["a:b".to_string(); MAX_PER_HOLDER + 1];
        let err = Permission::parse_all(&long).unwrap_err();
        assert_eq!(err, PermissionError::TooMany(257));
        assert_eq!(
            err.to_string(),
            "permissions holds at most 256 entries (this list has 257)"
        );
        let bad = vec!["a:b".to_string(), "Nope".to_string()];
        assert_eq!(Permission::parse_all(&bad), Err(PermissionError::Malformed));
    }

    #[test]
    fn star_allows_everything_and_covers_only_what_it_names() {
        let all = PermissionSet::everything();
        assert!(all.allows("users:read") && all.allows("notes:anything"));
        let some = PermissionSet::new(["users:read".into(), "audit:read".into()]);
        assert!(some.allows("users:read") && !some.allows("users:write"));
        assert!(some.covers(["users:read"]));
        assert!(!some.covers(["users:read", "users:write"]));
        assert!(!some.covers(["*"]), "naming * is holding every permission");
        assert!(all.covers(["*", "users:write"]));
    }

    #[test]
    fn an_intersection_grants_only_what_both_grant() {
        let set = |ps: &[&str]| PermissionSet::new(ps.iter().map(|p| p.to_string()));
        let all = PermissionSet::everything();
        let ops = set(&["users:read", "keys:manage", "notes:read"]);
        let support = set(&["users:read", "audit:read"]);
        assert_eq!(ops.intersect(&support), set(&["users:read"]));
        assert_eq!(support.intersect(&ops), set(&["users:read"]));
        assert_eq!(all.intersect(&ops), ops);
        assert_eq!(ops.intersect(&all), ops);
        assert_eq!(all.intersect(&all), all);
        assert_eq!(ops.intersect(&PermissionSet::default()), set(&[]));
    }

    #[test]
    fn the_catalogue_is_well_formed() {
        for (name, _) in BUILTIN {
            assert!(Permission::parse(name).unwrap().is_builtin());
        }
        assert!(!Permission::parse("notes:read").unwrap().is_builtin());
    }
}
