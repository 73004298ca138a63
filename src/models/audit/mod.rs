//! The `audit_events` table: an append-only record written in the same transaction
//! as the change it describes ([`Audit`]), and read back by admins.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::{Conn, MultiBackend};
use crate::models::{matched, Count, Window, COUNT_CAP};
use crate::schema::audit_events;

mod action;
mod constructors;
mod detail;
mod record;
#[cfg(test)]
mod tests;

pub use action::AuditAction;
pub use detail::{
    Delivery, KeyRotation, LockedBy, LoginName, LoginRefused, MfaOff, PermissionDiff, SecondFactor,
};
pub use record::{Audit, By};

/// A recorded event as read back. `action` stays text: the trail shows whatever a row
/// holds, and is filtered by any name, known or not.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent {
    pub id: i64,
    pub at: NaiveDateTime,
    pub actor_id: Option<i64>,
    pub action: String,
    pub target_id: Option<i64>,
    pub ip: Option<String>,
    pub detail: String,
}

#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub actor_id: Option<i64>,
    pub target_id: Option<i64>,
    pub since: Option<NaiveDateTime>,
}

fn filtered<'a>(f: &'a AuditFilter) -> audit_events::BoxedQuery<'a, MultiBackend> {
    let mut query = audit_events::table.into_boxed();
    if let Some(a) = &f.action {
        query = query.filter(audit_events::action.eq(a));
    }
    if let Some(id) = f.actor_id {
        query = query.filter(audit_events::actor_id.eq(id));
    }
    if let Some(id) = f.target_id {
        query = query.filter(audit_events::target_id.eq(id));
    }
    if let Some(since) = f.since {
        query = query.filter(audit_events::at.ge(since));
    }
    query
}

/// Newest first, and how many events match (capped).
pub fn list(
    conn: &mut Conn,
    filter: &AuditFilter,
    window: Window,
) -> QueryResult<(Vec<AuditEvent>, Count)> {
    let found: Vec<i32> = filtered(filter)
        .select(matched())
        .limit(COUNT_CAP + 1)
        .load(conn)?;
    let query = filtered(filter)
        .order(audit_events::id.desc())
        .limit(window.limit);
    let query = match (window.after, window.offset) {
        (Some(after), _) => query.filter(audit_events::id.lt(after)),
        (None, 0) => query,
        // A deep page by number: skip over ids alone, then read the page's rows.
        (None, offset) => {
            let first: Option<i64> = filtered(filter)
                .select(audit_events::id)
                .order(audit_events::id.desc())
                .offset(offset)
                .limit(1)
                .first(conn)
                .optional()?;
            match first {
                Some(first) => query.filter(audit_events::id.le(first)),
                None => return Ok((vec![], Count::of(found.len() as i64))),
            }
        }
    };
    let items = query.select(AuditEvent::as_select()).load(conn)?;
    Ok((items, Count::of(found.len() as i64)))
}

/// Deletes up to `batch` of the oldest events from before `before`; the count it
/// deleted. Small batches keep each delete's locks short.
pub fn purge(conn: &mut Conn, before: NaiveDateTime, batch: i64) -> QueryResult<usize> {
    // The id that ends the batch, if there are more old events than one batch.
    let last: Option<i64> = audit_events::table
        .filter(audit_events::at.lt(before))
        .order(audit_events::id.asc())
        .select(audit_events::id)
        .offset(batch - 1)
        .first(conn)
        .optional()?;
    let old = audit_events::table.filter(audit_events::at.lt(before));
    match last {
        Some(last) => diesel::delete(old.filter(audit_events::id.le(last))).execute(conn),
        None => diesel::delete(old).execute(conn),
    }
}

pub fn count_since(conn: &mut Conn, action: AuditAction, since: NaiveDateTime) -> QueryResult<i64> {
    audit_events::table
        .filter(audit_events::action.eq(action.as_str()))
        .filter(audit_events::at.ge(since))
        .count()
        .get_result(conn)
}
