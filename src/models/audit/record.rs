//! An audit event being recorded: its action and detail (from the action's
//! constructor, `constructors.rs`), who caused it, whom it concerned and from where.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::detail::Detail;
use super::AuditAction;
use crate::db::Conn;
use crate::schema::audit_events;

/// Who caused an event: a person, an API key, or (both `None`) nobody signed in.
#[derive(Debug, Clone, Copy, Default)]
pub struct By {
    pub actor: Option<i64>,
    pub api_key: Option<i64>,
}

/// An event to record: built by its action's constructor, then `by`/`actor`,
/// `target` and `ip` as they apply, then [`Audit::record`].
#[derive(Debug)]
#[must_use = "an audit event is only kept once recorded"]
pub struct Audit<'a> {
    action: AuditAction,
    detail: Detail<'a>,
    by: By,
    target: Option<i64>,
    ip: Option<&'a str>,
}

#[derive(Insertable)]
#[diesel(table_name = audit_events)]
struct Row<'a> {
    at: NaiveDateTime,
    actor_id: Option<i64>,
    action: &'static str,
    target_id: Option<i64>,
    ip: Option<&'a str>,
    detail: String,
}

impl<'a> Audit<'a> {
    pub(super) fn new(action: AuditAction, detail: Detail<'a>) -> Self {
        Audit {
            action,
            detail,
            by: By::default(),
            target: None,
            ip: None,
        }
    }

    /// Caused by `by`: a person (the actor) or an API key (the actor stays null and
    /// the key's id goes into `detail.api_key_id`).
    pub fn by(mut self, by: By) -> Self {
        self.by = by;
        self
    }

    /// Caused by this person.
    pub fn actor(self, user_id: i64) -> Self {
        self.by(By {
            actor: Some(user_id),
            api_key: None,
        })
    }

    /// Done by a user to their own account: the actor and the target.
    pub fn by_owner(self, user_id: i64) -> Self {
        self.actor(user_id).target(user_id)
    }

    /// Whom it concerned (`None`: no account, as for a login to an unknown address).
    pub fn target(mut self, user_id: impl Into<Option<i64>>) -> Self {
        self.target = user_id.into();
        self
    }

    pub fn ip(mut self, ip: Option<&'a str>) -> Self {
        self.ip = ip;
        self
    }

    pub fn action(&self) -> AuditAction {
        self.action
    }

    /// The `detail` column: the action's detail, with `api_key_id` for an event an
    /// API key caused.
    pub(super) fn detail(&self) -> serde_json::Result<String> {
        // Through a `Value`, whose keys are sorted: the text is what it always was.
        let mut detail = serde_json::to_value(&self.detail)?;
        if let (Some(key), Some(map)) = (self.by.api_key, detail.as_object_mut()) {
            map.insert("api_key_id".into(), key.into());
        }
        Ok(detail.to_string())
    }

    /// Inserts the event, in the caller's transaction: it is kept exactly when the
    /// change it describes is.
    pub fn record(self, conn: &mut Conn, at: NaiveDateTime) -> QueryResult<()> {
        let detail = self
            .detail()
            .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
        let row = Row {
            at,
            actor_id: self.by.actor.filter(|_| self.by.api_key.is_none()),
            action: self.action.as_str(),
            target_id: self.target,
            ip: self.ip,
            detail,
        };
        diesel::insert_into(audit_events::table)
            .values(&row)
            .execute(conn)?;
        Ok(())
    }
}
