//! The `outbox` table: mails to send, each written in the same transaction as the
//! change that causes it, then delivered by the outbox worker. A row says what to send
//! (a kind, an account, an address), never a token: links are made at send time.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::Conn;
use crate::schema::outbox;

/// A password-reset mail (asked for by the account's owner or by an admin).
pub const PASSWORD_RESET: &str = "password_reset";
/// A mail to verify the account's address.
pub const EMAIL_VERIFICATION: &str = "email_verification";
/// "Your password was changed".
pub const PASSWORD_CHANGED: &str = "password_changed";

/// Where a row is in its life.
pub mod status {
    pub const PENDING: &str = "pending";
    /// Claimed by a worker until `lease_until`.
    pub const SENDING: &str = "sending";
    pub const SENT: &str = "sent";
    /// Given up after the last attempt.
    pub const FAILED: &str = "failed";
    /// Not to be sent: no such enabled account, already verified, or over the
    /// per-address limit.
    pub const SUPPRESSED: &str = "suppressed";
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox)]
pub struct OutboxRow {
    pub id: i64,
    pub kind: String,
    pub user_id: Option<i64>,
    pub to_addr: String,
    pub ip: Option<String>,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub lease_until: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    /// When the worker decided to send it (reset and verification mails).
    pub granted_at: Option<NaiveDateTime>,
}

pub struct NewMail<'a> {
    pub kind: &'a str,
    /// `None` for a reset asked for by address: the worker looks the account up.
    pub user_id: Option<i64>,
    pub to_addr: &'a str,
    pub ip: Option<&'a str>,
}

pub fn enqueue(conn: &mut Conn, mail: &NewMail<'_>, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::insert_into(outbox::table)
        .values((
            outbox::kind.eq(mail.kind),
            outbox::user_id.eq(mail.user_id),
            outbox::to_addr.eq(mail.to_addr),
            outbox::ip.eq(mail.ip),
            outbox::status.eq(status::PENDING),
            outbox::next_attempt_at.eq(now),
            outbox::created_at.eq(now),
        ))
        .execute(conn)
}

/// Claims up to `limit` rows that are due (pending and due, or claimed by a worker
/// whose lease ran out): each becomes `sending` until `lease_until`, with one more
/// attempt counted. On PostgreSQL rows another worker is claiming right now are
/// skipped (`FOR UPDATE SKIP LOCKED`), so every instance claims different rows; on
/// SQLite the claiming transaction runs alone. Call inside a transaction.
pub fn claim_due(
    conn: &mut Conn,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<OutboxRow>> {
    let due = outbox::status
        .eq(status::PENDING)
        .and(outbox::next_attempt_at.le(now))
        .or(outbox::status
            .eq(status::SENDING)
            .and(outbox::lease_until.lt(now)));
    let ids: Vec<i64> = match conn {
        Conn::Postgres(pg) => outbox::table
            .filter(due)
            .order(outbox::id)
            .limit(limit)
            .select(outbox::id)
            .for_update()
            .skip_locked()
            .load(pg)?,
        Conn::Sqlite(_) => outbox::table
            .filter(due)
            .order(outbox::id)
            .limit(limit)
            .select(outbox::id)
            .load(conn)?,
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    diesel::update(outbox::table.filter(outbox::id.eq_any(&ids)))
        .set((
            outbox::status.eq(status::SENDING),
            outbox::lease_until.eq(lease_until),
            outbox::attempts.eq(outbox::attempts + 1),
        ))
        .execute(conn)?;
    outbox::table
        .filter(outbox::id.eq_any(&ids))
        .order(outbox::id)
        .select(OutboxRow::as_select())
        .load(conn)
}

/// Records the account a reset asked for by address belongs to.
pub fn set_user(conn: &mut Conn, id: i64, user_id: i64) -> QueryResult<usize> {
    diesel::update(outbox::table.find(id))
        .set(outbox::user_id.eq(user_id))
        .execute(conn)
}

pub fn mark_sent(conn: &mut Conn, id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(outbox::table.find(id))
        .set((
            outbox::status.eq(status::SENT),
            outbox::sent_at.eq(now),
            outbox::lease_until.eq(None::<NaiveDateTime>),
            outbox::last_error.eq(None::<String>),
        ))
        .execute(conn)
}

pub fn suppress(conn: &mut Conn, id: i64, reason: &str) -> QueryResult<usize> {
    diesel::update(outbox::table.find(id))
        .set((
            outbox::status.eq(status::SUPPRESSED),
            outbox::lease_until.eq(None::<NaiveDateTime>),
            outbox::last_error.eq(reason),
        ))
        .execute(conn)
}

/// After a failed attempt: pending again from `next_attempt_at`, or given up.
pub fn retry_or_fail(
    conn: &mut Conn,
    id: i64,
    next_attempt_at: Option<NaiveDateTime>,
    error: &str,
) -> QueryResult<usize> {
    let status = match next_attempt_at {
        Some(_) => status::PENDING,
        None => status::FAILED,
    };
    diesel::update(outbox::table.find(id))
        .set((
            outbox::status.eq(status),
            outbox::next_attempt_at.eq(next_attempt_at.unwrap_or_else(crate::models::now)),
            outbox::lease_until.eq(None::<NaiveDateTime>),
            outbox::last_error.eq(error),
        ))
        .execute(conn)
}

/// Reset and verification mails to `to_addr` the worker decided to send since
/// `since` (what the per-address limit counts), on any instance, whatever became of
/// them after. Call under the address's lock.
pub fn granted_to(conn: &mut Conn, to_addr: &str, since: NaiveDateTime) -> QueryResult<i64> {
    outbox::table
        .filter(outbox::to_addr.eq(to_addr))
        .filter(outbox::granted_at.ge(since))
        .count()
        .get_result(conn)
}

/// Records that the worker decided to send this row: it counts toward its address's
/// limit from now on, and a retry of it is not counted again.
pub fn grant(conn: &mut Conn, id: i64, at: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(outbox::table.find(id))
        .set(outbox::granted_at.eq(at))
        .execute(conn)
}

/// True when a mail of `kind` to `user_id` is queued and not yet sent: asking again
/// adds nothing (the queued one goes out with a fresh link).
pub fn is_queued(conn: &mut Conn, kind: &str, user_id: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        outbox::table
            .filter(outbox::kind.eq(kind))
            .filter(outbox::user_id.eq(user_id))
            .filter(outbox::status.eq_any([status::PENDING, status::SENDING])),
    ))
    .get_result(conn)
}

/// Mails not yet delivered nor given up.
pub fn depth(conn: &mut Conn) -> QueryResult<i64> {
    outbox::table
        .filter(outbox::status.eq_any([status::PENDING, status::SENDING]))
        .count()
        .get_result(conn)
}

/// Deletes delivered, failed and suppressed rows older than `before`.
pub fn purge(conn: &mut Conn, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(
        outbox::table
            .filter(outbox::status.eq_any([status::SENT, status::FAILED, status::SUPPRESSED]))
            .filter(outbox::created_at.lt(before)),
    )
    .execute(conn)
}
