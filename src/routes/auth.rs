//! `/auth/*`: register, login, refresh, logout.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::auth::AuthUser;
use crate::domain::{Email, Password};
use crate::error::{AppError, AppResult};
use crate::net::ClientInfo;
use crate::services::auth as service;
use crate::state::AppState;

/// Fields are optional so that a missing one is a 422 naming it, while a wrong type
/// stays a 400 from the JSON extractor.
#[derive(Deserialize)]
pub struct Credentials {
    email: Option<String>,
    password: Option<String>,
}

pub fn required<T>(value: Option<T>, field: &str) -> AppResult<T> {
    value.ok_or_else(|| AppError::Validation(format!("{field} is required")))
}

pub async fn register(
    state: web::Data<AppState>,
    body: web::Json<Credentials>,
    client: ClientInfo,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let email = Email::parse(&required(body.email, "email")?)?;
    let password = Password::parse(required(body.password, "password")?)?;
    let user = service::register(&state, email, password, client).await?;
    Ok(HttpResponse::Created().json(user))
}

pub async fn login(
    state: web::Data<AppState>,
    body: web::Json<Credentials>,
    client: ClientInfo,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let email = required(body.email, "email")?;
    let password = required(body.password, "password")?;
    let pair = service::login(&state, &email, password, client).await?;
    Ok(HttpResponse::Ok().json(pair))
}

#[derive(Deserialize)]
pub struct RefreshRequest {
    refresh_token: Option<String>,
}

pub async fn refresh(
    state: web::Data<AppState>,
    body: web::Json<RefreshRequest>,
    client: ClientInfo,
) -> AppResult<HttpResponse> {
    let token = required(body.into_inner().refresh_token, "refresh_token")?;
    let pair = service::refresh(&state, &token, client).await?;
    Ok(HttpResponse::Ok().json(pair))
}

#[derive(Deserialize, Default)]
pub struct LogoutRequest {
    refresh_token: Option<String>,
}

/// The body is optional: `{}`, `{"refresh_token": ...}` or nothing at all.
pub async fn logout(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Option<web::Json<LogoutRequest>>,
    client: ClientInfo,
) -> AppResult<HttpResponse> {
    let token = body.and_then(|b| b.into_inner().refresh_token);
    service::logout(&state, &user, token, client).await?;
    Ok(HttpResponse::NoContent().finish())
}
