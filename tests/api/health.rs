use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_error, spawn_app, status_and_json, Backend};
use crate::on_both_backends;

on_both_backends!(
    health_returns_ok,
    ready_returns_200_when_the_database_answers,
    unknown_route_returns_json_404,
    wrong_method_on_a_known_route_returns_json_error,
);

async fn health_returns_ok(b: Backend) {
    let app = spawn_app(b).await;
    let (status, body) = status_and_json(app.get("/health", None).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({ "status": "ok" }));
}

async fn ready_returns_200_when_the_database_answers(b: Backend) {
    let app = spawn_app(b).await;
    let (status, body) = status_and_json(app.get("/ready", None).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
}

async fn unknown_route_returns_json_404(b: Backend) {
    let app = spawn_app(b).await;
    assert_error(
        app.get("/no/such/route", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

async fn wrong_method_on_a_known_route_returns_json_error(b: Backend) {
    let app = spawn_app(b).await;
    let res = app.client.get(app.url("/auth/login")).send().await.unwrap();
    let (status, body) = status_and_json(res).await;
    assert!(status.is_client_error(), "{status}");
    assert!(body["error"].is_string(), "{body}");
}
