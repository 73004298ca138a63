use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, status_and_json, Backend, Tokens};
use crate::on_both_backends;

on_both_backends!(
    profile_returns_the_current_user,
    password_change_kills_every_older_token_on_every_device,
    password_change_with_a_wrong_current_password_returns_401,
    password_change_with_a_weak_new_password_returns_422,
);

async fn profile_returns_the_current_user(b: Backend) {
    let app = spawn_app(b).await;
    let (user, tokens) = app.user_with_tokens().await;
    let (status, body) = status_and_json(app.get("/api/profile", Some(&tokens.access)).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["id"], user.id);
    assert_eq!(body["email"], user.email);
    assert!(body.get("password_hash").is_none() && body.get("password_version").is_none());
}

async fn password_change_kills_every_older_token_on_every_device(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.create_user().await;
    let laptop = app.login_as(&user).await;
    let phone = app.login_as(&user).await;

    let res = app
        .post_json(
            "/api/profile/password",
            Some(&laptop.access),
            &json!({ "current_password": user.password, "new_password": "a brand new password" }),
        )
        .await;
    let (status, body) = status_and_json(res).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let fresh = Tokens::from_body(&body);

    for old in [&laptop, &phone] {
        assert_eq!(
            app.get("/api/profile", Some(&old.access)).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            app.refresh(&old.refresh).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        app.get("/api/profile", Some(&fresh.access)).await.status(),
        StatusCode::OK
    );
    assert_eq!(app.refresh(&fresh.refresh).await.status(), StatusCode::OK);
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
    let (_, tokens) = app.user_with_tokens().await;
    let res = app
        .post_json(
            "/api/profile/password",
            Some(&tokens.access),
            &json!({ "current_password": "not my password", "new_password": "a brand new password" }),
        )
        .await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    // The session is untouched.
    assert_eq!(
        app.get("/api/profile", Some(&tokens.access)).await.status(),
        StatusCode::OK
    );
}

async fn password_change_with_a_weak_new_password_returns_422(b: Backend) {
    let app = spawn_app(b).await;
    let (user, tokens) = app.user_with_tokens().await;
    let res = app
        .post_json(
            "/api/profile/password",
            Some(&tokens.access),
            &json!({ "current_password": user.password, "new_password": "short" }),
        )
        .await;
    let body: Value = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_error").await;
    assert!(body["message"].as_str().unwrap().contains("password"));
}
