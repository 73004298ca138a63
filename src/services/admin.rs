//! Admin use cases: user management with last-admin protection, session revocation,
//! lockout release, the audit trail and dashboard stats.

use chrono::Duration;

use crate::auth::AuthUser;
use crate::cache::Change;
use crate::db::Conn;
use crate::domain::Role;
use crate::error::{AppError, AppResult};
use crate::models::audit::{self, action, AuditFilter, NewAuditEvent};
use crate::models::users::{self, User, UserChanges, UserFilter};
use crate::models::{login_failures, now, sessions};
use crate::net::ClientInfo;
use crate::state::AppState;
use crate::views::{AuditEventView, Page, StatsView, UserView};

/// A validated page request: `page` is 1-based, `per_page` already capped.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    pub page: i64,
    pub per_page: i64,
}

impl PageRequest {
    fn offset(&self) -> i64 {
        (self.page - 1).saturating_mul(self.per_page)
    }

    fn page_of<T: serde::Serialize + utoipa::ToSchema>(self, items: Vec<T>, total: i64) -> Page<T> {
        Page {
            items,
            total,
            page: self.page,
            per_page: self.per_page,
        }
    }
}

pub async fn list_users(
    state: &AppState,
    filter: UserFilter,
    page: PageRequest,
) -> AppResult<Page<UserView>> {
    let (items, total) = state
        .db
        .run(move |conn| Ok(users::list(conn, &filter, page.per_page, page.offset())?))
        .await?;
    Ok(page.page_of(items.iter().map(UserView::from).collect(), total))
}

pub async fn get_user(state: &AppState, id: i64) -> AppResult<UserView> {
    let user = state.db.run(move |conn| Ok(users::find(conn, id)?)).await?;
    user.as_ref()
        .map(UserView::from)
        .ok_or(AppError::NotFound("user"))
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

pub struct UserPatch {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

pub async fn update_user(
    state: &AppState,
    actor: &AuthUser,
    id: i64,
    patch: UserPatch,
    client: ClientInfo,
) -> AppResult<UserView> {
    let actor_id = actor.id;
    let user = state
        .change(move |conn, changed| {
            let at = now();
            let (before, admins) = lock_for_change(conn, id)?;
            let role = patch.role.unwrap_or(before.role());
            let disabled = patch.disabled.unwrap_or(before.disabled);
            let loses_admin = before.is_active_admin() && (role != Role::Admin || disabled);
            if loses_admin {
                ensure_not_last_admin(&before, &admins)?;
            }
            let changes = UserChanges {
                role: (role != before.role()).then_some(role.as_str()),
                disabled: (disabled != before.disabled).then_some(disabled),
                updated_at: Some(at),
            };
            users::update(conn, id, &changes)?;
            changed.push(Change::User(id));
            let event = |name| {
                NewAuditEvent::new(name, at)
                    .actor(actor_id)
                    .target(id)
                    .ip(client.ip.as_deref())
            };
            if role != before.role() {
                audit::record(
                    conn,
                    event(action::ROLE_CHANGE)
                        .detail(serde_json::json!({ "from": before.role, "to": role.as_str() })),
                )?;
            }
            if disabled != before.disabled {
                // A disabled account keeps no session: re-enabling it must not bring
                // back tokens issued before.
                let (name, revoked) = if disabled {
                    let n = sessions::revoke_all_for_user(conn, id, None, at)?;
                    changed.push(Change::AllSessions(id));
                    (action::USER_DISABLED, n)
                } else {
                    (action::USER_ENABLED, 0)
                };
                let detail = serde_json::json!({ "sessions_revoked": revoked });
                audit::record(conn, event(name).detail(detail))?;
            }
            find_user(conn, id)
        })
        .await?;
    Ok(UserView::from(&user))
}

pub async fn delete_user(
    state: &AppState,
    actor: &AuthUser,
    id: i64,
    client: ClientInfo,
) -> AppResult<()> {
    let actor_id = actor.id;
    state
        .change(move |conn, changed| {
            let (target, admins) = lock_for_change(conn, id)?;
            ensure_not_last_admin(&target, &admins)?;
            users::delete(conn, id)?;
            changed.extend([Change::User(id), Change::AllSessions(id)]);
            login_failures::clear_email(conn, &target.email)?;
            audit::record(
                conn,
                NewAuditEvent::new(action::USER_DELETED, now())
                    .actor(actor_id)
                    .target(id)
                    .ip(client.ip.as_deref())
                    .detail(serde_json::json!({ "email": target.email })),
            )?;
            Ok(())
        })
        .await
}

pub async fn revoke_sessions(
    state: &AppState,
    actor: &AuthUser,
    id: i64,
    client: ClientInfo,
) -> AppResult<()> {
    let actor_id = actor.id;
    state
        .change(move |conn, changed| {
            let at = now();
            find_user(conn, id)?;
            let count = sessions::revoke_all_for_user(conn, id, None, at)?;
            changed.push(Change::AllSessions(id));
            audit::record(
                conn,
                NewAuditEvent::new(action::SESSIONS_REVOKED, at)
                    .actor(actor_id)
                    .target(id)
                    .ip(client.ip.as_deref())
                    .detail(serde_json::json!({ "sessions": count })),
            )?;
            Ok(())
        })
        .await
}

pub async fn unlock(
    state: &AppState,
    actor: &AuthUser,
    id: i64,
    client: ClientInfo,
) -> AppResult<()> {
    let actor_id = actor.id;
    state
        .db
        .transaction(move |conn| {
            let target = find_user(conn, id)?;
            let cleared = login_failures::clear_email(conn, &target.email)?;
            audit::record(
                conn,
                NewAuditEvent::new(action::UNLOCK, now())
                    .actor(actor_id)
                    .target(id)
                    .ip(client.ip.as_deref())
                    .detail(serde_json::json!({ "cleared_failures": cleared })),
            )?;
            Ok(())
        })
        .await
}

pub async fn audit_log(
    state: &AppState,
    filter: AuditFilter,
    page: PageRequest,
) -> AppResult<Page<AuditEventView>> {
    let (items, total) = state
        .db
        .run(move |conn| Ok(audit::list(conn, &filter, page.per_page, page.offset())?))
        .await?;
    Ok(page.page_of(items.into_iter().map(AuditEventView::from).collect(), total))
}

pub async fn stats(state: &AppState) -> AppResult<StatsView> {
    state
        .db
        .run(|conn| {
            let counts = users::counts(conn)?;
            let since = now() - Duration::hours(24);
            Ok(StatsView {
                users_total: counts.total,
                admins_total: counts.admins,
                disabled_total: counts.disabled,
                logins_24h: audit::count_since(conn, action::LOGIN_SUCCESS, since)?,
                failed_logins_24h: audit::count_since(conn, action::LOGIN_FAILURE, since)?,
            })
        })
        .await
}
