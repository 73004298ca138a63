//! `ErrorCode`: the stable codes of the error envelope, written once. The enum the
//! OpenAPI document lists, the string an answer carries and the text a log line shows
//! all come from the one list below, so they cannot drift apart.

use serde::Serialize;

/// Declares [`ErrorCode`] from `Variant => "code"` pairs: the serde name (and so the
/// document's enum value) and [`ErrorCode::as_str`] are the same literal.
macro_rules! error_codes {
    ($($variant:ident => $code:tt,)*) => {
        /// Every `error` code the server sends (the OpenAPI document's enum of them).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
        pub enum ErrorCode {
            $(#[serde(rename = $code)] $variant,)*
        }

        impl ErrorCode {
            /// Every code, in the document's order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as answers carry it, e.g. `invalid_credentials`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }
        }
    };
}

error_codes! {
    MalformedJson => "malformed_json",
    InvalidBody => "invalid_body",
    InvalidQuery => "invalid_query",
    InvalidPath => "invalid_path",
    BadRequest => "bad_request",
    CorsNotAllowed => "cors_not_allowed",
    ValidationError => "validation_error",
    InvalidCredentials => "invalid_credentials",
    AccountDisabled => "account_disabled",
    Unauthorized => "unauthorized",
    InvalidToken => "invalid_token",
    InvalidRefreshToken => "invalid_refresh_token",
    Forbidden => "forbidden",
    NotFound => "not_found",
    MethodNotAllowed => "method_not_allowed",
    EmailTaken => "email_taken",
    LastAdmin => "last_admin",
    RoleExists => "role_exists",
    BuiltinRole => "builtin_role",
    RoleInUse => "role_in_use",
    Conflict => "conflict",
    EmailNotConfigured => "email_not_configured",
    InvalidResetToken => "invalid_reset_token",
    InvalidVerificationToken => "invalid_verification_token",
    AlreadyVerified => "already_verified",
    EmailNotVerified => "email_not_verified",
    MfaRequired => "mfa_required",
    InvalidMfaCode => "invalid_mfa_code",
    InvalidMfaToken => "invalid_mfa_token",
    MfaAlreadyEnabled => "mfa_already_enabled",
    NoEnrollment => "no_enrollment",
    ReauthenticationRequired => "reauthentication_required",
    PageTooDeep => "page_too_deep",
    PayloadTooLarge => "payload_too_large",
    UnsupportedMediaType => "unsupported_media_type",
    RequestHeaderTooLarge => "request_header_too_large",
    TooManyAttempts => "too_many_attempts",
    ServiceUnavailable => "service_unavailable",
    ServerBusy => "server_busy",
    InternalError => "internal_error",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::ErrorCode;

    #[test]
    fn every_code_is_sent_and_documented_as_the_same_distinct_snake_case_string() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            let sent = serde_json::to_value(code).unwrap();
            assert_eq!(sent, code.as_str(), "{code:?}");
            assert_eq!(code.to_string(), code.as_str());
            let snake = code
                .as_str()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_');
            assert!(snake, "{code}");
            assert!(seen.insert(code.as_str()), "{code} twice");
        }
    }

    #[test]
    fn the_documented_enum_is_every_code_in_order() {
        let schema = serde_json::to_value(<ErrorCode as utoipa::PartialSchema>::schema()).unwrap();
        let listed: Vec<&str> = schema["enum"]
            .as_array()
            .expect("an enum of strings")
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let all: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(listed, all);
    }
}
