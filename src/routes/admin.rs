//! `/api/admin/*`: user management, audit trail and stats (behind the admin guard).

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::DateTime;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::auth::AuthUser;
use crate::domain::{Email, Password, Role};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::models::audit::AuditFilter;
use crate::models::users::UserFilter;
use crate::net::ClientInfo;
use crate::routes::auth::required;
use crate::routes::JsonBody;
use crate::services::admin::{self as service, PageRequest, UserPatch};
use crate::services::auth::create_user as create;
use crate::state::AppState;
use crate::views::{AuditEventView, Page, StatsView, UserView};

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

/// A free-text query parameter: trimmed, empty means absent, and bounded and free
/// of control characters (the database could not store or compare NUL).
fn text_param(s: Option<String>, name: &str) -> AppResult<Option<String>> {
    let Some(s) = s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if s.chars().count() > 254 || s.chars().any(char::is_control) {
        return Err(AppError::Validation(format!(
            "{name} must be at most 254 characters, without control characters"
        )));
    }
    Ok(Some(s))
}

#[derive(Deserialize, IntoParams)]
pub struct ListUsersQuery {
    /// 1-based page number (default 1).
    #[param(minimum = 1)]
    page: Option<i64>,
    /// Items per page (default 20, capped at 100).
    #[param(minimum = 1)]
    per_page: Option<i64>,
    /// Case-insensitive substring of the email; empty means no filter.
    #[param(max_length = 254, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    q: Option<String>,
    /// `user` or `admin`; empty means no filter.
    #[param(pattern = "^(user|admin)?$")]
    role: Option<String>,
}

/// Users, ordered by id, one page at a time.
#[utoipa::path(
    tag = "admin",
    params(ListUsersQuery),
    responses((status = 200, body = Page<UserView>), (status = 422, description = "Invalid paging or role", body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/users")]
pub async fn list_users(
    state: web::Data<AppState>,
    query: web::Query<ListUsersQuery>,
) -> AppResult<HttpResponse> {
    let query = query.into_inner();
    let page = page_request(query.page, query.per_page)?;
    let filter = UserFilter {
        q: text_param(query.q, "q")?.map(|q| q.to_lowercase()),
        // `role=` (as in `?q=&role=`) means no filter; anything else must be exact.
        role: query
            .role
            .filter(|r| !r.is_empty())
            .map(|r| Role::parse(&r))
            .transpose()?,
    };
    Ok(HttpResponse::Ok().json(service::list_users(&state, filter, page).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct CreateUser {
    #[schema(required = true, value_type = String, format = Email, max_length = 254)]
    email: Option<String>,
    #[schema(required = true, value_type = String, format = Password, min_length = 8, max_length = 1024, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    password: Option<String>,
    /// Default `user`.
    #[schema(value_type = Option<Role>)]
    role: Option<String>,
}

/// Create an account with a chosen role.
#[utoipa::path(
    tag = "admin",
    request_body = CreateUser,
    responses((status = 201, body = UserView), (status = 409, description = "`email_taken`", body = ErrorBody)),
    security(("bearer" = []))
)]
#[post("/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    actor: AuthUser,
    body: JsonBody<CreateUser>,
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

/// One user.
#[utoipa::path(
    tag = "admin",
    params(("id" = i64, Path, description = "User id")),
    responses((status = 200, body = UserView), (status = 404, description = "No such user", body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/users/{id}")]
pub async fn get_user(state: web::Data<AppState>, id: web::Path<i64>) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::get_user(&state, id.into_inner()).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct PatchUser {
    #[schema(value_type = Option<Role>)]
    role: Option<String>,
    /// Disabling revokes every session of the account.
    disabled: Option<bool>,
}

/// Change a user's role and/or disabled flag; effective on their very next request.
#[utoipa::path(
    tag = "admin",
    request_body = PatchUser,
    params(("id" = i64, Path, description = "User id")),
    responses(
        (status = 200, body = UserView),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "`last_admin`: would leave no active admin", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[patch("/users/{id}")]
pub async fn update_user(
    state: web::Data<AppState>,
    actor: AuthUser,
    id: web::Path<i64>,
    body: JsonBody<PatchUser>,
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

/// Delete a user and everything of theirs.
#[utoipa::path(
    tag = "admin",
    params(("id" = i64, Path, description = "User id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "`last_admin`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[delete("/users/{id}")]
pub async fn delete_user(
    state: web::Data<AppState>,
    actor: AuthUser,
    id: web::Path<i64>,
    client: ClientInfo,
) -> AppResult<HttpResponse> {
    service::delete_user(&state, &actor, id.into_inner(), client).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Revoke every session of a user: all their tokens stop working.
#[utoipa::path(
    tag = "admin",
    params(("id" = i64, Path, description = "User id")),
    responses((status = 204, description = "Revoked"), (status = 404, description = "No such user", body = ErrorBody)),
    security(("bearer" = []))
)]
#[post("/users/{id}/revoke-sessions")]
pub async fn revoke_sessions(
    state: web::Data<AppState>,
    actor: AuthUser,
    id: web::Path<i64>,
    client: ClientInfo,
) -> AppResult<HttpResponse> {
    service::revoke_sessions(&state, &actor, id.into_inner(), client).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Clear a login lockout of a user's account.
#[utoipa::path(
    tag = "admin",
    params(("id" = i64, Path, description = "User id")),
    responses((status = 204, description = "Unlocked"), (status = 404, description = "No such user", body = ErrorBody)),
    security(("bearer" = []))
)]
#[post("/users/{id}/unlock")]
pub async fn unlock(
    state: web::Data<AppState>,
    actor: AuthUser,
    id: web::Path<i64>,
    client: ClientInfo,
) -> AppResult<HttpResponse> {
    service::unlock(&state, &actor, id.into_inner(), client).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, IntoParams)]
pub struct AuditQuery {
    /// 1-based page number (default 1).
    #[param(minimum = 1)]
    page: Option<i64>,
    /// Items per page (default 20, capped at 100).
    #[param(minimum = 1)]
    per_page: Option<i64>,
    /// e.g. `login_failure`, `role_change`, `refresh_reuse_detected`; empty means no filter.
    #[param(max_length = 254, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    action: Option<String>,
    actor_id: Option<i64>,
    target_id: Option<i64>,
    /// RFC 3339 timestamp: events at or after it.
    #[param(format = DateTime)]
    since: Option<String>,
}

/// The audit trail, newest first.
#[utoipa::path(
    tag = "admin",
    params(AuditQuery),
    responses((status = 200, body = Page<AuditEventView>), (status = 422, description = "Invalid paging or `since`", body = ErrorBody)),
    security(("bearer" = []))
)]
#[get("/audit")]
pub async fn audit(
    state: web::Data<AppState>,
    query: web::Query<AuditQuery>,
) -> AppResult<HttpResponse> {
    let query = query.into_inner();
    let page = page_request(query.page, query.per_page)?;
    let since = query
        .since
        .map(|s| {
            DateTime::parse_from_rfc3339(&s)
                .map(|t| t.naive_utc())
                .map_err(|_| AppError::Validation("since must be an RFC 3339 timestamp".into()))
        })
        .transpose()?;
    let filter = AuditFilter {
        action: text_param(query.action, "action")?,
        actor_id: query.actor_id,
        target_id: query.target_id,
        since,
    };
    Ok(HttpResponse::Ok().json(service::audit_log(&state, filter, page).await?))
}

/// Dashboard numbers, computed with SQL aggregates.
#[utoipa::path(
    tag = "admin",
    responses((status = 200, body = StatsView)),
    security(("bearer" = []))
)]
#[get("/stats")]
pub async fn stats(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::stats(&state).await?))
}
