//! Recent sign-in to add a factor: starting or confirming a TOTP enrollment and new
//! recovery codes need a session that authenticated within `REAUTH_WINDOW_SECS`, or
//! the current password; access tokens carry `auth_time`, and refresh keeps it.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::mfa::{enroll, Authenticator};
use crate::on_both_backends;
use crate::support::{
    assert_error, claims_of, now_secs, spawn_app_with, status_and_json, Backend, Tokens, UserClient,
};

on_both_backends!(
    auth_time_is_when_the_session_signed_in_and_refresh_keeps_it,
    adding_a_factor_needs_a_recent_sign_in_or_the_current_password,
    new_recovery_codes_need_a_recent_sign_in_or_the_current_password,
);

async fn post(user: &UserClient<'_>, path: &str, body: serde_json::Value) -> reqwest::Response {
    user.app.post_json(path, Some(user.access()), &body).await
}

async fn auth_time_is_when_the_session_signed_in_and_refresh_keeps_it(b: Backend) {
    let app = spawn_app_with(b, |_| {}).await;
    let before = now_secs();
    let mut user = app.signed_in_user().await;
    let auth_time = claims_of(user.access())["auth_time"]
        .as_i64()
        .expect("auth_time");
    assert!((before..=now_secs()).contains(&auth_time), "{auth_time}");
    actix_web::rt::time::sleep(Duration::from_millis(1100)).await;
    let (status, body) = status_and_json(user.refresh().await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    user.adopt(&body);
    assert_eq!(claims_of(user.access())["auth_time"], auth_time);
    assert!(claims_of(user.access())["iat"].as_i64().unwrap() > auth_time);
}

async fn adding_a_factor_needs_a_recent_sign_in_or_the_current_password(b: Backend) {
    let app = spawn_app_with(b, |s| s.auth.reauth_window_secs = 1).await;
    let user = app.signed_in_user().await;
    actix_web::rt::time::sleep(Duration::from_millis(2100)).await;
    // A token that is valid, but of a sign-in too long ago.
    let res = post(&user, "/api/profile/mfa/totp", json!({})).await;
    let challenge = res
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_error(res, StatusCode::UNAUTHORIZED, "reauthentication_required").await;
    assert!(
        challenge.contains(r#"error="insufficient_user_authentication""#)
            && challenge.contains("max_age=1"),
        "{challenge}"
    );
    // No body at all: the same.
    let res = user
        .app
        .client
        .post(app.url("/api/profile/mfa/totp"))
        .bearer_auth(user.access())
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "reauthentication_required").await;
    // A wrong password is a failed password check.
    let wrong = json!({ "current_password": "not the password" });
    let res = post(&user, "/api/profile/mfa/totp", wrong.clone()).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_eq!(app.audit_count("password_change_failure").await, 1);
    let right = json!({ "current_password": user.account.password });
    let (status, body) = status_and_json(post(&user, "/api/profile/mfa/totp", right).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut codes = Authenticator::from_base32(body["secret"].as_str().unwrap());
    // Confirming needs it too.
    let code = codes.code().await;
    let res = post(
        &user,
        "/api/profile/mfa/totp/confirm",
        json!({ "code": code }),
    )
    .await;
    assert_error(res, StatusCode::UNAUTHORIZED, "reauthentication_required").await;
    let body = json!({ "code": code, "current_password": user.account.password });
    let (status, body) =
        status_and_json(post(&user, "/api/profile/mfa/totp/confirm", body).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["recovery_codes"].as_array().unwrap().len(), 10);
}

async fn new_recovery_codes_need_a_recent_sign_in_or_the_current_password(b: Backend) {
    // Long enough to enroll in; token times are whole seconds, so wait a second more.
    let app = spawn_app_with(b, |s| s.auth.reauth_window_secs = 4).await;
    let mut e = enroll(app.signed_in_user().await).await;
    actix_web::rt::time::sleep(Duration::from_millis(5200)).await;
    let code = e.app_codes.code().await;
    let res = post(
        &e.user,
        "/api/profile/mfa/recovery-codes",
        json!({ "code": code }),
    )
    .await;
    assert_error(res, StatusCode::UNAUTHORIZED, "reauthentication_required").await;
    // Refused before the code was looked at: the same code still works.
    let body = json!({ "code": code, "current_password": e.user.account.password });
    let (status, body) =
        status_and_json(post(&e.user, "/api/profile/mfa/recovery-codes", body).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let recovery: Vec<String> = serde_json::from_value(body["recovery_codes"].clone()).unwrap();
    // A fresh sign-in (both steps; recovery codes, which need no wait for a new time
    // step) is recent again.
    let token = crate::mfa::password_step(&app, &e.user.account).await;
    let res = crate::mfa::second_step(&app, &token, &recovery[0]).await;
    let (status, body) = status_and_json(res).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let fresh = UserClient::new(&app, e.user.account.clone(), Tokens::from_body(&body));
    let body = json!({ "code": recovery[1] });
    let res = post(&fresh, "/api/profile/mfa/recovery-codes", body).await;
    assert_eq!(res.status(), StatusCode::OK);
}
