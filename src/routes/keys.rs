//! Signing keys: the public JWKS for other services, and the admin's list and
//! rotation.

use actix_web::http::header;
use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{AppResult, ErrorBody};
use crate::routes::views::utc;
use crate::services::keys::{self, KeyState};
use crate::services::Principal;
use crate::state::AppState;

/// How long verifiers may cache the key set. Short, so a rotation's new key is seen
/// soon; a verifier that meets an unknown `kid` should fetch again anyway.
const JWKS_MAX_AGE_SECS: u32 = 60;

/// A public key (RFC 7517): never a private parameter.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JwkView {
    /// `OKP` (Ed25519), `EC` (P-256) or `RSA`.
    #[schema(example = "OKP")]
    kty: String,
    kid: String,
    /// `EdDSA`, `ES256` or `RS256`.
    alg: String,
    /// Always `sig`.
    #[serde(rename = "use")]
    usage: String,
    /// `Ed25519` or `P-256` (OKP and EC keys).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = false)]
    crv: Option<String>,
    /// The public key (OKP), or its x coordinate (EC); base64url.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = false)]
    x: Option<String>,
    /// The y coordinate (EC); base64url.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = false)]
    y: Option<String>,
    /// Modulus (RSA); base64url.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = false)]
    n: Option<String>,
    /// Public exponent (RSA); base64url.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = false)]
    e: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JwksView {
    /// The current key and any previous one tokens may still carry; empty with HS256.
    keys: Vec<JwkView>,
}

/// The public keys that verify turnstile's access tokens (RFC 7517 key set).
#[utoipa::path(
    tag = "keys",
    operation_id = "getJwks",
    responses((status = 200, description = "Public keys only; cacheable for a minute", body = JwksView,
        headers(("Cache-Control" = String, description = "`public, max-age=60`")))),
)]
#[get("/.well-known/jwks.json")]
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    let keys = state
        .tokens
        .published_keys()
        .into_iter()
        // Picks the public members by name: whatever else a JWK might hold stays out.
        .filter_map(|jwk| serde_json::to_value(jwk).ok())
        .filter_map(|value| serde_json::from_value::<JwkView>(value).ok())
        .collect();
    HttpResponse::Ok()
        .insert_header((
            header::CACHE_CONTROL,
            format!("public, max-age={JWKS_MAX_AGE_SECS}"),
        ))
        .json(JwksView { keys })
}

/// The status a key has in the admin listing.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    /// Signs new tokens.
    Current,
    /// Rotated out; verifies tokens it signed until they expire.
    Previous,
    /// Verifies nothing any more.
    Retired,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SigningKeyView {
    kid: String,
    alg: String,
    #[serde(serialize_with = "crate::routes::time::rfc3339")]
    created_at: DateTime<Utc>,
    status: KeyStatus,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SigningKeyList {
    items: Vec<SigningKeyView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedKey {
    /// The key that signs from now on.
    kid: String,
}

/// Every signing key, newest first.
#[utoipa::path(
    tag = "keys",
    operation_id = "listSigningKeys",
    extensions(("x-permission" = json!(["keys:manage"]))),
    responses((status = 200, description = "The keys and their status", body = SigningKeyList)),
    security(("bearer" = []))
)]
#[get("/keys")]
pub async fn list(state: web::Data<AppState>, caller: Principal) -> AppResult<HttpResponse> {
    let items = keys::list(&state, &caller)
        .await?
        .into_iter()
        .map(|k| SigningKeyView {
            status: match k.status {
                KeyState::Current => KeyStatus::Current,
                KeyState::Previous => KeyStatus::Previous,
                KeyState::Retired => KeyStatus::Retired,
            },
            kid: k.kid,
            alg: k.alg,
            created_at: utc(k.created_at),
        })
        .collect();
    Ok(HttpResponse::Ok().json(SigningKeyList { items }))
}

/// Rotate the signing key: new tokens are signed with a new key at once; tokens of
/// the previous key keep working until they expire.
#[utoipa::path(
    tag = "keys",
    operation_id = "rotateSigningKey",
    extensions(("x-permission" = json!(["keys:manage"]))),
    responses(
        (status = 200, description = "The new current key", body = RotatedKey),
        (status = 409, description = "`conflict`: HS256 signs with the server secret, which is rotated in the configuration", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[post("/keys/rotate")]
pub async fn rotate(state: web::Data<AppState>, caller: Principal) -> AppResult<HttpResponse> {
    let kid = keys::rotate(&state, &caller).await?;
    Ok(HttpResponse::Ok().json(RotatedKey { kid }))
}
