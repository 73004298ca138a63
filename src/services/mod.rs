//! Use cases: what the handlers call. Each takes parsed inputs (and who is asking: a
//! [`Principal`], or a [`Caller`] where only a person may), runs queries in
//! transactions, and returns domain values or an `AppError`. None of them knows about
//! HTTP: the routes build the views.
//!
//! Authorisation lives here: a use case checks every permission it needs
//! ([`authorize`]), whichever entry point calls it (the JSON API, a page, the
//! console); the route guards are only the early gate.

pub mod accounts;
pub mod admission;
pub mod api_keys;
pub mod audit;
pub mod bootstrap;
pub mod keys;
pub mod lockout;
pub mod login;
pub mod mfa;
pub mod mfa_login;
pub mod oauth;
pub mod outbox;
pub mod ratelimit;
pub mod reauth;
pub mod recovery;
pub mod refresh;
pub mod roles;
pub mod sessions;
pub mod users;

pub use crate::auth::principal::{Caller, Principal, ServiceCaller};
use crate::domain::{Cursor, Listing, PermissionSet};
use crate::error::{AppError, AppResult};
use crate::metrics::Metrics;
use crate::models::{Count, Window};

/// Whatever holds permissions: a person's session or an API key.
pub trait Holds {
    fn held(&self) -> &PermissionSet;
}

impl Holds for Caller {
    fn held(&self) -> &PermissionSet {
        &self.permissions
    }
}

impl Holds for Principal {
    fn held(&self) -> &PermissionSet {
        self.permissions()
    }
}

/// Refuses (403) unless the caller holds every permission in `needed`; each missing
/// one is counted in the authorisation-refusal metric.
pub fn authorize<'a>(
    metrics: &Metrics,
    caller: &impl Holds,
    needed: impl IntoIterator<Item = &'a str>,
) -> AppResult<()> {
    let mut refused = false;
    for permission in needed {
        if !caller.held().covers([permission]) {
            metrics.authz_denied.with_label_values(&[permission]).inc();
            refused = true;
        }
    }
    match refused {
        true => Err(AppError::Forbidden),
        false => Ok(()),
    }
}

/// A validated page request: `page` is 1-based, `per_page` already capped; with a
/// cursor the page starts after the cursor's row and `page` is not used.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    pub page: i64,
    pub per_page: i64,
    pub cursor: Option<Cursor>,
}

impl PageRequest {
    /// The rows to fetch: one more than a page, to learn whether another follows.
    fn window(&self) -> Window {
        Window {
            limit: self.per_page + 1,
            offset: (self.page - 1).saturating_mul(self.per_page),
            after: self.cursor.map(Cursor::after),
        }
    }

    /// The page of `rows` (fetched with [`PageRequest::window`]), with the cursor of
    /// the next page when there is one.
    fn page_of<T>(
        self,
        mut items: Vec<T>,
        count: Count,
        listing: Listing,
        id: impl Fn(&T) -> i64,
    ) -> Page<T> {
        let more = items.len() as i64 > self.per_page;
        items.truncate(self.per_page as usize);
        let next = match more {
            true => items.last().map(|last| Cursor::new(listing, id(last))),
            false => None,
        };
        Page {
            items,
            total: count.total,
            total_capped: count.capped,
            page: self.page,
            per_page: self.per_page,
            next,
        }
    }
}

/// One page of a listing, how many rows match (exact up to
/// [`crate::models::COUNT_CAP`]), and where the next page starts.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub total_capped: bool,
    pub page: i64,
    pub per_page: i64,
    pub next: Option<Cursor>,
}
