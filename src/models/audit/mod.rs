//! The `audit_events` table: an append-only record written in the same transaction
//! as the change it describes.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::{Conn, MultiBackend};
use crate::models::{matched, Count, Window, COUNT_CAP};
use crate::schema::audit_events;

pub mod action;

pub use action::AuditAction;

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

/// Who caused an event: a person, an API key, or (both `None`) nobody signed in.
#[derive(Debug, Clone, Copy, Default)]
pub struct By {
    pub actor: Option<i64>,
    pub api_key: Option<i64>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = audit_events)]
pub struct NewAuditEvent<'a> {
    pub at: NaiveDateTime,
    pub actor_id: Option<i64>,
    pub action: &'a str,
    pub target_id: Option<i64>,
    pub ip: Option<&'a str>,
    pub detail: String,
    /// The API key that caused the event (`detail.api_key_id`; the actor is null).
    #[diesel(skip_insertion)]
    pub api_key_id: Option<i64>,
}

impl<'a> NewAuditEvent<'a> {
    pub fn new(action: &'a str, at: NaiveDateTime) -> Self {
        NewAuditEvent {
            at,
            actor_id: None,
            action,
            target_id: None,
            ip: None,
            detail: "{}".into(),
            api_key_id: None,
        }
    }

    /// Caused by an API key rather than a person: `actor_id` stays null and the key's
    /// id goes into `detail.api_key_id`.
    pub fn api_key(mut self, id: i64) -> Self {
        self.api_key_id = Some(id);
        self
    }

    /// Caused by `by`: a person (the actor) or an API key.
    pub fn by(mut self, by: By) -> Self {
        self.actor_id = by.actor;
        self.api_key_id = by.api_key;
        self
    }

    pub fn actor(mut self, id: i64) -> Self {
        self.actor_id = Some(id);
        self
    }

    pub fn target(mut self, id: i64) -> Self {
        self.target_id = Some(id);
        self
    }

    pub fn ip(mut self, ip: Option<&'a str>) -> Self {
        self.ip = ip;
        self
    }

    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail.to_string();
        self
    }
}

pub fn record(conn: &mut Conn, mut event: NewAuditEvent<'_>) -> QueryResult<usize> {
    if let Some(key) = event.api_key_id {
        let mut detail: serde_json::Value =
            serde_json::from_str(&event.detail).unwrap_or_else(|_| serde_json::json!({}));
        if let Some(map) = detail.as_object_mut() {
            map.insert("api_key_id".into(), key.into());
        }
        event.detail = detail.to_string();
        event.actor_id = None;
    }
    diesel::insert_into(audit_events::table)
        .values(&event)
        .execute(conn)
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
