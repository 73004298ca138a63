//! `examples/monolith.rs`: an application built on turnstile, run as the example
//! builds it (its own routes inside `/api`, its own table), on both backends.

#[path = "../../examples/monolith.rs"]
#[allow(dead_code)]
mod example;

use reqwest::StatusCode;
use serde_json::json;

use crate::on_both_backends;
use crate::support::{assert_error, spawn_extended, status_and_json, Backend, TestApp};

on_both_backends!(
    notes_need_a_token_then_the_permission,
    notes_are_written_and_listed_per_caller_newest_first,
    a_note_must_have_1_to_1000_characters,
    the_application_routes_are_documented_and_answer_405,
    a_permission_granted_on_one_instance_opens_notes_on_another,
);

async fn app(b: Backend) -> TestApp {
    spawn_extended(b, example::extension())
        .tweaked(|_| {})
        .await
}

async fn notes_need_a_token_then_the_permission(b: Backend) {
    let app = app(b).await;
    let res = app.get("/api/notes", None).await;
    assert!(res.headers().contains_key("www-authenticate"));
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let res = app.get("/api/notes", Some("not-a-token")).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let user = app.signed_in_user().await;
    let res = app.get("/api/notes", Some(user.access())).await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let note = json!({ "text": "hello" });
    let res = app
        .post_json("/api/notes", Some(user.access()), &note)
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    // Reading does not grant writing.
    let admin = app.signed_in_admin().await;
    let reader = admin
        .user_in_role(&admin.define_role(&["notes:read"]).await)
        .await;
    assert_eq!(
        app.get("/api/notes", Some(reader.access())).await.status(),
        StatusCode::OK
    );
    let res = app
        .post_json("/api/notes", Some(reader.access()), &note)
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    // Granted to every account through the built-in `user` role: the same token works.
    let grant = json!({ "permissions": ["notes:read", "notes:write"] });
    assert_eq!(
        admin.patch_role("user", &grant).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get("/api/notes", Some(user.access())).await.status(),
        StatusCode::OK
    );
    let res = app
        .post_json("/api/notes", Some(user.access()), &note)
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    // And `admin` holds `*`.
    assert_eq!(
        app.get("/api/notes", Some(admin.access())).await.status(),
        StatusCode::OK
    );
}

async fn notes_are_written_and_listed_per_caller_newest_first(b: Backend) {
    let app = app(b).await;
    let admin = app.signed_in_admin().await;
    let writer = admin.define_role(&["notes:read", "notes:write"]).await;
    let alice = admin.user_in_role(&writer).await;
    let bob = admin.user_in_role(&writer).await;
    for text in ["first", "second"] {
        let res = app
            .post_json("/api/notes", Some(alice.access()), &json!({ "text": text }))
            .await;
        let (status, note) = status_and_json(res).await;
        assert_eq!(status, StatusCode::CREATED, "{note}");
        assert_eq!(note["text"], text);
        assert!(
            note["id"].is_i64() && note["created_at"].is_string(),
            "{note}"
        );
    }
    let (_, mine) = status_and_json(app.get("/api/notes", Some(alice.access())).await).await;
    let texts: Vec<&str> = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["second", "first"]);
    let (_, theirs) = status_and_json(app.get("/api/notes", Some(bob.access())).await).await;
    assert_eq!(
        theirs["items"],
        json!([]),
        "another caller's notes are not theirs"
    );
}

async fn a_note_must_have_1_to_1000_characters(b: Backend) {
    let app = app(b).await;
    let admin = app.signed_in_admin().await;
    for text in [json!(""), json!("   "), json!("x".repeat(1001))] {
        let res = app
            .post_json("/api/notes", Some(admin.access()), &json!({ "text": text }))
            .await;
        assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_error").await;
    }
    let res = app
        .post_json("/api/notes", Some(admin.access()), &json!({}))
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_error").await;
    let res = app
        .post_json("/api/notes", Some(admin.access()), &json!({ "text": 5 }))
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_body").await;
    let longest = "é".repeat(1000);
    let res = app
        .post_json(
            "/api/notes",
            Some(admin.access()),
            &json!({ "text": longest }),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "1000 characters, 2000 bytes"
    );
}

async fn the_application_routes_are_documented_and_answer_405(b: Backend) {
    let app = app(b).await;
    let (_, doc) = status_and_json(app.get("/openapi.json", None).await).await;
    let notes = &doc["paths"]["/api/notes"];
    assert_eq!(notes["get"]["x-permission"], json!(["notes:read"]));
    assert_eq!(notes["post"]["x-permission"], json!(["notes:write"]));
    assert!(notes["get"]["responses"].get("401").is_some());
    // turnstile's own routes are all still there.
    assert!(doc["paths"]["/api/admin/roles"].is_object());
    let admin = app.signed_in_admin().await;
    let res = app.delete("/api/notes", admin.access()).await;
    assert_eq!(res.headers()["allow"], "GET, HEAD, POST");
    assert_error(res, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
}

async fn a_permission_granted_on_one_instance_opens_notes_on_another(b: Backend) {
    let a = app(b).await;
    // On PostgreSQL a second instance on the same database; SQLite has one instance.
    let other = match b {
        Backend::Postgres => Some(a.second_instance().await),
        Backend::Sqlite => None,
    };
    let b_app = other.as_ref().unwrap_or(&a);
    let admin = a.signed_in_admin().await;
    let user = a.signed_in_user().await;
    let res = b_app.get("/api/notes", Some(user.access())).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let grant = json!({ "permissions": ["notes:read"] });
    assert_eq!(
        admin.patch_role("user", &grant).await.status(),
        StatusCode::OK
    );
    let start = std::time::Instant::now();
    loop {
        let got = b_app.get("/api/notes", Some(user.access())).await.status();
        if got == StatusCode::OK {
            break;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(1),
            "still {got} after 1 s"
        );
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
