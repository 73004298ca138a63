use reqwest::StatusCode;
use serde_json::json;

use crate::on_both_backends;
use crate::support::{assert_error, spawn_app, spawn_app_with, status_and_json, Backend};
use turnstile::settings::SigningAlgorithm;

on_both_backends!(
    health_returns_ok,
    ready_returns_200_when_the_database_answers,
    unknown_route_returns_json_404,
    wrong_method_on_a_known_route_returns_json_error,
    a_known_path_with_another_method_returns_405_with_allow,
    head_answers_every_get_route_as_get_would_without_a_body,
    head_without_a_token_on_a_bearer_route_is_a_401_like_get,
    the_docs_path_with_a_trailing_slash_redirects_permanently_to_docs,
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
        (reqwest::Method::DELETE, "/health", None, "GET, HEAD"),
        (
            reqwest::Method::PUT,
            "/api/admin/users",
            Some(&admin.access),
            "GET, HEAD, POST",
        ),
        (
            reqwest::Method::POST,
            "/api/admin/users/7",
            Some(&admin.access),
            "GET, HEAD, PATCH, DELETE",
        ),
        (
            reqwest::Method::GET,
            "/api/sessions/abc",
            Some(&admin.access),
            "DELETE",
        ),
        (reqwest::Method::PATCH, "/openapi.json", None, "GET, HEAD"),
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

/// A sample value for each path parameter of a GET route.
fn concrete(path: &str, user_id: &str) -> String {
    path.replace("{id}", user_id)
        .replace("{name}", "user")
        .replace("{asset}", "index.css")
}

async fn head_answers_every_get_route_as_get_would_without_a_body(b: Backend) {
    let app = spawn_app_with(b, |s| {
        s.auth.signing_algorithm = SigningAlgorithm::EdDsa;
    })
    .await;
    let (admin, tokens) = app.admin_with_tokens().await;
    let doc: serde_json::Value = app.get("/openapi.json", None).await.json().await.unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let mut seen = 0;
    for (path, item) in paths {
        if item.get("get").is_none() {
            continue;
        }
        seen += 1;
        let path = concrete(path, &admin.id.to_string());
        let get = app.get(&path, Some(&tokens.access)).await;
        let head = app
            .client
            .head(app.url(&path))
            .bearer_auth(&tokens.access)
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), get.status(), "HEAD {path}");
        for name in ["content-type", "cache-control", "content-security-policy"] {
            assert_eq!(
                head.headers().get(name),
                get.headers().get(name),
                "HEAD {path}: {name}"
            );
        }
        let get_length = get.headers().get("content-length").cloned();
        let get_body = get.bytes().await.unwrap();
        // The same length as GET's body, announced but not sent. (A body that holds
        // times may differ by a digit between the two calls: compared where it is
        // fixed.)
        let fixed = !path.starts_with("/api/");
        if fixed {
            assert_eq!(
                head.headers().get("content-length"),
                get_length.as_ref(),
                "HEAD {path}: content-length"
            );
            assert_eq!(
                get_length.as_ref().and_then(|v| v.to_str().ok()),
                Some(get_body.len().to_string().as_str()),
                "GET {path}"
            );
        }
        assert!(
            head.bytes().await.unwrap().is_empty(),
            "HEAD {path}: a body"
        );
    }
    assert!(seen >= 15, "only {seen} GET routes in the document");
}

async fn head_without_a_token_on_a_bearer_route_is_a_401_like_get(b: Backend) {
    let app = spawn_app(b).await;
    for path in ["/api/profile", "/api/admin/users", "/api/admin/keys"] {
        let res = app.client.head(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "HEAD {path}");
        assert_eq!(
            res.headers()["www-authenticate"],
            r#"Bearer realm="turnstile""#,
            "HEAD {path}"
        );
        assert_eq!(res.headers()["content-type"], "application/json");
        assert!(res.bytes().await.unwrap().is_empty());
    }
    // A path HEAD is not served on (no GET) is a 405 like any other method.
    let res = app
        .client
        .head(app.url("/auth/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()["allow"], "POST");
}

async fn the_docs_path_with_a_trailing_slash_redirects_permanently_to_docs(b: Backend) {
    let app = spawn_app(b).await;
    let res = app.get("/docs/", None).await;
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(res.headers()["location"], "/docs");
    let res = app.client.head(app.url("/docs/")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(res.headers()["location"], "/docs");
    let res = app.get("/docs/?x=1", None).await;
    assert_eq!(res.headers()["location"], "/docs?x=1");
    // Where it leads is the page.
    assert_eq!(app.get("/docs", None).await.status(), StatusCode::OK);
}
