//! The crate-wide error type and its mapping onto the JSON error envelope: every
//! error an answer can carry, its status and its code ([`ErrorCode`], in `codes`), and
//! (in `convert`) what the database's, the domain's and the credentials' own errors
//! mean as answers.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

mod codes;
mod convert;

pub use codes::ErrorCode;

/// The body of every error response: `{"error": code, "message": text}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable snake_case code, e.g. `invalid_credentials`.
    pub error: ErrorCode,
    /// Human-readable text; never contains secrets or internal details.
    pub message: String,
}

/// The 401 of `POST /auth/login`: the error envelope, and with `mfa_required` (the
/// right password for an account with a second factor) the token that continues the
/// login at `POST /auth/mfa`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoginRefusal {
    /// `invalid_credentials`, `account_disabled` or `mfa_required`.
    pub error: ErrorCode,
    pub message: String,
    /// With `mfa_required` only: send it with a code to `POST /auth/mfa`; single use.
    /// Absent otherwise, never null.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = false)]
    pub mfa_token: Option<String>,
    /// With `mfa_required` only: seconds the `mfa_token` stays valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = i64, required = false)]
    pub expires_in: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Validation(String),
    #[error("{message}")]
    BadRequest { code: ErrorCode, message: String },
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("this account is disabled")]
    AccountDisabled,
    #[error("authentication required")]
    MissingToken,
    #[error("the access token is invalid, expired or revoked")]
    InvalidToken,
    #[error("the refresh token is invalid, expired or revoked")]
    InvalidRefreshToken,
    #[error("you are not allowed to do this")]
    Forbidden,
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A known path requested with a method it does not serve.
    #[error("this route does not accept that method (allowed: {allow})")]
    MethodNotAllowed { allow: String },
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("this would leave no active admin")]
    LastAdmin,
    #[error("a role with this name already exists")]
    RoleExists,
    #[error("the built-in roles cannot be changed that way")]
    BuiltinRole,
    #[error("some users hold this role")]
    RoleInUse,
    #[error("this server does not send email")]
    EmailNotConfigured,
    #[error("the reset link is invalid, expired or already used")]
    InvalidResetToken,
    #[error("the verification link is invalid, expired or already used")]
    InvalidVerificationToken,
    #[error("the email address is already verified")]
    AlreadyVerified,
    #[error("verify your email address before signing in")]
    EmailNotVerified,
    /// The right password for an account with a second factor: the login continues
    /// at `POST /auth/mfa` with this token (401, and the token in the body).
    #[error("a second factor is required: send a code with the mfa_token to /auth/mfa")]
    MfaChallenge { mfa_token: String, expires_in: i64 },
    /// A permission-guarded route, `ADMIN_REQUIRES_MFA`, and a session without a second
    /// factor (403).
    #[error("this requires a session that passed a second factor")]
    MfaRequired,
    /// A code that is not the enrolled secret's current one nor an unused recovery
    /// code, when managing MFA (422).
    #[error("the code is wrong, expired or already used")]
    InvalidMfaCode,
    /// The same at the second step of a login, where it counts as a failed login (401).
    #[error("the code is wrong, expired or already used")]
    MfaCodeRejected,
    #[error("the mfa_token is invalid, expired or already used")]
    InvalidMfaToken,
    #[error("multi-factor authentication is already on")]
    MfaAlreadyEnabled,
    #[error("no enrollment was started")]
    NoEnrollment,
    /// Adding a factor, and the session signed in too long ago (401; RFC 9470's
    /// step-up challenge).
    #[error("sign in again, or send current_password, to add a factor to this account")]
    ReauthenticationRequired { max_age: u64 },
    /// A page number deeper than listings go by number (400).
    #[error("pages by number end at row 10000: use the cursor (next_cursor) to go further")]
    PageTooDeep,
    #[error("the request conflicts with the current state")]
    Conflict,
    /// HS256 has no key pair to rotate.
    #[error("HS256 signs with APP__AUTH__JWT_SECRET: rotate that in the configuration")]
    KeyNotRotatable,
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// The request line and headers together are over
    /// [`crate::request_context::MAX_REQUEST_HEAD`] bytes (431, RFC 6585 §5).
    #[error("the request's headers are too large (at most {limit} bytes together)")]
    RequestHeaderTooLarge { limit: usize },
    /// A body of another content type than the route reads (`expected`).
    #[error("send the body as {expected}")]
    UnsupportedMediaType { expected: &'static str },
    #[error("too many failed attempts; try again later")]
    TooManyAttempts { retry_after_secs: u64 },
    #[error("the service is temporarily unavailable")]
    Unavailable,
    #[error("the server is busy; try again shortly")]
    Busy,
    /// The cause is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        AppError::Internal(cause.to_string())
    }

    /// The code an answer with this error carries.
    pub fn code(&self) -> ErrorCode {
        use ErrorCode as C;
        match self {
            AppError::Validation(_) => C::ValidationError,
            AppError::BadRequest { code, .. } => *code,
            AppError::InvalidCredentials => C::InvalidCredentials,
            AppError::AccountDisabled => C::AccountDisabled,
            AppError::MissingToken => C::Unauthorized,
            AppError::InvalidToken => C::InvalidToken,
            AppError::InvalidRefreshToken => C::InvalidRefreshToken,
            AppError::Forbidden => C::Forbidden,
            AppError::NotFound(_) => C::NotFound,
            AppError::MethodNotAllowed { .. } => C::MethodNotAllowed,
            AppError::EmailTaken => C::EmailTaken,
            AppError::LastAdmin => C::LastAdmin,
            AppError::RoleExists => C::RoleExists,
            AppError::BuiltinRole => C::BuiltinRole,
            AppError::RoleInUse => C::RoleInUse,
            AppError::EmailNotConfigured => C::EmailNotConfigured,
            AppError::InvalidResetToken => C::InvalidResetToken,
            AppError::InvalidVerificationToken => C::InvalidVerificationToken,
            AppError::AlreadyVerified => C::AlreadyVerified,
            AppError::EmailNotVerified => C::EmailNotVerified,
            AppError::MfaChallenge { .. } | AppError::MfaRequired => C::MfaRequired,
            AppError::InvalidMfaCode | AppError::MfaCodeRejected => C::InvalidMfaCode,
            AppError::InvalidMfaToken => C::InvalidMfaToken,
            AppError::MfaAlreadyEnabled => C::MfaAlreadyEnabled,
            AppError::NoEnrollment => C::NoEnrollment,
            AppError::ReauthenticationRequired { .. } => C::ReauthenticationRequired,
            AppError::PageTooDeep => C::PageTooDeep,
            AppError::Conflict | AppError::KeyNotRotatable => C::Conflict,
            AppError::PayloadTooLarge => C::PayloadTooLarge,
            AppError::RequestHeaderTooLarge { .. } => C::RequestHeaderTooLarge,
            AppError::UnsupportedMediaType { .. } => C::UnsupportedMediaType,
            AppError::TooManyAttempts { .. } => C::TooManyAttempts,
            AppError::Unavailable => C::ServiceUnavailable,
            AppError::Busy => C::ServerBusy,
            AppError::Internal(_) => C::InternalError,
        }
    }

    fn public_message(&self) -> String {
        match self {
            AppError::Internal(_) => "an unexpected error occurred".into(),
            other => other.to_string(),
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::InvalidCredentials
            | AppError::AccountDisabled
            | AppError::MissingToken
            | AppError::InvalidToken
            | AppError::InvalidRefreshToken
            | AppError::InvalidResetToken
            | AppError::InvalidVerificationToken
            | AppError::MfaChallenge { .. }
            | AppError::MfaCodeRejected
            | AppError::InvalidMfaToken
            | AppError::ReauthenticationRequired { .. } => StatusCode::UNAUTHORIZED,
            AppError::PageTooDeep => StatusCode::BAD_REQUEST,
            AppError::Forbidden | AppError::EmailNotVerified | AppError::MfaRequired => {
                StatusCode::FORBIDDEN
            }
            AppError::InvalidMfaCode => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::EmailNotConfigured => StatusCode::NOT_IMPLEMENTED,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            AppError::EmailTaken
            | AppError::LastAdmin
            | AppError::RoleExists
            | AppError::BuiltinRole
            | AppError::RoleInUse
            | AppError::AlreadyVerified
            | AppError::MfaAlreadyEnabled
            | AppError::NoEnrollment
            | AppError::Conflict
            | AppError::KeyNotRotatable => StatusCode::CONFLICT,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::RequestHeaderTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            AppError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable | AppError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            AppError::Internal(cause) => log::error!("internal error: {cause}"),
            AppError::Unavailable => log::warn!("answering 503: database unavailable"),
            _ => {}
        }
        let mut res = HttpResponse::build(self.status_code());
        match self {
            // RFC 6750 §3: no error code when no credentials were sent at all.
            AppError::MissingToken => {
                res.insert_header((header::WWW_AUTHENTICATE, r#"Bearer realm="turnstile""#));
            }
            AppError::InvalidToken => {
                res.insert_header((
                    header::WWW_AUTHENTICATE,
                    r#"Bearer realm="turnstile", error="invalid_token""#,
                ));
            }
            AppError::ReauthenticationRequired { max_age } => {
                res.insert_header((
                    header::WWW_AUTHENTICATE,
                    format!(
                        r#"Bearer realm="turnstile", error="insufficient_user_authentication", max_age={max_age}"#
                    ),
                ));
            }
            AppError::TooManyAttempts { retry_after_secs } => {
                res.insert_header((header::RETRY_AFTER, retry_after_secs.max(&1).to_string()));
            }
            AppError::Unavailable => {
                res.insert_header((header::RETRY_AFTER, "5"));
            }
            AppError::Busy => {
                res.insert_header((header::RETRY_AFTER, "1"));
            }
            AppError::MethodNotAllowed { allow } => {
                res.insert_header((header::ALLOW, allow.as_str()));
            }
            _ => {}
        }
        if let AppError::MfaChallenge {
            mfa_token,
            expires_in,
        } = self
        {
            return res.json(LoginRefusal {
                error: self.code(),
                message: self.public_message(),
                mfa_token: Some(mfa_token.clone()),
                expires_in: Some(*expires_in),
            });
        }
        res.json(ErrorBody {
            error: self.code(),
            message: self.public_message(),
        })
    }
}

pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_carries_the_code_as_its_string_and_never_an_internal_cause() {
        let body = |e: &AppError| {
            let res = e.error_response();
            assert_eq!(res.status(), e.status_code());
            serde_json::to_value(ErrorBody {
                error: e.code(),
                message: e.public_message(),
            })
            .unwrap()
        };
        assert_eq!(
            body(&AppError::InvalidToken),
            serde_json::json!({
                "error": "invalid_token",
                "message": "the access token is invalid, expired or revoked"
            })
        );
        let internal = body(&AppError::internal("password column missing"));
        assert_eq!(internal["error"], "internal_error");
        assert_eq!(internal["message"], "an unexpected error occurred");
        let bad = AppError::BadRequest {
            code: ErrorCode::MalformedJson,
            message: "the body is not valid JSON".into(),
        };
        assert_eq!(body(&bad)["error"], "malformed_json");
    }
}
