//! Account recovery and email verification, against a real SMTP server on loopback:
//! the outbox delivers, retries through outages and restarts, sends each mail once
//! with several instances, and the links keep their promises.

use std::time::Duration;

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::smtp::{Mode, ReceivedMail, SmtpSink};
use crate::support::{
    assert_error, assert_tokens_dead, new_email, spawn_app, spawn_app_with, status_and_json, tally,
    Backend, Cluster, TestApp, TestUser,
};
use turnstile::settings::Settings;

on_both_backends!(
    without_smtp_the_mail_routes_answer_501_and_links_still_work,
    a_reset_mail_arrives_and_its_link_sets_the_password_once,
    a_newer_reset_link_voids_the_older_ones,
    a_password_change_voids_every_reset_link,
    unknown_disabled_and_limited_addresses_get_the_same_answer_and_no_mail,
    asking_for_resets_is_limited_per_client,
    an_address_is_verified_by_the_registration_mail_or_a_requested_one,
    with_verified_email_required_login_waits_for_verification,
    an_admin_resets_by_mail_or_by_link_but_never_for_a_stronger_account,
    an_admin_marks_an_address_verified,
    a_mail_queued_while_smtp_is_down_goes_out_when_it_comes_back,
    a_mail_queued_before_a_restart_is_sent_by_the_next_instance,
    every_instance_together_sends_each_mail_once,
    a_refused_mail_is_given_up_counted_and_kept_out_of_the_queue,
    a_reset_link_used_by_many_at_once_works_exactly_once,
    asking_for_verification_many_times_at_once_queues_one_mail,
    the_per_address_limit_holds_with_requests_spread_over_instances,
    concurrent_admin_resets_of_one_user_never_deadlock_and_leave_one_live_link,
);

const MAIL_WAIT: Duration = Duration::from_secs(15);

/// Settings for an app that mails through `sink`, retrying fast.
pub(crate) fn mailing(sink: &SmtpSink) -> impl FnOnce(&mut Settings) {
    let url = sink.url();
    move |s: &mut Settings| {
        s.email.smtp_url = Some(url.parse().unwrap());
        s.email.retry_base_secs = 1.try_into().unwrap();
        s.email.poll_millis = 100.try_into().unwrap();
        // A stopped instance's claims run out quickly.
        s.email.claim_secs = 3.try_into().unwrap();
    }
}

async fn mailing_app(b: Backend, sink: &SmtpSink) -> TestApp {
    spawn_app_with(b, mailing(sink)).await
}

/// Waits for a mail to `to` whose subject mentions `about`.
pub(crate) async fn mail_to(sink: &SmtpSink, to: &str, about: &str) -> ReceivedMail {
    let start = std::time::Instant::now();
    loop {
        let found = sink
            .messages()
            .into_iter()
            .find(|m| m.to.iter().any(|t| t == to) && m.subject.to_lowercase().contains(about));
        if let Some(m) = found {
            return m;
        }
        assert!(
            start.elapsed() < MAIL_WAIT,
            "no '{about}' mail to {to}; got {:?}",
            sink.messages()
                .iter()
                .map(|m| (&m.to, &m.subject))
                .collect::<Vec<_>>()
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

fn mails_to(sink: &SmtpSink, to: &str, about: &str) -> Vec<ReceivedMail> {
    sink.messages()
        .into_iter()
        .filter(|m| m.to.iter().any(|t| t == to) && m.subject.to_lowercase().contains(about))
        .collect()
}

async fn ask_reset(app: &TestApp, email: &str) -> reqwest::Response {
    app.post_json("/auth/password-reset", None, &json!({ "email": email }))
        .await
}

async fn confirm_reset(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    let body = json!({ "token": token, "new_password": password });
    app.post_json("/auth/password-reset/confirm", None, &body)
        .await
}

async fn confirm_verification(app: &TestApp, token: &str) -> reqwest::Response {
    let body = json!({ "token": token });
    app.post_json("/auth/email-verification/confirm", None, &body)
        .await
}

async fn profile_of(app: &TestApp, user: &TestUser) -> Value {
    let tokens = app.login_as(user).await;
    status_and_json(app.get("/api/profile", Some(&tokens.access)).await)
        .await
        .1
}

async fn without_smtp_the_mail_routes_answer_501_and_links_still_work(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let (user, tokens) = app.user_with_tokens().await;
    assert_error(
        ask_reset(&app, &user.email).await,
        StatusCode::NOT_IMPLEMENTED,
        "email_not_configured",
    )
    .await;
    assert_error(
        ask_reset(&app, "nobody@example.com").await,
        StatusCode::NOT_IMPLEMENTED,
        "email_not_configured",
    )
    .await;
    let res = app
        .post_json(
            "/api/profile/email-verification",
            Some(&tokens.access),
            &json!({}),
        )
        .await;
    assert_error(res, StatusCode::NOT_IMPLEMENTED, "email_not_configured").await;
    let path = format!("/api/admin/users/{}/password-reset", user.id);
    let res = app.post_json(&path, Some(admin.access()), &json!({})).await;
    assert_error(res, StatusCode::NOT_IMPLEMENTED, "email_not_configured").await;
    // The body is optional, but when sent it is an object.
    let res = app
        .post_json(&path, Some(admin.access()), &json!(null))
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_body").await;
    // A link handed over by an admin works without any mail.
    let res = app
        .post_json(&path, Some(admin.access()), &json!({ "send_email": false }))
        .await;
    let (status, body) = status_and_json(res).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["expires_at"].is_string());
    let link = body["reset_link"].as_str().unwrap();
    assert!(
        link.starts_with("http://localhost:8080/reset-password?token="),
        "{link}"
    );
    let token = link.rsplit("token=").next().unwrap();
    assert_eq!(
        confirm_reset(&app, token, "a brand new password")
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_tokens_dead(&app, &tokens).await;
    assert_eq!(
        app.login(&user.email, "a brand new password")
            .await
            .status(),
        StatusCode::OK
    );
}

async fn a_reset_mail_arrives_and_its_link_sets_the_password_once(b: Backend) {
    let sink = SmtpSink::start();
    let app = mailing_app(b, &sink).await;
    let (user, tokens) = app.user_with_tokens().await;
    let second_device = app.login_as(&user).await;
    // Two failures on the account, to see the reset clear them.
    for _ in 0..2 {
        app.login(&user.email, "wrong password").await;
    }
    let (status, body) = status_and_json(ask_reset(&app, &user.email.to_uppercase()).await).await;
    assert_eq!((status, body), (StatusCode::ACCEPTED, json!({})));
    let mail = mail_to(&sink, &user.email, "reset").await;
    assert!(mail.subject.contains("turnstile"), "{}", mail.subject);
    let line = mail.link_line().expect("a link line");
    assert!(
        line.starts_with("http://localhost:8080/reset-password?token="),
        "{line}"
    );
    assert!(mail.body.contains("expires in 1 hour"), "{}", mail.body);
    assert!(
        mail.body.contains("If you did not ask for this"),
        "{}",
        mail.body
    );
    let token = mail.link_token().expect("token");
    assert!(token.len() >= 22, "at least 128 bits: {token}");
    // A weak password is refused and the link stays usable.
    let res = confirm_reset(&app, &token, "short").await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_error").await;
    let res = confirm_reset(&app, &token, "a brand new password").await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // Every earlier token on every device is dead; the new password works.
    assert_tokens_dead(&app, &tokens).await;
    assert_tokens_dead(&app, &second_device).await;
    assert_eq!(
        app.login(&user.email, &user.password).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let fresh = TestUser {
        password: "a brand new password".into(),
        ..user.clone()
    };
    let profile = profile_of(&app, &fresh).await;
    assert_eq!(
        profile["email_verified"], true,
        "a reset proves the address"
    );
    // Used once.
    let res = confirm_reset(&app, &token, "yet another password").await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_reset_token").await;
    let res = confirm_reset(&app, "not-a-token", "yet another password").await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_reset_token").await;
    // The account owner hears about the change, without the password.
    let notice = mail_to(&sink, &user.email, "password was changed").await;
    assert!(!notice.body.contains("a brand new password"));
    assert!(notice.link_token().is_none());
    // Audited; and the database holds no token, only its hash.
    assert!(app.audit_count("password_reset_requested").await >= 1);
    assert_eq!(app.audit_count("password_reset").await, 1);
    let stored = app
        .state
        .db
        .run(|conn| {
            use diesel::prelude::*;
            let hashes: Vec<String> = turnstile::schema::email_tokens::table
                .select(turnstile::schema::email_tokens::token_hash)
                .load(conn)?;
            let rows: Vec<(String, Option<String>)> = turnstile::schema::outbox::table
                .select((
                    turnstile::schema::outbox::to_addr,
                    turnstile::schema::outbox::last_error,
                ))
                .load(conn)?;
            Ok((hashes, rows))
        })
        .await
        .unwrap();
    assert!(
        !format!("{stored:?}").contains(&token),
        "a token is stored in clear"
    );
}

async fn a_newer_reset_link_voids_the_older_ones(b: Backend) {
    let sink = SmtpSink::start();
    let app = mailing_app(b, &sink).await;
    let user = app.create_user().await;
    ask_reset(&app, &user.email).await;
    let first = mail_to(&sink, &user.email, "reset")
        .await
        .link_token()
        .unwrap();
    ask_reset(&app, &user.email).await;
    let start = std::time::Instant::now();
    while mails_to(&sink, &user.email, "reset").len() < 2 {
        assert!(start.elapsed() < MAIL_WAIT, "no second reset mail");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    let second = mails_to(&sink, &user.email, "reset")[1]
        .link_token()
        .unwrap();
    assert_ne!(first, second);
    let res = confirm_reset(&app, &first, "a brand new password").await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_reset_token").await;
    assert_eq!(
        confirm_reset(&app, &second, "a brand new password")
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
}

async fn a_password_change_voids_every_reset_link(b: Backend) {
    let sink = SmtpSink::start();
    let app = mailing_app(b, &sink).await;
    let (user, tokens) = app.user_with_tokens().await;
    ask_reset(&app, &user.email).await;
    let token = mail_to(&sink, &user.email, "reset")
        .await
        .link_token()
        .unwrap();
    let body = json!({ "current_password": user.password, "new_password": "changed by the owner" });
    let res = app
        .post_json("/api/profile/password", Some(&tokens.access), &body)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = confirm_reset(&app, &token, "a thief's password").await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_reset_token").await;
    assert_eq!(
        app.login(&user.email, "changed by the owner")
            .await
            .status(),
        StatusCode::OK
    );
    mail_to(&sink, &user.email, "password was changed").await;
}

async fn unknown_disabled_and_limited_addresses_get_the_same_answer_and_no_mail(b: Backend) {
    let sink = SmtpSink::start();
    let app = spawn_app_with(b, |s| {
        mailing(&sink)(s);
        s.email.max_per_address_per_hour = 2;
        s.auth.login_max_failures = 100.try_into().unwrap();
    })
    .await;
    let admin = app.signed_in_admin().await;
    let disabled = app.create_user().await;
    admin
        .patch_user(disabled.id, &json!({ "disabled": true }))
        .await;
    let limited = app.create_user().await;
    let unknown = new_email();
    let mut answers = vec![];
    for address in [
        unknown.as_str(),
        disabled.email.as_str(),
        limited.email.as_str(),
        limited.email.as_str(),
        limited.email.as_str(),
        limited.email.as_str(),
    ] {
        answers.push(status_and_json(ask_reset(&app, address).await).await);
    }
    for answer in &answers {
        assert_eq!(answer, &(StatusCode::ACCEPTED, json!({})));
    }
    // The limited address gets its hour's two mails (the registration's verification
    // mail counts too), the others none.
    let start = std::time::Instant::now();
    while mails_to(&sink, &limited.email, "").len() < 2 {
        assert!(
            start.elapsed() < MAIL_WAIT,
            "the limited address got no mail"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(mails_to(&sink, &limited.email, "reset").len(), 1);
    assert_eq!(mails_to(&sink, &limited.email, "").len(), 2);
    assert!(mails_to(&sink, &unknown, "").is_empty());
    assert!(mails_to(&sink, &disabled.email, "reset").is_empty());
    let res = ask_reset(&app, "not an address").await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_error").await;
}

async fn asking_for_resets_is_limited_per_client(b: Backend) {
    let sink = SmtpSink::start();
    let app = spawn_app_with(b, |s| {
        mailing(&sink)(s);
        s.auth.login_max_failures = 3.try_into().unwrap();
    })
    .await;
    let asked = join_all((0..10).map(|_| {
        let email = new_email();
        let app = &app;
        async move { ask_reset(app, &email).await.status() }
    }))
    .await;
    let counts = tally(&asked);
    assert_eq!(
        (counts.get(&202), counts.get(&429)),
        (Some(&3), Some(&7)),
        "{counts:?}"
    );
    let res = ask_reset(&app, &new_email()).await;
    assert!(res.headers().contains_key("retry-after"));
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
}

async fn an_address_is_verified_by_the_registration_mail_or_a_requested_one(b: Backend) {
    let sink = SmtpSink::start();
    let app = mailing_app(b, &sink).await;
    let user = app.create_user().await;
    let mail = mail_to(&sink, &user.email, "confirm").await;
    let line = mail.link_line().unwrap();
    assert!(
        line.starts_with("http://localhost:8080/verify-email?token="),
        "{line}"
    );
    assert!(mail.body.contains("expires in 1 day"), "{}", mail.body);
    assert_eq!(profile_of(&app, &user).await["email_verified"], false);
    let token = mail.link_token().unwrap();
    assert_eq!(
        confirm_verification(&app, &token).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(profile_of(&app, &user).await["email_verified"], true);
    let res = confirm_verification(&app, &token).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_verification_token").await;
    let tokens = app.login_as(&user).await;
    let res = app
        .post_json(
            "/api/profile/email-verification",
            Some(&tokens.access),
            &json!({}),
        )
        .await;
    assert_error(res, StatusCode::CONFLICT, "already_verified").await;
    // An address made unverified by an admin asks for a fresh mail.
    let admin = app.signed_in_admin().await;
    admin
        .patch_user(user.id, &json!({ "email_verified": false }))
        .await;
    let res = app
        .post_json(
            "/api/profile/email-verification",
            Some(&tokens.access),
            &json!({}),
        )
        .await;
    assert_eq!(
        status_and_json(res).await,
        (StatusCode::ACCEPTED, json!({}))
    );
    let start = std::time::Instant::now();
    while mails_to(&sink, &user.email, "confirm").len() < 2 {
        assert!(start.elapsed() < MAIL_WAIT, "no second verification mail");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    let again = mails_to(&sink, &user.email, "confirm")[1]
        .link_token()
        .unwrap();
    assert_eq!(
        confirm_verification(&app, &again).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_error(
        confirm_verification(&app, "garbage").await,
        StatusCode::UNAUTHORIZED,
        "invalid_verification_token",
    )
    .await;
    assert!(app.audit_count("email_verification_sent").await >= 2);
    assert!(app.audit_count("email_verified").await >= 2);
}

async fn with_verified_email_required_login_waits_for_verification(b: Backend) {
    let sink = SmtpSink::start();
    let app = spawn_app_with(b, |s| {
        mailing(&sink)(s);
        s.auth.require_verified_email = true;
    })
    .await;
    let user = app.create_user().await;
    let res = app.login(&user.email, &user.password).await;
    assert_error(res, StatusCode::FORBIDDEN, "email_not_verified").await;
    // A wrong password answers as always: nothing about verification leaks.
    let res = app.login(&user.email, "wrong password").await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let token = mail_to(&sink, &user.email, "confirm")
        .await
        .link_token()
        .unwrap();
    assert_eq!(
        confirm_verification(&app, &token).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.login(&user.email, &user.password).await.status(),
        StatusCode::OK
    );
    // An admin made by create-admin is verified by the operator's word: login_as
    // asserts the 200.
    app.login_as(&app.create_admin().await).await;
}

async fn an_admin_resets_by_mail_or_by_link_but_never_for_a_stronger_account(b: Backend) {
    let sink = SmtpSink::start();
    let app = mailing_app(b, &sink).await;
    let admin = app.signed_in_admin().await;
    let user = app.create_user().await;
    let path = format!("/api/admin/users/{}/password-reset", user.id);
    let res = app.post_json(&path, Some(admin.access()), &json!({})).await;
    assert_eq!(
        status_and_json(res).await,
        (StatusCode::ACCEPTED, json!({}))
    );
    let mailed = mail_to(&sink, &user.email, "reset")
        .await
        .link_token()
        .unwrap();
    let res = app
        .post_json(&path, Some(admin.access()), &json!({ "send_email": false }))
        .await;
    let (status, body) = status_and_json(res).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let handed = body["reset_link"]
        .as_str()
        .unwrap()
        .rsplit("token=")
        .next()
        .unwrap()
        .to_string();
    // The newer link voided the mailed one.
    assert_error(
        confirm_reset(&app, &mailed, "a brand new password").await,
        StatusCode::UNAUTHORIZED,
        "invalid_reset_token",
    )
    .await;
    assert_eq!(
        confirm_reset(&app, &handed, "a brand new password")
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    // Support staff with users:write cannot get a link to an admin's account.
    let support = admin
        .user_in_role(&admin.define_role(&["users:write", "users:read"]).await)
        .await;
    let res = app
        .post_json(
            &format!("/api/admin/users/{}/password-reset", admin.me.account.id),
            Some(support.access()),
            &json!({ "send_email": false }),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = app
        .post_json(
            "/api/admin/users/999999/password-reset",
            Some(admin.access()),
            &json!({}),
        )
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
}

async fn an_admin_marks_an_address_verified(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let user = app.create_user().await;
    let (_, body) = status_and_json(admin.get_user(user.id).await).await;
    assert_eq!(body["email_verified"], false);
    let (status, body) = status_and_json(
        admin
            .patch_user(user.id, &json!({ "email_verified": true }))
            .await,
    )
    .await;
    assert_eq!(
        (status, &body["email_verified"]),
        (StatusCode::OK, &json!(true)),
        "{body}"
    );
    let reader = admin
        .user_in_role(&admin.define_role(&["users:read"]).await)
        .await
        .as_admin();
    let res = reader
        .patch_user(user.id, &json!({ "email_verified": false }))
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
}

async fn a_mail_queued_while_smtp_is_down_goes_out_when_it_comes_back(b: Backend) {
    let sink = SmtpSink::start();
    let app = mailing_app(b, &sink).await;
    let user = app.create_user().await;
    mail_to(&sink, &user.email, "confirm").await;
    for outage in [Mode::Unavailable, Mode::DeferData] {
        sink.set_mode(outage);
        let before = mails_to(&sink, &user.email, "reset").len();
        let tried = sink.connections();
        assert_eq!(
            ask_reset(&app, &user.email).await.status(),
            StatusCode::ACCEPTED
        );
        // It is tried, refused, and tried again...
        let start = std::time::Instant::now();
        while sink.connections() < tried + 2 {
            assert!(start.elapsed() < MAIL_WAIT, "{outage:?}: no retry");
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(mails_to(&sink, &user.email, "reset").len(), before);
        // ... until the server is back.
        sink.set_mode(Mode::Accept);
        let start = std::time::Instant::now();
        while mails_to(&sink, &user.email, "reset").len() < before + 1 {
            assert!(
                start.elapsed() < MAIL_WAIT,
                "{outage:?}: the mail never went out"
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // Connection refused is an outage too.
    sink.go_down();
    let before = mails_to(&sink, &user.email, "reset").len();
    ask_reset(&app, &user.email).await;
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    sink.come_up();
    let start = std::time::Instant::now();
    while mails_to(&sink, &user.email, "reset").len() < before + 1 {
        assert!(
            start.elapsed() < MAIL_WAIT,
            "refused: the mail never went out"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn a_mail_queued_before_a_restart_is_sent_by_the_next_instance(b: Backend) {
    let sink = SmtpSink::start();
    let first = mailing_app(b, &sink).await;
    let user = first.create_user().await;
    mail_to(&sink, &user.email, "confirm").await;
    sink.go_down();
    assert_eq!(
        ask_reset(&first, &user.email).await.status(),
        StatusCode::ACCEPTED
    );
    // The process goes away right after answering.
    first.stop();
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    sink.come_up();
    let next = first.second_instance().await;
    let token = mail_to(&sink, &user.email, "reset")
        .await
        .link_token()
        .unwrap();
    assert_eq!(
        confirm_reset(&next, &token, "a brand new password")
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
}

async fn every_instance_together_sends_each_mail_once(b: Backend) {
    let sink = SmtpSink::start();
    let c = Cluster::start(b, |s| {
        mailing(&sink)(s);
        s.auth.login_max_failures = 1000.try_into().unwrap();
        s.email.max_per_address_per_hour = 1000;
    })
    .await;
    let mut users = vec![];
    for _ in 0..12 {
        users.push(c.a().create_user().await);
    }
    sink.wait_for(12, MAIL_WAIT).await;
    let asked = join_all(
        users
            .iter()
            .enumerate()
            .map(|(i, u)| ask_reset(c.nth(i), &u.email)),
    )
    .await;
    assert!(asked.iter().all(|r| r.status() == StatusCode::ACCEPTED));
    let all = sink.wait_for(24, MAIL_WAIT).await;
    let settled = sink.assert_exactly(24, Duration::from_secs(2)).await;
    assert_eq!(all.len(), settled.len());
    for u in &users {
        assert_eq!(mails_to(&sink, &u.email, "reset").len(), 1, "{}", u.email);
        assert_eq!(mails_to(&sink, &u.email, "confirm").len(), 1, "{}", u.email);
    }
}

async fn a_refused_mail_is_given_up_counted_and_kept_out_of_the_queue(b: Backend) {
    let sink = SmtpSink::start();
    let app = spawn_app_with(b, |s| {
        mailing(&sink)(s);
        s.metrics.enabled = true;
        s.metrics.port = 0;
    })
    .await;
    let user = app.create_user().await;
    mail_to(&sink, &user.email, "confirm").await;
    sink.set_mode(Mode::Reject);
    ask_reset(&app, &user.email).await;
    let metrics_url = format!("{}/metrics", app.metrics_address.as_ref().unwrap());
    let start = std::time::Instant::now();
    loop {
        let text = app
            .client
            .get(&metrics_url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let failed =
            text.contains(r#"turnstile_mails_total{kind="password_reset",outcome="failed"} 1"#);
        if failed {
            assert!(
                text.contains(
                    r#"turnstile_mails_total{kind="email_verification",outcome="sent"} 1"#
                ),
                "{text}"
            );
            assert!(text.contains("turnstile_outbox_depth 0"), "{text}");
            break;
        }
        assert!(start.elapsed() < MAIL_WAIT, "never given up: {text}");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    // A permanent refusal is not retried.
    let tried = sink.connections();
    actix_web::rt::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(sink.connections(), tried);
}

async fn a_reset_link_used_by_many_at_once_works_exactly_once(b: Backend) {
    let sink = SmtpSink::start();
    let c = Cluster::start(b, mailing(&sink)).await;
    let user = c.a().create_user().await;
    ask_reset(c.a(), &user.email).await;
    let token = mail_to(&sink, &user.email, "reset")
        .await
        .link_token()
        .unwrap();
    let tries = join_all((0..16).map(|i| {
        let token = token.clone();
        let app = c.nth(i);
        async move {
            confirm_reset(app, &token, &format!("password number {i}"))
                .await
                .status()
        }
    }))
    .await;
    let counts = tally(&tries);
    assert_eq!(
        (counts.get(&204), counts.get(&401)),
        (Some(&1), Some(&15)),
        "{counts:?}"
    );
    // The one that won set the password.
    let winner = tries
        .iter()
        .position(|s| *s == StatusCode::NO_CONTENT)
        .unwrap();
    let res = c
        .nth(1)
        .login(&user.email, &format!("password number {winner}"))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

async fn asking_for_verification_many_times_at_once_queues_one_mail(b: Backend) {
    let sink = SmtpSink::start();
    let app = mailing_app(b, &sink).await;
    let (user, tokens) = app.user_with_tokens().await;
    mail_to(&sink, &user.email, "confirm").await;
    // With the server down the first request's mail is still waiting when the others
    // arrive: they add nothing to it.
    sink.go_down();
    let asked = join_all((0..20).map(|_| {
        let (app, access) = (&app, &tokens.access);
        async move {
            app.post_json("/api/profile/email-verification", Some(access), &json!({}))
                .await
                .status()
        }
    }))
    .await;
    assert_eq!(tally(&asked).get(&202), Some(&20), "{asked:?}");
    sink.come_up();
    sink.wait_for(2, MAIL_WAIT).await;
    sink.assert_exactly(2, Duration::from_secs(2)).await;
    // The one mail's link works.
    let token = mails_to(&sink, &user.email, "confirm")[1]
        .link_token()
        .unwrap();
    assert_eq!(
        confirm_verification(&app, &token).await.status(),
        StatusCode::NO_CONTENT
    );
}

/// Waits until every queued mail of the database behind `app` is sent, suppressed or
/// given up.
async fn outbox_drained(app: &TestApp) {
    let start = std::time::Instant::now();
    loop {
        let depth = app
            .state
            .db
            .run(|conn| Ok(turnstile::models::outbox::depth(conn)?))
            .await
            .expect("outbox depth");
        if depth == 0 {
            return;
        }
        assert!(start.elapsed() < MAIL_WAIT, "{depth} mail(s) still queued");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn the_per_address_limit_holds_with_requests_spread_over_instances(b: Backend) {
    let sink = SmtpSink::start();
    let c = Cluster::start(b, |s| {
        mailing(&sink)(s);
        s.auth.login_max_failures = 1000.try_into().unwrap();
        s.email.max_per_address_per_hour = 5;
    })
    .await;
    let user = c.a().create_user().await;
    // The registration's verification mail is the hour's first.
    mail_to(&sink, &user.email, "confirm").await;
    let asked = join_all((0..30).map(|i| ask_reset(c.nth(i), &user.email))).await;
    assert!(asked.iter().all(|r| r.status() == StatusCode::ACCEPTED));
    outbox_drained(c.a()).await;
    let mails = sink.assert_exactly(5, Duration::from_millis(1500)).await;
    assert!(mails.iter().all(|m| m.to == [user.email.clone()]));
    assert_eq!(mails_to(&sink, &user.email, "reset").len(), 4);
}

async fn concurrent_admin_resets_of_one_user_never_deadlock_and_leave_one_live_link(b: Backend) {
    let sink = SmtpSink::start();
    let c = Cluster::start(b, |s| {
        mailing(&sink)(s);
        s.email.max_per_address_per_hour = 1000;
    })
    .await;
    let admin = c.a().signed_in_admin().await;
    let user = c.a().create_user().await;
    mail_to(&sink, &user.email, "confirm").await;
    let path = format!("/api/admin/users/{}/password-reset", user.id);
    // Links and mails mixed, spread over every instance, while their workers send.
    let answers = join_all((0..96).map(|i| {
        let (app, path, token) = (c.nth(i), path.clone(), admin.access().to_string());
        let body = json!({ "send_email": i % 2 == 1 });
        async move { status_and_json(app.post_json(&path, Some(&token), &body).await).await }
    }))
    .await;
    let statuses: Vec<StatusCode> = answers.iter().map(|(s, _)| *s).collect();
    let counts = tally(&statuses);
    assert_eq!(
        (counts.get(&200), counts.get(&202)),
        (Some(&48), Some(&48)),
        "{counts:?}"
    );
    outbox_drained(c.a()).await;
    let mailed = mails_to(&sink, &user.email, "reset");
    assert_eq!(mailed.len(), 48);
    let mut tokens: Vec<String> = answers
        .iter()
        .filter_map(|(_, body)| body["reset_link"].as_str())
        .map(|link| link.split("token=").nth(1).expect("token").to_string())
        .collect();
    tokens.extend(mailed.iter().filter_map(|m| m.link_token()));
    assert_eq!(tokens.len(), 96);
    // A weak password is refused after the link is checked and leaves it usable: 422
    // for the one live link, 401 for every other.
    let mut live = 0;
    for token in &tokens {
        match confirm_reset(c.a(), token, "short").await.status() {
            StatusCode::UNPROCESSABLE_ENTITY => live += 1,
            StatusCode::UNAUTHORIZED => {}
            other => panic!("a reset link answered {other}"),
        }
    }
    assert_eq!(live, 1, "live reset links");
}
