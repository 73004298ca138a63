//! Nobody acts on a user more privileged than themselves, and an API key never
//! outlives its owner's rights: a key may do what it was given that its owner's role
//! still grants, and nothing once its owner is disabled or deleted.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::on_both_backends;
use crate::support::{
    assert_error, status_and_json, AdminClient, Backend, Cluster, TestApp, UserClient,
};

on_both_backends!(
    no_change_reaches_a_user_whose_role_holds_more_than_the_caller,
    an_api_key_does_only_what_its_owner_still_may,
    a_key_made_by_a_key_acts_for_the_same_person,
    a_key_whose_owner_is_demoted_on_one_instance_is_bounded_on_every_instance_within_a_second,
);

/// Every change the admin API can make to a user, made by `by` to user `id`.
async fn every_change(by: &AdminClient<'_>, id: i64) -> Vec<(&'static str, reqwest::Response)> {
    let app = by.app;
    let post = |path: String, body: serde_json::Value| async move {
        app.post_json(&path, Some(by.access()), &body).await
    };
    vec![
        (
            "disable",
            by.patch_user(id, &json!({ "disabled": true })).await,
        ),
        (
            "unverify",
            by.patch_user(id, &json!({ "email_verified": false })).await,
        ),
        ("role", by.patch_user(id, &json!({ "role": "user" })).await),
        ("unlock", by.unlock(id).await),
        ("revoke sessions", by.revoke_sessions(id).await),
        (
            "reset link",
            post(
                format!("/api/admin/users/{id}/password-reset"),
                json!({ "send_email": false }),
            )
            .await,
        ),
        ("mfa reset", by.reset_mfa(id).await),
        ("delete", by.delete_user(id).await),
    ]
}

async fn no_change_reaches_a_user_whose_role_holds_more_than_the_caller(b: Backend) {
    let cluster = Cluster::start(b, |_| {}).await;
    let app = cluster.a();
    let admin = app.signed_in_admin().await;
    // Every permission a user change needs, but not `*`.
    let ops = admin
        .define_role(&[
            "users:read",
            "users:write",
            "users:delete",
            "users:unlock",
            "sessions:revoke",
            "roles:manage",
        ])
        .await;
    let operator = admin.user_in_role(&ops).await.as_admin();
    let target = app.signed_in_admin().await;
    for (what, res) in every_change(&operator, target.account.id).await {
        let (status, body) = status_and_json(res).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::FORBIDDEN, Some("forbidden")),
            "{what}: {body}"
        );
    }
    // Nothing changed: the admin's session works, still an enabled admin.
    let (status, profile) = status_and_json(target.profile().await).await;
    assert_eq!(status, StatusCode::OK, "{profile}");
    assert_eq!(profile["role"], "admin");
    // Reads stay open.
    let res = operator.get_user(target.account.id).await;
    assert_eq!(res.status(), StatusCode::OK);
    // A plain user is within reach of every change, on any instance.
    let plain = app.create_user().await;
    let operator = UserClient::new(
        cluster.nth(1),
        operator.account.clone(),
        operator.tokens.clone(),
    )
    .as_admin();
    for (what, res) in every_change(&operator, plain.id).await {
        assert!(res.status().is_success(), "{what}: {}", res.status());
    }
}

/// `GET /api/admin/users` with an API key.
async fn list_users(app: &TestApp, key: &str) -> StatusCode {
    app.get("/api/admin/users", Some(key)).await.status()
}

async fn an_api_key_does_only_what_its_owner_still_may(b: Backend) {
    let app = crate::support::spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let ops = admin.define_role(&["users:read", "keys:manage"]).await;
    let operator = admin.user_in_role(&ops).await.as_admin();
    let (_, key) = operator.api_key(&["users:read", "keys:manage"]).await;
    assert_eq!(list_users(&app, &key).await, StatusCode::OK);
    // Demoted: the key keeps its own permissions on paper, but may use none its owner
    // lost; it cannot mint a key either.
    admin
        .patch_user(operator.account.id, &json!({ "role": "user" }))
        .await;
    assert_eq!(list_users(&app, &key).await, StatusCode::FORBIDDEN);
    let body = json!({ "name": "escape", "permissions": ["users:read"] });
    let res = app
        .post_json("/api/admin/api-keys", Some(&key), &body)
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    // Given the role back: the key works again.
    admin
        .patch_user(operator.account.id, &json!({ "role": ops }))
        .await;
    assert_eq!(list_users(&app, &key).await, StatusCode::OK);
    // A role that loses a permission takes it from its holders' keys too.
    admin
        .patch_role(&ops, &json!({ "permissions": ["keys:manage"] }))
        .await;
    assert_eq!(list_users(&app, &key).await, StatusCode::FORBIDDEN);
    admin
        .patch_role(
            &ops,
            &json!({ "permissions": ["users:read", "keys:manage"] }),
        )
        .await;
    assert_eq!(list_users(&app, &key).await, StatusCode::OK);
    // Disabled, then deleted: the key answers 401.
    admin
        .patch_user(operator.account.id, &json!({ "disabled": true }))
        .await;
    let res = app.get("/api/admin/users", Some(&key)).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
    admin
        .patch_user(operator.account.id, &json!({ "disabled": false }))
        .await;
    assert_eq!(list_users(&app, &key).await, StatusCode::OK);
    assert_eq!(
        admin.delete_user(operator.account.id).await.status(),
        StatusCode::NO_CONTENT
    );
    let res = app.get("/api/admin/users", Some(&key)).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

async fn a_key_made_by_a_key_acts_for_the_same_person(b: Backend) {
    let app = crate::support::spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let ops = admin.define_role(&["users:read", "keys:manage"]).await;
    let operator = admin.user_in_role(&ops).await.as_admin();
    let (_, parent) = operator.api_key(&["users:read", "keys:manage"]).await;
    let body = json!({ "name": "child", "permissions": ["users:read"] });
    let (status, child) = status_and_json(
        app.post_json("/api/admin/api-keys", Some(&parent), &body)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{child}");
    let child = child["key"].as_str().unwrap().to_string();
    assert_eq!(list_users(&app, &child).await, StatusCode::OK);
    admin
        .patch_user(operator.account.id, &json!({ "disabled": true }))
        .await;
    for key in [&parent, &child] {
        let res = app.get("/api/admin/users", Some(key)).await;
        assert_error(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
}

async fn a_key_whose_owner_is_demoted_on_one_instance_is_bounded_on_every_instance_within_a_second(
    b: Backend,
) {
    let cluster = Cluster::start(b, |_| {}).await;
    let a = cluster.a();
    let admin = a.signed_in_admin().await;
    let ops = admin.define_role(&["users:read", "keys:manage"]).await;
    let operator = admin.user_in_role(&ops).await.as_admin();
    let (_, key) = operator.api_key(&["users:read"]).await;
    // Cached on every instance, owner included.
    for app in &cluster.apps {
        assert_eq!(list_users(app, &key).await, StatusCode::OK);
    }
    admin
        .patch_user(operator.account.id, &json!({ "role": "user" }))
        .await;
    assert_eq!(list_users(a, &key).await, StatusCode::FORBIDDEN);
    let other = cluster.nth(1);
    let start = Instant::now();
    while list_users(other, &key).await != StatusCode::FORBIDDEN {
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "the other instance still lets the key read users"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}
