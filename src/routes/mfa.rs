//! Multi-factor authentication: enrollment and management under `/api/profile/mfa`,
//! the second step of a login (`POST /auth/mfa`), and an admin's reset.

use actix_web::{delete, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{AppResult, ErrorBody};
use crate::net::ClientInfo;
use crate::routes::params::required;
use crate::routes::views::TokenPairView;
use crate::routes::{JsonBody, OptionalObjectBody};
use crate::services::{mfa, mfa_login, Caller, Principal};
use crate::state::AppState;

/// A started enrollment: put it into an authenticator app, then confirm with a code.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotpEnrollmentView {
    /// The TOTP secret, RFC 4648 base32 without padding. Shown this once.
    #[schema(example = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")]
    pub secret: String,
    /// `otpauth://totp/{issuer}:{email}?secret=...&issuer={issuer}`, for a QR code.
    pub otpauth_uri: String,
}

/// Single-use recovery codes, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodesView {
    #[schema(min_items = 10, max_items = 10, example = json!(["abcd-efgh-ijkl-mnop"]))]
    pub recovery_codes: Vec<String>,
}

/// Adding a factor: the current password, needed unless the session signed in within
/// `APP__AUTH__REAUTH_WINDOW_SECS`.
#[derive(Deserialize, ToSchema)]
pub struct Reauthentication {
    /// The account's password; counted toward the lockout when wrong.
    #[schema(value_type = Option<String>, format = Password, required = false)]
    current_password: Option<String>,
}

/// Confirming an enrollment: a code of the new secret (six digits; a recovery code
/// does not confirm anything).
#[derive(Deserialize, ToSchema)]
pub struct ConfirmTotp {
    /// A current TOTP code of the pending secret: six digits, spaces and dashes
    /// ignored.
    #[schema(required = true, value_type = String, example = "123456", max_length = 64, pattern = r"^[\s-]*(?:[0-9][\s-]*){6}$")]
    code: Option<String>,
    /// The account's password, needed unless the session signed in within
    /// `APP__AUTH__REAUTH_WINDOW_SECS` (else 401 `reauthentication_required`).
    #[schema(value_type = Option<String>, format = Password, required = false)]
    current_password: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct MfaCode {
    /// A current TOTP code (six digits); where the route says so, an unused recovery
    /// code instead.
    #[schema(required = true, value_type = String, example = "123456", max_length = 64, pattern = r"^[\s-]*(?:(?:[0-9][\s-]*){6}|(?:[A-Za-z2-7][\s-]*){16})$")]
    code: Option<String>,
    /// The account's password, needed unless the session signed in within
    /// `APP__AUTH__REAUTH_WINDOW_SECS` (else 401 `reauthentication_required`).
    #[schema(value_type = Option<String>, format = Password, required = false)]
    current_password: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct DisableMfa {
    #[schema(required = true, value_type = String, format = Password)]
    current_password: Option<String>,
    /// A current TOTP code or an unused recovery code.
    #[schema(required = true, value_type = String, example = "123456", max_length = 64, pattern = r"^[\s-]*(?:(?:[0-9][\s-]*){6}|(?:[A-Za-z2-7][\s-]*){16})$")]
    code: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct SecondFactor {
    /// The `mfa_token` of the login's 401 `mfa_required` answer.
    #[schema(required = true, value_type = String)]
    mfa_token: Option<String>,
    /// A current TOTP code or an unused recovery code.
    #[schema(required = true, value_type = String, example = "123456", max_length = 64, pattern = r"^[\s-]*(?:(?:[0-9][\s-]*){6}|(?:[A-Za-z2-7][\s-]*){16})$")]
    code: Option<String>,
}

/// Start (or restart) a TOTP enrollment. Needs a session that signed in within
/// `APP__AUTH__REAUTH_WINDOW_SECS`, or `current_password` in the body.
#[utoipa::path(
    tag = "mfa",
    operation_id = "startTotpEnrollment",
    request_body(content = Option<Reauthentication>, description = "Optional (no body, or an object): `{\"current_password\"}` when the session signed in too long ago"),
    responses(
        (status = 200, description = "A new secret, pending until confirmed", body = TotpEnrollmentView),
        (status = 401, description = "`reauthentication_required`: the session signed in too long ago and no `current_password` was sent; `invalid_credentials`: a wrong `current_password` (counted toward the lockout); or an invalid token", body = ErrorBody),
        (status = 409, description = "`mfa_already_enabled`", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`: the account or client is locked out; see `Retry-After`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/profile/mfa/totp")]
pub async fn start(
    state: web::Data<AppState>,
    caller: Caller,
    body: OptionalObjectBody<Reauthentication>,
) -> AppResult<HttpResponse> {
    let password = body.0.and_then(|b| b.current_password);
    let e = mfa::start_enrollment(&state, &caller, password).await?;
    Ok(HttpResponse::Ok().json(TotpEnrollmentView {
        secret: e.secret,
        otpauth_uri: e.otpauth_uri,
    }))
}

/// Confirm the enrollment with a code of the new secret: MFA is on.
#[utoipa::path(
    tag = "mfa",
    operation_id = "confirmTotpEnrollment",
    request_body = ConfirmTotp,
    responses(
        (status = 200, description = "MFA is on; the first recovery codes", body = RecoveryCodesView),
        (status = 401, description = "`reauthentication_required`: the session signed in too long ago and no `current_password` was sent; `invalid_credentials`: a wrong `current_password`; or an invalid token", body = ErrorBody),
        (status = 409, description = "`no_enrollment` (none was started, or the account changed since) or `mfa_already_enabled`", body = ErrorBody),
        (status = 422, description = "`invalid_mfa_code` (counted toward the account's lockout) or `validation_error`", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`: the account or client is locked out; see `Retry-After`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/profile/mfa/totp/confirm")]
pub async fn confirm(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody<ConfirmTotp>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let code = required(body.code, "code")?;
    let codes = mfa::confirm_enrollment(&state, &caller, &code, body.current_password).await?;
    Ok(HttpResponse::Ok().json(RecoveryCodesView {
        recovery_codes: codes,
    }))
}

/// New recovery codes; the old ones stop working.
#[utoipa::path(
    tag = "mfa",
    operation_id = "regenerateRecoveryCodes",
    request_body = MfaCode,
    responses(
        (status = 200, description = "Ten new recovery codes", body = RecoveryCodesView),
        (status = 401, description = "`reauthentication_required`: the session signed in too long ago and no `current_password` was sent; `invalid_credentials`: a wrong `current_password`; or an invalid token", body = ErrorBody),
        (status = 409, description = "`no_enrollment`: MFA is not on", body = ErrorBody),
        (status = 422, description = "`invalid_mfa_code` (counted toward the account's lockout) or `validation_error`", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`: the account or client is locked out; see `Retry-After`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/profile/mfa/recovery-codes")]
pub async fn recovery_codes(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody<MfaCode>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let code = required(body.code, "code")?;
    let codes =
        mfa::regenerate_recovery_codes(&state, &caller, &code, body.current_password).await?;
    Ok(HttpResponse::Ok().json(RecoveryCodesView {
        recovery_codes: codes,
    }))
}

/// Turn MFA off with the current password and a code.
#[utoipa::path(
    tag = "mfa",
    operation_id = "disableMfa",
    request_body = DisableMfa,
    responses(
        (status = 204, description = "MFA is off"),
        (status = 401, description = "`invalid_credentials`: wrong current password (counted toward the lockout), or an invalid token", body = ErrorBody),
        (status = 409, description = "`no_enrollment`: MFA is not on", body = ErrorBody),
        (status = 422, description = "`invalid_mfa_code` (counted toward the account's lockout) or `validation_error`", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`: the account or client is locked out; see `Retry-After`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/profile/mfa/disable")]
pub async fn disable(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBody<DisableMfa>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let password = required(body.current_password, "current_password")?;
    let code = required(body.code, "code")?;
    mfa::disable(&state, &caller, password, &code).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The second step of a login: the `mfa_token` and a code for the token pair.
#[utoipa::path(
    tag = "auth",
    operation_id = "completeMfaLogin",
    request_body = SecondFactor,
    responses(
        (status = 200, description = "Logged in; the access token's `amr` is `[\"pwd\", \"otp\"]`", body = TokenPairView),
        (status = 401, description = "`invalid_mfa_code` (counted as a failed login), `invalid_mfa_token` (unknown, expired, used, superseded, or the account's role, password, address or disabled flag changed since) or `account_disabled`", body = ErrorBody),
        (status = 403, description = "`email_not_verified`: `REQUIRE_VERIFIED_EMAIL` and the address is not verified (any more)", body = ErrorBody),
        (status = 429, description = "`too_many_attempts`; see `Retry-After`", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until the lock lifts"))),
    )
)]
#[post("/mfa")]
pub async fn complete_login(
    state: web::Data<AppState>,
    body: JsonBody<SecondFactor>,
    client: ClientInfo,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    let token = required(body.mfa_token, "mfa_token")?;
    let code = required(body.code, "code")?;
    let signed_in = mfa_login::complete_login(&state, &token, &code, client).await?;
    Ok(HttpResponse::Ok().json(TokenPairView::from(signed_in)))
}

/// Turn MFA off for a user who lost the device; every session of the user ends. The
/// caller must hold every permission of the user's role.
#[utoipa::path(
    tag = "admin",
    operation_id = "resetUserMfa",
    extensions(("x-permission" = json!(["users:write"]))),
    params(("id" = i64, Path, description = "User id")),
    responses(
        (status = 204, description = "MFA is off and the user's sessions are revoked"),
        (status = 404, description = "`not_found`: no such user", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[delete("/users/{id}/mfa")]
pub async fn admin_reset(
    state: web::Data<AppState>,
    caller: Principal,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    mfa::admin_reset(&state, &caller, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use crate::credentials::totp::Code;

    /// The `pattern` of every second-factor `code` in the document: six digits (a
    /// TOTP code) or the 16 characters of a recovery code, with any spaces and dashes
    /// between them, in any case. It must accept exactly what `Code::parse` reads; the
    /// confirmation of an enrollment's, exactly its TOTP codes.
    #[test]
    fn the_documented_code_pattern_accepts_exactly_what_the_server_reads() {
        let doc = serde_json::to_value(crate::routes::openapi_document()).unwrap();
        let schemas = &doc["components"]["schemas"];
        let patterns: Vec<&str> = ["MfaCode", "DisableMfa", "SecondFactor"]
            .iter()
            .map(|s| {
                schemas[s]["properties"]["code"]["pattern"]
                    .as_str()
                    .unwrap()
            })
            .collect();
        assert!(patterns.windows(2).all(|w| w[0] == w[1]), "{patterns:?}");
        let pattern = regex::Regex::new(patterns[0]).unwrap();
        // Confirming an enrollment takes a TOTP code only.
        let totp = schemas["ConfirmTotp"]["properties"]["code"]["pattern"]
            .as_str()
            .unwrap();
        let totp = regex::Regex::new(totp).unwrap();
        let samples = [
            "123456",
            "123 456",
            " 12-34-56 ",
            "12345",
            "1234567",
            &"1".repeat(63),
            "abcd-efgh-ijkl-mnop",
            "ABCD EFGH IJKL MNOP",
            "abcdefghijklmnop",
            "abcd-efgh-ijkl-mno1",
            "abcd-efgh-ijkl-mnopq",
            "234567234567234a",
            "",
            "------",
            "12345\u{00e9}",
        ];
        for sample in samples {
            let parsed = Code::parse(sample);
            assert_eq!(pattern.is_match(sample), parsed.is_some(), "{sample:?}");
            let is_totp = matches!(parsed, Some(Code::Totp(_)));
            assert_eq!(totp.is_match(sample), is_totp, "{sample:?}");
        }
    }
}
