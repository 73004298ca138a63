//! The bearer middleware for `/api` (and logout), the authenticated-user extractor,
//! and the permission guards that answer 403.

use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::EitherBody;
use actix_web::dev::{forward_ready, Service, Transform};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::AUTHORIZATION;
use actix_web::{web, Error, HttpMessage};
use actix_web_httpauth::headers::authorization::Authorization;
use actix_web_httpauth::middleware::HttpAuthentication;
use futures_util::future::LocalBoxFuture;

use crate::auth::api_key;
use crate::auth::bearer::BearerToken;
use crate::auth::declared::PermissionTable;
use crate::auth::principal::{client_info, Caller, Principal, ServiceCaller};
use crate::auth::roles::role_permissions;
use crate::cache::SessionState;
use crate::credentials::Claims;
use crate::domain::{Amr, PermissionSet};
use crate::error::AppError;
use crate::metrics::Metrics;
use crate::models::sessions;
use crate::models::users::User;
use crate::state::AppState;

type Credentials = Option<web::Header<Authorization<BearerToken>>>;

/// A token the bearer middleware accepts: its verified claims, and the user and role
/// permissions as of now (from the auth cache, or one query).
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    pub user: Arc<User>,
    pub permissions: Arc<PermissionSet>,
    pub claims: Arc<Claims>,
}

/// Wrap a scope or resource in this and nothing under it runs unauthenticated: a
/// request without a valid access token gets 401 with `WWW-Authenticate`, and the
/// handlers under it can extract the [`Principal`] (or a [`Caller`], a person).
pub fn bearer_auth() -> HttpAuthentication<Credentials, Validator> {
    HttpAuthentication::with_fn(validate_boxed as Validator)
}

type Validation = Pin<Box<dyn Future<Output = Result<ServiceRequest, (Error, ServiceRequest)>>>>;
type Validator = fn(ServiceRequest, Credentials) -> Validation;

fn validate_boxed(req: ServiceRequest, creds: Credentials) -> Validation {
    Box::pin(validate(req, creds))
}

async fn validate(
    req: ServiceRequest,
    creds: Credentials,
) -> Result<ServiceRequest, (Error, ServiceRequest)> {
    match authenticate(&req, creds).await {
        Ok(principal) => {
            req.extensions_mut().insert(principal);
            Ok(req)
        }
        Err(e) => Err((e.into(), req)),
    }
}

/// Who a bearer credential stands for: a person's access token, or an API key.
async fn authenticate(req: &ServiceRequest, creds: Credentials) -> Result<Principal, AppError> {
    let creds = match creds {
        Some(c) => c.into_inner(),
        None if req.headers().contains_key(AUTHORIZATION) => return Err(AppError::InvalidToken),
        None => return Err(AppError::MissingToken),
    };
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| AppError::internal("AppState missing"))?
        .clone();
    let token = creds.as_ref().token();
    if api_key::is_api_key(token) {
        let key = api_key::authenticate(&state, token).await?;
        return Ok(Principal::Service(ServiceCaller {
            key_id: key.key_id,
            owner: key.owner,
            permissions: key.permissions,
            client: client_info(req.request()),
        }));
    }
    let verified = authenticate_token(&state, token).await?;
    let claims = &verified.claims;
    Ok(Principal::Person(Caller {
        user_id: verified.user.id,
        role: verified.user.role(),
        session_id: claims.sid.clone(),
        permissions: verified.permissions,
        amr: Amr::from_claim(&claims.amr),
        auth_time: claims.auth_time,
        user: verified.user,
        client: client_info(req.request()),
    }))
}

/// Everything the bearer middleware checks about a token: signature and claims, then
/// the user's and session's current state (from the auth cache, or one query).
/// Introspection asks the same, so "active" means exactly "accepted".
pub async fn authenticate_token(state: &AppState, token: &str) -> Result<VerifiedToken, AppError> {
    let claims = match state.tokens.verify(token) {
        Ok(claims) => claims,
        // Signed with a key rotated in on another instance a moment ago?
        Err(e) => match state.reload_keys_for(token).await {
            true => state.tokens.verify(token)?,
            false => return Err(e.into()),
        },
    };
    let user_id = claims.user_id().ok_or(AppError::InvalidToken)?;
    let (user, session) = match state.cache.get(user_id, &claims.sid) {
        Some(hit) => hit,
        None => {
            let epoch = state.cache.epoch();
            let sid = claims.sid.clone();
            let (user, session) = state
                .db
                .run(move |conn| Ok(sessions::with_user(conn, user_id, &sid)?))
                .await?
                .ok_or(AppError::InvalidToken)?;
            let (user, session) = (Arc::new(user), SessionState::from(&session));
            state
                .cache
                .fill(epoch, Arc::clone(&user), &claims.sid, session.clone());
            (user, session)
        }
    };
    let now = chrono::Utc::now().naive_utc();
    if user.disabled
        || user.password_version != claims.ver
        || session.user_id != user_id
        || session.revoked
        || session.expires_at <= now
    {
        return Err(AppError::InvalidToken);
    }
    let permissions = role_permissions(state, &user.role).await?;
    Ok(VerifiedToken {
        user,
        permissions,
        claims,
    })
}

/// A guard for a route or scope behind [`bearer_auth`]: the caller's role must grant
/// `permission` (`*` grants all), checked against the role's current permissions;
/// otherwise 403 `forbidden` (and the refusal is counted by permission in
/// `turnstile_authz_denied_total`). With `APP__AUTH__ADMIN_REQUIRES_MFA`, the session
/// must also have passed a second factor, otherwise 403 `mfa_required`. Outside
/// `bearer_auth` it fails closed (401).
///
/// ```ignore
/// #[get("/notes", wrap = "require_permission(\"notes:read\")")]
/// async fn list_notes(caller: AuthUser) -> HttpResponse { /* ... */ }
/// ```
pub fn require_permission(permission: &'static str) -> RequirePermission {
    RequirePermission {
        needed: Needed::One([permission]),
    }
}

/// Like [`require_permission`], for a route whose handler then decides by the
/// request which of `permissions` it needs: the caller must hold at least one.
pub fn require_any_permission(permissions: &'static [&'static str]) -> RequirePermission {
    RequirePermission {
        needed: Needed::AnyOf(permissions),
    }
}

/// The gate of a scope whose routes declare their permissions in their OpenAPI
/// operations (`auth::declared`): the caller must hold one of the route's, before any
/// handler runs. Reads the table the application registered
/// (`web::Data<PermissionTable>`); without it, it fails closed. An operation that
/// declares nothing passes to routing (404, 405).
pub fn declared_permission() -> RequirePermission {
    RequirePermission {
        needed: Needed::Declared,
    }
}

#[derive(Clone, Copy)]
enum Needed {
    One([&'static str; 1]),
    AnyOf(&'static [&'static str]),
    Declared,
}

impl Needed {
    /// Whether `req` may pass: the permissions this gate asks of it.
    fn check(&self, req: &ServiceRequest) -> Result<(), AppError> {
        let extensions = req.extensions();
        let principal = extensions.get::<Principal>();
        match self {
            Needed::One(p) => admit(req, principal, p),
            Needed::AnyOf(ps) => admit(req, principal, ps),
            Needed::Declared => match req.app_data::<web::Data<PermissionTable>>() {
                None => Err(AppError::internal("no permission table registered")),
                Some(table) => match table.needed(req.method(), req.path()) {
                    Some(any_of) => admit(req, principal, any_of),
                    None => Ok(()),
                },
            },
        }
    }
}

/// Lets `principal` through a permission gate when it holds one of `any_of` and, with
/// `ADMIN_REQUIRES_MFA`, a person's session passed a second factor (an API key has no
/// session: the factor does not apply). Otherwise 403 `forbidden` (counted in
/// `turnstile_authz_denied_total` by the first permission) or `mfa_required`; no
/// principal means the route is not behind the bearer middleware: 401, failing closed.
fn admit<P: AsRef<str>>(
    req: &ServiceRequest,
    principal: Option<&Principal>,
    any_of: &[P],
) -> Result<(), AppError> {
    let Some(principal) = principal else {
        return Err(AppError::MissingToken);
    };
    let held = principal.permissions();
    if !any_of.iter().any(|p| held.allows(p.as_ref())) {
        if let Some(metrics) = req.app_data::<web::Data<Metrics>>() {
            let label = any_of.first().map_or("*", |p| p.as_ref());
            metrics.authz_denied.with_label_values(&[label]).inc();
        }
        return Err(AppError::Forbidden);
    }
    let mfa_needed = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|s| s.settings.auth.admin_requires_mfa);
    match principal {
        Principal::Person(u) if mfa_needed && !u.amr.has_second_factor() => {
            Err(AppError::MfaRequired)
        }
        _ => Ok(()),
    }
}

/// The middleware [`require_permission`] makes.
#[derive(Clone, Copy)]
pub struct RequirePermission {
    needed: Needed,
}

impl<S, B> Transform<S, ServiceRequest> for RequirePermission
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type InitError = ();
    type Transform = RequirePermissionService<S>;
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequirePermissionService {
            service: Rc::new(service),
            needed: self.needed,
        }))
    }
}

pub struct RequirePermissionService<S> {
    service: Rc<S>,
    needed: Needed,
}

impl<S, B> Service<ServiceRequest> for RequirePermissionService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        match self.needed.check(&req) {
            Ok(()) => {
                let answer = self.service.call(req);
                Box::pin(async move { Ok(answer.await?.map_into_left_body()) })
            }
            // Answered here rather than raised, like the bearer middleware does.
            Err(refusal) => {
                let answer = req.error_response(refusal).map_into_right_body();
                Box::pin(ready(Ok(answer)))
            }
        }
    }
}
