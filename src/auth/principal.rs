//! Who is asking: the one [`Principal`] the bearer middleware builds for every request
//! it lets through (a person with a session, or an API key), and the extractors that
//! hand it to handlers. Use cases take it as it is, so every entry point (the JSON
//! API, and the pages and console built on it) passes the same checks.
//!
//! Where authorisation lives: the use case checks every permission it needs (so no
//! entry point can skip a rule), and the route guard (`require_permission`, or the
//! admin scope's declared permissions) is the early gate that answers 403 before a
//! body is read.

use std::future::{ready, Ready};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};

use crate::domain::{Amr, PermissionSet, RoleName};
use crate::error::AppError;
use crate::models::audit::By;
use crate::models::users::User;
use crate::net::{client_ip, ClientInfo};
use crate::state::AppState;

/// A signed-in person: the user as of now (current role and its permissions, from
/// the auth cache that every change invalidates), the session the token belongs to,
/// and the device the request came from.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: i64,
    /// The role the user holds now.
    pub role: RoleName,
    pub session_id: String,
    /// What the role grants now (`*` for `admin`).
    pub permissions: Arc<PermissionSet>,
    /// How the session was authenticated (the token's `amr`).
    pub amr: Amr,
    /// When the session's holder last authenticated (Unix seconds).
    pub auth_time: i64,
    /// The user's row as the middleware found it (cache or database).
    pub user: Arc<User>,
    pub client: ClientInfo,
}

impl Caller {
    /// True when the caller's role grants `permission`.
    pub fn can(&self, permission: &str) -> bool {
        self.permissions.allows(permission)
    }
}

/// The name applications built on turnstile extract a signed-in person by.
pub type AuthUser = Caller;

/// A request made with an API key: a service acting for a person, its owner.
#[derive(Debug, Clone)]
pub struct ServiceCaller {
    pub key_id: i64,
    /// The person the key acts for (its creator, or its creator's creator).
    pub owner: i64,
    /// The key's permissions that its owner still holds.
    pub permissions: Arc<PermissionSet>,
    pub client: ClientInfo,
}

/// Who is asking: a signed-in person, or an API key.
#[derive(Debug, Clone)]
pub enum Principal {
    Person(Caller),
    Service(ServiceCaller),
}

impl Principal {
    pub fn client(&self) -> &ClientInfo {
        match self {
            Principal::Person(c) => &c.client,
            Principal::Service(s) => &s.client,
        }
    }

    /// What the principal may do now.
    pub fn permissions(&self) -> &PermissionSet {
        match self {
            Principal::Person(c) => &c.permissions,
            Principal::Service(s) => &s.permissions,
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

/// The client behind `req`: its address (trusted proxies' `X-Forwarded-For`
/// believed) and user agent.
pub fn client_info(req: &HttpRequest) -> ClientInfo {
    let trusted = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.settings.server.trusted_proxies.as_slice())
        .unwrap_or_default();
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect();
    let ip = req
        .peer_addr()
        .map(|peer| client_ip(peer.ip(), &forwarded, trusted));
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    ClientInfo::new(ip, user_agent)
}

/// The principal the bearer middleware stored: present whenever the route sits behind
/// `bearer_auth`; absent means it does not (401, failing closed).
impl FromRequest for Principal {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let found = req.extensions().get::<Principal>().cloned();
        ready(found.ok_or(AppError::MissingToken))
    }
}

/// A signed-in person. An API key is a service's credential: routes that need a
/// person (the profile, sessions, logout) refuse it with 403.
impl FromRequest for Caller {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let found = match req.extensions().get::<Principal>() {
            Some(Principal::Person(c)) => Ok(c.clone()),
            Some(Principal::Service(_)) => Err(AppError::Forbidden),
            None => Err(AppError::MissingToken),
        };
        ready(found)
    }
}
