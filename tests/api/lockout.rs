//! Brute-force protection and the proxy and CORS settings around it.

use reqwest::StatusCode;
use serde_json::json;

use crate::on_both_backends;
use crate::support::{assert_error, new_email, spawn_app_with, Backend, TestApp};

on_both_backends!(
    an_account_locks_after_max_failures_even_for_the_right_password,
    an_ip_locks_after_max_failures_across_accounts,
    an_admin_unlock_lifts_an_account_lock,
    a_lock_lifts_when_the_window_passes,
    x_forwarded_for_counts_only_from_trusted_proxies,
    cors_preflight_is_allowed_for_configured_origins_only,
    answers_a_cache_could_reuse_vary_by_origin,
);

async fn login_from(
    app: &TestApp,
    email: &str,
    password: &str,
    xff: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/auth/login"))
        .json(&json!({ "email": email, "password": password }));
    if let Some(x) = xff {
        req = req.header("x-forwarded-for", x);
    }
    req.send().await.unwrap()
}

async fn an_account_locks_after_max_failures_even_for_the_right_password(b: Backend) {
    let app = spawn_app_with(b, |s| s.auth.login_max_failures = 3.try_into().unwrap()).await;
    let user = app.create_user().await;
    for _ in 0..3 {
        assert_eq!(
            app.login(&user.email, "wrong password").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let res = app.login(&user.email, &user.password).await;
    let retry: u64 = res
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 900, "{retry}");
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
}

async fn an_ip_locks_after_max_failures_across_accounts(b: Backend) {
    let app = spawn_app_with(b, |s| s.auth.login_max_failures = 3.try_into().unwrap()).await;
    let user = app.create_user().await;
    for _ in 0..3 {
        app.login(&new_email(), "wrong password").await;
    }
    assert_eq!(
        app.login(&user.email, &user.password).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

async fn an_admin_unlock_lifts_an_account_lock(b: Backend) {
    let app = spawn_app_with(b, |s| s.auth.login_max_failures = 3.try_into().unwrap()).await;
    let (_, admin) = app.admin_with_tokens().await;
    let user = app.create_user().await;
    for _ in 0..3 {
        app.login(&user.email, "wrong password").await;
    }
    assert_eq!(
        app.login(&user.email, &user.password).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let res = app
        .post_json(
            &format!("/api/admin/users/{}/unlock", user.id),
            Some(&admin.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.login(&user.email, &user.password).await.status(),
        StatusCode::OK
    );
}

async fn a_lock_lifts_when_the_window_passes(b: Backend) {
    let app = spawn_app_with(b, |s| {
        s.auth.login_max_failures = 2.try_into().unwrap();
        s.auth.login_window_secs = 1.try_into().unwrap();
    })
    .await;
    let user = app.create_user().await;
    for _ in 0..2 {
        app.login(&user.email, "wrong password").await;
    }
    assert_eq!(
        app.login(&user.email, &user.password).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    actix_web::rt::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(
        app.login(&user.email, &user.password).await.status(),
        StatusCode::OK
    );
}

async fn x_forwarded_for_counts_only_from_trusted_proxies(b: Backend) {
    let trusted = spawn_app_with(b, |s| {
        s.auth.login_max_failures = 2.try_into().unwrap();
        s.server.trusted_proxies = "127.0.0.1".parse().unwrap();
    })
    .await;
    let user = trusted.create_user().await;
    for _ in 0..2 {
        login_from(
            &trusted,
            &new_email(),
            "wrong password",
            Some("203.0.113.7"),
        )
        .await;
    }
    // That client is locked out, another one behind the same proxy is not.
    let locked = login_from(&trusted, &user.email, &user.password, Some("203.0.113.7")).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    let other = login_from(&trusted, &user.email, &user.password, Some("198.51.100.9")).await;
    assert_eq!(other.status(), StatusCode::OK);

    let untrusted = spawn_app_with(b, |s| s.auth.login_max_failures = 2.try_into().unwrap()).await;
    let user = untrusted.create_user().await;
    for _ in 0..2 {
        login_from(
            &untrusted,
            &new_email(),
            "wrong password",
            Some("203.0.113.7"),
        )
        .await;
    }
    // The header is ignored: every attempt came from 127.0.0.1, whatever it claims.
    let res = login_from(
        &untrusted,
        &user.email,
        &user.password,
        Some("198.51.100.9"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}

async fn cors_preflight_is_allowed_for_configured_origins_only(b: Backend) {
    let app = spawn_app_with(b, |s| {
        s.server.cors_origins = "https://dash.example.com, https://other.example.com"
            .parse()
            .unwrap()
    })
    .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/admin/users"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let ok = preflight("https://dash.example.com").await.unwrap();
    assert!(ok.status().is_success(), "{}", ok.status());
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://dash.example.com"
    );
    assert!(ok
        .headers()
        .get("access-control-allow-credentials")
        .is_none());
    let allowed = ok.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(allowed.contains("authorization"), "{allowed}");

    let evil = preflight("https://evil.example.com").await.unwrap();
    assert!(evil.headers().get("access-control-allow-origin").is_none());
}

/// CORS answers depend on the Origin: a cross-origin answer, and one a cache may
/// keep (the JWKS), say so; an answer marked `no-store` is never reused.
async fn answers_a_cache_could_reuse_vary_by_origin(b: Backend) {
    let app = spawn_app_with(b, |s| {
        s.server.cors_origins = "https://dash.example.com".parse().unwrap()
    })
    .await;
    let vary = |res: &reqwest::Response| {
        res.headers()
            .get("vary")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let cross = app
        .client
        .get(app.url("/health"))
        .header("origin", "https://dash.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        cross.headers()["access-control-allow-origin"],
        "https://dash.example.com"
    );
    assert!(vary(&cross).contains("Origin"), "{:?}", cross.headers());
    let jwks = app.get("/.well-known/jwks.json", None).await;
    assert!(jwks.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age"));
    assert!(vary(&jwks).contains("Origin"), "{:?}", jwks.headers());
    let plain = app.get("/health", None).await;
    assert_eq!(plain.headers()["cache-control"], "no-store");
    assert_eq!(vary(&plain), "", "a no-store answer is never reused");
}

on_both_backends!(
    forwarded_addresses_with_ports_or_v4_mapping_count_as_one_client,
    an_ipv6_client_cannot_escape_the_lock_by_rotating_within_its_64,
);

async fn forwarded_addresses_with_ports_or_v4_mapping_count_as_one_client(b: Backend) {
    let app = spawn_app_with(b, |s| {
        s.auth.login_max_failures = 3.try_into().unwrap();
        s.server.trusted_proxies = "127.0.0.1".parse().unwrap();
    })
    .await;
    let user = app.create_user().await;
    // One client, written three ways; the left-most entries are the client's own
    // claims and change nothing.
    for xff in [
        "6.6.6.6, 192.0.2.55:4711",
        "::ffff:192.0.2.55",
        "7.7.7.7, 192.0.2.55",
    ] {
        let res = login_from(&app, &new_email(), "wrong password", Some(xff)).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{xff}");
    }
    let locked = login_from(&app, &user.email, &user.password, Some("192.0.2.55")).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    let other = login_from(&app, &user.email, &user.password, Some("6.6.6.6")).await;
    assert_eq!(other.status(), StatusCode::OK);
}

async fn an_ipv6_client_cannot_escape_the_lock_by_rotating_within_its_64(b: Backend) {
    let app = spawn_app_with(b, |s| {
        s.auth.login_max_failures = 3.try_into().unwrap();
        s.server.trusted_proxies = "127.0.0.1".parse().unwrap();
    })
    .await;
    let user = app.create_user().await;
    for xff in [
        "2001:db8:1:2::1",
        "[2001:db8:1:2::2]:443",
        "2001:db8:1:2:aaaa:bbbb:cccc:dddd",
    ] {
        let res = login_from(&app, &new_email(), "wrong password", Some(xff)).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{xff}");
    }
    let rotated = login_from(
        &app,
        &user.email,
        &user.password,
        Some("2001:db8:1:2:ffff::9"),
    )
    .await;
    assert_eq!(rotated.status(), StatusCode::TOO_MANY_REQUESTS);
    let neighbour = login_from(&app, &user.email, &user.password, Some("2001:db8:1:3::1")).await;
    assert_eq!(neighbour.status(), StatusCode::OK);
}
