//! `/auth/*`: register, login, refresh, logout.

use actix_web::{post, web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::domain::{Email, Password};
use crate::error::{AppResult, ErrorBody, LoginRefusal};
use crate::net::ClientInfo;
use crate::routes::params::required;
use crate::routes::views::{Accepted, TokenPairView, UserView};
use crate::routes::{JsonBody, OptionalJsonBody};
use crate::services::{accounts, login as login_service, refresh as refresh_service, sessions};
use crate::services::{recovery, Caller};
use crate::state::AppState;

// Fields are optional in Rust so that a missing one is a 422 naming it, while a
// wrong type stays a 400 from the JSON extractor.
#[derive(Deserialize, ToSchema)]
pub struct Credentials {
    #[schema(required = true, value_type = String, format = Email, max_length = 254, example = "alice@example.com")]
    email: Option<String>,
    #[schema(required = true, value_type = String, format = Password, min_length = 8, max_length = 1024, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$", example = "correct horse battery")]
    password: Option<String>,
}

/// Create an account with role `user`.
#[utoipa::path(
    tag = "auth",
    operation_id = "register",
    request_body = Credentials,
    responses(
        (status = 201, description = "Account created", body = UserView),
        (status = 409, description = "`email_taken`", body = ErrorBody),
    )
)]
#[post("/register")]
pub async fn register(
    state: web::Data<AppState>,
    body: JsonBody<Credentials>,
    client: ClientInfo,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let email = Email::parse(&required(body.email, "email")?)?;
    let password = Password::parse(required(body.password, "password")?)?;
    let user = accounts::register(&state, email, password, &client).await?;
    Ok(HttpResponse::Created().json(UserView::from(&user)))
}

/// Exchange email and password for a token pair and start a session.
#[utoipa::path(
    tag = "auth",
    operation_id = "login",
    request_body = Credentials,
    responses(
        (status = 200, description = "Logged in", body = TokenPairView),
        (status = 401, description = "`invalid_credentials` (same body whether or not the email exists), `account_disabled`, or `mfa_required`: the right password for an account with a second factor, with the `mfa_token` to send to `POST /auth/mfa`", body = LoginRefusal),
        (status = 403, description = "`email_not_verified`: the right password, but `REQUIRE_VERIFIED_EMAIL` is on and the address is not verified", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`; see `Retry-After`", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until the lock lifts"))),
    )
)]
#[post("/login")]
pub async fn login(
    state: web::Data<AppState>,
    body: JsonBody<Credentials>,
    client: ClientInfo,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let email = required(body.email, "email")?;
    let password = required(body.password, "password")?;
    let signed_in = login_service::login(&state, &email, password, client).await?;
    Ok(HttpResponse::Ok().json(TokenPairView::from(signed_in)))
}

#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    #[schema(required = true, value_type = String)]
    refresh_token: Option<String>,
}

/// Rotate a refresh token: it is spent and a new pair of the same session returned.
#[utoipa::path(
    tag = "auth",
    operation_id = "refreshTokens",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New pair", body = TokenPairView),
        (status = 401, description = "`invalid_refresh_token`: unknown, expired, revoked or reused", body = ErrorBody),
    )
)]
#[post("/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    body: JsonBody<RefreshRequest>,
    client: ClientInfo,
) -> AppResult<HttpResponse> {
    let token = required(body.into_inner().refresh_token, "refresh_token")?;
    let signed_in = refresh_service::refresh(&state, &token, client).await?;
    Ok(HttpResponse::Ok().json(TokenPairView::from(signed_in)))
}

#[derive(Deserialize, Default, ToSchema)]
pub struct LogoutRequest {
    /// A refresh token of another of the caller's sessions, to end that one too.
    refresh_token: Option<String>,
}

/// End the current session: its refresh tokens and access tokens stop working at once.
#[utoipa::path(
    tag = "auth",
    operation_id = "logout",
    request_body(content = Option<LogoutRequest>, description = "Optional: a refresh token of another of the caller's sessions, to end that one too"),
    responses((status = 204, description = "Logged out")),
    security(("bearer" = []))
)]
#[post("")]
pub async fn logout(
    state: web::Data<AppState>,
    caller: Caller,
    body: OptionalJsonBody<LogoutRequest>,
) -> AppResult<HttpResponse> {
    let token = body.0.and_then(|b| b.refresh_token);
    sessions::logout(&state, &caller, token).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordResetRequest {
    #[schema(required = true, value_type = String, format = Email, max_length = 254)]
    email: Option<String>,
}

/// Ask for a password-reset link by mail. The answer is the same whether or not the
/// address belongs to an account, a disabled one, or one that reached its hourly
/// share of mails.
#[utoipa::path(
    tag = "auth",
    operation_id = "requestPasswordReset",
    request_body = PasswordResetRequest,
    responses(
        (status = 202, description = "Accepted: if the address belongs to an enabled account, a reset link is on its way", body = Accepted),
        (status = 429, description = "`too_many_attempts`: too many requests from this client; see `Retry-After`", body = ErrorBody),
        (status = 501, description = "`email_not_configured`: this server sends no mail", body = ErrorBody),
    )
)]
#[post("/password-reset")]
pub async fn request_password_reset(
    state: web::Data<AppState>,
    body: JsonBody<PasswordResetRequest>,
    client: ClientInfo,
) -> AppResult<HttpResponse> {
    let email = Email::parse(&required(body.into_inner().email, "email")?)?;
    recovery::request_reset(&state, email, &client).await?;
    Ok(HttpResponse::Accepted().json(Accepted {}))
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordResetConfirm {
    /// The token of the reset link.
    #[schema(required = true, value_type = String)]
    token: Option<String>,
    #[schema(required = true, value_type = String, format = Password, min_length = 8, max_length = 1024, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    new_password: Option<String>,
}

/// Set a new password with a reset link's token: every earlier token of the account
/// (access and refresh, every device) dies, the lockout is cleared and the address
/// counts as verified. Does not sign in.
#[utoipa::path(
    tag = "auth",
    operation_id = "confirmPasswordReset",
    request_body = PasswordResetConfirm,
    responses(
        (status = 204, description = "The password is set"),
        (status = 401, description = "`invalid_reset_token`: unknown, used, expired or superseded", body = ErrorBody),
    )
)]
#[post("/password-reset/confirm")]
pub async fn confirm_password_reset(
    state: web::Data<AppState>,
    body: JsonBody<PasswordResetConfirm>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let token = required(body.token, "token")?;
    let password = required(body.new_password, "new_password")?;
    recovery::confirm_reset(&state, token, password).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
pub struct EmailVerificationConfirm {
    /// The token of the verification link.
    #[schema(required = true, value_type = String)]
    token: Option<String>,
}

/// Verify an address with a verification link's token.
#[utoipa::path(
    tag = "auth",
    operation_id = "confirmEmailVerification",
    request_body = EmailVerificationConfirm,
    responses(
        (status = 204, description = "The address is verified"),
        (status = 401, description = "`invalid_verification_token`: unknown, used, expired or superseded", body = ErrorBody),
    )
)]
#[post("/email-verification/confirm")]
pub async fn confirm_email_verification(
    state: web::Data<AppState>,
    body: JsonBody<EmailVerificationConfirm>,
) -> AppResult<HttpResponse> {
    let token = required(body.into_inner().token, "token")?;
    recovery::confirm_verification(&state, token).await?;
    Ok(HttpResponse::NoContent().finish())
}
