//! What admins read about the past: the audit trail and the dashboard numbers.

use chrono::Duration;

use crate::error::AppResult;
use crate::models::audit::{self, action, AuditEvent, AuditFilter};
use crate::models::{now, users};
use crate::services::{Page, PageRequest};
use crate::state::AppState;

/// Dashboard numbers.
#[derive(Debug)]
pub struct Stats {
    pub users_total: i64,
    pub admins_total: i64,
    pub disabled_total: i64,
    pub logins_24h: i64,
    pub failed_logins_24h: i64,
    pub mfa_enabled_total: i64,
}

/// The audit trail, newest first.
pub async fn trail(
    state: &AppState,
    filter: AuditFilter,
    page: PageRequest,
) -> AppResult<Page<AuditEvent>> {
    let (items, total) = state
        .db
        .run(move |conn| Ok(audit::list(conn, &filter, page.per_page, page.offset())?))
        .await?;
    Ok(page.page_of(items, total))
}

pub async fn stats(state: &AppState) -> AppResult<Stats> {
    state
        .db
        .run(|conn| {
            let counts = users::counts(conn)?;
            let since = now() - Duration::hours(24);
            Ok(Stats {
                users_total: counts.total,
                admins_total: counts.admins,
                disabled_total: counts.disabled,
                logins_24h: audit::count_since(conn, action::LOGIN_SUCCESS, since)?,
                failed_logins_24h: audit::count_since(conn, action::LOGIN_FAILURE, since)?,
                mfa_enabled_total: counts.mfa_enabled,
            })
        })
        .await
}
