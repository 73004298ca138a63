//! `/api/admin/*`: user management, audit trail and stats (behind the admin guard).

use actix_web::{web, HttpResponse};
use chrono::DateTime;
use serde::Deserialize;

use crate::auth::AuthUser;
use crate::domain::{Email, Password, Role};
use crate::error::{AppError, AppResult};
use crate::models::audit::AuditFilter;
use crate::models::users::UserFilter;
use crate::net::ClientInfo;
use crate::routes::auth::required;
use crate::services::admin::{self as service, PageRequest, UserPatch};
use crate::services::auth::create_user as create;
use crate::state::AppState;
use crate::views::UserView;

const DEFAULT_PER_PAGE: i64 = 20;
const MAX_PER_PAGE: i64 = 100;

fn page_request(page: Option<i64>, per_page: Option<i64>) -> AppResult<PageRequest> {
    let page = page.unwrap_or(1);
    let per_page = per_page.unwrap_or(DEFAULT_PER_PAGE);
    if page < 1 {
        return Err(AppError::Validation("page must be 1 or more".into()));
    }
    if per_page < 1 {
        return Err(AppError::Validation("per_page must be 1 or more".into()));
    }
    Ok(PageRequest {
        page,
        per_page: per_page.min(MAX_PER_PAGE),
    })
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

#[derive(Deserialize)]
pub struct ListUsersQuery {
    page: Option<i64>,
    per_page: Option<i64>,
    q: Option<String>,
    role: Option<String>,
}

pub async fn list_users(
    state: web::Data<AppState>,
    query: web::Query<ListUsersQuery>,
) -> AppResult<HttpResponse> {
    let query = query.into_inner();
    let page = page_request(query.page, query.per_page)?;
    let filter = UserFilter {
        q: non_empty(query.q).map(|q| q.to_lowercase()),
        role: non_empty(query.role).map(|r| Role::parse(&r)).transpose()?,
    };
    Ok(HttpResponse::Ok().json(service::list_users(&state, filter, page).await?))
}

#[derive(Deserialize)]
pub struct CreateUser {
    email: Option<String>,
    password: Option<String>,
    role: Option<String>,
}

pub async fn create_user(
    state: web::Data<AppState>,
    actor: AuthUser,
    body: web::Json<CreateUser>,
    client: ClientInfo,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let email = Email::parse(&required(body.email, "email")?)?;
    let password = Password::parse(required(body.password, "password")?)?;
    let role = body
        .role
        .map(|r| Role::parse(&r))
        .transpose()?
        .unwrap_or(Role::User);
    let user = create(&state, email, password, role, Some(actor.id), client).await?;
    Ok(HttpResponse::Created().json(UserView::from(&user)))
}

pub async fn get_user(state: web::Data<AppState>, id: web::Path<i64>) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::get_user(&state, id.into_inner()).await?))
}

#[derive(Deserialize)]
pub struct PatchUser {
    role: Option<String>,
    disabled: Option<bool>,
}

pub async fn update_user(
    state: web::Data<AppState>,
    actor: AuthUser,
    id: web::Path<i64>,
    body: web::Json<PatchUser>,
    client: ClientInfo,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let patch = UserPatch {
        role: body.role.map(|r| Role::parse(&r)).transpose()?,
        disabled: body.disabled,
    };
    let user = service::update_user(&state, &actor, id.into_inner(), patch, client).await?;
    Ok(HttpResponse::Ok().json(user))
}

pub async fn delete_user(
    state: web::Data<AppState>,
    actor: AuthUser,
    id: web::Path<i64>,
    client: ClientInfo,
) -> AppResult<HttpResponse> {
    service::delete_user(&state, &actor, id.into_inner(), client).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn revoke_sessions(
    state: web::Data<AppState>,
    actor: AuthUser,
    id: web::Path<i64>,
    client: ClientInfo,
) -> AppResult<HttpResponse> {
    service::revoke_sessions(&state, &actor, id.into_inner(), client).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn unlock(
    state: web::Data<AppState>,
    actor: AuthUser,
    id: web::Path<i64>,
    client: ClientInfo,
) -> AppResult<HttpResponse> {
    service::unlock(&state, &actor, id.into_inner(), client).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
pub struct AuditQuery {
    page: Option<i64>,
    per_page: Option<i64>,
    action: Option<String>,
    actor_id: Option<i64>,
    target_id: Option<i64>,
    since: Option<String>,
}

pub async fn audit(
    state: web::Data<AppState>,
    query: web::Query<AuditQuery>,
) -> AppResult<HttpResponse> {
    let query = query.into_inner();
    let page = page_request(query.page, query.per_page)?;
    let since = non_empty(query.since)
        .map(|s| {
            DateTime::parse_from_rfc3339(&s)
                .map(|t| t.naive_utc())
                .map_err(|_| AppError::Validation("since must be an RFC 3339 timestamp".into()))
        })
        .transpose()?;
    let filter = AuditFilter {
        action: non_empty(query.action),
        actor_id: query.actor_id,
        target_id: query.target_id,
        since,
    };
    Ok(HttpResponse::Ok().json(service::audit_log(&state, filter, page).await?))
}

pub async fn stats(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::stats(&state).await?))
}
