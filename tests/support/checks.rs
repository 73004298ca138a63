//! Reading what the server answers: status and JSON body, the error envelope, the
//! parts of a JWT (and a forged one), counts of statuses, tokens that must be dead.

use base64::Engine;
use reqwest::{Response, StatusCode};
use serde_json::Value;

use super::clients::Tokens;
use super::harness::TestApp;

/// Reads a response's status and JSON body (Null when there is none).
pub async fn status_and_json(res: Response) -> (StatusCode, Value) {
    let status = res.status();
    let text = res.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Asserts the error envelope and its code.
pub async fn assert_error(res: Response, status: StatusCode, code: &str) -> Value {
    let (got, body) = status_and_json(res).await;
    assert_eq!(got, status, "body: {body}");
    assert_eq!(body["error"], code, "body: {body}");
    assert!(body["message"].is_string(), "body: {body}");
    body
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The claims of a JWT, unverified.
pub fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("b64");
    serde_json::from_slice(&bytes).expect("claims json")
}

pub fn header_of(token: &str) -> Value {
    let h = token.split('.').next().expect("header");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(h)
        .expect("b64");
    serde_json::from_slice(&bytes).expect("header json")
}

/// Signs `claims` under `header` with HMAC-SHA256/512 (by the header's alg) and `secret`.
pub fn sign(header: &Value, claims: &Value, secret: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = if header["alg"] == "HS512" {
        let mut mac = Hmac::<sha2::Sha512>::new_from_slice(secret).unwrap();
        mac.update(input.as_bytes());
        mac.finalize().into_bytes().to_vec()
    } else {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
        mac.update(input.as_bytes());
        mac.finalize().into_bytes().to_vec()
    };
    format!("{input}.{}", b64(&sig))
}

pub fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Counts responses by status.
pub fn tally(statuses: &[StatusCode]) -> std::collections::BTreeMap<u16, usize> {
    let mut out = std::collections::BTreeMap::new();
    for s in statuses {
        *out.entry(s.as_u16()).or_insert(0) += 1;
    }
    out
}

/// Asserts that neither token of the pair works any more: the access token gets 401
/// on `/api/profile`, then the refresh token 401 on `/auth/refresh`. Presenting the
/// refresh token spends it, so call this only for tokens that should be dead.
pub async fn assert_tokens_dead(app: &TestApp, tokens: &Tokens) {
    assert_eq!(
        app.get("/api/profile", Some(&tokens.access)).await.status(),
        StatusCode::UNAUTHORIZED,
        "the access token still works"
    );
    assert_eq!(
        app.refresh(&tokens.refresh).await.status(),
        StatusCode::UNAUTHORIZED,
        "the refresh token still works"
    );
}
