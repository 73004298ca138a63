//! User management for admins: listing, reading, changing (with last-admin
//! protection), deleting, revoking sessions and releasing a lockout.

use crate::db::Conn;
use crate::domain::permission::{SESSIONS_REVOKE, USERS_DELETE, USERS_UNLOCK, USERS_WRITE};
use crate::domain::Listing;
use crate::domain::RoleName;
use crate::error::{AppError, AppResult};
use crate::models::audit::Audit;
use crate::models::users::{self, User, UserChanges, UserFilter};
use crate::models::{login_failures, now, sessions};
use crate::services::{authorize, roles, Page, PageRequest, Principal};
use crate::state::AppState;

/// One page of users. Filtering by a role that does not exist is a 422, as giving
/// one is.
pub async fn list(
    state: &AppState,
    filter: UserFilter,
    page: PageRequest,
) -> AppResult<Page<User>> {
    let (items, count) = state
        .db
        .run(move |conn| {
            if let Some(role) = &filter.role {
                if !crate::models::roles::exists(conn, role.as_str())? {
                    return Err(AppError::Validation(format!("role {role} does not exist")));
                }
            }
            Ok(users::list(conn, &filter, page.window())?)
        })
        .await?;
    Ok(page.page_of(items, count, Listing::Users, |u| u.id))
}

pub async fn get(state: &AppState, id: i64) -> AppResult<User> {
    let user = state.db.run(move |conn| Ok(users::find(conn, id)?)).await?;
    user.ok_or(AppError::NotFound("user"))
}

/// Locks what an admin change of user `id` reads: first every enabled admin's row (for
/// the last-admin rule), then the target's. On PostgreSQL the rows stay locked until
/// the transaction ends, so concurrent changes of one user run one after another,
/// each from the state the previous one left, and two admins demoting each other
/// cannot both succeed. Always in this order (admins by id, then the target), so two
/// such transactions cannot deadlock. SQLite runs one writer at a time anyway.
fn lock_for_change(conn: &mut Conn, id: i64) -> AppResult<(User, Vec<i64>)> {
    let admins = users::lock_active_admins(conn)?;
    let target = users::lock(conn, id)?.ok_or(AppError::NotFound("user"))?;
    Ok((target, admins))
}

/// Refuses a change that would leave no enabled admin.
fn ensure_not_last_admin(target: &User, admins: &[i64]) -> AppResult<()> {
    if target.is_active_admin() && admins.iter().all(|&id| id == target.id) {
        return Err(AppError::LastAdmin);
    }
    Ok(())
}

fn find_user(conn: &mut Conn, id: i64) -> AppResult<User> {
    users::find(conn, id)?.ok_or(AppError::NotFound("user"))
}

/// The user's row, locked: what a change reads the user's role from.
fn lock_user(conn: &mut Conn, id: i64) -> AppResult<User> {
    users::lock(conn, id)?.ok_or(AppError::NotFound("user"))
}

pub struct UserPatch {
    pub role: Option<RoleName>,
    pub disabled: Option<bool>,
    pub email_verified: Option<bool>,
}

/// Applies `patch`; effective on the user's very next request. Disabling revokes
/// every session, so re-enabling never brings back tokens issued before.
///
/// Permissions: `disabled` needs `users:write`; `role` needs the right to give it
/// (`roles::check_assignment`); a request with both needs both, and an empty one
/// `users:write`. Any of them also needs every permission of the user's current role
/// (`roles::check_outranks`).
pub async fn update(
    state: &AppState,
    caller: &Principal,
    id: i64,
    patch: UserPatch,
) -> AppResult<User> {
    let plain = patch.disabled.is_some() || patch.email_verified.is_some();
    if plain || patch.role.is_none() {
        authorize(&state.metrics, caller, [USERS_WRITE])?;
    }
    let (by, ip) = (caller.by(), caller.client().ip.clone());
    let (metrics, who) = (state.metrics.clone(), caller.clone());
    state
        .change(move |tx| {
            let at = now();
            let (before, admins) = lock_for_change(tx, id)?;
            roles::check_outranks(tx, &metrics, &who, &before.role)?;
            if let Some(role) = &patch.role {
                roles::check_assignment(tx, &metrics, &who, role, Some(&before.role))?;
            }
            let role = patch.role.unwrap_or(before.role());
            let disabled = patch.disabled.unwrap_or(before.disabled);
            let loses_admin = before.is_active_admin() && (!role.is_admin() || disabled);
            if loses_admin {
                ensure_not_last_admin(&before, &admins)?;
            }
            let verified = patch.email_verified.unwrap_or(before.email_verified);
            let changes = UserChanges {
                role: (role != before.role()).then_some(role.as_str()),
                disabled: (disabled != before.disabled).then_some(disabled),
                email_verified: (verified != before.email_verified).then_some(verified),
                updated_at: Some(at),
            };
            users::update(tx, id, &changes)?;
            let mut events = vec![];
            if verified != before.email_verified {
                events.push(Audit::email_verified_set(&before.email, verified));
            }
            if role != before.role() {
                events.push(Audit::role_change(&before.role, role.as_str()));
            }
            if disabled != before.disabled {
                events.push(match disabled {
                    true => Audit::user_disabled(sessions::revoke_all_for_user(tx, id, None, at)?),
                    false => Audit::user_enabled(),
                });
            }
            for event in events {
                event.by(by).target(id).ip(ip.as_deref()).record(tx, at)?;
            }
            find_user(tx, id)
        })
        .await
}

/// Deletes a user and everything of theirs. Needs `users:delete` and every
/// permission of the user's role.
pub async fn delete(state: &AppState, caller: &Principal, id: i64) -> AppResult<()> {
    authorize(&state.metrics, caller, [USERS_DELETE])?;
    let (by, ip) = (caller.by(), caller.client().ip.clone());
    let (metrics, who) = (state.metrics.clone(), caller.clone());
    state
        .change(move |tx| {
            let (target, admins) = lock_for_change(tx, id)?;
            roles::check_outranks(tx, &metrics, &who, &target.role)?;
            ensure_not_last_admin(&target, &admins)?;
            users::delete(tx, id)?;
            login_failures::clear_email(tx, &target.email)?;
            Audit::user_deleted(&target.email)
                .by(by)
                .target(id)
                .ip(ip.as_deref())
                .record(tx, now())?;
            Ok(())
        })
        .await
}

/// Revokes every session of a user: all their tokens stop working. Needs
/// `sessions:revoke` and every permission of the user's role.
pub async fn revoke_sessions(state: &AppState, caller: &Principal, id: i64) -> AppResult<()> {
    authorize(&state.metrics, caller, [SESSIONS_REVOKE])?;
    let (by, ip) = (caller.by(), caller.client().ip.clone());
    let (metrics, who) = (state.metrics.clone(), caller.clone());
    state
        .change(move |tx| {
            let at = now();
            let target = lock_user(tx, id)?;
            roles::check_outranks(tx, &metrics, &who, &target.role)?;
            let count = sessions::revoke_all_for_user(tx, id, None, at)?;
            Audit::sessions_revoked(count)
                .by(by)
                .target(id)
                .ip(ip.as_deref())
                .record(tx, at)?;
            Ok(())
        })
        .await
}

/// Clears the account's login failures (its lockout); the per-client count stays.
/// Needs `users:unlock` and every permission of the user's role.
pub async fn unlock(state: &AppState, caller: &Principal, id: i64) -> AppResult<()> {
    authorize(&state.metrics, caller, [USERS_UNLOCK])?;
    let (by, ip) = (caller.by(), caller.client().ip.clone());
    let (metrics, who) = (state.metrics.clone(), caller.clone());
    state
        .db
        .transaction(move |conn| {
            let target = lock_user(conn, id)?;
            roles::check_outranks(conn, &metrics, &who, &target.role)?;
            let cleared = login_failures::clear_email(conn, &target.email)?;
            Audit::unlock(cleared)
                .by(by)
                .target(id)
                .ip(ip.as_deref())
                .record(conn, now())?;
            Ok(())
        })
        .await
}
