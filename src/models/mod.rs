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

/// Totals stop counting here: beyond it a list answers `total_capped`.
pub const COUNT_CAP: i64 = 10_000;

/// Which rows of a list a query returns, in the list's order: at most `limit`,
/// starting after the row with id `after` (keyset paging) or `offset` rows in.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub limit: i64,
    pub offset: i64,
    pub after: Option<i64>,
}

/// What a capped count selects for each match: a constant, not a column, so that an
/// index on the filtered columns answers it alone (PostgreSQL's indexes do not carry
/// the id the way SQLite's carry the rowid).
pub fn matched() -> diesel::expression::SqlLiteral<diesel::sql_types::Integer> {
    diesel::dsl::sql::<diesel::sql_types::Integer>("1")
}

/// How many rows match, exactly up to [`COUNT_CAP`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    pub total: i64,
    pub capped: bool,
}

impl Count {
    /// From the number of rows a query found when asked for at most `COUNT_CAP + 1`.
    pub fn of(found: i64) -> Count {
        match found > COUNT_CAP {
            true => Count {
                total: COUNT_CAP,
                capped: true,
            },
            false => Count {
                total: found,
                capped: false,
            },
        }
    }
}
