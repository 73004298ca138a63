//! What admins read about the past: the audit trail and the dashboard numbers.

use chrono::Duration;

use crate::domain::Listing;
use crate::error::AppResult;
use crate::models::audit::{self, AuditAction, AuditEvent, AuditFilter};
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
    let (items, count) = state
        .db
        .run(move |conn| Ok(audit::list(conn, &filter, page.window())?))
        .await?;
    Ok(page.page_of(items, count, Listing::Audit, |e| e.id))
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
                logins_24h: audit::count_since(conn, AuditAction::LoginSuccess, since)?,
                failed_logins_24h: audit::count_since(conn, AuditAction::LoginFailure, since)?,
                mfa_enabled_total: counts.mfa_enabled,
            })
        })
        .await
}

/// Rows one purge statement deletes at most: each batch is its own short
/// transaction, so writers of new events never wait long behind it.
const PURGE_BATCH: i64 = 5_000;

/// Deletes audit events older than `APP__AUDIT__RETENTION_DAYS` (nothing when it is
/// 0), a batch at a time with a pause between batches; how many it deleted.
pub async fn purge_expired(state: &AppState) -> AppResult<usize> {
    let Some(retention) = state.settings.audit.retention_days.period() else {
        return Ok(0);
    };
    let before = now() - retention;
    let mut deleted = 0;
    loop {
        let n = state
            .db
            .run(move |conn| Ok(audit::purge(conn, before, PURGE_BATCH)?))
            .await?;
        deleted += n;
        if (n as i64) < PURGE_BATCH {
            return Ok(deleted);
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
