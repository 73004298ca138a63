//! The bearer middleware for `/api` (and logout), the authenticated-user extractor,
//! and the admin guard for `/api/admin`.

use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::AUTHORIZATION;
use actix_web::middleware::Next;
use actix_web::{web, Error, FromRequest, HttpMessage, HttpRequest};
use actix_web_httpauth::headers::authorization::Authorization;
use actix_web_httpauth::middleware::HttpAuthentication;

use crate::auth::bearer::BearerToken;
use crate::cache::SessionState;
use crate::domain::Role;
use crate::error::AppError;
use crate::models::sessions;
use crate::models::users::User;
use crate::state::AppState;

type Credentials = Option<web::Header<Authorization<BearerToken>>>;

/// Who made this request, as of the user's *current* state in the database.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: i64,
    pub role: Role,
    pub session_id: String,
    /// The user's row as the middleware found it (cache or database).
    pub user: Arc<User>,
}

/// Wrap a scope or resource in this and nothing under it runs unauthenticated.
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
        Ok(user) => {
            req.extensions_mut().insert(user);
            Ok(req)
        }
        Err(e) => Err((e.into(), req)),
    }
}

async fn authenticate(req: &ServiceRequest, creds: Credentials) -> Result<AuthUser, AppError> {
    let creds = match creds {
        Some(c) => c.into_inner(),
        None if req.headers().contains_key(AUTHORIZATION) => return Err(AppError::InvalidToken),
        None => return Err(AppError::MissingToken),
    };
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| AppError::internal("AppState missing"))?
        .clone();
    authenticate_token(&state, creds.as_ref().token()).await
}

/// Everything the bearer middleware checks about a token: signature and claims, then
/// the user's and session's current state (from the auth cache, or one query).
pub async fn authenticate_token(state: &AppState, token: &str) -> Result<AuthUser, AppError> {
    let claims = state.tokens.verify(token)?;
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
    Ok(AuthUser {
        id: user_id,
        role: user.role(),
        session_id: claims.sid.clone(),
        user,
    })
}

impl FromRequest for AuthUser {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Present whenever the route sits behind `bearer_auth`; absent means it does not.
        ready(
            req.extensions()
                .get::<AuthUser>()
                .cloned()
                .ok_or(AppError::MissingToken),
        )
    }
}

/// Admin guard for `/api/admin`: reads the role the bearer middleware just loaded
/// from the database, so a demotion takes effect on the very next request.
pub async fn require_admin(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let role = req.extensions().get::<AuthUser>().map(|u| u.role);
    let refusal = match role {
        Some(Role::Admin) => return Ok(next.call(req).await?.map_into_left_body()),
        Some(Role::User) => AppError::Forbidden,
        None => AppError::MissingToken,
    };
    // Answered here rather than raised, like the bearer middleware does.
    Ok(req.error_response(refusal).map_into_right_body())
}
