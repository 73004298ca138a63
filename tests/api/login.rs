use reqwest::StatusCode;
use serde_json::json;

use crate::on_both_backends;
use crate::support::{assert_error, claims_of, header_of, spawn_app, status_and_json, Backend};

on_both_backends!(
    login_returns_a_token_pair_and_the_user,
    login_with_wrong_password_returns_401,
    login_with_unknown_email_returns_the_same_401_body,
    login_ignores_email_case_and_surrounding_spaces,
    login_of_a_disabled_account_returns_401,
    login_with_a_missing_password_returns_422,
);

async fn login_returns_a_token_pair_and_the_user(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.create_user().await;
    let (status, body) = status_and_json(app.login(&user.email, &user.password).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["user"]["email"], user.email);
    assert!(body["user"]["last_login_at"].is_string());
    let refresh = body["refresh_token"].as_str().unwrap();
    assert!(
        refresh.len() >= 43 && refresh.split('.').count() == 1,
        "opaque refresh token"
    );
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(header_of(access)["typ"], "at+jwt");
    assert_eq!(header_of(access)["alg"], "HS256");
    let claims = claims_of(access);
    assert_eq!(claims["sub"], user.id.to_string());
    assert_eq!(claims["role"], "user");
    assert_eq!(claims["ver"], 1);
    for key in ["sid", "jti", "iat", "nbf", "exp", "iss", "aud"] {
        assert!(!claims[key].is_null(), "claim {key} missing: {claims}");
    }
    let profile = app.get("/api/profile", Some(access)).await;
    assert_eq!(profile.status(), StatusCode::OK);
}

async fn login_with_wrong_password_returns_401(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.create_user().await;
    assert_error(
        app.login(&user.email, "wrong password").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
}

async fn login_with_unknown_email_returns_the_same_401_body(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.create_user().await;
    let (s1, wrong_pw) = status_and_json(app.login(&user.email, "wrong password").await).await;
    let (s2, unknown) =
        status_and_json(app.login("nobody@example.com", "wrong password").await).await;
    assert_eq!(
        (s1, s2),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    assert_eq!(wrong_pw, unknown);
}

async fn login_ignores_email_case_and_surrounding_spaces(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.create_user().await;
    let res = app
        .login(&format!(" {} ", user.email.to_uppercase()), &user.password)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

async fn login_of_a_disabled_account_returns_401(b: Backend) {
    let app = spawn_app(b).await;
    let (_, admin) = app.admin_with_tokens().await;
    let user = app.create_user().await;
    let res = app
        .patch_json(
            &format!("/api/admin/users/{}", user.id),
            &admin.access,
            &json!({ "disabled": true }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let (status, _) = status_and_json(app.login(&user.email, &user.password).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn login_with_a_missing_password_returns_422(b: Backend) {
    let app = spawn_app(b).await;
    let res = app
        .post_json("/auth/login", None, &json!({ "email": "a@example.com" }))
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_error").await;
}
