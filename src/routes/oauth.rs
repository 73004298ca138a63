//! OAuth endpoints for other services: token introspection (RFC 7662) and revocation
//! (RFC 7009). Form bodies, as the RFCs say.

use actix_web::{post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::middleware::authenticate_token;
use crate::domain::Amr;
use crate::error::{AppError, AppResult, ErrorBody, ErrorCode};
use crate::net::ClientInfo;
use crate::routes::views::Accepted;
use crate::services::{oauth, Principal};
use crate::state::AppState;

/// The `token` of an OAuth form, which both RFCs require.
fn token_of(token: Option<String>) -> AppResult<String> {
    token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| AppError::BadRequest {
            code: ErrorCode::InvalidBody,
            message: "the form needs a token".into(),
        })
}

#[derive(Deserialize, ToSchema)]
pub struct IntrospectionRequest {
    /// An access token or a refresh token.
    #[schema(required = true, value_type = String, min_length = 1)]
    token: Option<String>,
    /// `access_token` or `refresh_token`; a hint only (RFC 7662 §2.1).
    #[schema(value_type = String, required = false)]
    #[allow(dead_code)]
    token_type_hint: Option<String>,
}

/// What a token is worth right now (RFC 7662). Exactly `{"active": false}` for
/// anything turnstile would not accept; the other members only for active tokens.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct IntrospectionView {
    active: bool,
    /// `access_token` or `refresh_token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = false)]
    token_type: Option<&'static str>,
    /// The user id.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = false)]
    sub: Option<String>,
    /// The user's role now (access tokens).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = false)]
    role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = false)]
    sid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = false)]
    jti: Option<String>,
    /// Unix time it stops working.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = i64, required = false)]
    exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = i64, required = false)]
    iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = false)]
    iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = false)]
    aud: Option<String>,
    /// How the session was authenticated (access tokens).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Vec<String>, required = false)]
    amr: Option<Vec<String>>,
}

/// Is this token good right now? For services, with an API key holding
/// `tokens:introspect`. An access token is active exactly when the bearer middleware
/// would accept it (revocation, password version, disable and deletion included); a
/// refresh token when refreshing with it would work.
#[utoipa::path(
    tag = "oauth",
    operation_id = "introspectToken",
    extensions(("x-permission" = json!(["tokens:introspect"]))),
    request_body(content = IntrospectionRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "`{\"active\": false}`, or what the active token is", body = IntrospectionView),
        (status = 403, description = "`forbidden`: not an API key, or one without `tokens:introspect`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("")]
pub async fn introspect(
    state: web::Data<AppState>,
    caller: Principal,
    form: web::Form<IntrospectionRequest>,
) -> AppResult<HttpResponse> {
    oauth::ensure_service(&caller)?;
    let token = token_of(form.into_inner().token)?;
    // The middleware's own check, so "active" means exactly "accepted".
    if let Ok(verified) = authenticate_token(&state, &token).await {
        let claims = &verified.claims;
        return Ok(HttpResponse::Ok().json(IntrospectionView {
            active: true,
            token_type: Some("access_token"),
            sub: Some(claims.sub.clone()),
            role: Some(verified.user.role.clone()),
            sid: Some(claims.sid.clone()),
            jti: Some(claims.jti.clone()),
            exp: Some(claims.exp),
            iat: Some(claims.iat),
            iss: Some(claims.iss.clone()),
            aud: Some(claims.aud.clone()),
            amr: Some(Amr::from_claim(&claims.amr).claim()),
        }));
    }
    let view = match oauth::live_refresh_token(&state, &token).await? {
        Some(t) => IntrospectionView {
            active: true,
            token_type: Some("refresh_token"),
            sub: Some(t.user_id.to_string()),
            sid: Some(t.session_id),
            exp: Some(t.expires_at.and_utc().timestamp()),
            ..IntrospectionView::default()
        },
        None => IntrospectionView::default(),
    };
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Deserialize, ToSchema)]
pub struct RevocationRequest {
    /// An access token or a refresh token.
    #[schema(required = true, value_type = String, min_length = 1)]
    token: Option<String>,
    /// `access_token` or `refresh_token`; a hint only (RFC 7009 §2.1).
    #[schema(value_type = String, required = false)]
    #[allow(dead_code)]
    token_type_hint: Option<String>,
}

/// Revoke a token (RFC 7009): the session of an access or refresh token ends. Holding
/// the token is enough; the answer is 200 whether or not there was anything to revoke.
#[utoipa::path(
    tag = "oauth",
    operation_id = "revokeToken",
    request_body(content = RevocationRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Revoked, or nothing to revoke", body = Accepted)),
)]
#[post("/revoke")]
pub async fn revoke(
    state: web::Data<AppState>,
    client: ClientInfo,
    form: web::Form<RevocationRequest>,
) -> AppResult<HttpResponse> {
    let token = token_of(form.into_inner().token)?;
    oauth::revoke(&state, token, client).await?;
    Ok(HttpResponse::Ok().json(Accepted {}))
}
