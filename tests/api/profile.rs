use reqwest::StatusCode;
use serde_json::Value;

use crate::on_both_backends;
use crate::support::{assert_error, assert_tokens_dead, spawn_app, status_and_json, Backend};

on_both_backends!(
    profile_returns_the_current_user,
    password_change_kills_every_older_token_on_every_device,
    password_change_with_a_wrong_current_password_returns_401,
    password_change_with_a_weak_new_password_returns_422,
);

async fn profile_returns_the_current_user(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.signed_in_user().await;
    let (status, body) = status_and_json(user.profile().await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["id"], user.account.id);
    assert_eq!(body["email"], user.account.email);
    assert!(body.get("password_hash").is_none() && body.get("password_version").is_none());
}

async fn password_change_kills_every_older_token_on_every_device(b: Backend) {
    let app = spawn_app(b).await;
    let mut laptop = app.signed_in_user().await;
    let phone = laptop.another_device().await;
    let user = laptop.account.clone();

    let res = laptop
        .change_password(&user.password, "a brand new password")
        .await;
    let (status, body) = status_and_json(res).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let old = laptop.tokens.clone();
    laptop.adopt(&body);

    for old in [&old, &phone.tokens] {
        assert_tokens_dead(&app, old).await;
    }
    assert_eq!(laptop.profile().await.status(), StatusCode::OK);
    assert_eq!(laptop.refresh().await.status(), StatusCode::OK);
    assert_eq!(
        app.login(&user.email, &user.password).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login(&user.email, "a brand new password")
            .await
            .status(),
        StatusCode::OK
    );
}

async fn password_change_with_a_wrong_current_password_returns_401(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.signed_in_user().await;
    let res = user
        .change_password("not my password", "a brand new password")
        .await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    // The session is untouched.
    assert_eq!(user.profile().await.status(), StatusCode::OK);
}

async fn password_change_with_a_weak_new_password_returns_422(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.signed_in_user().await;
    let res = user.change_password(&user.account.password, "short").await;
    let body: Value = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_error").await;
    assert!(body["message"].as_str().unwrap().contains("password"));
}
