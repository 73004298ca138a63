//! Parsing what several handlers share: required body fields, paging, free-text and
//! time filters. Each turns raw input into a value or a 4xx naming the parameter.

use chrono::{DateTime, NaiveDateTime};

use crate::domain::{Cursor, Listing};
use crate::error::{AppError, AppResult};
use crate::models::COUNT_CAP;
use crate::services::PageRequest;

const DEFAULT_PER_PAGE: i64 = 20;
const MAX_PER_PAGE: i64 = 100;
/// Longest free-text filter, in characters (the longest email address).
const MAX_TEXT: usize = 254;

/// A body field the request must carry. Fields are optional in the request structs so
/// that a missing one is a 422 naming it, while a wrong type stays a 400.
pub fn required<T>(value: Option<T>, field: &str) -> AppResult<T> {
    value.ok_or_else(|| AppError::Validation(format!("{field} is required")))
}

/// `page` (1-based, default 1), `per_page` (default 20, capped at 100) and `cursor`
/// (one this listing gave out as `next_cursor`; it wins over `page`). Pages by number
/// end at row [`COUNT_CAP`]: a deeper one is 400 `page_too_deep` (a page number must
/// skip every row before it, which no index spares; a cursor goes any depth).
pub fn page_request(
    page: Option<i64>,
    per_page: Option<i64>,
    cursor: Option<String>,
    listing: Listing,
) -> AppResult<PageRequest> {
    let page = page.unwrap_or(1);
    let per_page = per_page.unwrap_or(DEFAULT_PER_PAGE);
    if page < 1 {
        return Err(AppError::Validation("page must be 1 or more".into()));
    }
    if per_page < 1 {
        return Err(AppError::Validation("per_page must be 1 or more".into()));
    }
    let cursor = cursor
        .filter(|c| !c.is_empty())
        .map(|c| Cursor::parse(&c, listing))
        .transpose()?;
    let per_page = per_page.min(MAX_PER_PAGE);
    if cursor.is_none() && page.saturating_mul(per_page) > COUNT_CAP {
        return Err(AppError::PageTooDeep);
    }
    Ok(PageRequest {
        page,
        per_page,
        cursor,
    })
}

/// A free-text filter: trimmed, empty means absent, and bounded and free of control
/// characters (the database could not store or compare NUL).
pub fn text(s: Option<String>, name: &str) -> AppResult<Option<String>> {
    let Some(s) = s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if s.chars().count() > MAX_TEXT || s.chars().any(char::is_control) {
        return Err(AppError::Validation(format!(
            "{name} must be at most {MAX_TEXT} characters, without control characters"
        )));
    }
    Ok(Some(s))
}

/// An RFC 3339 timestamp, as UTC.
pub fn timestamp(s: Option<String>, name: &str) -> AppResult<Option<NaiveDateTime>> {
    s.map(|s| {
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.naive_utc())
            .map_err(|_| AppError::Validation(format!("{name} must be an RFC 3339 timestamp")))
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_has_defaults_a_cap_and_a_floor() {
        let p = page_request(None, None, None, Listing::Users).unwrap();
        assert_eq!((p.page, p.per_page), (1, 20));
        assert_eq!(
            page_request(Some(3), Some(500), None, Listing::Users)
                .unwrap()
                .per_page,
            100
        );
        assert!(page_request(Some(0), None, None, Listing::Users).is_err());
        assert!(page_request(None, Some(0), None, Listing::Users).is_err());
    }

    #[test]
    fn pages_by_number_end_at_row_ten_thousand() {
        let deep = |page, per_page| page_request(Some(page), Some(per_page), None, Listing::Audit);
        assert!(deep(100, 100).is_ok());
        assert!(deep(500, 20).is_ok());
        assert!(matches!(deep(101, 100), Err(AppError::PageTooDeep)));
        assert!(matches!(deep(501, 20), Err(AppError::PageTooDeep)));
        // per_page is capped before it counts: 200 per page is 100.
        assert!(deep(100, 200).is_ok());
        assert!(matches!(deep(i64::MAX, 100), Err(AppError::PageTooDeep)));
    }

    #[test]
    fn text_filters_are_trimmed_bounded_and_free_of_control_characters() {
        assert_eq!(
            text(Some("  ab ".into()), "q").unwrap().as_deref(),
            Some("ab")
        );
        assert_eq!(text(Some("   ".into()), "q").unwrap(), None);
        assert!(text(Some("a\u{0}b".into()), "q").is_err());
        assert!(text(Some("x".repeat(255)), "q").is_err());
    }

    #[test]
    fn timestamps_must_be_rfc_3339() {
        assert!(timestamp(Some("2026-01-01T00:00:00Z".into()), "since")
            .unwrap()
            .is_some());
        assert!(timestamp(Some("yesterday".into()), "since").is_err());
        assert_eq!(timestamp(None, "since").unwrap(), None);
    }
}
