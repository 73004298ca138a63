//! Token revocation (RFC 7009): holding a token is enough to end its session.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    assert_error, assert_tokens_dead, spawn_app, status_and_json, Backend, TestApp,
};
use crate::on_both_backends;

on_both_backends!(
    revoking_an_access_or_refresh_token_ends_its_session,
    revocation_answers_200_whatever_the_token_and_400_without_one,
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
