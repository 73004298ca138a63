//! `/api/sessions`: the caller's devices.

use actix_web::{delete, get, web, HttpResponse};

use crate::error::{AppError, AppResult, ErrorBody};
use crate::routes::views::SessionView;
use crate::services::{sessions as service, Caller};
use crate::state::AppState;

/// The caller's live sessions, one per logged-in device.
#[utoipa::path(
    tag = "profile",
    operation_id = "listSessions",
    responses((status = 200, description = "The caller's live sessions, newest first", body = Vec<SessionView>)),
    security(("bearer" = []))
)]
#[get("/sessions")]
pub async fn list(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    let live = service::list(&state, &caller).await?;
    let views: Vec<SessionView> = live
        .iter()
        .map(|s| SessionView::new(s, &caller.session_id))
        .collect();
    Ok(HttpResponse::Ok().json(views))
}

/// Revoke one of the caller's sessions.
#[utoipa::path(
    tag = "profile",
    operation_id = "revokeSession",
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "`not_found`: no such live session of the caller", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[delete("/sessions/{id}")]
pub async fn revoke(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    // Session ids are URL-safe base64; anything else names no session.
    let plausible = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !plausible {
        return Err(AppError::NotFound("session"));
    }
    service::revoke_own(&state, &caller, id).await?;
    Ok(HttpResponse::NoContent().finish())
}
