//! `/api/admin/roles` and `/api/admin/permissions`: roles as data.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::domain::{Permission, RoleName};
use crate::error::{AppResult, ErrorBody};
use crate::routes::params::required;
use crate::routes::views::{PermissionList, PermissionView, RoleList, RoleView};
use crate::routes::JsonBody;
use crate::services::roles::{self as service, parse_description};
use crate::services::Principal;
use crate::state::AppState;

/// A permission: `resource:action` or `*`.
#[derive(ToSchema)]
#[schema(
    value_type = String,
    pattern = "^(\\*|[a-z][a-z0-9_.-]{0,31}:[a-z][a-z0-9_.-]{0,31})$",
    example = "users:read"
)]
#[allow(dead_code)] // Named only in the OpenAPI document.
pub struct PermissionName(String);

/// Every role, ordered by name.
#[utoipa::path(
    tag = "roles",
    operation_id = "listRoles",
    extensions(("x-permission" = json!(["roles:read"]))),
    responses((status = 200, description = "Every role, ordered by name", body = RoleList)),
    security(("bearer" = []))
)]
#[get("/roles")]
pub async fn list(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let items = service::list(&state).await?;
    let items = items.into_iter().map(RoleView::from).collect();
    Ok(HttpResponse::Ok().json(RoleList { items }))
}

#[derive(Deserialize, ToSchema)]
pub struct CreateRole {
    /// `^[a-z][a-z0-9_-]{1,31}$`
    #[schema(required = true, value_type = String, pattern = "^[a-z][a-z0-9_-]{1,31}$", example = "support")]
    name: Option<String>,
    /// Null or absent: unchanged (on creation: empty).
    #[schema(value_type = Option<String>, required = false, max_length = 200, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    description: Option<String>,
    /// `resource:action` strings, or `*`; the caller must hold each of them. At most
    /// 256.
    #[schema(required = true, value_type = Vec<PermissionName>, max_items = 256, example = json!(["users:read", "audit:read"]))]
    permissions: Option<Vec<String>>,
}

/// Define a role.
#[utoipa::path(
    tag = "roles",
    operation_id = "createRole",
    extensions(("x-permission" = json!(["roles:manage"]))),
    request_body = CreateRole,
    responses(
        (status = 201, description = "The new role", body = RoleView),
        (status = 403, description = "`forbidden`: the caller lacks `roles:manage`, or a permission it would grant", body = ErrorBody),
        (status = 409, description = "`role_exists`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/roles")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Principal,
    body: JsonBody<CreateRole>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let name = RoleName::parse(&required(body.name, "name")?)?;
    let description = parse_description(body.description.as_deref().unwrap_or(""))?;
    let permissions = Permission::parse_all(&required(body.permissions, "permissions")?)?;
    let role = service::create(&state, &caller, name, description, permissions).await?;
    Ok(HttpResponse::Created().json(RoleView::from(role)))
}

/// One role.
#[utoipa::path(
    tag = "roles",
    operation_id = "getRole",
    extensions(("x-permission" = json!(["roles:read"]))),
    params(("name" = String, Path, description = "Role name")),
    responses(
        (status = 200, description = "The role", body = RoleView),
        (status = 404, description = "`not_found`: no such role", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[get("/roles/{name}")]
pub async fn get(state: web::Data<AppState>, name: web::Path<String>) -> AppResult<HttpResponse> {
    let role = service::get(&state, name.into_inner()).await?;
    Ok(HttpResponse::Ok().json(RoleView::from(role)))
}

#[derive(Deserialize, ToSchema)]
pub struct PatchRole {
    /// Null or absent: unchanged (on creation: empty).
    #[schema(value_type = Option<String>, required = false, max_length = 200, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    description: Option<String>,
    /// The role's new permissions, replacing the old ones; the caller must hold every
    /// permission added or removed; at most 256.
    /// Null or absent: unchanged.
    #[schema(value_type = Option<Vec<PermissionName>>, required = false, max_items = 256)]
    permissions: Option<Vec<String>>,
}

/// Change a role's description and/or permissions: enforced at the very next request
/// of every user holding it.
#[utoipa::path(
    tag = "roles",
    operation_id = "updateRole",
    extensions(("x-permission" = json!(["roles:manage"]))),
    params(("name" = String, Path, description = "Role name")),
    request_body = PatchRole,
    responses(
        (status = 200, description = "The role as changed", body = RoleView),
        (status = 403, description = "`forbidden`: the caller lacks `roles:manage`, or a permission it adds or removes", body = ErrorBody),
        (status = 404, description = "`not_found`: no such role", body = ErrorBody),
        (status = 409, description = "`builtin_role`: `admin` cannot be changed", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[patch("/roles/{name}")]
pub async fn update(
    state: web::Data<AppState>,
    caller: Principal,
    name: web::Path<String>,
    body: JsonBody<PatchRole>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let description = body
        .description
        .as_deref()
        .map(parse_description)
        .transpose()?;
    let permissions = body
        .permissions
        .map(|raw| Permission::parse_all(&raw))
        .transpose()?;
    let role =
        service::update(&state, &caller, name.into_inner(), description, permissions).await?;
    Ok(HttpResponse::Ok().json(RoleView::from(role)))
}

/// Delete a role nobody holds.
#[utoipa::path(
    tag = "roles",
    operation_id = "deleteRole",
    extensions(("x-permission" = json!(["roles:manage"]))),
    params(("name" = String, Path, description = "Role name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "`not_found`: no such role", body = ErrorBody),
        (status = 409, description = "`builtin_role` (`admin` and `user` stay) or `role_in_use` (some user holds it)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[delete("/roles/{name}")]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Principal,
    name: web::Path<String>,
) -> AppResult<HttpResponse> {
    service::delete(&state, &caller, name.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The permission catalogue: the built-in permissions, then every other one some role
/// grants.
#[utoipa::path(
    tag = "roles",
    operation_id = "listPermissions",
    extensions(("x-permission" = json!(["roles:read"]))),
    responses((status = 200, description = "The permission catalogue", body = PermissionList)),
    security(("bearer" = []))
)]
#[get("/permissions")]
pub async fn permissions_catalogue(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let items = service::catalogue(&state).await?;
    let items = items.into_iter().map(PermissionView::from).collect();
    Ok(HttpResponse::Ok().json(PermissionList { items }))
}
