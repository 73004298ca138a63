//! The outbox worker: delivers the mails that transactions queued, with retries and
//! exponential backoff, on every instance at once without sending a mail twice.
//!
//! A round claims due rows (a lease, `FOR UPDATE SKIP LOCKED` on PostgreSQL), then for
//! each: prepares it in a transaction (looks the account up, applies the per-address
//! limit, makes the link's token and stores its hash), sends it, and records the
//! outcome. A failed send is retried after `retry_base_secs`, doubling each time (at
//! most an hour), up to `max_attempts`; then the row is marked failed and logged. A
//! worker that dies mid-send leaves its rows `sending`; once their lease runs out any
//! instance takes them again. Nothing is lost by a restart or an SMTP outage: the rows
//! stay in the database until they are delivered or given up.

use actix_web::web;
use chrono::{Duration, NaiveDateTime};

use crate::db::Conn;
use crate::error::{AppError, AppResult};
use crate::mail::{compose, Composed, Mailer};
use crate::models::audit::{Audit, Delivery};
use crate::models::email_tokens::{RESET, VERIFY};
use crate::models::outbox::{
    self, OutboxRow, EMAIL_VERIFICATION, PASSWORD_CHANGED, PASSWORD_RESET,
};
use crate::models::users::{self, User};
use crate::models::{locks, now};
use crate::services::recovery::issue_token;
use crate::settings::{Seconds, Settings};
use crate::state::AppState;

/// Rows claimed per round.
const BATCH: i64 = 10;
/// The longest wait between two attempts.
const MAX_BACKOFF_SECS: i64 = 3600;

/// Runs until the application stops. Does nothing without a mailer.
pub async fn run(state: web::Data<AppState>) {
    let Some(mailer) = state.mailer.clone() else {
        return;
    };
    let poll = state.settings.email.poll_millis.duration();
    loop {
        let claimed = match claim(&state).await {
            Ok(rows) => rows,
            Err(e) => {
                log::warn!("outbox: could not claim mails ({})", e.code());
                Vec::new()
            }
        };
        let full = claimed.len() as i64 == BATCH;
        for row in claimed {
            deliver(&state, &mailer, row).await;
        }
        if let Ok(depth) = state.db.run(|conn| Ok(outbox::depth(conn)?)).await {
            state.metrics.outbox_depth.set(depth);
        }
        if full {
            continue;
        }
        let wake = state.outbox_wake.notified();
        let tick = actix_web::rt::time::sleep(poll);
        futures_util::future::select(std::pin::pin!(wake), std::pin::pin!(tick)).await;
    }
}

async fn claim(state: &AppState) -> AppResult<Vec<OutboxRow>> {
    let hold = state.settings.email.claim_secs.delta();
    state
        .db
        .transaction(move |conn| {
            let at = now();
            Ok(outbox::claim_due(conn, at, at + hold, BATCH)?)
        })
        .await
}

/// What a claimed row comes to.
enum Prepared {
    Send { to: String, mail: Composed },
    Suppress(&'static str),
}

async fn deliver(state: &AppState, mailer: &Mailer, row: OutboxRow) {
    let settings = state.settings.clone();
    let prepared = {
        let row = row.clone();
        state
            .db
            .transaction(move |conn| prepare(conn, &row, &settings))
            .await
    };
    let (id, kind, attempts) = (row.id, row.kind.clone(), row.attempts);
    let outcome = match prepared {
        Ok(Prepared::Suppress(reason)) => {
            let done = state
                .db
                .transaction(move |conn| Ok(outbox::suppress(conn, id, reason)?))
                .await;
            if done.is_ok() {
                state
                    .metrics
                    .mails
                    .with_label_values(&[&kind, "suppressed"])
                    .inc();
            }
            return;
        }
        Ok(Prepared::Send { to, mail }) => mailer
            .send(&to, &mail)
            .await
            .map_err(|e| (e.permanent, e.reason)),
        Err(e) => Err((false, format!("could not prepare the mail ({})", e.code()))),
    };
    match outcome {
        Ok(()) => {
            let done = state
                .db
                .transaction(move |conn| Ok(outbox::mark_sent(conn, id, now())?))
                .await;
            if let Err(e) = done {
                // Sent, but not recorded: the lease runs out and it may go out again.
                log::warn!("outbox: mail {id} was sent but not marked ({})", e.code());
            }
            state
                .metrics
                .mails
                .with_label_values(&[&kind, "sent"])
                .inc();
        }
        Err((permanent, reason)) => {
            let email = &state.settings.email;
            let give_up = permanent || i64::from(attempts) >= i64::from(email.max_attempts.get());
            let next = (!give_up).then(|| now() + backoff(email.retry_base_secs, attempts));
            let why = reason.clone();
            let _ = state
                .db
                .transaction(move |conn| Ok(outbox::retry_or_fail(conn, id, next, &why)?))
                .await;
            if give_up {
                state
                    .metrics
                    .mails
                    .with_label_values(&[&kind, "failed"])
                    .inc();
                log::error!(
                    "outbox: gave up on {kind} mail {id} after {attempts} attempt(s): {reason}"
                );
            } else {
                log::warn!(
                    "outbox: {kind} mail {id}, attempt {attempts} failed ({reason}); retrying"
                );
            }
        }
    }
}

/// The wait before the next attempt: `base`, doubling with every attempt, at most an
/// hour, plus up to a quarter of it at random (instances retrying after one outage
/// should not all come back at the same second).
fn backoff(base: Seconds<1>, attempts: i32) -> Duration {
    let exp = attempts.clamp(1, 30) - 1;
    // At most ten years: no overflow.
    let secs = (base.secs() as i64)
        .saturating_mul(1_i64 << exp)
        .min(MAX_BACKOFF_SECS);
    let jitter = rand::random_range(0..=secs / 4);
    Duration::seconds(secs + jitter)
}

/// Decides what a row comes to, and for a link makes its token; in a transaction,
/// in the lock order of `services::recovery`: the user's row, then the address.
fn prepare(conn: &mut Conn, row: &OutboxRow, settings: &Settings) -> AppResult<Prepared> {
    let at = now();
    let id = match row.user_id {
        Some(id) => Some(id),
        // A reset asked for by address: whose it is, is decided here.
        None => users::find_by_email(conn, &row.to_addr)?.map(|u| u.id),
    };
    let user = match id {
        Some(id) => users::lock(conn, id)?,
        None => None,
    };
    let Some(user) = user else {
        return Ok(Prepared::Suppress("no such account"));
    };
    let auth = &settings.auth;
    let mail = match row.kind.as_str() {
        PASSWORD_CHANGED => compose::password_changed(&user.email, at),
        PASSWORD_RESET => {
            if user.disabled {
                return Ok(Prepared::Suppress("account disabled"));
            }
            if over_limit(conn, row, &user, settings, at)? {
                return Ok(Prepared::Suppress("per-address limit"));
            }
            if row.user_id.is_none() {
                outbox::set_user(conn, row.id, user.id)?;
                Audit::password_reset_requested(Delivery::Email)
                    .target(user.id)
                    .ip(row.ip.as_deref())
                    .record(conn, at)?;
            }
            let (token, expires) = issue_token(conn, &user, RESET, auth.reset_token_ttl_secs, at)?;
            let link = settings.email.reset_link.with_token(&token);
            let ttl = auth.reset_token_ttl_secs.secs();
            compose::password_reset(&user.email, &link, ttl, expires)
        }
        EMAIL_VERIFICATION => {
            if user.disabled {
                return Ok(Prepared::Suppress("account disabled"));
            }
            if user.email_verified {
                return Ok(Prepared::Suppress("already verified"));
            }
            if over_limit(conn, row, &user, settings, at)? {
                return Ok(Prepared::Suppress("per-address limit"));
            }
            let (token, expires) =
                issue_token(conn, &user, VERIFY, auth.verify_token_ttl_secs, at)?;
            Audit::email_verification_sent(&user.email)
                .target(user.id)
                .ip(row.ip.as_deref())
                .record(conn, at)?;
            let link = settings.email.verify_link.with_token(&token);
            let ttl = auth.verify_token_ttl_secs.secs();
            compose::email_verification(&user.email, &link, ttl, expires)
        }
        other => return Err(AppError::internal(format!("unknown mail kind {other}"))),
    };
    Ok(Prepared::Send {
        to: user.email,
        mail,
    })
}

/// True when the address already had its hour's share of reset and verification
/// mails; otherwise this row takes its place in that share. Under a lock on the
/// address, so that instances preparing at once count each other's decisions, in the
/// order they were taken. A row granted before (a retry after a failed send) keeps its
/// place and is not counted twice.
fn over_limit(
    conn: &mut Conn,
    row: &OutboxRow,
    user: &User,
    settings: &Settings,
    at: NaiveDateTime,
) -> AppResult<bool> {
    if row.granted_at.is_some() {
        return Ok(false);
    }
    locks::lock(conn, "outbox", &[&user.email])?;
    let granted = outbox::granted_to(conn, &user.email, at - Duration::hours(1))?;
    if granted >= i64::from(settings.email.max_per_address_per_hour) {
        return Ok(true);
    }
    outbox::grant(conn, row.id, at)?;
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn retries_back_off_exponentially_with_a_cap_and_some_jitter() {
        for (attempts, base) in [(1, 5), (2, 10), (3, 20), (4, 40)] {
            let secs = backoff(5.try_into().unwrap(), attempts).num_seconds();
            assert!(
                (base..=base + base / 4).contains(&secs),
                "attempt {attempts}: {secs}"
            );
        }
        let capped = backoff(5.try_into().unwrap(), 30).num_seconds();
        assert!((3600..=4500).contains(&capped), "{capped}");
    }
}
