//! Whatever a client sends, the answer is a JSON 4xx, never a 5xx.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::{spawn_app, status_and_json, Backend};

on_both_backends!(nul_bytes_and_odd_text_get_4xx_never_5xx);

async fn assert_4xx(res: reqwest::Response, what: &str) {
    let (status, body) = status_and_json(res).await;
    assert!(status.is_client_error(), "{what}: {status} {body}");
    assert!(body["error"].is_string(), "{what}: {body}");
}

async fn nul_bytes_and_odd_text_get_4xx_never_5xx(b: Backend) {
    let app = spawn_app(b).await;
    let (_, admin) = app.admin_with_tokens().await;
    let t = Some(admin.access.as_str());
    let nul = "a\u{0}b@example.com";
    assert_4xx(app.login(nul, "whatever password").await, "login with NUL").await;
    assert_4xx(
        app.register(nul, "whatever password").await,
        "register with NUL",
    )
    .await;
    assert_4xx(
        app.post_json(
            "/api/admin/users",
            t,
            &json!({ "email": nul, "password": "whatever password" }),
        )
        .await,
        "admin create with NUL",
    )
    .await;
    for query in [
        "q=%00",
        "role=%00",
        "q=%F0%9F%92%A9%00",
        &format!("q={}", "x".repeat(300)),
    ] {
        assert_4xx(
            app.get(&format!("/api/admin/users?{query}"), t).await,
            query,
        )
        .await;
    }
    for query in ["action=%00", "since=%00", "actor_id=%00"] {
        assert_4xx(
            app.get(&format!("/api/admin/audit?{query}"), t).await,
            query,
        )
        .await;
    }
    assert_4xx(
        app.delete("/api/sessions/%00", &admin.access).await,
        "session id NUL",
    )
    .await;
    assert_4xx(
        app.delete(&format!("/api/sessions/{}", "s".repeat(500)), &admin.access)
            .await,
        "long id",
    )
    .await;
    assert_4xx(app.refresh("a\u{0}b").await, "refresh NUL").await;
    let res = app
        .post_json("/auth/logout", t, &json!({ "refresh_token": "\u{0}" }))
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // Unicode that is not a control character is fine in a search.
    let (status, body): (StatusCode, Value) =
        status_and_json(app.get("/api/admin/users?q=%C3%BC", None).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

on_both_backends!(
    a_body_must_be_a_json_object,
    a_logout_body_that_is_present_must_be_valid,
    query_filters_are_exact,
);

async fn a_body_must_be_a_json_object(b: Backend) {
    let app = spawn_app(b).await;
    let (_, admin) = app.admin_with_tokens().await;
    let user = app.create_user().await;
    let res = app
        .post_json(
            "/auth/register",
            None,
            &json!(["dave@example.com", "a long password"]),
        )
        .await;
    let (status, body) = status_and_json(res).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_body"))
    );
    let res = app
        .patch_json(
            &format!("/api/admin/users/{}", user.id),
            &admin.access,
            &json!(["admin", true]),
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let (_, got) = status_and_json(
        app.get(
            &format!("/api/admin/users/{}", user.id),
            Some(&admin.access),
        )
        .await,
    )
    .await;
    assert_eq!(
        (got["role"].as_str(), got["disabled"].as_bool()),
        (Some("user"), Some(false))
    );
    for body in [json!("text"), json!(42), json!(null)] {
        assert_4xx(
            app.post_json("/auth/login", None, &body).await,
            "non-object body",
        )
        .await;
    }
}

async fn a_logout_body_that_is_present_must_be_valid(b: Backend) {
    let app = spawn_app(b).await;
    let (_, tokens) = app.user_with_tokens().await;
    for body in [
        json!({ "refresh_token": 5 }),
        json!({ "refresh_token": ["x"] }),
        json!([1]),
    ] {
        let res = app
            .post_json("/auth/logout", Some(&tokens.access), &body)
            .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{body}");
    }
    let res = app
        .client
        .post(app.url("/auth/logout"))
        .bearer_auth(&tokens.access)
        .header("content-type", "text/plain")
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Still logged in: none of those was a logout.
    assert_eq!(
        app.get("/api/profile", Some(&tokens.access)).await.status(),
        StatusCode::OK
    );
    // JSON null is no body at all.
    let res = app
        .post_json("/auth/logout", Some(&tokens.access), &json!(null))
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/api/profile", Some(&tokens.access)).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

async fn query_filters_are_exact(b: Backend) {
    let app = spawn_app(b).await;
    let (_, admin) = app.admin_with_tokens().await;
    let t = Some(admin.access.as_str());
    assert_eq!(
        app.get("/api/admin/users?q=&role=", t).await.status(),
        StatusCode::OK
    );
    assert_4xx(
        app.get("/api/admin/users?role=%20user", t).await,
        "role with a space",
    )
    .await;
    assert_4xx(app.get("/api/admin/audit?since=", t).await, "empty since").await;
    assert_eq!(
        app.get("/api/admin/audit?since=2020-01-01t00:00:00z", t)
            .await
            .status(),
        StatusCode::OK
    );
}

on_both_backends!(
    text_typed_into_the_email_field_of_a_failed_login_is_never_stored_or_shown,
    a_password_with_control_characters_is_refused,
    a_refused_cors_preflight_answers_the_json_envelope,
    a_wrongly_typed_field_is_named_without_echoing_its_value,
);

async fn text_typed_into_the_email_field_of_a_failed_login_is_never_stored_or_shown(b: Backend) {
    let app =
        crate::support::spawn_app_with(b, |s| s.auth.login_max_failures = 2.try_into().unwrap())
            .await;
    let (_, admin) = app.admin_with_tokens().await;
    let typed = "Correct Horse Battery Staple 42";
    for _ in 0..2 {
        let res = app.login(typed, "whatever password").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    // Still counted: the same text a third time is locked out.
    assert_eq!(
        app.login(typed, "whatever password").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let res = app
        .get("/api/admin/audit?per_page=100", Some(&admin.access))
        .await;
    let audit = res.text().await.unwrap().to_lowercase();
    assert!(audit.contains("login_failure"), "{audit}");
    assert!(audit.contains("malformed_email"), "{audit}");
    assert!(
        !audit.contains("horse battery"),
        "the audit trail shows it: {audit}"
    );
    let stored = app
        .state
        .db
        .run(|conn| {
            use diesel::prelude::*;
            use turnstile::schema::login_failures::dsl::*;
            Ok(login_failures.select(email).load::<String>(conn)?)
        })
        .await
        .unwrap();
    assert!(!stored.is_empty());
    assert!(
        stored.iter().all(|e| !e.contains("horse")),
        "stored as typed: {stored:?}"
    );
}

async fn a_password_with_control_characters_is_refused(b: Backend) {
    let app = spawn_app(b).await;
    for password in [
        "\u{0}".repeat(8),
        "password\tone".into(),
        "password\u{7}".into(),
    ] {
        let res = app.register(&crate::support::new_email(), &password).await;
        let (status, body) = status_and_json(res).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{password:?}: {body}"
        );
        assert_eq!(body["error"], "validation_error");
    }
}

async fn a_refused_cors_preflight_answers_the_json_envelope(b: Backend) {
    let app = crate::support::spawn_app_with(b, |s| {
        s.server.cors_origins = "https://dash.example.com".parse().unwrap()
    })
    .await;
    let res = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/profile"))
        .header("origin", "https://evil.example.com")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
    let content_type = res.headers()["content-type"].to_str().unwrap().to_string();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let (status, body) = status_and_json(res).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "cors_not_allowed", "{body}");
    assert!(body["message"].is_string());
}

async fn a_wrongly_typed_field_is_named_without_echoing_its_value(b: Backend) {
    let app = spawn_app(b).await;
    let (user, admin) = app.admin_with_tokens().await;
    let secret = "hunter2-typed-in-the-wrong-field";
    let res = app
        .patch_json(
            &format!("/api/admin/users/{}", user.id),
            &admin.access,
            &json!({ "disabled": secret }),
        )
        .await;
    let (status, body) = status_and_json(res).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_body");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("disabled"), "names the field: {message}");
    assert!(!message.contains("hunter2"), "echoes the value: {message}");
    let res = app
        .post_json(
            "/auth/login",
            None,
            &json!({ "email": "a@example.com", "password": [secret] }),
        )
        .await;
    let (status, body) = status_and_json(res).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(!body.to_string().contains("hunter2"), "{body}");
}

on_both_backends!(
    headers_over_32_kib_get_a_431_in_the_envelope,
    headers_just_under_the_limit_reach_the_routes,
);

async fn headers_over_32_kib_get_a_431_in_the_envelope(b: Backend) {
    let app = spawn_app(b).await;
    // One huge header (a 64 KiB "token"), under actix-http's own 128 KiB limit, so
    // the service sees it and answers.
    let res = app
        .client
        .get(app.url("/api/profile"))
        .header("authorization", format!("Bearer {}", "a".repeat(64 * 1024)))
        .send()
        .await
        .unwrap();
    assert!(res.headers().contains_key("x-request-id"));
    assert_eq!(res.headers()["content-type"], "application/json");
    let (status, body) = status_and_json(res).await;
    assert_eq!(
        status,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "{body}"
    );
    assert_eq!(body["error"], "request_header_too_large", "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("32768"),
        "{body}"
    );
    // Many headers that only together are too many bytes, on a public route.
    let mut req = app.client.get(app.url("/health"));
    for i in 0..40 {
        req = req.header(format!("x-filler-{i}"), "f".repeat(1024));
    }
    let (status, body) = status_and_json(req.send().await.unwrap()).await;
    assert_eq!(
        status,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "{body}"
    );
    assert_eq!(body["error"], "request_header_too_large", "{body}");
}

async fn headers_just_under_the_limit_reach_the_routes(b: Backend) {
    let app = spawn_app(b).await;
    let res = app
        .client
        .get(app.url("/api/profile"))
        .header("authorization", format!("Bearer {}", "a".repeat(30 * 1024)))
        .send()
        .await
        .unwrap();
    let (status, body) = status_and_json(res).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "invalid_token", "{body}");
}
