//! Liveness and readiness probes.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Liveness: the process answers. Touches nothing else.
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// Readiness: the database answers too.
pub async fn ready(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    if state.db.ping().await {
        Ok(HttpResponse::Ok().json(json!({ "status": "ok", "database": "ok" })))
    } else {
        Err(AppError::Unavailable)
    }
}
