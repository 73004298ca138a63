//! Token revocation (RFC 7009): holding a token is enough to end its session.

use reqwest::StatusCode;
use serde_json::json;

use crate::on_both_backends;
use crate::support::{
    assert_error, assert_tokens_dead, spawn_app, status_and_json, Backend, TestApp,
};

on_both_backends!(
    revoking_an_access_or_refresh_token_ends_its_session,
    revocation_answers_200_whatever_the_token_and_400_without_one,
    a_body_that_is_not_a_form_is_refused_with_a_message_naming_the_form_type,
    a_revocation_is_audited_with_no_actor_and_the_token_owner_as_target,
);

/// `POST /oauth/revoke` with a form body.
pub async fn revoke(app: &TestApp, form: &str) -> reqwest::Response {
    app.client
        .post(app.url("/oauth/revoke"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_string())
        .send()
        .await
        .unwrap()
}

async fn revoking_an_access_or_refresh_token_ends_its_session(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.signed_in_user().await;
    let other_device = user.another_device().await;
    let res = revoke(
        &app,
        &format!("token={}&token_type_hint=access_token", user.access()),
    )
    .await;
    assert_eq!(status_and_json(res).await, (StatusCode::OK, json!({})));
    assert_tokens_dead(&app, &user.tokens).await;
    // Only that session: the other device still works, until its refresh token goes.
    assert_eq!(other_device.profile().await.status(), StatusCode::OK);
    let res = revoke(&app, &format!("token={}", other_device.tokens.refresh)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_tokens_dead(&app, &other_device.tokens).await;
    assert_eq!(app.audit_count("session_revoked").await, 2);
}

async fn revocation_answers_200_whatever_the_token_and_400_without_one(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.signed_in_user().await;
    for form in [
        "token=garbage",
        "token=eyJhbGciOiJIUzI1NiJ9.e30.x",
        "token=tsk_nothing&token_type_hint=refresh_token",
    ] {
        assert_eq!(revoke(&app, form).await.status(), StatusCode::OK, "{form}");
    }
    // Revoking twice is fine too.
    let form = format!("token={}", user.tokens.refresh);
    assert_eq!(revoke(&app, &form).await.status(), StatusCode::OK);
    assert_eq!(revoke(&app, &form).await.status(), StatusCode::OK);
    assert_error(
        revoke(&app, "").await,
        StatusCode::BAD_REQUEST,
        "invalid_body",
    )
    .await;
    assert_error(
        revoke(&app, "token=").await,
        StatusCode::BAD_REQUEST,
        "invalid_body",
    )
    .await;
    let res = app
        .post_json("/oauth/revoke", None, &json!({ "token": user.access() }))
        .await;
    assert_error(
        res,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
}

async fn a_body_that_is_not_a_form_is_refused_with_a_message_naming_the_form_type(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.signed_in_user().await;
    let admin = app.signed_in_admin().await;
    let (_, key) = admin.api_key(&["tokens:introspect"]).await;
    for (path, token) in [
        ("/oauth/revoke", None),
        ("/oauth/introspect", Some(key.as_str())),
    ] {
        let res = app
            .post_json(path, token, &json!({ "token": user.access() }))
            .await;
        let body = assert_error(
            res,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        )
        .await;
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains("application/x-www-form-urlencoded"),
            "{path}: {message}"
        );
        assert!(!message.contains("json"), "{path}: {message}");
    }
    // JSON routes still ask for JSON.
    let res = app
        .client
        .post(app.url("/auth/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=a&password=b")
        .send()
        .await
        .unwrap();
    let body = assert_error(
        res,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("application/json"));
    // And the document says so for each.
    let doc: serde_json::Value = app.get("/openapi.json", None).await.json().await.unwrap();
    for (path, wanted) in [
        ("/oauth/revoke", "application/x-www-form-urlencoded"),
        ("/oauth/introspect", "application/x-www-form-urlencoded"),
        ("/auth/login", "application/json"),
    ] {
        let about = doc["paths"][path]["post"]["responses"]["415"]["description"]
            .as_str()
            .unwrap();
        assert!(about.ends_with(wanted), "{path}: {about}");
    }
}

async fn a_revocation_is_audited_with_no_actor_and_the_token_owner_as_target(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.signed_in_user().await;
    let other_device = user.another_device().await;
    let admin = app.signed_in_admin().await;
    // Whoever holds a token may revoke it: nobody authenticates, so nobody is named.
    let res = revoke(&app, &format!("token={}", user.access())).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = revoke(&app, &format!("token={}", other_device.tokens.refresh)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let (status, page) = status_and_json(admin.audit("action=session_revoked").await).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{page}");
    for event in items {
        assert_eq!(event["actor_id"], json!(null), "{event}");
        assert_eq!(event["target_id"], json!(user.account.id), "{event}");
        assert_eq!(event["detail"]["via"], "oauth_revoke", "{event}");
        assert!(event["ip"].is_string(), "{event}");
    }
}
