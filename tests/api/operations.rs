//! What operators rely on: request ids, security headers, metrics.

use reqwest::StatusCode;
use serde_json::json;

use crate::on_both_backends;
use crate::support::{spawn_app, spawn_app_with, Backend};

on_both_backends!(
    every_response_carries_a_request_id,
    a_valid_incoming_request_id_is_propagated_and_an_invalid_one_replaced,
    every_response_carries_security_headers,
    metrics_count_a_known_sequence_of_requests,
    metrics_are_not_served_on_the_public_port,
);

async fn every_response_carries_a_request_id(b: Backend) {
    let app = spawn_app(b).await;
    let mut seen = Vec::new();
    for res in [
        app.get("/health", None).await,
        app.get("/api/profile", None).await,
        app.get("/no/such/route", None).await,
        app.post_json(
            "/auth/login",
            None,
            &json!({ "email": "x@example.com", "password": "wrong password" }),
        )
        .await,
    ] {
        let id = res
            .headers()
            .get("x-request-id")
            .expect("X-Request-Id")
            .to_str()
            .unwrap()
            .to_string();
        assert!(!id.is_empty());
        seen.push(id);
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 4, "ids are unique per request");
}

async fn a_valid_incoming_request_id_is_propagated_and_an_invalid_one_replaced(b: Backend) {
    let app = spawn_app(b).await;
    let res = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "trace-abc_123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "trace-abc_123");
    let res = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "bad id with spaces")
        .send()
        .await
        .unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap();
    assert!(!id.contains(' ') && !id.is_empty());
}

async fn every_response_carries_security_headers(b: Backend) {
    let app = spawn_app(b).await;
    let (_, tokens) = app.user_with_tokens().await;
    for res in [
        app.get("/health", None).await,
        app.get("/api/profile", Some(&tokens.access)).await,
        app.get("/api/profile", None).await,
        app.post_json("/auth/refresh", None, &json!({ "refresh_token": "nope" }))
            .await,
    ] {
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["cache-control"], "no-store");
        assert!(h.contains_key("referrer-policy"));
        assert!(h.contains_key("content-security-policy"));
    }
}

fn sample(metrics: &str, name_and_labels: &str) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.starts_with(name_and_labels) && l[name_and_labels.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn metrics_count_a_known_sequence_of_requests(b: Backend) {
    let app = spawn_app_with(b, |s| {
        s.metrics.enabled = true;
        s.metrics.port = 0;
        s.auth.refresh_reuse_interval_secs = 0.try_into().unwrap();
    })
    .await;
    let user = app.create_user().await;
    let tokens = app.login_as(&user).await;
    app.login_as(&user).await;
    app.login(&user.email, "wrong password").await;
    let rotated = app.refresh(&tokens.refresh).await;
    assert_eq!(rotated.status(), StatusCode::OK);
    assert_eq!(
        app.refresh(&tokens.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
    for _ in 0..3 {
        app.get("/api/profile", None).await;
    }

    let url = format!(
        "{}/metrics",
        app.metrics_address.as_ref().expect("metrics listener")
    );
    let res = app.client.get(url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = res.text().await.unwrap();
    let expect = [
        (r#"turnstile_logins_total{outcome="success"}"#, 2.0),
        (
            r#"turnstile_logins_total{outcome="invalid_credentials"}"#,
            1.0,
        ),
        (r#"turnstile_refreshes_total{outcome="success"}"#, 1.0),
        (
            r#"turnstile_refreshes_total{outcome="reuse_detected"}"#,
            1.0,
        ),
        (
            r#"turnstile_http_requests_total{method="POST",route="/auth/login",status="200"}"#,
            2.0,
        ),
        (
            r#"turnstile_http_requests_total{method="POST",route="/auth/login",status="401"}"#,
            1.0,
        ),
        (
            r#"turnstile_http_requests_total{method="GET",route="/api/profile",status="401"}"#,
            3.0,
        ),
        (
            r#"turnstile_http_request_duration_seconds_count{method="GET",route="/api/profile"}"#,
            3.0,
        ),
    ];
    for (series, value) in expect {
        assert_eq!(sample(&text, series), Some(value), "{series} in\n{text}");
    }
    for gauge in [
        "turnstile_bcrypt_queue_depth",
        r#"turnstile_db_pool_connections{state="idle"}"#,
        r#"turnstile_db_pool_connections{state="in_use"}"#,
        "turnstile_auth_cache_hit_ratio",
        "turnstile_lockouts_total",
    ] {
        assert!(sample(&text, gauge).is_some(), "{gauge} missing in\n{text}");
    }
}

async fn metrics_are_not_served_on_the_public_port(b: Backend) {
    let app = spawn_app_with(b, |s| {
        s.metrics.enabled = true;
        s.metrics.port = 0;
    })
    .await;
    assert_eq!(
        app.get("/metrics", None).await.status(),
        StatusCode::NOT_FOUND
    );
}
