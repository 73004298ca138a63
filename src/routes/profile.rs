//! `/api/profile`: the caller's own account.

use actix_web::{get, post, web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::domain::Password;
use crate::error::{AppResult, ErrorBody};
use crate::routes::params::required;
use crate::routes::views::{Accepted, ProfileView, TokenPairView};
use crate::routes::JsonBody;
use crate::services::{accounts, recovery, Caller};
use crate::state::AppState;

/// The caller's account.
#[utoipa::path(
    tag = "profile",
    operation_id = "getProfile",
    responses((status = 200, description = "The caller's account and its role's permissions", body = ProfileView)),
    security(("bearer" = []))
)]
#[get("/profile")]
pub async fn get(user: Caller) -> HttpResponse {
    // The row and permissions the bearer middleware just read: no second lookup.
    HttpResponse::Ok().json(ProfileView::new(&user.user, &user.permissions))
}

#[derive(Deserialize, ToSchema)]
pub struct ChangePassword {
    #[schema(required = true, value_type = String, format = Password)]
    current_password: Option<String>,
    #[schema(required = true, value_type = String, format = Password, min_length = 8, max_length = 1024, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    new_password: Option<String>,
}

/// Change the password: every earlier token of the account, on every device, dies.
#[utoipa::path(
    tag = "profile",
    operation_id = "changePassword",
    request_body = ChangePassword,
    responses(
        (status = 200, description = "A fresh pair in a new session", body = TokenPairView),
        (status = 401, description = "`invalid_credentials` (wrong current password; counted toward the account's lockout) or an invalid token", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`: the account or client is locked out; see `Retry-After`", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until the lock lifts"))),
        (status = 409, description = "`conflict`: the password changed concurrently", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/profile/password")]
pub async fn change_password(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody<ChangePassword>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let current = required(body.current_password, "current_password")?;
    let new = Password::parse(required(body.new_password, "new_password")?)?;
    let signed_in = accounts::change_password(&state, &caller, current, new).await?;
    Ok(HttpResponse::Ok().json(TokenPairView::from(signed_in)))
}

/// Mail the caller a link to verify their address.
#[utoipa::path(
    tag = "profile",
    operation_id = "sendEmailVerification",
    responses(
        (status = 202, description = "A verification mail is on its way", body = Accepted),
        (status = 409, description = "`already_verified`", body = ErrorBody),
        (status = 501, description = "`email_not_configured`: this server sends no mail", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/profile/email-verification")]
pub async fn send_email_verification(
    state: web::Data<AppState>,
    caller: Caller,
) -> AppResult<HttpResponse> {
    recovery::send_verification(&state, &caller).await?;
    Ok(HttpResponse::Accepted().json(Accepted {}))
}
