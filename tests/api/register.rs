use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::on_both_backends;
use crate::support::{assert_error, new_email, spawn_app, status_and_json, Backend};

on_both_backends!(
    register_returns_201_with_the_user_and_no_secrets,
    register_with_an_email_taken_in_another_case_returns_409,
    register_with_an_invalid_email_returns_422,
    register_with_a_short_password_returns_422,
    register_with_a_missing_field_returns_422,
    register_with_malformed_json_returns_400,
    register_with_wrong_types_returns_400,
    register_without_a_json_content_type_returns_415,
    register_with_an_oversized_body_returns_413,
    long_passwords_are_never_truncated,
    concurrent_registrations_of_one_email_create_one_account,
);

async fn register_returns_201_with_the_user_and_no_secrets(b: Backend) {
    let app = spawn_app(b).await;
    let email = new_email();
    let res = app
        .register(
            &format!("  {}  ", email.to_uppercase()),
            "correct horse battery",
        )
        .await;
    let (status, body) = status_and_json(res).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["email"], email, "stored trimmed and lowercased");
    assert_eq!(body["role"], "user");
    assert_eq!(body["disabled"], false);
    assert!(body["id"].is_i64());
    assert!(body["created_at"].is_string() && body["updated_at"].is_string());
    assert!(body["last_login_at"].is_null());
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    for forbidden in ["password", "password_hash", "password_version"] {
        assert!(
            !keys.iter().any(|k| k.as_str() == forbidden),
            "{forbidden} leaked: {body}"
        );
    }
}

async fn register_with_an_email_taken_in_another_case_returns_409(b: Backend) {
    let app = spawn_app(b).await;
    let email = new_email();
    assert_eq!(
        app.register(&email, "correct horse battery").await.status(),
        StatusCode::CREATED
    );
    let res = app
        .register(&email.to_uppercase(), "another password")
        .await;
    assert_error(res, StatusCode::CONFLICT, "email_taken").await;
}

async fn register_with_an_invalid_email_returns_422(b: Backend) {
    let app = spawn_app(b).await;
    for bad in ["", "not-an-email", "a@b", "a b@example.com"] {
        let res = app.register(bad, "correct horse battery").await;
        assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_error").await;
    }
}

async fn register_with_a_short_password_returns_422(b: Backend) {
    let app = spawn_app(b).await;
    let res = app.register(&new_email(), "short").await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_error").await;
}

async fn register_with_a_missing_field_returns_422(b: Backend) {
    let app = spawn_app(b).await;
    let res = app
        .post_json("/auth/register", None, &json!({ "email": new_email() }))
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_error").await;
}

async fn register_with_malformed_json_returns_400(b: Backend) {
    let app = spawn_app(b).await;
    let res = app
        .client
        .post(app.url("/auth/register"))
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    let (status, body) = status_and_json(res).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].is_string());
}

async fn register_with_wrong_types_returns_400(b: Backend) {
    let app = spawn_app(b).await;
    let res = app
        .post_json(
            "/auth/register",
            None,
            &json!({ "email": 42, "password": ["x"] }),
        )
        .await;
    let (status, body) = status_and_json(res).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].is_string());
}

async fn register_with_an_oversized_body_returns_413(b: Backend) {
    let app = spawn_app(b).await;
    let huge = "x".repeat(200 * 1024);
    let res = app
        .post_json(
            "/auth/register",
            None,
            &json!({ "email": new_email(), "password": huge }),
        )
        .await;
    assert_error(res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}

async fn long_passwords_are_never_truncated(b: Backend) {
    let app = spawn_app(b).await;
    let email = new_email();
    let prefix = "p".repeat(72);
    let password = format!("{prefix}-the-real-ending");
    assert_eq!(
        app.register(&email, &password).await.status(),
        StatusCode::CREATED
    );
    let wrong = format!("{prefix}-another-ending");
    assert_error(
        app.login(&email, &wrong).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    assert_eq!(app.login(&email, &password).await.status(), StatusCode::OK);

    let cyrillic = "пароль".repeat(11); // 66 characters, 132 bytes
    let other = new_email();
    assert_eq!(
        app.register(&other, &cyrillic).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(app.login(&other, &cyrillic).await.status(), StatusCode::OK);
}

async fn concurrent_registrations_of_one_email_create_one_account(b: Backend) {
    let app = spawn_app(b).await;
    let email = new_email();
    let results = join_all((0..8).map(|_| app.register(&email, "correct horse battery"))).await;
    let created = results
        .iter()
        .filter(|r| r.status() == StatusCode::CREATED)
        .count();
    let conflicts = results
        .iter()
        .filter(|r| r.status() == StatusCode::CONFLICT)
        .count();
    assert_eq!((created, conflicts), (1, 7));
}

async fn register_without_a_json_content_type_returns_415(b: Backend) {
    let app = spawn_app(b).await;
    let res = app
        .client
        .post(app.url("/auth/register"))
        .header("content-type", "text/plain")
        .body(json!({ "email": new_email(), "password": "correct horse battery" }).to_string())
        .send()
        .await
        .unwrap();
    assert_error(
        res,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
}
