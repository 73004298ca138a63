//! The one decision every token-issuing path takes (enabled, verified when required,
//! not locked out, current password, MFA state), and the pending credentials bound to
//! the account's state: a reset link, a login's second step and an enrollment die
//! when the role, the password, the address or the disabled flag changes.

use reqwest::StatusCode;
use serde_json::json;

use crate::email::{mail_to, mailing};
use crate::mfa::{confirm, enroll, password_step, second_step, start_enrollment, Authenticator};
use crate::on_both_backends;
use crate::support::smtp::SmtpSink;
use crate::support::{
    assert_error, spawn_app, spawn_app_with, status_and_json, AdminClient, Backend, TestApp,
    TestUser, Tokens,
};

on_both_backends!(
    a_reset_link_made_before_a_promotion_no_longer_sets_the_password,
    a_reset_link_dies_when_the_account_is_disabled_even_once_enabled_again,
    a_login_s_second_step_dies_when_the_role_changes,
    a_pending_enrollment_dies_when_the_role_changes,
    an_address_marked_unverified_stops_the_second_step_and_refresh,
    a_locked_out_account_gets_no_tokens_by_refresh_until_it_is_unlocked,
    a_disabled_account_s_verification_link_verifies_nothing,
);

/// A `users:read` + `users:write` helpdesk account, made by `admin`.
async fn helpdesk<'a>(admin: &AdminClient<'a>) -> AdminClient<'a> {
    let role = admin.define_role(&["users:read", "users:write"]).await;
    admin.user_in_role(&role).await.as_admin()
}

/// A reset link for `user` handed over by `by` (`send_email: false`): its token.
async fn reset_link(by: &AdminClient<'_>, user: &TestUser) -> String {
    let path = format!("/api/admin/users/{}/password-reset", user.id);
    let res = by
        .app
        .post_json(&path, Some(by.access()), &json!({ "send_email": false }))
        .await;
    let (status, body) = status_and_json(res).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let link = body["reset_link"].as_str().expect("reset_link");
    link.split("token=").nth(1).expect("token").to_string()
}

async fn confirm_reset(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    let body = json!({ "token": token, "new_password": password });
    app.post_json("/auth/password-reset/confirm", None, &body)
        .await
}

async fn a_reset_link_made_before_a_promotion_no_longer_sets_the_password(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let helpdesk = helpdesk(&admin).await;
    let target = app.create_user().await;
    let token = reset_link(&helpdesk, &target).await;
    let res = admin
        .patch_user(target.id, &json!({ "role": "admin" }))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = confirm_reset(&app, &token, "the helpdesk owns this now").await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_reset_token").await;
    // The admin's password is what it was; the link's holder is not an admin.
    app.login_as(&target).await;
    let res = app.login(&target.email, "the helpdesk owns this now").await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    // And the helpdesk cannot make a new link for the admin it no longer outranks.
    let path = format!("/api/admin/users/{}/password-reset", target.id);
    let res = helpdesk
        .app
        .post_json(
            &path,
            Some(helpdesk.access()),
            &json!({ "send_email": false }),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
}

async fn a_reset_link_dies_when_the_account_is_disabled_even_once_enabled_again(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let target = app.create_user().await;
    let token = reset_link(&admin, &target).await;
    for disabled in [true, false] {
        let res = admin
            .patch_user(target.id, &json!({ "disabled": disabled }))
            .await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let res = confirm_reset(&app, &token, "a brand new password").await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_reset_token").await;
    // A link made now works.
    let token = reset_link(&admin, &target).await;
    let res = confirm_reset(&app, &token, "a brand new password").await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}

async fn a_login_s_second_step_dies_when_the_role_changes(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let mut e = enroll(app.signed_in_user().await).await;
    let account = e.user.account.clone();
    let token = password_step(&app, &account).await;
    let role = admin.define_role(&["users:read"]).await;
    let res = admin.patch_user(account.id, &json!({ "role": role })).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = second_step(&app, &token, &e.app_codes.code().await).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_mfa_token").await;
    // Refused before the code was checked: the code is still good, and nothing
    // counted toward the lockout.
    e.app_codes.last_step -= 1;
    let token = password_step(&app, &account).await;
    let res = second_step(&app, &token, &e.app_codes.code().await).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.audit_count("mfa_failure").await, 0);
}

async fn a_pending_enrollment_dies_when_the_role_changes(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let user = app.signed_in_user().await;
    let (status, body) = start_enrollment(&user).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut codes = Authenticator::from_base32(body["secret"].as_str().unwrap());
    let role = admin.define_role(&["users:read"]).await;
    let res = admin
        .patch_user(user.account.id, &json!({ "role": role }))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = confirm(&user, &codes.code().await).await;
    assert_error(res, StatusCode::CONFLICT, "no_enrollment").await;
    assert_eq!(app.audit_count("mfa_enabled").await, 0);
}

async fn an_address_marked_unverified_stops_the_second_step_and_refresh(b: Backend) {
    let app = spawn_app_with(b, |s| s.auth.require_verified_email = true).await;
    let admin = app.signed_in_admin().await;
    let account = app.create_user().await;
    let verified = |v: bool| json!({ "email_verified": v });
    admin.patch_user(account.id, &verified(true)).await;
    let mut e = enroll(app.sign_in(&account).await).await;
    // A session that passed both steps, and a second step waiting.
    let first = password_step(&app, &account).await;
    let res = second_step(&app, &first, &e.app_codes.code().await).await;
    let (status, body) = status_and_json(res).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let tokens = Tokens::from_body(&body);
    let waiting = password_step(&app, &account).await;
    let res = admin.patch_user(account.id, &verified(false)).await;
    assert_eq!(res.status(), StatusCode::OK);
    // The step that began before the change ends as the password step would now.
    let res = second_step(&app, &waiting, &e.app_codes.code().await).await;
    assert_error(res, StatusCode::FORBIDDEN, "email_not_verified").await;
    let res = app.refresh(&tokens.refresh).await;
    assert_error(res, StatusCode::FORBIDDEN, "email_not_verified").await;
    // Verified again, the same session refreshes: it was refused, not revoked.
    admin.patch_user(account.id, &verified(true)).await;
    let res = app.refresh(&tokens.refresh).await;
    assert_eq!(res.status(), StatusCode::OK);
}

async fn a_locked_out_account_gets_no_tokens_by_refresh_until_it_is_unlocked(b: Backend) {
    let app = spawn_app_with(b, |s| s.auth.login_max_failures = 3.try_into().unwrap()).await;
    let admin = app.signed_in_admin().await;
    let user = app.signed_in_user().await;
    for _ in 0..3 {
        let res = app.login(&user.account.email, "not the password").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = user.refresh().await;
    let body = assert_error(res, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    assert!(body["message"].is_string());
    assert_eq!(
        admin.unlock(user.account.id).await.status(),
        StatusCode::NO_CONTENT
    );
    // The refused refresh spent nothing: the same refresh token works now.
    let res = user.refresh().await;
    assert_eq!(res.status(), StatusCode::OK);
}

async fn a_disabled_account_s_verification_link_verifies_nothing(b: Backend) {
    let sink = SmtpSink::start();
    let app = spawn_app_with(b, mailing(&sink)).await;
    let admin = app.signed_in_admin().await;
    let user = app.create_user().await;
    let mail = mail_to(&sink, &user.email, "confirm").await;
    let token = mail.link_token().expect("a link in the mail");
    admin
        .patch_user(user.id, &json!({ "disabled": true }))
        .await;
    let body = json!({ "token": token });
    let res = app
        .post_json("/auth/email-verification/confirm", None, &body)
        .await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_verification_token").await;
    let (_, shown) = status_and_json(admin.get_user(user.id).await).await;
    assert_eq!(shown["email_verified"], false);
}
