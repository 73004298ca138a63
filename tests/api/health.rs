use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_error, spawn_app, status_and_json, Backend};
use crate::on_both_backends;

on_both_backends!(
    health_returns_ok,
    ready_returns_200_when_the_database_answers,
    unknown_route_returns_json_404,
    wrong_method_on_a_known_route_returns_json_error,
    a_known_path_with_another_method_returns_405_with_allow,
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

async fn a_known_path_with_another_method_returns_405_with_allow(b: Backend) {
    let app = spawn_app(b).await;
    let (_, admin) = app.admin_with_tokens().await;
    let cases: [(reqwest::Method, &str, Option<&str>, &str); 6] = [
        (reqwest::Method::GET, "/auth/login", None, "POST"),
        (reqwest::Method::DELETE, "/health", None, "GET"),
        (
            reqwest::Method::PUT,
            "/api/admin/users",
            Some(&admin.access),
            "GET, POST",
        ),
        (
            reqwest::Method::POST,
            "/api/admin/users/7",
            Some(&admin.access),
            "GET, PATCH, DELETE",
        ),
        (
            reqwest::Method::GET,
            "/api/sessions/abc",
            Some(&admin.access),
            "DELETE",
        ),
        (reqwest::Method::PATCH, "/openapi.json", None, "GET"),
    ];
    for (method, path, token, allow) in cases {
        let mut req = app.client.request(method.clone(), app.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.headers()["allow"], allow, "{method} {path}");
        assert_error(res, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    }
    // An unknown path stays 404, whatever the method.
    let res = app
        .client
        .delete(app.url("/no/such/route"))
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("allow").is_none());
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
}
