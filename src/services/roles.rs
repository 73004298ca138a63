//! Roles as data: listing, reading, creating, changing and deleting them, the
//! permission catalogue, and the rule for giving a role to a user.
//!
//! No escalation: to put a permission into (or take it out of) a role, or to give a
//! role to a user, the caller must hold every permission involved; `*` holds all.

use std::collections::BTreeSet;

use crate::db::Conn;
use crate::domain::permission::{self, BUILTIN, ROLES_MANAGE, USERS_WRITE};
use crate::domain::role::USER;
use crate::domain::{Permission, RoleName};
use crate::error::{AppError, AppResult};
use crate::metrics::Metrics;
use crate::models::audit::{Audit, PermissionDiff};
use crate::models::now;
use crate::models::roles::{self, Role};
use crate::services::{authorize, Principal};
use crate::state::AppState;

/// Longest role description, in characters.
const MAX_DESCRIPTION: usize = 200;

/// A catalogue entry.
pub struct PermissionInfo {
    pub name: String,
    pub description: String,
    pub builtin: bool,
}

/// A description: trimmed, bounded, free of control characters.
pub fn parse_description(raw: &str) -> AppResult<String> {
    let d = raw.trim();
    if d.chars().count() > MAX_DESCRIPTION || d.chars().any(char::is_control) {
        return Err(AppError::Validation(format!(
            "description must be at most {MAX_DESCRIPTION} characters, without control characters"
        )));
    }
    Ok(d.to_string())
}

fn names(permissions: &[Permission]) -> Vec<String> {
    let set: BTreeSet<String> = permissions.iter().map(|p| p.as_str().to_string()).collect();
    set.into_iter().collect()
}

pub async fn list(state: &AppState) -> AppResult<Vec<Role>> {
    state.db.run(|conn| Ok(roles::list(conn)?)).await
}

pub async fn get(state: &AppState, name: String) -> AppResult<Role> {
    state
        .db
        .run(move |conn| roles::find(conn, &name)?.ok_or(AppError::NotFound("role")))
        .await
}

/// The built-in catalogue, then every other permission some role grants.
pub async fn catalogue(state: &AppState) -> AppResult<Vec<PermissionInfo>> {
    let used = state
        .db
        .run(|conn| Ok(roles::used_permissions(conn)?))
        .await?;
    let mut items: Vec<PermissionInfo> = BUILTIN
        .iter()
        .map(|(name, description)| PermissionInfo {
            name: name.to_string(),
            description: description.to_string(),
            builtin: true,
        })
        .collect();
    let others = used
        .into_iter()
        .filter(|p| p != permission::ALL && !BUILTIN.iter().any(|(b, _)| b == p))
        .map(|name| PermissionInfo {
            name,
            description: String::new(),
            builtin: false,
        });
    items.extend(others);
    Ok(items)
}

pub async fn create(
    state: &AppState,
    caller: &Principal,
    name: RoleName,
    description: String,
    permissions: Vec<Permission>,
) -> AppResult<Role> {
    let permissions = names(&permissions);
    authorize(&state.metrics, caller, [ROLES_MANAGE])?;
    authorize(
        &state.metrics,
        caller,
        permissions.iter().map(String::as_str),
    )?;
    let (by, ip) = (caller.by(), caller.client().ip.clone());
    state
        .change(move |tx| {
            let at = now();
            roles::create(tx, name.as_str(), &description, &permissions, at).map_err(|e| {
                match AppError::from(e) {
                    AppError::Conflict => AppError::RoleExists,
                    other => other,
                }
            })?;
            Audit::role_created(name.as_str(), &permissions)
                .by(by)
                .ip(ip.as_deref())
                .record(tx, at)?;
            roles::find(tx, name.as_str())?.ok_or(AppError::NotFound("role"))
        })
        .await
}

pub async fn update(
    state: &AppState,
    caller: &Principal,
    name: String,
    description: Option<String>,
    permissions: Option<Vec<Permission>>,
) -> AppResult<Role> {
    authorize(&state.metrics, caller, [ROLES_MANAGE])?;
    let permissions = permissions.as_deref().map(names);
    let (metrics, who) = (state.metrics.clone(), caller.clone());
    state
        .change(move |tx| {
            let at = now();
            roles::lock(tx, &name)?.ok_or(AppError::NotFound("role"))?;
            if RoleName::from_stored(name.clone()).is_admin() {
                return Err(AppError::BuiltinRole);
            }
            let before = roles::permissions(tx, &name)?;
            let mut diff = None;
            if let Some(after) = &permissions {
                let old: BTreeSet<&str> = before.iter().map(String::as_str).collect();
                let new: BTreeSet<&str> = after.iter().map(String::as_str).collect();
                let added: Vec<&str> = new.difference(&old).copied().collect();
                let removed: Vec<&str> = old.difference(&new).copied().collect();
                authorize(&metrics, &who, added.iter().chain(&removed).copied())?;
                diff = Some(PermissionDiff { added, removed });
            }
            roles::update(
                tx,
                &name,
                description.as_deref(),
                permissions.as_deref(),
                at,
            )?;
            Audit::role_updated(&name, diff, description.as_deref())
                .by(who.by())
                .ip(who.client().ip.as_deref())
                .record(tx, at)?;
            roles::find(tx, &name)?.ok_or(AppError::NotFound("role"))
        })
        .await
}

pub async fn delete(state: &AppState, caller: &Principal, name: String) -> AppResult<()> {
    authorize(&state.metrics, caller, [ROLES_MANAGE])?;
    let (by, ip) = (caller.by(), caller.client().ip.clone());
    state
        .change(move |tx| {
            roles::lock(tx, &name)?.ok_or(AppError::NotFound("role"))?;
            if RoleName::from_stored(name.clone()).is_builtin() {
                return Err(AppError::BuiltinRole);
            }
            // Under the role's lock: an assignment of it waits for this transaction.
            if roles::holder_count(tx, &name)? > 0 {
                return Err(AppError::RoleInUse);
            }
            roles::delete(tx, &name)?;
            Audit::role_deleted(&name)
                .by(by)
                .ip(ip.as_deref())
                .record(tx, now())?;
            Ok(())
        })
        .await
}

/// May `caller` give `role` to a user whose role is `from` (`None`: a new account)?
/// Giving `user` needs `users:write`, any other role `roles:manage`; and the caller
/// must hold every permission of the new role and of the one it replaces (nobody
/// changes the role of someone who holds more than they do). The role must exist;
/// it stays share-locked, so it cannot be deleted before this transaction commits.
/// Call inside the transaction that makes the assignment.
pub fn check_assignment(
    conn: &mut Conn,
    metrics: &Metrics,
    caller: &Principal,
    role: &RoleName,
    from: Option<&str>,
) -> AppResult<()> {
    let needed = match role.as_str() {
        USER => USERS_WRITE,
        _ => ROLES_MANAGE,
    };
    authorize(metrics, caller, [needed])?;
    if roles::lock_shared(conn, role.as_str())?.is_none() {
        return Err(AppError::Validation(format!("role {role} does not exist")));
    }
    let granted = roles::permissions(conn, role.as_str())?;
    authorize(metrics, caller, granted.iter().map(String::as_str))?;
    if let Some(current) = from {
        check_outranks(conn, metrics, caller, current)?;
    }
    Ok(())
}

/// No action on a more privileged user: every change to a user (a role, disabling or
/// enabling, deleting, unlocking, revoking sessions, the verified flag, a reset link,
/// an MFA reset) needs the caller to hold every permission of the role the user holds
/// now (`target_role`, read with the user's row locked); otherwise 403. Reads stay
/// open to `users:read`.
pub fn check_outranks(
    conn: &mut Conn,
    metrics: &Metrics,
    caller: &Principal,
    target_role: &str,
) -> AppResult<()> {
    let held = roles::permissions(conn, target_role)?;
    authorize(metrics, caller, held.iter().map(String::as_str))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_are_trimmed_bounded_and_plain() {
        assert_eq!(
            parse_description("  Support staff ").unwrap(),
            "Support staff"
        );
        assert!(parse_description(&"x".repeat(201)).is_err());
        assert!(parse_description("line\nbreak").is_err());
    }
}
