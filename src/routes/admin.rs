//! `/api/admin/*`: user management, audit trail and stats (behind the admin guard).

use actix_web::{delete, get, patch, post, web, HttpResponse};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::domain::{Email, Listing, Password, RoleName};
use crate::error::{AppResult, ErrorBody};
use crate::models::audit::AuditFilter;
use crate::models::users::UserFilter;
use crate::routes::params::{page_request, required, text, timestamp};
use crate::routes::views::{Accepted, AuditPage, ResetLinkView, StatsView, UserPage, UserView};
use crate::routes::{JsonBody, OptionalObjectBody};
use crate::services::accounts::{create_user as create, Creator};
use crate::services::recovery::{self, AdminReset};
use crate::services::users::{self as service, UserPatch};
use crate::services::{audit as audit_service, Principal};
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
pub struct ListUsersQuery {
    /// 1-based page number (default 1). Pages by number end at row 10,000 (`page *
    /// per_page`); deeper is 400 `page_too_deep`: use `cursor`.
    #[param(minimum = 1, maximum = 10000)]
    page: Option<i64>,
    /// Items per page (default 20, capped at 100).
    #[param(minimum = 1)]
    per_page: Option<i64>,
    /// Where the page starts: a `next_cursor` of an earlier answer (keyset paging,
    /// fast at any depth); it wins over `page`.
    #[param(max_length = 64, pattern = "^[A-Za-z0-9_-]*$")]
    cursor: Option<String>,
    /// Case-insensitive substring of the email; empty means no filter.
    #[param(max_length = 254, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    q: Option<String>,
    /// A role name; empty means no filter.
    #[param(value_type = Option<RoleFilter>)]
    role: Option<String>,
}

/// A role name to filter by, or empty for every role. (Written by hand: the derive
/// cannot express "a role name or empty".)
pub struct RoleFilter;

impl utoipa::PartialSchema for RoleFilter {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("A role name to filter by, or empty for every role."))
            .pattern(Some("^([a-z][a-z0-9_-]{1,31})?$"))
            .into()
    }
}

impl ToSchema for RoleFilter {}

/// Users, ordered by id, one page at a time.
#[utoipa::path(
    tag = "admin",
    operation_id = "listUsers",
    extensions(("x-permission" = json!(["users:read"]))),
    params(ListUsersQuery),
    responses(
        (status = 200, description = "One page of users, ordered by id", body = UserPage),
        (status = 400, description = "`page_too_deep`: `page * per_page` beyond 10,000 (use `cursor`); or a malformed query", body = ErrorBody),
        (status = 422, description = "`validation_error`: invalid paging or cursor, role or search text", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/users")]
pub async fn list_users(
    state: web::Data<AppState>,
    query: web::Query<ListUsersQuery>,
) -> AppResult<HttpResponse> {
    let query = query.into_inner();
    let page = page_request(query.page, query.per_page, query.cursor, Listing::Users)?;
    let filter = UserFilter {
        q: text(query.q, "q")?.map(|q| q.to_lowercase()),
        // `role=` (as in `?q=&role=`) means no filter; anything else must be exact.
        role: query
            .role
            .filter(|r| !r.is_empty())
            .map(|r| RoleName::parse(&r))
            .transpose()?,
    };
    let page = service::list(&state, filter, page).await?;
    Ok(HttpResponse::Ok().json(UserPage::from(page)))
}

#[derive(Deserialize, ToSchema)]
pub struct CreateUser {
    #[schema(required = true, value_type = String, format = Email, max_length = 254)]
    email: Option<String>,
    #[schema(required = true, value_type = String, format = Password, min_length = 8, max_length = 1024, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    password: Option<String>,
    /// The name of an existing role; default `user`. Any role but `user` needs
    /// `roles:manage`, and the caller must hold every permission the role grants.
    #[schema(value_type = Option<String>, example = "user", pattern = "^[a-z][a-z0-9_-]{1,31}$")]
    role: Option<String>,
}

/// Create an account with a chosen role.
#[utoipa::path(
    tag = "admin",
    request_body = CreateUser,
    operation_id = "createUser",
    extensions(("x-permission" = json!(["users:write"]))),
    responses(
        (status = 201, description = "Account created", body = UserView),
        (status = 409, description = "`email_taken`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    caller: Principal,
    body: JsonBody<CreateUser>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let email = Email::parse(&required(body.email, "email")?)?;
    let password = Password::parse(required(body.password, "password")?)?;
    let role = body
        .role
        .map(|r| RoleName::parse(&r))
        .transpose()?
        .unwrap_or_else(RoleName::user);
    let user = create(&state, email, password, role, Creator::Admin(&caller)).await?;
    Ok(HttpResponse::Created().json(UserView::from(&user)))
}

/// One user.
#[utoipa::path(
    tag = "admin",
    params(("id" = i64, Path, description = "User id")),
    operation_id = "getUser",
    extensions(("x-permission" = json!(["users:read"]))),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 404, description = "`not_found`: no such user", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/users/{id}")]
pub async fn get_user(state: web::Data<AppState>, id: web::Path<i64>) -> AppResult<HttpResponse> {
    let user = service::get(&state, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(UserView::from(&user)))
}

#[derive(Deserialize, ToSchema)]
pub struct PatchUser {
    /// The name of an existing role. Giving `user` needs `users:write`, any other
    /// role `roles:manage`; the caller must hold every permission of the new role and
    /// of the user's current one.
    #[schema(value_type = Option<String>, example = "support", pattern = "^[a-z][a-z0-9_-]{1,31}$")]
    role: Option<String>,
    /// Disabling revokes every session of the account.
    disabled: Option<bool>,
    /// Mark the address verified (or not); needs `users:write`.
    email_verified: Option<bool>,
}

/// Change a user's role and/or disabled flag; effective on their very next request.
#[utoipa::path(
    tag = "admin",
    request_body = PatchUser,
    params(("id" = i64, Path, description = "User id")),
    operation_id = "updateUser",
    extensions(("x-permission" = json!(["users:write", "roles:manage"]))),
    responses(
        (status = 200, description = "The user as changed", body = UserView),
        (status = 404, description = "`not_found`: no such user", body = ErrorBody),
        (status = 409, description = "`last_admin`: would leave no active admin", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[patch("/users/{id}")]
pub async fn update_user(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<i64>,
    body: JsonBody<PatchUser>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let patch = UserPatch {
        role: body.role.map(|r| RoleName::parse(&r)).transpose()?,
        disabled: body.disabled,
        email_verified: body.email_verified,
    };
    let user = service::update(&state, &caller, id.into_inner(), patch).await?;
    Ok(HttpResponse::Ok().json(UserView::from(&user)))
}

/// Delete a user and everything of theirs.
#[utoipa::path(
    tag = "admin",
    params(("id" = i64, Path, description = "User id")),
    operation_id = "deleteUser",
    extensions(("x-permission" = json!(["users:delete"]))),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "`not_found`: no such user", body = ErrorBody),
        (status = 409, description = "`last_admin`: would leave no active admin", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[delete("/users/{id}")]
pub async fn delete_user(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    service::delete(&state, &caller, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Revoke every session of a user: all their tokens stop working.
#[utoipa::path(
    tag = "admin",
    params(("id" = i64, Path, description = "User id")),
    operation_id = "revokeUserSessions",
    extensions(("x-permission" = json!(["sessions:revoke"]))),
    responses(
        (status = 204, description = "Every session of the user revoked"),
        (status = 404, description = "`not_found`: no such user", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/users/{id}/revoke-sessions")]
pub async fn revoke_sessions(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    service::revoke_sessions(&state, &caller, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Clear a login lockout of a user's account.
#[utoipa::path(
    tag = "admin",
    params(("id" = i64, Path, description = "User id")),
    operation_id = "unlockUser",
    extensions(("x-permission" = json!(["users:unlock"]))),
    responses(
        (status = 204, description = "The account's login failures cleared"),
        (status = 404, description = "`not_found`: no such user", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/users/{id}/unlock")]
pub async fn unlock(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    service::unlock(&state, &caller, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, IntoParams)]
pub struct AuditQuery {
    /// 1-based page number (default 1). Pages by number end at row 10,000 (`page *
    /// per_page`); deeper is 400 `page_too_deep`: use `cursor`.
    #[param(minimum = 1, maximum = 10000)]
    page: Option<i64>,
    /// Items per page (default 20, capped at 100).
    #[param(minimum = 1)]
    per_page: Option<i64>,
    /// Where the page starts: a `next_cursor` of an earlier answer (keyset paging,
    /// fast at any depth); it wins over `page`.
    #[param(max_length = 64, pattern = "^[A-Za-z0-9_-]*$")]
    cursor: Option<String>,
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
    operation_id = "listAuditEvents",
    extensions(("x-permission" = json!(["audit:read"]))),
    responses(
        (status = 200, description = "One page of audit events, newest first", body = AuditPage),
        (status = 400, description = "`page_too_deep`: `page * per_page` beyond 10,000 (use `cursor`); or a malformed query", body = ErrorBody),
        (status = 422, description = "`validation_error`: invalid paging or cursor, `action` or `since`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/audit")]
pub async fn audit(
    state: web::Data<AppState>,
    query: web::Query<AuditQuery>,
) -> AppResult<HttpResponse> {
    let query = query.into_inner();
    let page = page_request(query.page, query.per_page, query.cursor, Listing::Audit)?;
    let filter = AuditFilter {
        action: text(query.action, "action")?,
        actor_id: query.actor_id,
        target_id: query.target_id,
        since: timestamp(query.since, "since")?,
    };
    let page = audit_service::trail(&state, filter, page).await?;
    Ok(HttpResponse::Ok().json(AuditPage::from(page)))
}

/// Dashboard numbers: user counts kept by the database, logins of the last 24 hours.
#[utoipa::path(
    tag = "admin",
    operation_id = "getStats",
    extensions(("x-permission" = json!(["users:read"]))),
    responses((status = 200, description = "Dashboard numbers", body = StatsView)),
    security(("bearer" = []))
)]
#[get("/stats")]
pub async fn stats(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let stats = audit_service::stats(&state).await?;
    Ok(HttpResponse::Ok().json(StatsView::from(stats)))
}

#[derive(Deserialize, ToSchema)]
pub struct AdminPasswordReset {
    /// `true` (default): mail the user a reset link (202). `false`: answer the link
    /// for the admin to hand over (200).
    #[schema(value_type = Option<bool>, required = false, default = true)]
    send_email: Option<bool>,
}

/// Reset a user's password for them: a reset link by mail, or handed to the admin.
/// The caller must hold every permission of the user's role.
#[utoipa::path(
    tag = "admin",
    operation_id = "resetUserPassword",
    extensions(("x-permission" = json!(["users:write"]))),
    params(("id" = i64, Path, description = "User id")),
    request_body(content = Option<AdminPasswordReset>, description = "Optional; `send_email` defaults to true"),
    responses(
        (status = 200, description = "`send_email: false`: the link to hand over", body = ResetLinkView),
        (status = 202, description = "`send_email: true`: a reset mail is on its way", body = Accepted),
        (status = 404, description = "`not_found`: no such user", body = ErrorBody),
        (status = 501, description = "`email_not_configured`: `send_email: true` on a server without SMTP", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/users/{id}/password-reset")]
pub async fn password_reset(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<i64>,
    body: OptionalObjectBody<AdminPasswordReset>,
) -> AppResult<HttpResponse> {
    let send_email = body.0.and_then(|b| b.send_email).unwrap_or(true);
    match recovery::admin_reset(&state, &caller, id.into_inner(), send_email).await? {
        AdminReset::Mailed => Ok(HttpResponse::Accepted().json(Accepted {})),
        AdminReset::Link { link, expires_at } => {
            Ok(HttpResponse::Ok().json(ResetLinkView::new(link, expires_at)))
        }
    }
}
