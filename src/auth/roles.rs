//! The permissions a role grants right now, as the bearer middleware reads them for a
//! person's token and for an API key's owner.

use std::sync::Arc;

use crate::cache::RoleTable;
use crate::domain::PermissionSet;
use crate::error::AppError;
use crate::models::roles;
use crate::state::AppState;

/// The current permissions of `role`: from the auth cache, or (after a role change,
/// or at start) one query that reloads every role's.
pub async fn role_permissions(
    state: &AppState,
    role: &str,
) -> Result<Arc<PermissionSet>, AppError> {
    if let Some(p) = state.cache.role_permissions(role) {
        return Ok(p);
    }
    let epoch = state.cache.epoch();
    let table = state
        .db
        .run(|conn| Ok(roles::permission_table(conn)?))
        .await?;
    let table: RoleTable = table
        .into_iter()
        .map(|(name, perms)| (name, Arc::new(PermissionSet::new(perms))))
        .collect();
    let found = table.get(role).cloned().unwrap_or_default();
    state.cache.fill_roles(epoch, table);
    Ok(found)
}
