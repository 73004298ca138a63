//! Every way an access token can be bad is a 401 with `WWW-Authenticate`, never a 500.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::{claims_of, now_secs, sign, spawn_app, Backend, TestApp};

on_both_backends!(
    missing_token_returns_401_with_www_authenticate,
    malformed_tokens_return_401_invalid_token,
    the_bearer_scheme_is_case_insensitive,
    a_correctly_signed_token_is_accepted,
    expired_token_returns_401,
    token_not_yet_valid_returns_401,
    token_signed_with_another_key_returns_401,
    unsigned_alg_none_token_returns_401,
    token_with_another_algorithm_returns_401,
    token_for_another_issuer_or_audience_returns_401,
    token_with_an_older_password_version_returns_401,
    token_without_the_at_jwt_type_returns_401,
);

async fn assert_invalid_token(app: &TestApp, token: &str) {
    let res = app.get("/api/profile", Some(token)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "token {token}");
    let www = res
        .headers()
        .get("www-authenticate")
        .expect("WWW-Authenticate")
        .to_str()
        .unwrap()
        .to_string();
    assert!(www.starts_with("Bearer"), "{www}");
    assert!(www.contains("invalid_token"), "{www}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token");
}

/// A real user's claims, to be altered and re-signed.
async fn real_claims(app: &TestApp) -> Value {
    let (_, tokens) = app.user_with_tokens().await;
    claims_of(&tokens.access)
}

fn at_jwt(alg: &str) -> Value {
    json!({ "alg": alg, "typ": "at+jwt" })
}

async fn missing_token_returns_401_with_www_authenticate(b: Backend) {
    let app = spawn_app(b).await;
    let res = app.get("/api/profile", None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let www = res
        .headers()
        .get("www-authenticate")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(www.starts_with("Bearer"), "{www}");
    let body: Value = res.json().await.unwrap();
    assert!(body["error"].is_string() && body["message"].is_string());
}

async fn malformed_tokens_return_401_invalid_token(b: Backend) {
    let app = spawn_app(b).await;
    for token in ["garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30.", "..."] {
        assert_invalid_token(&app, token).await;
    }
    let res = app
        .client
        .get(app.url("/api/profile"))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

async fn the_bearer_scheme_is_case_insensitive(b: Backend) {
    let app = spawn_app(b).await;
    let (_, tokens) = app.user_with_tokens().await;
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let res = app
            .client
            .get(app.url("/api/profile"))
            .header("authorization", format!("{scheme} {}", tokens.access))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "scheme {scheme}");
    }
}

async fn a_correctly_signed_token_is_accepted(b: Backend) {
    let app = spawn_app(b).await;
    let claims = real_claims(&app).await;
    let token = sign(&at_jwt("HS256"), &claims, app.jwt_secret().as_bytes());
    assert_eq!(
        app.get("/api/profile", Some(&token)).await.status(),
        StatusCode::OK
    );
}

async fn expired_token_returns_401(b: Backend) {
    let app = spawn_app(b).await;
    let mut claims = real_claims(&app).await;
    claims["iat"] = json!(now_secs() - 120);
    claims["nbf"] = json!(now_secs() - 120);
    claims["exp"] = json!(now_secs() - 5);
    assert_invalid_token(
        &app,
        &sign(&at_jwt("HS256"), &claims, app.jwt_secret().as_bytes()),
    )
    .await;
}

async fn token_not_yet_valid_returns_401(b: Backend) {
    let app = spawn_app(b).await;
    let mut claims = real_claims(&app).await;
    claims["nbf"] = json!(now_secs() + 60);
    assert_invalid_token(
        &app,
        &sign(&at_jwt("HS256"), &claims, app.jwt_secret().as_bytes()),
    )
    .await;
}

async fn token_signed_with_another_key_returns_401(b: Backend) {
    let app = spawn_app(b).await;
    let claims = real_claims(&app).await;
    assert_invalid_token(
        &app,
        &sign(
            &at_jwt("HS256"),
            &claims,
            b"another-secret-that-is-long-enough!!",
        ),
    )
    .await;
}

async fn unsigned_alg_none_token_returns_401(b: Backend) {
    let app = spawn_app(b).await;
    let claims = real_claims(&app).await;
    let signed = sign(&at_jwt("none"), &claims, app.jwt_secret().as_bytes());
    let unsigned = format!("{}.", signed.rsplit_once('.').unwrap().0);
    assert_invalid_token(&app, &unsigned).await;
    assert_invalid_token(&app, &signed).await;
}

async fn token_with_another_algorithm_returns_401(b: Backend) {
    let app = spawn_app(b).await;
    let claims = real_claims(&app).await;
    assert_invalid_token(
        &app,
        &sign(&at_jwt("HS512"), &claims, app.jwt_secret().as_bytes()),
    )
    .await;
}

async fn token_for_another_issuer_or_audience_returns_401(b: Backend) {
    let app = spawn_app(b).await;
    let claims = real_claims(&app).await;
    for (key, value) in [
        ("iss", json!("evil")),
        ("aud", json!("evil")),
        ("aud", json!(["evil"])),
    ] {
        let mut c = claims.clone();
        c[key] = value;
        assert_invalid_token(
            &app,
            &sign(&at_jwt("HS256"), &c, app.jwt_secret().as_bytes()),
        )
        .await;
    }
    for missing in ["iss", "aud", "exp", "nbf", "sub"] {
        let mut c = claims.clone();
        c.as_object_mut().unwrap().remove(missing);
        assert_invalid_token(
            &app,
            &sign(&at_jwt("HS256"), &c, app.jwt_secret().as_bytes()),
        )
        .await;
    }
}

async fn token_with_an_older_password_version_returns_401(b: Backend) {
    let app = spawn_app(b).await;
    let (user, tokens) = app.user_with_tokens().await;
    let res = app
        .post_json(
            "/api/profile/password",
            Some(&tokens.access),
            &json!({ "current_password": user.password, "new_password": "a brand new password" }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    let fresh = body["access_token"].as_str().unwrap();
    assert_eq!(claims_of(fresh)["ver"], 2);
    // The old version, freshly signed for the new session, is still refused.
    let mut old = claims_of(fresh);
    old["ver"] = json!(1);
    assert_invalid_token(
        &app,
        &sign(&at_jwt("HS256"), &old, app.jwt_secret().as_bytes()),
    )
    .await;
    assert_invalid_token(&app, &tokens.access).await;
}

async fn token_without_the_at_jwt_type_returns_401(b: Backend) {
    let app = spawn_app(b).await;
    let claims = real_claims(&app).await;
    let token = sign(
        &json!({ "alg": "HS256", "typ": "JWT" }),
        &claims,
        app.jwt_secret().as_bytes(),
    );
    assert_invalid_token(&app, &token).await;
}
