//! Multi-factor authentication, with real TOTP codes computed from the enrolled secret:
//! enrollment, two-step login, replay, the lockout, recovery codes, turning it off, an
//! admin's reset, `ADMIN_REQUIRES_MFA`, and a database that never holds the secret.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::{
    assert_error, assert_tokens_dead, claims_of, spawn_app, spawn_app_with, status_and_json, tally,
    AdminClient, Backend, Cluster, TestApp, TestUser, Tokens, UserClient,
};

on_both_backends!(
    enrolling_takes_a_code_of_the_new_secret_and_returns_ten_recovery_codes,
    an_mfa_login_takes_the_password_then_a_code_and_the_tokens_say_so,
    a_wrong_password_for_an_mfa_account_answers_exactly_as_without_mfa,
    a_totp_code_works_once_across_instances_and_concurrent_requests,
    the_same_right_second_step_sent_many_times_at_once_logs_in_once_and_locks_nobody_out,
    wrong_codes_count_toward_the_lockout_whatever_the_concurrency,
    recovery_codes_work_once_and_new_ones_void_the_old,
    an_mfa_token_dies_when_it_expires_is_replaced_or_the_password_changes,
    turning_mfa_off_takes_the_password_and_a_code,
    an_admin_resets_a_lost_device_and_every_session_of_the_user_ends,
    with_admin_requires_mfa_guarded_routes_need_a_second_factor,
    the_database_never_holds_a_secret_or_recovery_code_in_clear,
);

const STEP: u64 = 30;

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// An authenticator app: the enrolled secret, and the time steps whose codes it has
/// shown, so that every code it gives is one the server has not accepted yet.
pub(crate) struct Authenticator {
    secret: Vec<u8>,
    pub(crate) last_step: u64,
}

impl Authenticator {
    pub(crate) fn from_base32(secret: &str) -> Authenticator {
        let secret = totp_rs::Secret::try_from_base32(secret)
            .expect("base32 secret")
            .as_ref()
            .to_vec();
        Authenticator {
            secret,
            last_step: 0,
        }
    }

    fn code_for_step(&self, step: u64) -> String {
        totp_rs::Builder::new()
            .with_secret(self.secret.clone())
            .build()
            .expect("TOTP")
            .generate(step * STEP)
            .to_string()
    }

    /// A fresh code: the earliest step after the last one used that the server
    /// accepts now (one step of drift either way). Never within two seconds of a step
    /// boundary, so the request cannot cross one on its way.
    pub(crate) async fn code(&mut self) -> String {
        loop {
            let now = unix_now();
            let current = now / STEP;
            let near_boundary = now % STEP >= STEP - 2;
            let step = (self.last_step + 1).max(current.saturating_sub(1));
            if !near_boundary && step <= current + 1 {
                self.last_step = step;
                return self.code_for_step(step);
            }
            actix_web::rt::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// A code that was right a minute ago: outside the accepted window.
    fn stale_code(&self) -> String {
        self.code_for_step(unix_now() / STEP - 2)
    }
}

/// A signed-in user with MFA on.
pub(crate) struct Enrolled<'a> {
    pub(crate) user: UserClient<'a>,
    pub(crate) app_codes: Authenticator,
    pub(crate) recovery_codes: Vec<String>,
}

pub(crate) async fn start_enrollment(user: &UserClient<'_>) -> (StatusCode, Value) {
    let res = user
        .app
        .post_json("/api/profile/mfa/totp", Some(user.access()), &json!({}))
        .await;
    status_and_json(res).await
}

pub(crate) async fn confirm(user: &UserClient<'_>, code: &str) -> reqwest::Response {
    user.app
        .post_json(
            "/api/profile/mfa/totp/confirm",
            Some(user.access()),
            &json!({ "code": code }),
        )
        .await
}

pub(crate) async fn enroll(user: UserClient<'_>) -> Enrolled<'_> {
    let (status, body) = start_enrollment(&user).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut app_codes = Authenticator::from_base32(body["secret"].as_str().unwrap());
    let (status, body) = status_and_json(confirm(&user, &app_codes.code().await).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let recovery_codes = body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    Enrolled {
        user,
        app_codes,
        recovery_codes,
    }
}

/// The first step of a login that needs a second factor: the `mfa_token`.
pub(crate) async fn password_step(app: &TestApp, user: &TestUser) -> String {
    let res = app.login(&user.email, &user.password).await;
    let body = assert_error(res, StatusCode::UNAUTHORIZED, "mfa_required").await;
    assert_eq!(body["expires_in"], 300, "{body}");
    assert!(body.get("access_token").is_none(), "{body}");
    body["mfa_token"].as_str().expect("mfa_token").to_string()
}

pub(crate) async fn second_step(app: &TestApp, mfa_token: &str, code: &str) -> reqwest::Response {
    app.post_json(
        "/auth/mfa",
        None,
        &json!({ "mfa_token": mfa_token, "code": code }),
    )
    .await
}

/// Both steps, asserting the token pair.
pub(crate) async fn mfa_login(app: &TestApp, user: &TestUser, code: &str) -> Tokens {
    let token = password_step(app, user).await;
    let (status, body) = status_and_json(second_step(app, &token, code).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    Tokens::from_body(&body)
}

async fn profile(app: &TestApp, access: &str) -> Value {
    status_and_json(app.get("/api/profile", Some(access)).await)
        .await
        .1
}

async fn enrolling_takes_a_code_of_the_new_secret_and_returns_ten_recovery_codes(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.signed_in_user().await;
    assert_eq!(profile(&app, user.access()).await["mfa_enabled"], false);
    // Nothing to confirm before an enrollment starts.
    assert_error(
        confirm(&user, "123456").await,
        StatusCode::CONFLICT,
        "no_enrollment",
    )
    .await;
    let (status, first) = start_enrollment(&user).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    // Starting again replaces the pending secret.
    let (_, body) = start_enrollment(&user).await;
    assert_ne!(first["secret"], body["secret"]);
    let secret = body["secret"].as_str().unwrap();
    assert_eq!(secret.len(), 32, "160 bits in base32: {secret}");
    let uri = body["otpauth_uri"].as_str().unwrap();
    assert_eq!(
        uri,
        format!(
            "otpauth://totp/turnstile:{}?secret={secret}&issuer=turnstile",
            user.account.email
        )
    );
    let mut codes = Authenticator::from_base32(secret);
    let old = Authenticator::from_base32(first["secret"].as_str().unwrap());
    assert_error(
        confirm(&user, &old.code_for_step(unix_now() / STEP)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_mfa_code",
    )
    .await;
    assert_error(
        confirm(&user, "not a code").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_mfa_code",
    )
    .await;
    assert_error(
        confirm(&user, &codes.stale_code()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_mfa_code",
    )
    .await;
    let (status, body) = status_and_json(confirm(&user, &codes.code().await).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let recovery = body["recovery_codes"].as_array().unwrap();
    assert_eq!(recovery.len(), 10);
    assert_eq!(profile(&app, user.access()).await["mfa_enabled"], true);
    let (status, body) = start_enrollment(&user).await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::CONFLICT, &json!("mfa_already_enabled"))
    );
    assert_eq!(app.audit_count("mfa_enabled").await, 1);
    // The session that enrolled keeps working; the admin view shows the flag.
    let admin = app.signed_in_admin().await;
    let (_, shown) = status_and_json(admin.get_user(user.account.id).await).await;
    assert_eq!(shown["mfa_enabled"], true);
    let (_, stats) = status_and_json(admin.stats().await).await;
    assert_eq!(stats["mfa_enabled_total"], 1);
}

async fn an_mfa_login_takes_the_password_then_a_code_and_the_tokens_say_so(b: Backend) {
    let app = spawn_app_with(b, |s| {
        s.metrics.enabled = true;
        s.metrics.port = 0;
    })
    .await;
    let plain = app.signed_in_user().await;
    assert_eq!(claims_of(plain.access())["amr"], json!(["pwd"]));
    let mut e = enroll(app.signed_in_user().await).await;
    let token = password_step(&app, &e.user.account).await;
    let res = second_step(&app, &token, &e.app_codes.stale_code()).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_mfa_code").await;
    let res = second_step(&app, "not-a-token", &e.app_codes.code().await).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_mfa_token").await;
    // The code refused with a bad token was not spent.
    e.app_codes.last_step -= 1;
    let code = e.app_codes.code().await;
    let (status, body) = status_and_json(second_step(&app, &token, &code).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["user"]["mfa_enabled"], true);
    let tokens = Tokens::from_body(&body);
    assert_eq!(claims_of(&tokens.access)["amr"], json!(["pwd", "otp"]));
    assert_eq!(
        profile(&app, &tokens.access).await["email"],
        e.user.account.email
    );
    // Refreshing keeps the session's methods.
    let (status, body) = status_and_json(app.refresh(&tokens.refresh).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        claims_of(body["access_token"].as_str().unwrap())["amr"],
        json!(["pwd", "otp"])
    );
    // The token is single use.
    let res = second_step(&app, &token, &e.app_codes.code().await).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_mfa_token").await;
    assert_eq!(app.audit_count("mfa_failure").await, 1);
    // Every second-factor outcome is counted: the enrollment's code and the login's.
    let metrics_url = format!("{}/metrics", app.metrics_address.as_ref().unwrap());
    let text = app
        .client
        .get(&metrics_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        r#"turnstile_second_factor_total{outcome="totp"} 2"#,
        r#"turnstile_second_factor_total{outcome="invalid_code"} 1"#,
        r#"turnstile_second_factor_total{outcome="invalid_token"} 2"#,
        r#"turnstile_logins_total{outcome="mfa_required"} 1"#,
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
}

async fn a_wrong_password_for_an_mfa_account_answers_exactly_as_without_mfa(b: Backend) {
    let app = spawn_app(b).await;
    let e = enroll(app.signed_in_user().await).await;
    let plain = app.create_user().await;
    let with_mfa = status_and_json(app.login(&e.user.account.email, "wrong password").await).await;
    let without = status_and_json(app.login(&plain.email, "wrong password").await).await;
    let unknown = status_and_json(app.login("nobody@example.com", "wrong password").await).await;
    assert_eq!(with_mfa, without);
    assert_eq!(with_mfa, unknown);
    assert_eq!(with_mfa.1["error"], "invalid_credentials");
    assert!(with_mfa.1.get("mfa_token").is_none());
}

async fn a_totp_code_works_once_across_instances_and_concurrent_requests(b: Backend) {
    let c = Cluster::start(b, |s| s.auth.login_max_failures = 1000.try_into().unwrap()).await;
    let mut e = enroll(c.a().signed_in_user().await).await;
    let code = e.app_codes.code().await;
    mfa_login(c.a(), &e.user.account, &code).await;
    // The same code at another instance, inside its window: refused.
    let token = password_step(c.nth(1), &e.user.account).await;
    let res = second_step(c.nth(1), &token, &code).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_mfa_code").await;
    // One fresh code, sent two dozen times at once to every instance: one login.
    let code = e.app_codes.code().await;
    let tries = join_all((0..24).map(|i| {
        let (app, token, code) = (c.nth(i), token.clone(), code.clone());
        async move { second_step(app, &token, &code).await.status() }
    }))
    .await;
    let counts = tally(&tries);
    assert_eq!(counts.get(&200), Some(&1), "{counts:?}");
    assert_eq!(counts.get(&401), Some(&23), "{counts:?}");
}

/// A double click, or a client's retry: the same `mfa_token` and the same right code,
/// sent many times at once over every instance, with the default lockout.
async fn the_same_right_second_step_sent_many_times_at_once_logs_in_once_and_locks_nobody_out(
    b: Backend,
) {
    let c = Cluster::start(b, |_| {}).await;
    let mut e = enroll(c.a().signed_in_user().await).await;
    let token = password_step(c.a(), &e.user.account).await;
    let code = e.app_codes.code().await;
    let answers = join_all((0..20).map(|i| {
        let (app, token, code) = (c.nth(i), token.clone(), code.clone());
        async move { status_and_json(second_step(app, &token, &code).await).await }
    }))
    .await;
    let statuses: Vec<StatusCode> = answers.iter().map(|(s, _)| *s).collect();
    let counts = tally(&statuses);
    assert_eq!(counts.get(&200), Some(&1), "{counts:?}");
    assert_eq!(counts.get(&401), Some(&19), "{counts:?}");
    for (status, body) in &answers {
        if *status == StatusCode::UNAUTHORIZED {
            assert_eq!(body["error"], "invalid_mfa_token", "{body}");
        }
    }
    // No wrong code was counted: the next login goes on to its second step.
    assert_eq!(c.a().audit_count("mfa_failure").await, 0);
    for app in &c.apps {
        let token = password_step(app, &e.user.account).await;
        mfa_login_with(app, &token, &e.app_codes.code().await).await;
    }
}

/// The second step with `token`, asserting the token pair.
async fn mfa_login_with(app: &TestApp, token: &str, code: &str) -> Tokens {
    let (status, body) = status_and_json(second_step(app, token, code).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    Tokens::from_body(&body)
}

async fn wrong_codes_count_toward_the_lockout_whatever_the_concurrency(b: Backend) {
    let c = Cluster::start(b, |s| s.auth.login_max_failures = 3.try_into().unwrap()).await;
    // Signed in before the lock: every test client shares one address.
    let admin = c.a().signed_in_admin().await;
    let mut e = enroll(c.a().signed_in_user().await).await;
    let token = password_step(c.a(), &e.user.account).await;
    let stale = e.app_codes.stale_code();
    let tries = join_all((0..30).map(|i| {
        let (app, token, stale) = (c.nth(i), token.clone(), stale.clone());
        async move { second_step(app, &token, &stale).await.status() }
    }))
    .await;
    let counts = tally(&tries);
    assert!(
        counts.get(&401).copied().unwrap_or(0) <= 3,
        "more wrong codes checked than the limit: {counts:?}"
    );
    assert_eq!(
        counts.get(&401).copied().unwrap_or(0) + counts.get(&429).copied().unwrap_or(0),
        30,
        "{counts:?}"
    );
    // Now the right code, and the right password, wait for the window like any lock.
    let res = second_step(c.a(), &token, &e.app_codes.code().await).await;
    assert!(res.headers().contains_key("retry-after"));
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    let res = c
        .nth(1)
        .login(&e.user.account.email, &e.user.account.password)
        .await;
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    assert!(c.a().audit_count("lockout").await >= 1);
    // A known password does not reset the count: the lock holds until an admin lifts it.
    assert_eq!(
        admin.unlock(e.user.account.id).await.status(),
        StatusCode::NO_CONTENT
    );
    mfa_login(c.nth(1), &e.user.account, &e.app_codes.code().await).await;
}

async fn recovery_codes_work_once_and_new_ones_void_the_old(b: Backend) {
    let app = spawn_app(b).await;
    let mut e = enroll(app.signed_in_user().await).await;
    let first = e.recovery_codes[0].clone();
    // Any case, any spacing.
    let typed = first.to_uppercase().replace('-', " ");
    let tokens = mfa_login(&app, &e.user.account, &typed).await;
    assert_eq!(claims_of(&tokens.access)["amr"], json!(["pwd", "otp"]));
    assert_eq!(app.audit_count("recovery_code_used").await, 1);
    let token = password_step(&app, &e.user.account).await;
    assert_error(
        second_step(&app, &token, &first).await,
        StatusCode::UNAUTHORIZED,
        "invalid_mfa_code",
    )
    .await;
    // New codes: the old unused ones stop working, the new ones work.
    let res = app
        .post_json(
            "/api/profile/mfa/recovery-codes",
            Some(&tokens.access),
            &json!({ "code": e.app_codes.code().await }),
        )
        .await;
    let (status, body) = status_and_json(res).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let fresh: Vec<String> = body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(fresh.len(), 10);
    assert!(fresh.iter().all(|c| !e.recovery_codes.contains(c)));
    assert_error(
        second_step(&app, &token, &e.recovery_codes[1]).await,
        StatusCode::UNAUTHORIZED,
        "invalid_mfa_code",
    )
    .await;
    assert_eq!(
        second_step(&app, &token, &fresh[0]).await.status(),
        StatusCode::OK
    );
    let res = app
        .post_json(
            "/api/profile/mfa/recovery-codes",
            Some(&tokens.access),
            &json!({ "code": "000000" }),
        )
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_mfa_code").await;
    let plain = app.signed_in_user().await;
    let res = app
        .post_json(
            "/api/profile/mfa/recovery-codes",
            Some(plain.access()),
            &json!({ "code": "000000" }),
        )
        .await;
    assert_error(res, StatusCode::CONFLICT, "no_enrollment").await;
}

async fn an_mfa_token_dies_when_it_expires_is_replaced_or_the_password_changes(b: Backend) {
    let app = spawn_app(b).await;
    let mut e = enroll(app.signed_in_user().await).await;
    // Replaced by a newer login's.
    let older = password_step(&app, &e.user.account).await;
    let newer = password_step(&app, &e.user.account).await;
    let code = e.app_codes.code().await;
    assert_error(
        second_step(&app, &older, &code).await,
        StatusCode::UNAUTHORIZED,
        "invalid_mfa_token",
    )
    .await;
    // Expired (300 s, moved into the past here rather than waited for).
    app.state
        .db
        .run(|conn| {
            use diesel::prelude::*;
            use turnstile::schema::mfa_challenges::dsl::*;
            let past = chrono::Utc::now().naive_utc() - chrono::Duration::seconds(1);
            diesel::update(mfa_challenges)
                .set(expires_at.eq(past))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
    assert_error(
        second_step(&app, &newer, &code).await,
        StatusCode::UNAUTHORIZED,
        "invalid_mfa_token",
    )
    .await;
    // Bound to the password version: a password change kills it.
    let token = password_step(&app, &e.user.account).await;
    let res = e
        .user
        .change_password(&e.user.account.password.clone(), "a brand new password")
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_error(
        second_step(&app, &token, &code).await,
        StatusCode::UNAUTHORIZED,
        "invalid_mfa_token",
    )
    .await;
}

async fn turning_mfa_off_takes_the_password_and_a_code(b: Backend) {
    let app = spawn_app(b).await;
    let mut e = enroll(app.signed_in_user().await).await;
    let disable = |password: String, code: String| {
        let (app, access) = (&app, e.user.access().to_string());
        async move {
            let body = json!({ "current_password": password, "code": code });
            app.post_json("/api/profile/mfa/disable", Some(&access), &body)
                .await
        }
    };
    let password = e.user.account.password.clone();
    let res = disable("wrong password".into(), e.app_codes.code().await).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let res = disable(password.clone(), e.app_codes.stale_code()).await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_mfa_code").await;
    let res = disable(password.clone(), e.app_codes.code().await).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(profile(&app, e.user.access()).await["mfa_enabled"], false);
    // Login is one step again, and there is nothing left to turn off.
    let tokens = app.login_as(&e.user.account).await;
    assert_eq!(claims_of(&tokens.access)["amr"], json!(["pwd"]));
    let res = disable(password, e.recovery_codes[0].clone()).await;
    assert_error(res, StatusCode::CONFLICT, "no_enrollment").await;
    assert_eq!(app.audit_count("mfa_disabled").await, 1);
}

async fn an_admin_resets_a_lost_device_and_every_session_of_the_user_ends(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let mut e = enroll(app.signed_in_user().await).await;
    let second = mfa_login(&app, &e.user.account, &e.app_codes.code().await).await;
    let path = format!("/api/admin/users/{}/mfa", e.user.account.id);
    assert_eq!(
        app.delete(&path, admin.access()).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_tokens_dead(&app, &e.user.tokens).await;
    assert_tokens_dead(&app, &second).await;
    let tokens = app.login_as(&e.user.account).await;
    assert_eq!(profile(&app, &tokens.access).await["mfa_enabled"], false);
    assert_eq!(
        app.delete("/api/admin/users/999999/mfa", admin.access())
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    // Support staff may reset users, never someone stronger than themselves.
    let support = admin
        .user_in_role(&admin.define_role(&["users:write"]).await)
        .await;
    let res = app
        .delete(
            &format!("/api/admin/users/{}/mfa", admin.account.id),
            support.access(),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = app.delete(&path, e.user.access()).await;
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "its session was revoked"
    );
}

async fn with_admin_requires_mfa_guarded_routes_need_a_second_factor(b: Backend) {
    let app = spawn_app_with(b, |s| s.auth.admin_requires_mfa = true).await;
    // An admin made by create-admin can always sign in and enroll.
    let admin = app.signed_in_admin().await;
    let res = admin.list_users("").await;
    assert_error(res, StatusCode::FORBIDDEN, "mfa_required").await;
    // A user without the permission is told that, not about MFA.
    let plain = app.signed_in_user().await;
    assert_error(
        plain.as_admin().list_users("").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // Routes without a permission stay open, enrollment included.
    assert_eq!(admin.profile().await.status(), StatusCode::OK);
    let account = admin.account.clone();
    let mut e = enroll(admin.me).await;
    let tokens = mfa_login(&app, &account, &e.app_codes.code().await).await;
    let strong = AdminClient {
        me: UserClient::new(&app, account, tokens),
    };
    assert_eq!(strong.list_users("").await.status(), StatusCode::OK);
    // The session without a second factor still cannot, even now MFA is on.
    let res = app.get("/api/admin/users", Some(e.user.access())).await;
    assert_error(res, StatusCode::FORBIDDEN, "mfa_required").await;
    assert_eq!(strong.stats().await.status(), StatusCode::OK);
}

async fn the_database_never_holds_a_secret_or_recovery_code_in_clear(b: Backend) {
    let app = spawn_app(b).await;
    let e = enroll(app.signed_in_user().await).await;
    let secret = totp_rs::Secret::from(e.app_codes.secret.clone()).to_base32();
    let hex: String = e
        .app_codes
        .secret
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let stored = app
        .state
        .db
        .run(|conn| {
            use diesel::prelude::*;
            use turnstile::schema::{recovery_codes, totp_secrets};
            let sealed: Vec<String> = totp_secrets::table
                .select(totp_secrets::secret_sealed)
                .load(conn)?;
            let codes: Vec<String> = recovery_codes::table
                .select(recovery_codes::code_hash)
                .load(conn)?;
            Ok((sealed, codes))
        })
        .await
        .unwrap();
    let text = format!("{stored:?}");
    assert_eq!(stored.0.len(), 1);
    assert_eq!(stored.1.len(), 10);
    assert!(
        !text.contains(&secret) && !text.contains(&hex),
        "the secret is stored in clear"
    );
    for code in &e.recovery_codes {
        assert!(!text.contains(code) && !text.contains(&code.replace('-', "")));
    }
    if b == Backend::Sqlite {
        // Every byte SQLite wrote: the database file and its write-ahead log.
        let url = app.state.settings.database.url.clone();
        let path = url.trim_start_matches("sqlite://").to_string();
        let mut bytes = Vec::new();
        for suffix in ["", "-wal"] {
            bytes.extend(std::fs::read(format!("{path}{suffix}")).unwrap_or_default());
        }
        assert!(bytes.len() > 4096, "read the database file");
        let raw = e.app_codes.secret.as_slice();
        assert!(
            !bytes.windows(raw.len()).any(|w| w == raw),
            "raw secret bytes on disk"
        );
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "base32 secret on disk"
        );
    }
}
