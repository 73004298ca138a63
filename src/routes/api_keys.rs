//! `/api/admin/api-keys`: service credentials.

use actix_web::{delete, get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::Permission;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::models::api_keys::ApiKey;
use crate::routes::params::required;
use crate::routes::roles::PermissionName;
use crate::routes::views::utc;
use crate::routes::JsonBody;
use crate::services::{api_keys as service, Principal};
use crate::state::AppState;

/// An API key, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyView {
    id: i64,
    name: String,
    /// The key's first characters (`tsk_` and 8 more), to tell keys apart.
    #[schema(example = "tsk_Ab3dE6gH")]
    prefix: String,
    permissions: Vec<String>,
    #[serde(serialize_with = "crate::routes::time::rfc3339")]
    created_at: DateTime<Utc>,
    /// Null: it never expires.
    #[serde(serialize_with = "crate::routes::time::rfc3339_opt")]
    expires_at: Option<DateTime<Utc>>,
    /// Null until first used; kept to within about a minute.
    #[serde(serialize_with = "crate::routes::time::rfc3339_opt")]
    last_used_at: Option<DateTime<Utc>>,
}

impl From<&ApiKey> for ApiKeyView {
    fn from(k: &ApiKey) -> Self {
        ApiKeyView {
            id: k.id,
            name: k.name.clone(),
            prefix: k.prefix.clone(),
            permissions: k.permission_list(),
            created_at: utc(k.created_at),
            expires_at: k.expires_at.map(utc),
            last_used_at: k.last_used_at.map(utc),
        }
    }
}

/// A new API key: the only answer that ever holds `key`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKeyView {
    id: i64,
    name: String,
    /// The key itself (`tsk_...`): send it as `Authorization: Bearer tsk_...`. Shown
    /// only here: turnstile keeps just its hash.
    key: String,
    prefix: String,
    permissions: Vec<String>,
    #[serde(serialize_with = "crate::routes::time::rfc3339")]
    created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::routes::time::rfc3339_opt")]
    expires_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "crate::routes::time::rfc3339_opt")]
    last_used_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyList {
    items: Vec<ApiKeyView>,
}

#[derive(Deserialize, ToSchema)]
pub struct NewApiKeyRequest {
    /// What the key is for, e.g. `billing sync`; 1 to 100 characters.
    #[schema(required = true, value_type = String, min_length = 1, max_length = 100, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    name: Option<String>,
    /// What the key may do; the caller must hold each of them. At most 256.
    #[schema(required = true, value_type = Vec<PermissionName>, max_items = 256, example = json!(["users:read", "tokens:introspect"]))]
    permissions: Option<Vec<String>>,
    /// Days until the key stops working; absent or null: never.
    #[schema(value_type = Option<u32>, required = false, minimum = 1, maximum = 3650)]
    expires_in_days: Option<serde_json::Number>,
}

/// `expires_in_days` as a count of days: JSON Schema calls `30.0` an integer too, so
/// a whole number written with a fraction is taken; anything else is a 422.
fn whole_days(n: &serde_json::Number) -> AppResult<u32> {
    let whole = n.as_u64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= f64::from(u32::MAX))
            .map(|f| f as u64)
    });
    whole.and_then(|d| u32::try_from(d).ok()).ok_or_else(|| {
        AppError::Validation(format!(
            "expires_in_days is between 1 and {}",
            service::MAX_DAYS
        ))
    })
}

/// Create an API key for a service.
#[utoipa::path(
    tag = "api-keys",
    operation_id = "createApiKey",
    extensions(("x-permission" = json!(["keys:manage"]))),
    request_body = NewApiKeyRequest,
    responses(
        (status = 201, description = "The key, shown this once", body = CreatedApiKeyView),
        (status = 403, description = "`forbidden`: the caller lacks `keys:manage` or a permission the key would grant", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/api-keys")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Principal,
    body: JsonBody<NewApiKeyRequest>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let name = service::parse_name(&required(body.name, "name")?)?;
    let permissions = Permission::parse_all(&required(body.permissions, "permissions")?)?;
    let days = body.expires_in_days.as_ref().map(whole_days).transpose()?;
    let (row, key) = service::create(&state, &caller, name, permissions, days).await?;
    let view = ApiKeyView::from(&row);
    Ok(HttpResponse::Created().json(CreatedApiKeyView {
        id: view.id,
        name: view.name,
        key,
        prefix: view.prefix,
        permissions: view.permissions,
        created_at: view.created_at,
        expires_at: view.expires_at,
        last_used_at: view.last_used_at,
    }))
}

/// Every API key, newest first, without secrets.
#[utoipa::path(
    tag = "api-keys",
    operation_id = "listApiKeys",
    extensions(("x-permission" = json!(["keys:manage"]))),
    responses((status = 200, description = "The keys", body = ApiKeyList)),
    security(("bearer" = []))
)]
#[get("/api-keys")]
pub async fn list(state: web::Data<AppState>, caller: Principal) -> AppResult<HttpResponse> {
    let items = service::list(&state, &caller)
        .await?
        .iter()
        .map(ApiKeyView::from)
        .collect();
    Ok(HttpResponse::Ok().json(ApiKeyList { items }))
}

/// Delete an API key: it stops working at once, on every instance.
#[utoipa::path(
    tag = "api-keys",
    operation_id = "deleteApiKey",
    extensions(("x-permission" = json!(["keys:manage"]))),
    params(("id" = i64, Path, description = "API key id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "`not_found`: no such key", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[delete("/api-keys/{id}")]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    service::delete(&state, &caller, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
