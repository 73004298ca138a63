//! The auth cache, the cross-instance change feed, and the bounded bcrypt pool.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    assert_error, claims_of, postgres_or_skip, spawn_app, spawn_app_with, Backend, TestApp,
};
use crate::on_both_backends;

on_both_backends!(
    authenticated_requests_make_no_database_calls_in_steady_state,
    a_full_bcrypt_queue_answers_503_with_retry_after,
);

async fn authenticated_requests_make_no_database_calls_in_steady_state(b: Backend) {
    let app = spawn_app(b).await;
    let (_, tokens) = app.user_with_tokens().await;
    // The first request fills the cache.
    assert_eq!(
        app.get("/api/profile", Some(&tokens.access)).await.status(),
        StatusCode::OK
    );
    let before = app.state.db.calls();
    for _ in 0..20 {
        assert_eq!(
            app.get("/api/profile", Some(&tokens.access)).await.status(),
            StatusCode::OK
        );
        assert_eq!(
            app.get("/api/sessions", Some(&tokens.access))
                .await
                .status(),
            StatusCode::OK
        );
    }
    // /api/sessions reads the session list itself; the middleware reads nothing.
    assert_eq!(
        app.state.db.calls() - before,
        20,
        "only the 20 session listings hit the database"
    );
    assert!(app.state.cache.hits() >= 40);
}

async fn a_full_bcrypt_queue_answers_503_with_retry_after(b: Backend) {
    let app = spawn_app_with(b, |s| {
        s.auth.bcrypt_threads = 1;
        s.auth.bcrypt_queue = 1;
        s.auth.bcrypt_cost = 10;
        s.auth.login_max_failures = 1000;
    })
    .await;
    let user = app.create_user().await;
    let results = join_all((0..12).map(|_| app.login(&user.email, "wrong password"))).await;
    let mut busy = 0;
    for res in results {
        match res.status() {
            StatusCode::UNAUTHORIZED => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                busy += 1;
                assert_eq!(res.headers()["retry-after"], "1");
                assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "server_busy").await;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(busy > 0, "12 logins at once never filled a queue of one");
    // The storm is over: the pool serves again, and /health never depended on it.
    assert_eq!(app.get("/health", None).await.status(), StatusCode::OK);
    assert_eq!(
        app.login(&user.email, &user.password).await.status(),
        StatusCode::OK
    );
}

/// Polls `probe` on instance B until it answers `want`; fails after a second.
async fn enforced_within_a_second(
    b: &TestApp,
    path: &str,
    token: &str,
    want: StatusCode,
    what: &str,
) {
    let start = Instant::now();
    loop {
        let got = b.get(path, Some(token)).await.status();
        if got == want {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{what}: instance B still answers {got} after 1 s"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn two_instances() -> Option<(TestApp, TestApp)> {
    if !postgres_or_skip() {
        return None;
    }
    // No reuse interval: a second refresh of one token is reuse at once.
    let a = spawn_app_with(Backend::Postgres, |s| {
        s.auth.refresh_reuse_interval_secs = 0
    })
    .await;
    let b = a.second_instance().await;
    Some((a, b))
}

/// Makes B cache the token's state, so a stale cache would let it through.
async fn warm(b: &TestApp, token: &str) {
    assert_eq!(
        b.get("/api/profile", Some(token)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        b.get("/api/profile", Some(token)).await.status(),
        StatusCode::OK
    );
}

#[actix_web::test]
async fn changes_made_on_one_instance_are_enforced_by_another_within_a_second() {
    let Some((a, b)) = two_instances().await else {
        return;
    };
    let (_, admin) = a.admin_with_tokens().await;

    // Password change.
    let (user, tokens) = a.user_with_tokens().await;
    warm(&b, &tokens.access).await;
    let res = a
        .post_json(
            "/api/profile/password",
            Some(&tokens.access),
            &json!({ "current_password": user.password, "new_password": "a brand new password" }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    enforced_within_a_second(
        &b,
        "/api/profile",
        &tokens.access,
        StatusCode::UNAUTHORIZED,
        "password change",
    )
    .await;

    // Disable.
    let (user, tokens) = a.user_with_tokens().await;
    warm(&b, &tokens.access).await;
    a.patch_json(
        &format!("/api/admin/users/{}", user.id),
        &admin.access,
        &json!({ "disabled": true }),
    )
    .await;
    enforced_within_a_second(
        &b,
        "/api/profile",
        &tokens.access,
        StatusCode::UNAUTHORIZED,
        "disable",
    )
    .await;

    // Deletion.
    let (user, tokens) = a.user_with_tokens().await;
    warm(&b, &tokens.access).await;
    a.delete(&format!("/api/admin/users/{}", user.id), &admin.access)
        .await;
    enforced_within_a_second(
        &b,
        "/api/profile",
        &tokens.access,
        StatusCode::UNAUTHORIZED,
        "deletion",
    )
    .await;

    // Role change, both ways.
    let (user, tokens) = a.user_with_tokens().await;
    warm(&b, &tokens.access).await;
    assert_eq!(
        b.get("/api/admin/stats", Some(&tokens.access))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    a.patch_json(
        &format!("/api/admin/users/{}", user.id),
        &admin.access,
        &json!({ "role": "admin" }),
    )
    .await;
    enforced_within_a_second(
        &b,
        "/api/admin/stats",
        &tokens.access,
        StatusCode::OK,
        "promotion",
    )
    .await;
    a.patch_json(
        &format!("/api/admin/users/{}", user.id),
        &admin.access,
        &json!({ "role": "user" }),
    )
    .await;
    enforced_within_a_second(
        &b,
        "/api/admin/stats",
        &tokens.access,
        StatusCode::FORBIDDEN,
        "demotion",
    )
    .await;

    // Logout.
    let (_, tokens) = a.user_with_tokens().await;
    warm(&b, &tokens.access).await;
    a.post_json("/auth/logout", Some(&tokens.access), &json!({}))
        .await;
    enforced_within_a_second(
        &b,
        "/api/profile",
        &tokens.access,
        StatusCode::UNAUTHORIZED,
        "logout",
    )
    .await;

    // One session revoked by its owner from another device.
    let user = a.create_user().await;
    let laptop = a.login_as(&user).await;
    let phone = a.login_as(&user).await;
    warm(&b, &phone.access).await;
    let sid = claims_of(&phone.access)["sid"]
        .as_str()
        .unwrap()
        .to_string();
    a.delete(&format!("/api/sessions/{sid}"), &laptop.access)
        .await;
    enforced_within_a_second(
        &b,
        "/api/profile",
        &phone.access,
        StatusCode::UNAUTHORIZED,
        "session revocation",
    )
    .await;

    // Every session revoked by an admin.
    let (user, tokens) = a.user_with_tokens().await;
    warm(&b, &tokens.access).await;
    a.post_json(
        &format!("/api/admin/users/{}/revoke-sessions", user.id),
        Some(&admin.access),
        &json!({}),
    )
    .await;
    enforced_within_a_second(
        &b,
        "/api/profile",
        &tokens.access,
        StatusCode::UNAUTHORIZED,
        "admin revoke-sessions",
    )
    .await;

    // Refresh-token reuse detected on A kills the session on B.
    let (_, tokens) = a.user_with_tokens().await;
    warm(&b, &tokens.access).await;
    assert_eq!(a.refresh(&tokens.refresh).await.status(), StatusCode::OK);
    assert_eq!(
        a.refresh(&tokens.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
    enforced_within_a_second(
        &b,
        "/api/profile",
        &tokens.access,
        StatusCode::UNAUTHORIZED,
        "refresh reuse",
    )
    .await;
}
