//! API keys (`tsk_...`): service credentials with their own permissions, shown once,
//! refused on person-only routes, deleted at once everywhere, authenticated from the
//! cache; and token introspection (RFC 7662), which only a key may call.

use std::time::{Duration, Instant};

use futures_util::future::{join, join_all};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::{
    assert_error, new_email, spawn_app, status_and_json, tally, Backend, Cluster, TestApp,
};

on_both_backends!(
    a_new_key_is_shown_once_and_listed_without_its_secret,
    a_key_opens_the_routes_its_permissions_name_and_no_others,
    routes_that_need_a_person_refuse_a_key_with_403,
    nobody_can_grant_a_key_more_than_they_hold,
    deleted_expired_and_made_up_keys_answer_401_invalid_token,
    a_key_deleted_while_requests_are_in_flight_is_refused_from_then_on,
    what_a_key_does_is_audited_under_the_key_with_no_person_as_actor,
    a_key_costs_no_database_query_per_request_and_its_last_use_is_kept,
    a_key_deleted_on_one_instance_is_refused_by_every_instance_within_a_second,
    bad_key_requests_answer_422_or_400,
    introspection_describes_a_live_access_token_as_the_middleware_sees_it,
    introspection_answers_exactly_inactive_once_the_middleware_would_refuse,
    introspection_of_a_refresh_token_follows_the_session,
    introspection_needs_a_key_with_tokens_introspect,
    an_api_key_holds_at_most_256_permissions,
);

/// `GET path` with `Authorization: Bearer <key>`.
async fn get_with(app: &TestApp, path: &str, key: &str) -> reqwest::Response {
    app.get(path, Some(key)).await
}

/// `POST /oauth/introspect` with a form body, authenticated by `key` when given.
async fn introspect(app: &TestApp, key: Option<&str>, form: &str) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/oauth/introspect"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_string());
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    req.send().await.expect("introspect")
}

async fn introspected(app: &TestApp, key: &str, token: &str) -> Value {
    let (status, body) =
        status_and_json(introspect(app, Some(key), &format!("token={token}")).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn a_new_key_is_shown_once_and_listed_without_its_secret(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let body = json!({ "name": "  provisioning  ", "permissions": ["users:read", "users:read"], "expires_in_days": 30 });
    let (status, created) = status_and_json(admin.create_api_key(&body).await).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let key = created["key"].as_str().unwrap();
    // 256 random bits in base64url are 43 characters after the prefix.
    assert!(key.starts_with("tsk_") && key.len() >= 4 + 43, "{key}");
    assert_eq!(created["prefix"], &key[..12]);
    assert_eq!(created["name"], "provisioning");
    assert_eq!(created["permissions"], json!(["users:read"]));
    assert_eq!(created["last_used_at"], Value::Null);
    let created_at: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(created["created_at"].clone()).unwrap();
    let expires_at: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(created["expires_at"].clone()).unwrap();
    assert_eq!((expires_at - created_at).num_days(), 30);

    let (status, list) =
        status_and_json(app.get("/api/admin/api-keys", Some(admin.access())).await).await;
    assert_eq!(status, StatusCode::OK);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let mut expected = created.clone();
    expected.as_object_mut().unwrap().remove("key");
    assert_eq!(items[0], expected);
    // The secret is nowhere in the database: only its hash.
    let secret = key.to_string();
    let stored: Vec<String> = app
        .state
        .db
        .run(|conn| {
            use diesel::prelude::*;
            use turnstile::schema::api_keys;
            Ok(api_keys::table.select(api_keys::key_hash).load(conn)?)
        })
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].contains(&secret[4..]));
    // A key that never expires says so.
    let (_, forever) = status_and_json(
        admin
            .create_api_key(&json!({ "name": "forever", "permissions": [] }))
            .await,
    )
    .await;
    assert_eq!(forever["expires_at"], Value::Null);
    assert_ne!(forever["key"], created["key"]);
}

async fn a_key_opens_the_routes_its_permissions_name_and_no_others(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let (_, key) = admin.api_key(&["users:read", "users:write"]).await;
    assert_eq!(
        get_with(&app, "/api/admin/users", &key).await.status(),
        StatusCode::OK
    );
    // Provisioning a user, the use the keys are for.
    let email = new_email();
    let res = app
        .post_json(
            "/api/admin/users",
            Some(&key),
            &json!({ "email": email, "password": "correct horse battery" }),
        )
        .await;
    let (status, user) = status_and_json(res).await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_eq!(
        app.login(&email, "correct horse battery").await.status(),
        StatusCode::OK
    );
    // What it does not hold is refused like any caller without the permission.
    for path in [
        "/api/admin/audit",
        "/api/admin/api-keys",
        "/api/admin/roles",
    ] {
        assert_error(
            get_with(&app, path, &key).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
    }
    let res = app
        .delete(&format!("/api/admin/users/{}", user["id"]), &key)
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
}

async fn routes_that_need_a_person_refuse_a_key_with_403(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let (_, key) = admin.api_key(&["users:read"]).await;
    for path in ["/api/profile", "/api/sessions"] {
        assert_error(
            get_with(&app, path, &key).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
    }
    let res = app
        .post_json(
            "/api/profile/password",
            Some(&key),
            &json!({ "current_password": "x", "new_password": "correct horse battery" }),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = app
        .post_json("/api/profile/mfa/totp", Some(&key), &json!({}))
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = app.delete("/api/sessions/1", &key).await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = app.post_json("/auth/logout", Some(&key), &json!({})).await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    // The key still works where it should afterwards.
    assert_eq!(
        get_with(&app, "/api/admin/users", &key).await.status(),
        StatusCode::OK
    );
}

async fn nobody_can_grant_a_key_more_than_they_hold(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let role = admin.define_role(&["keys:manage", "users:read"]).await;
    let staff = admin.user_in_role(&role).await.as_admin();
    let (_, narrow) = staff.api_key(&["users:read"]).await;
    assert_eq!(
        get_with(&app, "/api/admin/users", &narrow).await.status(),
        StatusCode::OK
    );
    for permissions in [
        json!(["users:write"]),
        json!(["users:read", "*"]),
        json!(["orders:write"]),
    ] {
        let res = staff
            .create_api_key(&json!({ "name": "wider", "permissions": permissions }))
            .await;
        assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    }
    // A key that may manage keys cannot mint a wider one either.
    let (_, manager) = staff.api_key(&["keys:manage"]).await;
    let res = app
        .post_json(
            "/api/admin/api-keys",
            Some(&manager),
            &json!({ "name": "wider", "permissions": ["users:read"] }),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = app
        .post_json(
            "/api/admin/api-keys",
            Some(&manager),
            &json!({ "name": "same", "permissions": ["keys:manage"] }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    // A person without keys:manage cannot create or list keys at all.
    let user = app.signed_in_user().await.as_admin();
    let res = user
        .create_api_key(&json!({ "name": "x", "permissions": [] }))
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    // The admin (holding `*`) may grant the application's own permissions.
    let (_, app_key) = admin.api_key(&["orders:write", "*"]).await;
    assert!(app_key.starts_with("tsk_"));
}

async fn deleted_expired_and_made_up_keys_answer_401_invalid_token(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let (id, key) = admin.api_key(&["users:read"]).await;
    assert_eq!(
        get_with(&app, "/api/admin/users", &key).await.status(),
        StatusCode::OK
    );
    let res = app
        .delete(&format!("/api/admin/api-keys/{id}"), admin.access())
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_error(
        get_with(&app, "/api/admin/users", &key).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    let res = app
        .delete(&format!("/api/admin/api-keys/{id}"), admin.access())
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;

    // An expired key: its expiry moved into the past behind the server's back, after
    // the key has been used (and so cached).
    let (id, key) = admin.api_key(&["users:read"]).await;
    assert_eq!(
        get_with(&app, "/api/admin/users", &key).await.status(),
        StatusCode::OK
    );
    app.state
        .db
        .run(move |conn| {
            use diesel::prelude::*;
            use turnstile::schema::api_keys;
            let past = chrono::Utc::now().naive_utc() - chrono::Duration::seconds(1);
            Ok(diesel::update(api_keys::table.find(id))
                .set(api_keys::expires_at.eq(Some(past)))
                .execute(conn)?)
        })
        .await
        .unwrap();
    app.state.cache.clear();
    assert_error(
        get_with(&app, "/api/admin/users", &key).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;

    let mut made_up = key.clone();
    made_up.replace_range(20..21, if &key[20..21] == "A" { "B" } else { "A" });
    for bad in [
        made_up.as_str(),
        "tsk_",
        "tsk_short",
        "tsk_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
    ] {
        let res = get_with(&app, "/api/admin/users", bad).await;
        assert_error(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
}

async fn a_key_deleted_while_requests_are_in_flight_is_refused_from_then_on(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    for _ in 0..5 {
        let (id, key) = admin.api_key(&["users:read"]).await;
        // Requests racing the deletion may see the key or not; any request sent after
        // the 204 must not, whatever the racing ones put into the cache.
        let racing = (0..30).map(|_| get_with(&app, "/api/admin/users?per_page=1", &key));
        let path = format!("/api/admin/api-keys/{id}");
        let deletion = app.delete(&path, admin.access());
        let (racing, deleted) = join(join_all(racing), deletion).await;
        let deleted = status_and_json(deleted).await;
        assert_eq!(deleted.0, StatusCode::NO_CONTENT, "{}", deleted.1);
        let statuses: Vec<_> = racing.iter().map(|r| r.status()).collect();
        assert!(
            statuses
                .iter()
                .all(|s| [StatusCode::OK, StatusCode::UNAUTHORIZED].contains(s)),
            "{:?}",
            tally(&statuses)
        );
        let after =
            join_all((0..30).map(|_| get_with(&app, "/api/admin/users?per_page=1", &key))).await;
        let statuses: Vec<_> = after.iter().map(|r| r.status()).collect();
        assert_eq!(
            tally(&statuses),
            [(401, 30)].into_iter().collect(),
            "after the delete"
        );
    }
}

async fn what_a_key_does_is_audited_under_the_key_with_no_person_as_actor(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let (key_id, key) = admin
        .api_key(&["users:write", "users:read", "sessions:revoke"])
        .await;
    let res = app
        .post_json(
            "/api/admin/users",
            Some(&key),
            &json!({ "email": new_email(), "password": "correct horse battery" }),
        )
        .await;
    let (_, user) = status_and_json(res).await;
    let path = format!("/api/admin/users/{}/revoke-sessions", user["id"]);
    assert_eq!(
        app.post_json(&path, Some(&key), &json!({})).await.status(),
        StatusCode::NO_CONTENT
    );
    for action in ["user_created", "sessions_revoked"] {
        let (_, page) = status_and_json(admin.audit(&format!("action={action}")).await).await;
        let event = &page["items"][0];
        assert_eq!(event["actor_id"], Value::Null, "{event}");
        assert_eq!(event["target_id"], user["id"], "{event}");
        assert_eq!(event["detail"]["api_key_id"], key_id, "{event}");
    }
    // The key's own life is audited under the admin who managed it.
    let res = app
        .delete(&format!("/api/admin/api-keys/{key_id}"), admin.access())
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    for action in ["api_key_created", "api_key_deleted"] {
        let (_, page) = status_and_json(admin.audit(&format!("action={action}")).await).await;
        let event = &page["items"][0];
        assert_eq!(event["actor_id"], admin.account.id, "{event}");
        assert_eq!(event["detail"]["key_id"], key_id, "{event}");
        assert!(
            !event.to_string().contains(&key[4..]),
            "the secret is not in the trail"
        );
    }
}

async fn a_key_costs_no_database_query_per_request_and_its_last_use_is_kept(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let (id, key) = admin.api_key(&["tokens:introspect"]).await;
    let user = app.signed_in_user().await;
    // The first use fills the cache and records the use.
    assert_eq!(
        introspected(&app, &key, user.access()).await["active"],
        true
    );
    let start = Instant::now();
    let last_used = loop {
        let (_, list) =
            status_and_json(app.get("/api/admin/api-keys", Some(admin.access())).await).await;
        let item = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == id)
            .cloned()
            .unwrap();
        if !item["last_used_at"].is_null() {
            break item["last_used_at"].clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "last_used_at never written"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    };
    // Introspecting an access token is the middleware's check: no query either.
    let form = format!("token={}", user.access());
    let before = app.state.db.calls();
    let answers = join_all((0..50).map(|_| introspect(&app, Some(&key), &form))).await;
    assert!(answers.iter().all(|r| r.status() == StatusCode::OK));
    assert_eq!(
        app.state.db.calls() - before,
        0,
        "database calls for 50 requests"
    );
    // Not written again within the minute.
    let (_, list) =
        status_and_json(app.get("/api/admin/api-keys", Some(admin.access())).await).await;
    let item = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id)
        .cloned()
        .unwrap();
    assert_eq!(item["last_used_at"], last_used);
}

async fn a_key_deleted_on_one_instance_is_refused_by_every_instance_within_a_second(b: Backend) {
    let cluster = Cluster::start(b, |_| {}).await;
    let (a, other) = (cluster.a(), cluster.nth(1));
    let admin = a.signed_in_admin().await;
    let (id, key) = admin.api_key(&["users:read"]).await;
    // Cached on every instance.
    for app in &cluster.apps {
        assert_eq!(
            get_with(app, "/api/admin/users", &key).await.status(),
            StatusCode::OK
        );
    }
    let res = a
        .delete(&format!("/api/admin/api-keys/{id}"), admin.access())
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        get_with(a, "/api/admin/users", &key).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let start = Instant::now();
    while get_with(other, "/api/admin/users", &key).await.status() != StatusCode::UNAUTHORIZED {
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "the other instance still accepts the key"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn bad_key_requests_answer_422_or_400(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    for body in [
        json!({ "permissions": [] }),
        json!({ "name": "", "permissions": [] }),
        json!({ "name": "  ", "permissions": [] }),
        json!({ "name": "x\u{7}", "permissions": [] }),
        json!({ "name": "x".repeat(101), "permissions": [] }),
        json!({ "name": "x" }),
        json!({ "name": "x", "permissions": ["not a permission"] }),
        json!({ "name": "x", "permissions": ["Users:Read"] }),
        json!({ "name": "x", "permissions": [], "expires_in_days": 0 }),
        json!({ "name": "x", "permissions": [], "expires_in_days": 3651 }),
        json!({ "name": "x", "permissions": [], "expires_in_days": -1 }),
        json!({ "name": "x", "permissions": [], "expires_in_days": 1.5 }),
    ] {
        let res = admin.create_api_key(&body).await;
        assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_error").await;
    }
    for body in [
        json!({ "name": 5, "permissions": [] }),
        json!({ "name": "x", "permissions": "users:read" }),
        json!({ "name": "x", "permissions": [], "expires_in_days": "soon" }),
        json!([]),
    ] {
        let res = admin.create_api_key(&body).await;
        assert_error(res, StatusCode::BAD_REQUEST, "invalid_body").await;
    }
    let res = app.delete("/api/admin/api-keys/abc", admin.access()).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = app
        .delete("/api/admin/api-keys/999999", admin.access())
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let (_, list) =
        status_and_json(app.get("/api/admin/api-keys", Some(admin.access())).await).await;
    assert_eq!(list["items"], json!([]), "nothing half-created");
    // A whole number written with a fraction is an integer to JSON Schema: accepted.
    let res = admin
        .create_api_key(&json!({ "name": "x", "permissions": [], "expires_in_days": 2.0 }))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
}

async fn introspection_describes_a_live_access_token_as_the_middleware_sees_it(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let (_, key) = admin.api_key(&["tokens:introspect"]).await;
    let user = app.signed_in_user().await;
    let claims = crate::support::claims_of(user.access());
    let body = introspected(&app, &key, user.access()).await;
    assert_eq!(
        body,
        json!({
            "active": true,
            "token_type": "access_token",
            "sub": claims["sub"],
            "role": "user",
            "sid": claims["sid"],
            "jti": claims["jti"],
            "exp": claims["exp"],
            "iat": claims["iat"],
            "iss": claims["iss"],
            "aud": claims["aud"],
            "amr": ["pwd"],
        })
    );
    // The role is the current one, as the middleware would see it.
    let res = admin
        .patch_user(user.account.id, &json!({ "role": "admin" }))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        introspected(&app, &key, user.access()).await["role"],
        "admin"
    );
    // token_type_hint is only a hint.
    let form = format!("token={}&token_type_hint=refresh_token", user.access());
    let (_, body) = status_and_json(introspect(&app, Some(&key), &form).await).await;
    assert_eq!(body["token_type"], "access_token");
}

async fn introspection_answers_exactly_inactive_once_the_middleware_would_refuse(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let (_, key) = admin.api_key(&["tokens:introspect"]).await;
    let inactive = json!({ "active": false });
    for garbage in ["garbage", "eyJhbGciOiJIUzI1NiJ9.e30.x", key.as_str()] {
        assert_eq!(
            introspected(&app, &key, garbage).await,
            inactive,
            "{garbage}"
        );
    }
    // Logged out.
    let user = app.signed_in_user().await;
    assert_eq!(user.logout().await.status(), StatusCode::NO_CONTENT);
    assert_eq!(introspected(&app, &key, user.access()).await, inactive);
    // Password changed: the old password version.
    let user = app.signed_in_user().await;
    let other = user.another_device().await;
    let res = user
        .change_password(&user.account.password, "another good passphrase")
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(introspected(&app, &key, other.access()).await, inactive);
    // Disabled, then deleted.
    let user = app.signed_in_user().await;
    assert_eq!(
        admin
            .patch_user(user.account.id, &json!({ "disabled": true }))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(introspected(&app, &key, user.access()).await, inactive);
    assert_eq!(
        introspected(&app, &key, &user.tokens.refresh).await,
        inactive
    );
    let user = app.signed_in_user().await;
    assert_eq!(
        admin.delete_user(user.account.id).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(introspected(&app, &key, user.access()).await, inactive);
    // Revoked through RFC 7009.
    let user = app.signed_in_user().await;
    let res = crate::oauth::revoke(&app, &format!("token={}", user.tokens.refresh)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(introspected(&app, &key, user.access()).await, inactive);
    assert_eq!(
        introspected(&app, &key, &user.tokens.refresh).await,
        inactive
    );
}

async fn introspection_of_a_refresh_token_follows_the_session(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let (_, key) = admin.api_key(&["tokens:introspect"]).await;
    let mut user = app.signed_in_user().await;
    let body = introspected(&app, &key, &user.tokens.refresh).await;
    let claims = crate::support::claims_of(user.access());
    assert_eq!(body["active"], true);
    assert_eq!(body["token_type"], "refresh_token");
    assert_eq!(body["sub"], claims["sub"]);
    assert_eq!(body["sid"], claims["sid"]);
    assert!(body["exp"].as_i64().unwrap() > claims["exp"].as_i64().unwrap());
    let keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys.len(), 5, "{body}");
    // Spent by a refresh: the old one is inactive, the new one active.
    let spent = user.tokens.refresh.clone();
    let res = user.refresh().await;
    let (status, pair) = status_and_json(res).await;
    assert_eq!(status, StatusCode::OK);
    user.adopt(&pair);
    assert_eq!(
        introspected(&app, &key, &spent).await,
        json!({ "active": false })
    );
    assert_eq!(
        introspected(&app, &key, &user.tokens.refresh).await["active"],
        true
    );
}

async fn introspection_needs_a_key_with_tokens_introspect(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let user = app.signed_in_user().await;
    let form = format!("token={}", user.access());
    assert_error(
        introspect(&app, None, &form).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_error(
        introspect(&app, Some("tsk_unknown"), &form).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    let (_, narrow) = admin.api_key(&["users:read"]).await;
    assert_error(
        introspect(&app, Some(&narrow), &form).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // A person, even one holding every permission, is not a service.
    assert_error(
        introspect(&app, Some(admin.access()), &form).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let (_, key) = admin.api_key(&["tokens:introspect"]).await;
    assert_error(
        introspect(&app, Some(&key), "").await,
        StatusCode::BAD_REQUEST,
        "invalid_body",
    )
    .await;
    let res = app
        .post_json(
            "/oauth/introspect",
            Some(&key),
            &json!({ "token": user.access() }),
        )
        .await;
    assert_error(
        res,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
}

async fn an_api_key_holds_at_most_256_permissions(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let body = json!({ "name": "wide", "permissions": crate::roles::many_permissions(257) });
    let err = assert_error(
        admin.create_api_key(&body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_error",
    )
    .await;
    assert!(err["message"].as_str().unwrap().contains("256"), "{err}");
    let body = json!({ "name": "wide", "permissions": crate::roles::many_permissions(256) });
    let (status, key) = status_and_json(admin.create_api_key(&body).await).await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    assert_eq!(key["permissions"].as_array().unwrap().len(), 256);
}
