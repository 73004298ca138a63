//! `/api/sessions`: the caller's devices.

use actix_web::{web, HttpResponse};

use crate::auth::AuthUser;
use crate::error::AppResult;
use crate::net::ClientInfo;
use crate::services::sessions as service;
use crate::state::AppState;

pub async fn list(state: web::Data<AppState>, user: AuthUser) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::list(&state, &user).await?))
}

pub async fn revoke(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
    client: ClientInfo,
) -> AppResult<HttpResponse> {
    service::revoke_own(&state, &user, path.into_inner(), client).await?;
    Ok(HttpResponse::NoContent().finish())
}
