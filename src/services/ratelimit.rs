//! Rate limits other than the login lockout: requests counted per key in a window,
//! the check and the count one step under a lock on the key.

use chrono::{Duration, NaiveDateTime};

use crate::db::Conn;
use crate::error::{AppError, AppResult};
use crate::models::{locks, rate_events};

/// Counts a request under `key`, unless `max` were counted within `window` already:
/// then 429 `too_many_attempts` with the seconds until the oldest leaves the window.
/// Call inside a transaction.
pub fn hit(
    conn: &mut Conn,
    key: &str,
    max: u32,
    window: Duration,
    now: NaiveDateTime,
) -> AppResult<()> {
    locks::lock(conn, "rate_events", &[key])?;
    let (count, oldest) = rate_events::window(conn, key, now - window)?;
    if count >= i64::from(max) {
        let retry = oldest.map_or(1, |o| (o + window - now).num_seconds().max(1));
        return Err(AppError::TooManyAttempts {
            retry_after_secs: retry as u64,
        });
    }
    rate_events::record(conn, key, now)?;
    Ok(())
}
