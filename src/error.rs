//! The crate-wide error type and its mapping onto the JSON error envelope.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;

/// The body of every error response: `{"error": code, "message": text}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable snake_case code, e.g. `invalid_credentials`.
    #[schema(value_type = ErrorCode)]
    pub error: &'static str,
    /// Human-readable text; never contains secrets or internal details.
    pub message: String,
}

/// The 401 of `POST /auth/login`: the error envelope, and with `mfa_required` (the
/// right password for an account with a second factor) the token that continues the
/// login at `POST /auth/mfa`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoginRefusal {
    /// `invalid_credentials`, `account_disabled` or `mfa_required`.
    #[schema(value_type = ErrorCode)]
    pub error: &'static str,
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

/// Every `error` code the server sends (the OpenAPI document's enum of them).
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    MalformedJson,
    InvalidBody,
    InvalidQuery,
    InvalidPath,
    BadRequest,
    CorsNotAllowed,
    ValidationError,
    InvalidCredentials,
    AccountDisabled,
    Unauthorized,
    InvalidToken,
    InvalidRefreshToken,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    EmailTaken,
    LastAdmin,
    RoleExists,
    BuiltinRole,
    RoleInUse,
    Conflict,
    EmailNotConfigured,
    InvalidResetToken,
    InvalidVerificationToken,
    AlreadyVerified,
    EmailNotVerified,
    MfaRequired,
    InvalidMfaCode,
    InvalidMfaToken,
    MfaAlreadyEnabled,
    NoEnrollment,
    ReauthenticationRequired,
    PageTooDeep,
    PayloadTooLarge,
    UnsupportedMediaType,
    RequestHeaderTooLarge,
    TooManyAttempts,
    ServiceUnavailable,
    ServerBusy,
    InternalError,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Validation(String),
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
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

    pub fn code(&self) -> &'static str {
        match self {
            AppError::Validation(_) => "validation_error",
            AppError::BadRequest { code, .. } => code,
            AppError::InvalidCredentials => "invalid_credentials",
            AppError::AccountDisabled => "account_disabled",
            AppError::MissingToken => "unauthorized",
            AppError::InvalidToken => "invalid_token",
            AppError::InvalidRefreshToken => "invalid_refresh_token",
            AppError::Forbidden => "forbidden",
            AppError::NotFound(_) => "not_found",
            AppError::MethodNotAllowed { .. } => "method_not_allowed",
            AppError::EmailTaken => "email_taken",
            AppError::LastAdmin => "last_admin",
            AppError::RoleExists => "role_exists",
            AppError::BuiltinRole => "builtin_role",
            AppError::RoleInUse => "role_in_use",
            AppError::EmailNotConfigured => "email_not_configured",
            AppError::InvalidResetToken => "invalid_reset_token",
            AppError::InvalidVerificationToken => "invalid_verification_token",
            AppError::AlreadyVerified => "already_verified",
            AppError::EmailNotVerified => "email_not_verified",
            AppError::MfaChallenge { .. } | AppError::MfaRequired => "mfa_required",
            AppError::InvalidMfaCode | AppError::MfaCodeRejected => "invalid_mfa_code",
            AppError::InvalidMfaToken => "invalid_mfa_token",
            AppError::MfaAlreadyEnabled => "mfa_already_enabled",
            AppError::NoEnrollment => "no_enrollment",
            AppError::ReauthenticationRequired { .. } => "reauthentication_required",
            AppError::PageTooDeep => "page_too_deep",
            AppError::Conflict | AppError::KeyNotRotatable => "conflict",
            AppError::PayloadTooLarge => "payload_too_large",
            AppError::RequestHeaderTooLarge { .. } => "request_header_too_large",
            AppError::UnsupportedMediaType { .. } => "unsupported_media_type",
            AppError::TooManyAttempts { .. } => "too_many_attempts",
            AppError::Unavailable => "service_unavailable",
            AppError::Busy => "server_busy",
            AppError::Internal(_) => "internal_error",
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

impl From<DieselError> for AppError {
    fn from(err: DieselError) -> Self {
        match err {
            DieselError::NotFound => AppError::NotFound("resource"),
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => AppError::Conflict,
            // Row locks keep referenced rows in place wherever they are read; should a
            // reference still go stale, it is a conflict with a concurrent change.
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
                AppError::Conflict
            }
            DieselError::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _,
            ) => AppError::Unavailable,
            // SQLite under write contention beyond busy_timeout: retryable, not a bug.
            DieselError::DatabaseError(_, ref info)
                if info.message().contains("database is locked") =>
            {
                AppError::Unavailable
            }
            DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => {
                AppError::Unavailable
            }
            // Lock order is fixed wherever several rows are locked, so this is a
            // safety net: PostgreSQL picked this transaction as a deadlock victim and
            // rolled it back, and a retry will succeed.
            DieselError::DatabaseError(_, ref info)
                if info.message().contains("deadlock detected") =>
            {
                AppError::Unavailable
            }
            other => AppError::internal(format!("database: {other}")),
        }
    }
}

impl From<diesel::r2d2::PoolError> for AppError {
    fn from(err: diesel::r2d2::PoolError) -> Self {
        log::warn!("database pool: {err}");
        AppError::Unavailable
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(_: actix_web::error::BlockingError) -> Self {
        AppError::Unavailable
    }
}

pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;

    fn documented() -> Vec<String> {
        use ErrorCode::*;
        [
            MalformedJson,
            InvalidBody,
            InvalidQuery,
            InvalidPath,
            BadRequest,
            CorsNotAllowed,
            ValidationError,
            InvalidCredentials,
            AccountDisabled,
            Unauthorized,
            InvalidToken,
            InvalidRefreshToken,
            Forbidden,
            NotFound,
            MethodNotAllowed,
            EmailTaken,
            LastAdmin,
            RoleExists,
            BuiltinRole,
            RoleInUse,
            Conflict,
            EmailNotConfigured,
            InvalidResetToken,
            InvalidVerificationToken,
            AlreadyVerified,
            EmailNotVerified,
            MfaRequired,
            InvalidMfaCode,
            InvalidMfaToken,
            MfaAlreadyEnabled,
            NoEnrollment,
            ReauthenticationRequired,
            PageTooDeep,
            PayloadTooLarge,
            UnsupportedMediaType,
            RequestHeaderTooLarge,
            TooManyAttempts,
            ServiceUnavailable,
            ServerBusy,
            InternalError,
        ]
        .iter()
        .map(|c| {
            serde_json::to_value(c)
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
    }

    /// Fails to compile when a variant is added: add it to the list below too.
    fn listed(e: &AppError) {
        match e {
            AppError::Validation(_)
            | AppError::BadRequest { .. }
            | AppError::InvalidCredentials
            | AppError::AccountDisabled
            | AppError::MissingToken
            | AppError::InvalidToken
            | AppError::InvalidRefreshToken
            | AppError::Forbidden
            | AppError::NotFound(_)
            | AppError::MethodNotAllowed { .. }
            | AppError::EmailTaken
            | AppError::LastAdmin
            | AppError::RoleExists
            | AppError::BuiltinRole
            | AppError::RoleInUse
            | AppError::Conflict
            | AppError::KeyNotRotatable
            | AppError::EmailNotConfigured
            | AppError::InvalidResetToken
            | AppError::InvalidVerificationToken
            | AppError::AlreadyVerified
            | AppError::EmailNotVerified
            | AppError::MfaChallenge { .. }
            | AppError::MfaRequired
            | AppError::InvalidMfaCode
            | AppError::MfaCodeRejected
            | AppError::InvalidMfaToken
            | AppError::MfaAlreadyEnabled
            | AppError::NoEnrollment
            | AppError::ReauthenticationRequired { .. }
            | AppError::PageTooDeep
            | AppError::PayloadTooLarge
            | AppError::RequestHeaderTooLarge { .. }
            | AppError::UnsupportedMediaType { .. }
            | AppError::TooManyAttempts { .. }
            | AppError::Unavailable
            | AppError::Busy
            | AppError::Internal(_) => {}
        }
    }

    #[test]
    fn every_code_the_server_sends_is_documented() {
        let errors = [
            AppError::Validation(String::new()),
            AppError::InvalidCredentials,
            AppError::AccountDisabled,
            AppError::MissingToken,
            AppError::InvalidToken,
            AppError::InvalidRefreshToken,
            AppError::Forbidden,
            AppError::NotFound("x"),
            AppError::MethodNotAllowed {
                allow: "GET".into(),
            },
            AppError::EmailTaken,
            AppError::LastAdmin,
            AppError::RoleExists,
            AppError::BuiltinRole,
            AppError::RoleInUse,
            AppError::Conflict,
            AppError::KeyNotRotatable,
            AppError::EmailNotConfigured,
            AppError::InvalidResetToken,
            AppError::InvalidVerificationToken,
            AppError::AlreadyVerified,
            AppError::EmailNotVerified,
            AppError::MfaChallenge {
                mfa_token: "t".into(),
                expires_in: 300,
            },
            AppError::MfaRequired,
            AppError::InvalidMfaCode,
            AppError::MfaCodeRejected,
            AppError::InvalidMfaToken,
            AppError::MfaAlreadyEnabled,
            AppError::NoEnrollment,
            AppError::ReauthenticationRequired { max_age: 300 },
            AppError::PageTooDeep,
            AppError::PayloadTooLarge,
            AppError::RequestHeaderTooLarge { limit: 1 },
            AppError::UnsupportedMediaType {
                expected: "application/json",
            },
            AppError::TooManyAttempts {
                retry_after_secs: 1,
            },
            AppError::Unavailable,
            AppError::Busy,
            AppError::internal("x"),
        ];
        let codes = documented();
        for e in &errors {
            listed(e);
            assert!(
                codes.contains(&e.code().to_string()),
                "{} is not documented",
                e.code()
            );
        }
        for code in [
            "malformed_json",
            "invalid_body",
            "invalid_query",
            "invalid_path",
            "bad_request",
            "cors_not_allowed",
        ] {
            assert!(codes.contains(&code.to_string()), "{code}");
        }
    }
}
