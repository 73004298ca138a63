//! Queries: plain functions on `&mut Conn` returning `QueryResult`, one file per table.

pub mod api_keys;
pub mod audit;
pub mod auth_state;
pub mod email_tokens;
pub mod locks;
pub mod login_failures;
pub mod mfa_challenges;
pub mod outbox;
pub mod rate_events;
pub mod recovery_codes;
pub mod refresh_tokens;
pub mod roles;
pub mod sessions;
pub mod signing_keys;
pub mod totp_secrets;
pub mod users;

use chrono::NaiveDateTime;

/// The database's notion of "now": UTC, without offset, microsecond precision.
pub fn now() -> NaiveDateTime {
    let n = chrono::Utc::now().naive_utc();
    // PostgreSQL keeps microseconds; truncate so both backends round-trip alike.
    n - chrono::Duration::nanoseconds(i64::from(n.and_utc().timestamp_subsec_nanos() % 1_000))
}
