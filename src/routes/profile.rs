//! `/api/profile`: the caller's own account.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::auth::AuthUser;
use crate::domain::Password;
use crate::error::AppResult;
use crate::net::ClientInfo;
use crate::routes::auth::required;
use crate::services::{admin, auth as service};
use crate::state::AppState;

pub async fn get(state: web::Data<AppState>, user: AuthUser) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(admin::get_user(&state, user.id).await?))
}

#[derive(Deserialize)]
pub struct ChangePassword {
    current_password: Option<String>,
    new_password: Option<String>,
}

pub async fn change_password(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<ChangePassword>,
    client: ClientInfo,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let current = required(body.current_password, "current_password")?;
    let new = Password::parse(required(body.new_password, "new_password")?)?;
    let pair = service::change_password(&state, &user, current, new, client).await?;
    Ok(HttpResponse::Ok().json(pair))
}
