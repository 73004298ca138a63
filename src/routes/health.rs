//! Liveness and readiness probes.

use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{AppError, AppResult, ErrorBody};
use crate::state::AppState;

/// What the probes report: always `ok` when they answer 200.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    status: Status,
}

/// Liveness: the process answers. Touches nothing else.
#[utoipa::path(
    tag = "health",
    operation_id = "getHealth",
    responses((status = 200, description = "The process answers", body = Health))
)]
#[get("/health")]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: Status::Ok })
}

#[derive(Serialize, ToSchema)]
pub struct Ready {
    status: Status,
    database: Status,
}

/// Readiness: the database answers too.
#[utoipa::path(
    tag = "health",
    operation_id = "getReady",
    responses(
        (status = 200, description = "The process and its database answer", body = Ready),
        (status = 503, description = "`service_unavailable`: the database does not answer", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before asking again")))
    )
)]
#[get("/ready")]
pub async fn ready(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    if state.db.ping().await {
        Ok(HttpResponse::Ok().json(Ready {
            status: Status::Ok,
            database: Status::Ok,
        }))
    } else {
        Err(AppError::Unavailable)
    }
}
