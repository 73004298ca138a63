//! Liveness and readiness probes.

use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{AppError, AppResult, ErrorBody};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `"ok"`.
    #[schema(example = "ok")]
    status: &'static str,
}

/// Liveness: the process answers. Touches nothing else.
#[utoipa::path(tag = "health", responses((status = 200, body = Health)))]
#[get("/health")]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

#[derive(Serialize, ToSchema)]
pub struct Ready {
    #[schema(example = "ok")]
    status: &'static str,
    #[schema(example = "ok")]
    database: &'static str,
}

/// Readiness: the database answers too.
#[utoipa::path(
    tag = "health",
    responses(
        (status = 200, body = Ready),
        (status = 503, description = "Database unavailable", body = ErrorBody)
    )
)]
#[get("/ready")]
pub async fn ready(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    if state.db.ping().await {
        Ok(HttpResponse::Ok().json(Ready {
            status: "ok",
            database: "ok",
        }))
    } else {
        Err(AppError::Unavailable)
    }
}
