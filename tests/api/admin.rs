//! The admin scope: role guard, user management, last-admin protection, audit, stats.

use futures_util::future::join;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{
    assert_error, claims_of, new_email, spawn_app, spawn_app_with, status_and_json, Backend,
};
use crate::on_both_backends;

on_both_backends!(
    non_admins_get_403_on_every_admin_route,
    users_are_listed_in_stable_pages_with_a_total,
    users_can_be_searched_by_email_and_filtered_by_role,
    invalid_paging_returns_4xx_not_500,
    admin_creates_a_user_with_a_role,
    unknown_user_is_404_and_a_non_numeric_id_is_400,
    a_role_change_takes_effect_on_the_very_next_request,
    disabling_a_user_rejects_their_tokens_at_once,
    deleting_a_user_rejects_their_tokens_and_logins,
    the_last_active_admin_cannot_be_demoted_disabled_or_deleted,
    two_admins_demoting_each_other_at_once_leave_one_admin,
    revoke_sessions_stops_every_token_of_the_user,
    the_audit_trail_records_each_action,
    stats_count_users_and_logins,
);

async fn non_admins_get_403_on_every_admin_route(b: Backend) {
    let app = spawn_app(b).await;
    let (user, tokens) = app.user_with_tokens().await;
    let t = &tokens.access;
    let id = user.id;
    let responses = vec![
        app.get("/api/admin/users", Some(t)).await,
        app.post_json("/api/admin/users", Some(t), &json!({})).await,
        app.get(&format!("/api/admin/users/{id}"), Some(t)).await,
        app.patch_json(
            &format!("/api/admin/users/{id}"),
            t,
            &json!({ "role": "admin" }),
        )
        .await,
        app.delete(&format!("/api/admin/users/{id}"), t).await,
        app.post_json(
            &format!("/api/admin/users/{id}/revoke-sessions"),
            Some(t),
            &json!({}),
        )
        .await,
        app.post_json(
            &format!("/api/admin/users/{id}/unlock"),
            Some(t),
            &json!({}),
        )
        .await,
        app.get("/api/admin/audit", Some(t)).await,
        app.get("/api/admin/stats", Some(t)).await,
    ];
    for res in responses {
        assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    }
    // Without a token it is 401, not 403.
    assert_eq!(
        app.get("/api/admin/users", None).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

async fn users_are_listed_in_stable_pages_with_a_total(b: Backend) {
    let app = spawn_app(b).await;
    let (_, admin) = app.admin_with_tokens().await;
    for _ in 0..4 {
        app.create_user().await;
    }
    let page = |p: i64, per: i64| format!("/api/admin/users?page={p}&per_page={per}");
    let (status, first) = status_and_json(app.get(&page(1, 2), Some(&admin.access)).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            first["total"].as_i64(),
            first["page"].as_i64(),
            first["per_page"].as_i64()
        ),
        (Some(5), Some(1), Some(2))
    );
    let (_, last) = status_and_json(app.get(&page(3, 2), Some(&admin.access)).await).await;
    assert_eq!(last["items"].as_array().unwrap().len(), 1);
    let (_, empty) = status_and_json(app.get(&page(4, 2), Some(&admin.access)).await).await;
    assert_eq!(empty["items"], json!([]));
    assert_eq!(empty["total"], 5);

    let mut ids = Vec::new();
    for p in 1..=3 {
        let (_, body) = status_and_json(app.get(&page(p, 2), Some(&admin.access)).await).await;
        ids.extend(
            body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["id"].as_i64().unwrap()),
        );
    }
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(ids, sorted, "ordered by id, no repeats");
    assert_eq!(ids.len(), 5);

    let (_, capped) = status_and_json(
        app.get("/api/admin/users?per_page=1000", Some(&admin.access))
            .await,
    )
    .await;
    assert_eq!(capped["per_page"], 100);
    let (_, default) =
        status_and_json(app.get("/api/admin/users", Some(&admin.access)).await).await;
    assert_eq!(
        (default["page"].as_i64(), default["per_page"].as_i64()),
        (Some(1), Some(20))
    );
}

async fn users_can_be_searched_by_email_and_filtered_by_role(b: Backend) {
    let app = spawn_app(b).await;
    let (admin_user, admin) = app.admin_with_tokens().await;
    let special = format!("findme_{}", new_email());
    app.register(&special, "correct horse battery").await;
    app.create_user().await;
    let q = "FINDME_";
    let (_, body) = status_and_json(
        app.get(&format!("/api/admin/users?q={q}"), Some(&admin.access))
            .await,
    )
    .await;
    assert_eq!(body["total"], 1, "{body}");
    assert_eq!(body["items"][0]["email"], special);
    // LIKE wildcards are literal.
    let (_, body) =
        status_and_json(app.get("/api/admin/users?q=%25", Some(&admin.access)).await).await;
    assert_eq!(body["total"], 0, "{body}");
    let (_, admins) = status_and_json(
        app.get("/api/admin/users?role=admin", Some(&admin.access))
            .await,
    )
    .await;
    assert_eq!(admins["total"], 1);
    assert_eq!(admins["items"][0]["id"], admin_user.id);
    let (_, users) = status_and_json(
        app.get("/api/admin/users?role=user&q=", Some(&admin.access))
            .await,
    )
    .await;
    assert_eq!(users["total"], 2);
    let res = app
        .get("/api/admin/users?role=root", Some(&admin.access))
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_error").await;
}

async fn invalid_paging_returns_4xx_not_500(b: Backend) {
    let app = spawn_app(b).await;
    let (_, admin) = app.admin_with_tokens().await;
    for (query, status) in [
        ("page=0", StatusCode::UNPROCESSABLE_ENTITY),
        ("page=-1", StatusCode::UNPROCESSABLE_ENTITY),
        ("per_page=0", StatusCode::UNPROCESSABLE_ENTITY),
        ("page=abc", StatusCode::BAD_REQUEST),
        ("per_page=1.5", StatusCode::BAD_REQUEST),
        ("page=99999999999999999999", StatusCode::BAD_REQUEST),
    ] {
        let res = app
            .get(&format!("/api/admin/users?{query}"), Some(&admin.access))
            .await;
        let (got, body) = status_and_json(res).await;
        assert_eq!(got, status, "{query}: {body}");
        assert!(body["error"].is_string());
    }
    let (got, _) = status_and_json(
        app.get(
            "/api/admin/users?page=9223372036854775807&per_page=100",
            Some(&admin.access),
        )
        .await,
    )
    .await;
    assert_eq!(got, StatusCode::OK);
}

async fn admin_creates_a_user_with_a_role(b: Backend) {
    let app = spawn_app(b).await;
    let (_, admin) = app.admin_with_tokens().await;
    let email = new_email();
    let res = app
        .post_json(
            "/api/admin/users",
            Some(&admin.access),
            &json!({ "email": email, "password": "initial password", "role": "admin" }),
        )
        .await;
    let (status, body) = status_and_json(res).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["role"], "admin");
    assert_eq!(
        app.login(&email, "initial password").await.status(),
        StatusCode::OK
    );
    let dup = app
        .post_json("/api/admin/users", Some(&admin.access), &json!({ "email": email.to_uppercase(), "password": "initial password", "role": "user" }))
        .await;
    assert_error(dup, StatusCode::CONFLICT, "email_taken").await;
    let bad = app
        .post_json(
            "/api/admin/users",
            Some(&admin.access),
            &json!({ "email": new_email(), "password": "initial password", "role": "god" }),
        )
        .await;
    assert_error(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_error").await;
}

async fn unknown_user_is_404_and_a_non_numeric_id_is_400(b: Backend) {
    let app = spawn_app(b).await;
    let (admin_user, admin) = app.admin_with_tokens().await;
    let (status, body) = status_and_json(
        app.get(
            &format!("/api/admin/users/{}", admin_user.id),
            Some(&admin.access),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["email"], admin_user.email);
    let t = &admin.access;
    assert_error(
        app.get("/api/admin/users/999999", Some(t)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        app.patch_json("/api/admin/users/999999", t, &json!({ "disabled": true }))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        app.delete("/api/admin/users/999999", t).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        app.post_json(
            "/api/admin/users/999999/revoke-sessions",
            Some(t),
            &json!({}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        app.post_json("/api/admin/users/999999/unlock", Some(t), &json!({}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let (status, body) = status_and_json(app.get("/api/admin/users/abc", Some(t)).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"].is_string());
}

async fn a_role_change_takes_effect_on_the_very_next_request(b: Backend) {
    let app = spawn_app(b).await;
    let (_, admin) = app.admin_with_tokens().await;
    let (user, tokens) = app.user_with_tokens().await;
    let path = format!("/api/admin/users/{}", user.id);
    assert_eq!(
        app.get("/api/admin/stats", Some(&tokens.access))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let (status, body) = status_and_json(
        app.patch_json(&path, &admin.access, &json!({ "role": "admin" }))
            .await,
    )
    .await;
    assert_eq!(
        (status, body["role"].as_str()),
        (StatusCode::OK, Some("admin"))
    );
    // Same token, new role.
    assert_eq!(
        app.get("/api/admin/stats", Some(&tokens.access))
            .await
            .status(),
        StatusCode::OK
    );
    app.patch_json(&path, &admin.access, &json!({ "role": "user" }))
        .await;
    assert_eq!(
        app.get("/api/admin/stats", Some(&tokens.access))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/api/profile", Some(&tokens.access)).await.status(),
        StatusCode::OK
    );
}

async fn disabling_a_user_rejects_their_tokens_at_once(b: Backend) {
    let app = spawn_app(b).await;
    let (_, admin) = app.admin_with_tokens().await;
    let (user, tokens) = app.user_with_tokens().await;
    let path = format!("/api/admin/users/{}", user.id);
    let (_, body) = status_and_json(
        app.patch_json(&path, &admin.access, &json!({ "disabled": true }))
            .await,
    )
    .await;
    assert_eq!(body["disabled"], true);
    assert_eq!(
        app.get("/api/profile", Some(&tokens.access)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Re-enabling does not bring old sessions back; a new login works.
    app.patch_json(&path, &admin.access, &json!({ "disabled": false }))
        .await;
    assert_eq!(
        app.get("/api/profile", Some(&tokens.access)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let fresh = app.login_as(&user).await;
    assert_eq!(
        app.get("/api/profile", Some(&fresh.access)).await.status(),
        StatusCode::OK
    );
}

async fn deleting_a_user_rejects_their_tokens_and_logins(b: Backend) {
    let app = spawn_app(b).await;
    let (_, admin) = app.admin_with_tokens().await;
    let (user, tokens) = app.user_with_tokens().await;
    let res = app
        .delete(&format!("/api/admin/users/{}", user.id), &admin.access)
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/api/profile", Some(&tokens.access)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.refresh(&tokens.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login(&user.email, &user.password).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get(
            &format!("/api/admin/users/{}", user.id),
            Some(&admin.access)
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );
}

async fn the_last_active_admin_cannot_be_demoted_disabled_or_deleted(b: Backend) {
    let app = spawn_app(b).await;
    let (me, admin) = app.admin_with_tokens().await;
    let path = format!("/api/admin/users/{}", me.id);
    assert_error(
        app.patch_json(&path, &admin.access, &json!({ "role": "user" }))
            .await,
        StatusCode::CONFLICT,
        "last_admin",
    )
    .await;
    assert_error(
        app.patch_json(&path, &admin.access, &json!({ "disabled": true }))
            .await,
        StatusCode::CONFLICT,
        "last_admin",
    )
    .await;
    assert_error(
        app.delete(&path, &admin.access).await,
        StatusCode::CONFLICT,
        "last_admin",
    )
    .await;
    // With a second admin the first may step down.
    let second = app.create_admin().await;
    let res = app
        .patch_json(&path, &admin.access, &json!({ "role": "user" }))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let second_tokens = app.login_as(&second).await;
    let second_path = format!("/api/admin/users/{}", second.id);
    assert_error(
        app.delete(&second_path, &second_tokens.access).await,
        StatusCode::CONFLICT,
        "last_admin",
    )
    .await;
}

async fn two_admins_demoting_each_other_at_once_leave_one_admin(b: Backend) {
    let app = spawn_app(b).await;
    for _ in 0..5 {
        let (a, a_tokens) = app.admin_with_tokens().await;
        let (bb, b_tokens) = app.admin_with_tokens().await;
        let (ra, rb) = join(
            app.patch_json(
                &format!("/api/admin/users/{}", bb.id),
                &a_tokens.access,
                &json!({ "role": "user" }),
            ),
            app.patch_json(
                &format!("/api/admin/users/{}", a.id),
                &b_tokens.access,
                &json!({ "role": "user" }),
            ),
        )
        .await;
        let statuses = [ra.status(), rb.status()];
        let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
        assert_eq!(ok, 1, "{statuses:?}");
        assert!(
            statuses
                .iter()
                .all(|s| [StatusCode::OK, StatusCode::CONFLICT, StatusCode::FORBIDDEN].contains(s)),
            "{statuses:?}"
        );
        assert_eq!(count_active_admins(&app).await, 1);
        // Start the next round with no admins around but the new pair.
        demote_all_admins_directly(&app).await;
    }
}

async fn count_active_admins(app: &crate::helpers::TestApp) -> i64 {
    use diesel::prelude::*;
    use turnstile::schema::users;
    app.state
        .db
        .run(|conn| {
            Ok(users::table
                .filter(users::role.eq("admin"))
                .filter(users::disabled.eq(false))
                .count()
                .get_result(conn)?)
        })
        .await
        .unwrap()
}

async fn demote_all_admins_directly(app: &crate::helpers::TestApp) {
    use diesel::prelude::*;
    use turnstile::schema::users;
    app.state
        .db
        .transaction(|conn| {
            Ok(diesel::update(users::table)
                .set(users::role.eq("user"))
                .execute(conn)?)
        })
        .await
        .unwrap();
}

async fn revoke_sessions_stops_every_token_of_the_user(b: Backend) {
    let app = spawn_app(b).await;
    let (_, admin) = app.admin_with_tokens().await;
    let user = app.create_user().await;
    let one = app.login_as(&user).await;
    let two = app.login_as(&user).await;
    let res = app
        .post_json(
            &format!("/api/admin/users/{}/revoke-sessions", user.id),
            Some(&admin.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    for t in [&one, &two] {
        assert_eq!(
            app.get("/api/profile", Some(&t.access)).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            app.refresh(&t.refresh).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // A new login works.
    app.login_as(&user).await;
    assert_eq!(
        app.get("/api/profile", Some(&admin.access)).await.status(),
        StatusCode::OK
    );
}

async fn audit_actions(app: &crate::helpers::TestApp, token: &str, query: &str) -> Vec<Value> {
    let (status, body) = status_and_json(
        app.get(
            &format!("/api/admin/audit?per_page=100{query}"),
            Some(token),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().unwrap().clone()
}

async fn the_audit_trail_records_each_action(b: Backend) {
    let app = spawn_app_with(b, |s| {
        s.auth.refresh_reuse_interval_secs = 0;
        s.auth.login_max_failures = 2;
    })
    .await;
    let (me, admin) = app.admin_with_tokens().await;
    let (user, tokens) = app.user_with_tokens().await;
    app.login(&user.email, "wrong password").await;
    app.post_json(
        "/api/profile/password",
        Some(&tokens.access),
        &json!({ "current_password": user.password, "new_password": "another password" }),
    )
    .await;
    let fresh = app
        .login(&user.email, "another password")
        .await
        .json::<Value>()
        .await
        .unwrap();
    let fresh_access = fresh["access_token"].as_str().unwrap();
    // A second device, ended from the first.
    let second = app
        .login(&user.email, "another password")
        .await
        .json::<Value>()
        .await
        .unwrap();
    let sid = claims_of(second["access_token"].as_str().unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_string();
    app.delete(&format!("/api/sessions/{sid}"), fresh_access)
        .await;
    // Refresh-token reuse on a third.
    let third = app
        .login(&user.email, "another password")
        .await
        .json::<Value>()
        .await
        .unwrap();
    let stolen = third["refresh_token"].as_str().unwrap();
    assert_eq!(app.refresh(stolen).await.status(), StatusCode::OK);
    assert_eq!(app.refresh(stolen).await.status(), StatusCode::UNAUTHORIZED);
    app.post_json("/auth/logout", Some(fresh_access), &json!({}))
        .await;
    let path = format!("/api/admin/users/{}", user.id);
    app.patch_json(&path, &admin.access, &json!({ "role": "admin" }))
        .await;
    app.patch_json(&path, &admin.access, &json!({ "disabled": true }))
        .await;
    app.post_json(
        &format!("{path}/revoke-sessions"),
        Some(&admin.access),
        &json!({}),
    )
    .await;
    app.post_json(&format!("{path}/unlock"), Some(&admin.access), &json!({}))
        .await;
    app.delete(&path, &admin.access).await;
    for _ in 0..2 {
        app.login("locked@example.com", "wrong password").await;
    }

    let events = audit_actions(&app, &admin.access, "").await;
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for expected in [
        "register",
        "login_success",
        "login_failure",
        "password_change",
        "logout",
        "role_change",
        "user_disabled",
        "sessions_revoked",
        "unlock",
        "user_deleted",
        "session_revoked",
        "refresh_reuse_detected",
        "lockout",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
    let ids: Vec<i64> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first");
    let failure = events
        .iter()
        .find(|e| e["action"] == "login_failure" && e["target_id"] == user.id)
        .unwrap();
    assert_eq!(failure["detail"]["email"], user.email);
    assert!(
        !failure.to_string().contains("wrong password"),
        "never the password"
    );
    for key in [
        "id",
        "at",
        "actor_id",
        "action",
        "target_id",
        "ip",
        "detail",
    ] {
        assert!(failure.get(key).is_some(), "{key} missing");
    }
    let deleted = audit_actions(&app, &admin.access, "&action=user_deleted").await;
    assert_eq!(deleted.len(), 1);
    assert_eq!(
        (
            deleted[0]["actor_id"].as_i64(),
            deleted[0]["target_id"].as_i64()
        ),
        (Some(me.id), Some(user.id))
    );
    let by_target = audit_actions(
        &app,
        &admin.access,
        &format!("&target_id={}&actor_id={}", user.id, me.id),
    )
    .await;
    assert!(by_target
        .iter()
        .all(|e| e["target_id"] == user.id && e["actor_id"] == me.id));
    let future = audit_actions(&app, &admin.access, "&since=2999-01-01T00:00:00Z").await;
    assert!(future.is_empty());
    let bad = app
        .get("/api/admin/audit?since=yesterday", Some(&admin.access))
        .await;
    assert_error(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_error").await;
}

async fn stats_count_users_and_logins(b: Backend) {
    let app = spawn_app(b).await;
    let (_, admin) = app.admin_with_tokens().await;
    let (user, _) = app.user_with_tokens().await;
    let other = app.create_user().await;
    app.login(&user.email, "wrong password").await;
    app.login("nobody@example.com", "wrong password").await;
    app.patch_json(
        &format!("/api/admin/users/{}", other.id),
        &admin.access,
        &json!({ "disabled": true }),
    )
    .await;
    let (status, stats) =
        status_and_json(app.get("/api/admin/stats", Some(&admin.access)).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        stats,
        json!({ "users_total": 3, "admins_total": 1, "disabled_total": 1, "logins_24h": 2, "failed_logins_24h": 2 })
    );
}
