//! The bearer middleware for `/api` (and logout), the authenticated-user extractor,
//! and the permission guards that answer 403.

use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::EitherBody;
use actix_web::dev::{forward_ready, Service, Transform};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::AUTHORIZATION;
use actix_web::{web, Error, FromRequest, HttpMessage, HttpRequest};
use actix_web_httpauth::headers::authorization::Authorization;
use actix_web_httpauth::middleware::HttpAuthentication;
use futures_util::future::LocalBoxFuture;

use crate::auth::api_key::{self, ApiKeyCaller};
use crate::auth::bearer::BearerToken;
use crate::auth::roles::role_permissions;
use crate::cache::SessionState;
use crate::credentials::Claims;
use crate::domain::{Amr, PermissionSet, RoleName};
use crate::error::AppError;
use crate::metrics::Metrics;
use crate::models::sessions;
use crate::models::users::User;
use crate::state::AppState;

type Credentials = Option<web::Header<Authorization<BearerToken>>>;

/// Who made this request, as of the user's *current* state: the role the user holds
/// now, and that role's permissions now (both from the auth cache, which every change
/// invalidates). Extract it in a handler behind [`bearer_auth`].
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: i64,
    pub role: RoleName,
    /// What the role grants (`*` for `admin`).
    pub permissions: Arc<PermissionSet>,
    pub session_id: String,
    /// How the session was authenticated (the token's `amr` claim).
    pub amr: Amr,
    /// When the session's holder last authenticated (the token's `auth_time`, Unix
    /// seconds).
    pub auth_time: i64,
    /// The user's row as the middleware found it (cache or database).
    pub user: Arc<User>,
}

impl AuthUser {
    /// True when the caller's role grants `permission`.
    pub fn can(&self, permission: &str) -> bool {
        self.permissions.allows(permission)
    }
}

/// Wrap a scope or resource in this and nothing under it runs unauthenticated: a
/// request without a valid access token gets 401 with `WWW-Authenticate`, and the
/// handlers under it can extract [`AuthUser`].
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
        Ok(Authenticated::Person(user)) => {
            req.extensions_mut().insert(user);
            Ok(req)
        }
        Ok(Authenticated::Service(key)) => {
            req.extensions_mut().insert(key);
            Ok(req)
        }
        Err(e) => Err((e.into(), req)),
    }
}

/// Who a bearer credential stands for.
enum Authenticated {
    Person(AuthUser),
    Service(ApiKeyCaller),
}

async fn authenticate(req: &ServiceRequest, creds: Credentials) -> Result<Authenticated, AppError> {
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
        return api_key::authenticate(&state, token)
            .await
            .map(Authenticated::Service);
    }
    authenticate_token(&state, token)
        .await
        .map(Authenticated::Person)
}

/// Everything the bearer middleware checks about a token: signature and claims, then
/// the user's and session's current state (from the auth cache, or one query).
pub async fn authenticate_token(state: &AppState, token: &str) -> Result<AuthUser, AppError> {
    authenticate_with_claims(state, token)
        .await
        .map(|(user, _)| user)
}

/// [`authenticate_token`], and the verified claims it read (introspection shows them).
pub async fn authenticate_with_claims(
    state: &AppState,
    token: &str,
) -> Result<(AuthUser, Arc<Claims>), AppError> {
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
    let user = AuthUser {
        id: user_id,
        role: user.role(),
        permissions,
        session_id: claims.sid.clone(),
        amr: Amr::from_claim(&claims.amr),
        auth_time: claims.auth_time,
        user,
    };
    Ok((user, claims))
}

impl FromRequest for AuthUser {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let extensions = req.extensions();
        // Present whenever the route sits behind `bearer_auth`; absent means it does
        // not. An API key is a service's: routes that need a person refuse it.
        let found = match extensions.get::<AuthUser>() {
            Some(user) => Ok(user.clone()),
            None if extensions.get::<ApiKeyCaller>().is_some() => Err(AppError::Forbidden),
            None => Err(AppError::MissingToken),
        };
        ready(found)
    }
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
        needed: Needed::One(permission),
    }
}

/// Like [`require_permission`], for a route whose handler then decides by the
/// request which of `permissions` it needs: the caller must hold at least one.
pub fn require_any_permission(permissions: &'static [&'static str]) -> RequirePermission {
    RequirePermission {
        needed: Needed::AnyOf(permissions),
    }
}

#[derive(Clone, Copy)]
enum Needed {
    One(&'static str),
    AnyOf(&'static [&'static str]),
}

impl Needed {
    fn met_by(&self, held: &PermissionSet) -> bool {
        match self {
            Needed::One(p) => held.allows(p),
            Needed::AnyOf(ps) => ps.iter().any(|p| held.allows(p)),
        }
    }

    fn label(&self) -> &'static str {
        match self {
            Needed::One(p) => p,
            Needed::AnyOf(ps) => ps.first().copied().unwrap_or("*"),
        }
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
        let mfa_needed = req
            .app_data::<web::Data<AppState>>()
            .is_some_and(|s| s.settings.auth.admin_requires_mfa);
        let allowed = {
            let extensions = req.extensions();
            match (
                extensions.get::<AuthUser>(),
                extensions.get::<ApiKeyCaller>(),
            ) {
                (Some(u), _) => {
                    let second_factor = !mfa_needed || u.amr.has_second_factor();
                    Some((self.needed.met_by(&u.permissions), second_factor))
                }
                // A key is a credential of its own, with no session to pass a factor.
                (None, Some(k)) => Some((self.needed.met_by(&k.permissions), true)),
                (None, None) => None,
            }
        };
        let refusal = match allowed {
            Some((true, true)) => {
                let answer = self.service.call(req);
                return Box::pin(async move { Ok(answer.await?.map_into_left_body()) });
            }
            // Held, but `ADMIN_REQUIRES_MFA` and this session passed no second factor.
            Some((true, false)) => AppError::MfaRequired,
            Some((false, _)) => {
                if let Some(metrics) = req.app_data::<web::Data<Metrics>>() {
                    let label = self.needed.label();
                    metrics.authz_denied.with_label_values(&[label]).inc();
                }
                AppError::Forbidden
            }
            // Not behind the bearer middleware: fail closed.
            None => AppError::MissingToken,
        };
        // Answered here rather than raised, like the bearer middleware does.
        let answer = req.error_response(refusal).map_into_right_body();
        Box::pin(ready(Ok(answer)))
    }
}
