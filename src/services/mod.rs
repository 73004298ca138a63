//! Use cases: what the handlers call. Each takes parsed inputs (and, for a signed-in
//! caller, a [`Caller`]), runs queries in transactions, and returns domain values or
//! an `AppError`. None of them knows about HTTP: the routes build the views.

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

use std::sync::Arc;

use crate::domain::{Amr, Cursor, Listing, PermissionSet};
use crate::error::{AppError, AppResult};
use crate::metrics::Metrics;
use crate::models::audit::By;
use crate::models::{Count, Window};
use crate::net::ClientInfo;

/// Who is asking: the signed-in user, the session the request came with, what the
/// user's role grants right now, and the device it came from.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: i64,
    pub session_id: String,
    pub permissions: Arc<PermissionSet>,
    /// How the caller's session was authenticated.
    pub amr: Amr,
    /// When the session's holder last authenticated (Unix seconds).
    pub auth_time: i64,
    pub client: ClientInfo,
}

/// Who is asking on a route a service may call too (the admin API, an application's
/// permission-guarded routes): a signed-in person, or an API key.
#[derive(Debug, Clone)]
pub enum Principal {
    Person(Caller),
    Service(ServiceCaller),
}

/// A request made with an API key.
#[derive(Debug, Clone)]
pub struct ServiceCaller {
    pub key_id: i64,
    /// The person the key acts for.
    pub owner: i64,
    /// The key's permissions that its owner still holds.
    pub permissions: Arc<PermissionSet>,
    pub client: ClientInfo,
}

impl Principal {
    pub fn client(&self) -> &ClientInfo {
        match self {
            Principal::Person(c) => &c.client,
            Principal::Service(s) => &s.client,
        }
    }

    /// The person on whose behalf this is asked: the person, or the API key's owner.
    pub fn acting_for(&self) -> i64 {
        match self {
            Principal::Person(c) => c.user_id,
            Principal::Service(s) => s.owner,
        }
    }

    /// Who the audit trail names: a person as the actor, or an API key (actor null,
    /// `detail.api_key_id`).
    pub fn by(&self) -> By {
        match self {
            Principal::Person(c) => By {
                actor: Some(c.user_id),
                api_key: None,
            },
            Principal::Service(s) => By {
                actor: None,
                api_key: Some(s.key_id),
            },
        }
    }
}

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
        match self {
            Principal::Person(c) => &c.permissions,
            Principal::Service(s) => &s.permissions,
        }
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
