//! The admin scope: role guard, user management, last-admin protection, audit, stats.

use futures_util::future::join;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::{
    assert_error, assert_tokens_dead, new_email, spawn_app, spawn_app_with, status_and_json,
    AdminClient, Backend,
};

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
    // A plain user's token on the admin routes.
    let user = app.signed_in_user().await.as_admin();
    let id = user.account.id;
    let responses = vec![
        user.list_users("").await,
        user.create_user(&json!({})).await,
        user.get_user(id).await,
        user.patch_user(id, &json!({ "role": "admin" })).await,
        user.delete_user(id).await,
        user.revoke_sessions(id).await,
        user.unlock(id).await,
        user.audit("").await,
        user.stats().await,
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
    let admin = app.signed_in_admin().await;
    for _ in 0..4 {
        app.create_user().await;
    }
    let page = |p: i64, per: i64| format!("page={p}&per_page={per}");
    let (status, first) = status_and_json(admin.list_users(&page(1, 2)).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            first["total"].as_i64(),
            first["page"].as_i64(),
            first["per_page"].as_i64()
        ),
        (Some(5), Some(1), Some(2))
    );
    let (_, last) = status_and_json(admin.list_users(&page(3, 2)).await).await;
    assert_eq!(last["items"].as_array().unwrap().len(), 1);
    let (_, empty) = status_and_json(admin.list_users(&page(4, 2)).await).await;
    assert_eq!(empty["items"], json!([]));
    assert_eq!(empty["total"], 5);

    let mut ids = Vec::new();
    for p in 1..=3 {
        let (_, body) = status_and_json(admin.list_users(&page(p, 2)).await).await;
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

    let (_, capped) = status_and_json(admin.list_users("per_page=1000").await).await;
    assert_eq!(capped["per_page"], 100);
    let (_, default) = status_and_json(admin.list_users("").await).await;
    assert_eq!(
        (default["page"].as_i64(), default["per_page"].as_i64()),
        (Some(1), Some(20))
    );
}

async fn users_can_be_searched_by_email_and_filtered_by_role(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let special = format!("findme_{}", new_email());
    app.register(&special, "correct horse battery").await;
    app.create_user().await;
    let q = "FINDME_";
    let (_, body) = status_and_json(admin.list_users(&format!("q={q}")).await).await;
    assert_eq!(body["total"], 1, "{body}");
    assert_eq!(body["items"][0]["email"], special);
    // LIKE wildcards are literal.
    let (_, body) = status_and_json(admin.list_users("q=%25").await).await;
    assert_eq!(body["total"], 0, "{body}");
    let (_, admins) = status_and_json(admin.list_users("role=admin").await).await;
    assert_eq!(admins["total"], 1);
    assert_eq!(admins["items"][0]["id"], admin.account.id);
    let (_, users) = status_and_json(admin.list_users("role=user&q=").await).await;
    assert_eq!(users["total"], 2);
    let res = admin.list_users("role=root").await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_error").await;
}

async fn invalid_paging_returns_4xx_not_500(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    for (query, status) in [
        ("page=0", StatusCode::UNPROCESSABLE_ENTITY),
        ("page=-1", StatusCode::UNPROCESSABLE_ENTITY),
        ("per_page=0", StatusCode::UNPROCESSABLE_ENTITY),
        ("page=abc", StatusCode::BAD_REQUEST),
        ("per_page=1.5", StatusCode::BAD_REQUEST),
        ("page=99999999999999999999", StatusCode::BAD_REQUEST),
    ] {
        let (got, body) = status_and_json(admin.list_users(query).await).await;
        assert_eq!(got, status, "{query}: {body}");
        assert!(body["error"].is_string());
    }
    // A page that deep is refused by number (v3), and the page * per_page product
    // does not overflow on the way.
    let res = admin
        .list_users("page=9223372036854775807&per_page=100")
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "page_too_deep").await;
}

async fn admin_creates_a_user_with_a_role(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let email = new_email();
    let res = admin
        .create_user(&json!({ "email": email, "password": "initial password", "role": "admin" }))
        .await;
    let (status, body) = status_and_json(res).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["role"], "admin");
    assert_eq!(
        app.login(&email, "initial password").await.status(),
        StatusCode::OK
    );
    let dup = admin
        .create_user(&json!({ "email": email.to_uppercase(), "password": "initial password", "role": "user" }))
        .await;
    assert_error(dup, StatusCode::CONFLICT, "email_taken").await;
    let bad = admin
        .create_user(
            &json!({ "email": new_email(), "password": "initial password", "role": "god" }),
        )
        .await;
    assert_error(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_error").await;
}

async fn unknown_user_is_404_and_a_non_numeric_id_is_400(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let (status, body) = status_and_json(admin.get_user(admin.account.id).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["email"], admin.account.email);
    let missing = 999999;
    let not_found = |res| assert_error(res, StatusCode::NOT_FOUND, "not_found");
    not_found(admin.get_user(missing).await).await;
    not_found(
        admin
            .patch_user(missing, &json!({ "disabled": true }))
            .await,
    )
    .await;
    not_found(admin.delete_user(missing).await).await;
    not_found(admin.revoke_sessions(missing).await).await;
    not_found(admin.unlock(missing).await).await;
    let (status, body) = status_and_json(admin.get_user("abc").await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"].is_string());
}

async fn a_role_change_takes_effect_on_the_very_next_request(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    // The user's token on the admin routes.
    let user = app.signed_in_user().await.as_admin();
    let id = user.account.id;
    assert_eq!(user.stats().await.status(), StatusCode::FORBIDDEN);
    let (status, body) =
        status_and_json(admin.patch_user(id, &json!({ "role": "admin" })).await).await;
    assert_eq!(
        (status, body["role"].as_str()),
        (StatusCode::OK, Some("admin"))
    );
    // Same token, new role.
    assert_eq!(user.stats().await.status(), StatusCode::OK);
    admin.patch_user(id, &json!({ "role": "user" })).await;
    assert_eq!(user.stats().await.status(), StatusCode::FORBIDDEN);
    assert_eq!(user.profile().await.status(), StatusCode::OK);
}

async fn disabling_a_user_rejects_their_tokens_at_once(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let user = app.signed_in_user().await;
    let id = user.account.id;
    let (_, body) = status_and_json(admin.patch_user(id, &json!({ "disabled": true })).await).await;
    assert_eq!(body["disabled"], true);
    assert_eq!(user.profile().await.status(), StatusCode::UNAUTHORIZED);
    // Re-enabling does not bring old sessions back; a new login works.
    admin.patch_user(id, &json!({ "disabled": false })).await;
    assert_eq!(user.profile().await.status(), StatusCode::UNAUTHORIZED);
    let fresh = user.another_device().await;
    assert_eq!(fresh.profile().await.status(), StatusCode::OK);
}

async fn deleting_a_user_rejects_their_tokens_and_logins(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let user = app.signed_in_user().await;
    let account = &user.account;
    let res = admin.delete_user(account.id).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_tokens_dead(&app, &user.tokens).await;
    assert_eq!(
        app.login(&account.email, &account.password).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        admin.get_user(account.id).await.status(),
        StatusCode::NOT_FOUND
    );
}

async fn the_last_active_admin_cannot_be_demoted_disabled_or_deleted(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let me = admin.account.id;
    let last_admin = |res| assert_error(res, StatusCode::CONFLICT, "last_admin");
    last_admin(admin.patch_user(me, &json!({ "role": "user" })).await).await;
    last_admin(admin.patch_user(me, &json!({ "disabled": true })).await).await;
    last_admin(admin.delete_user(me).await).await;
    // With a second admin the first may step down.
    let second = app.create_admin().await;
    let res = admin.patch_user(me, &json!({ "role": "user" })).await;
    assert_eq!(res.status(), StatusCode::OK);
    let second = app.sign_in(&second).await.as_admin();
    last_admin(second.delete_user(second.account.id).await).await;
}

async fn two_admins_demoting_each_other_at_once_leave_one_admin(b: Backend) {
    let app = spawn_app(b).await;
    for _ in 0..5 {
        let a = app.signed_in_admin().await;
        let bb = app.signed_in_admin().await;
        let demote = json!({ "role": "user" });
        let (ra, rb) = join(
            a.patch_user(bb.account.id, &demote),
            bb.patch_user(a.account.id, &demote),
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

async fn count_active_admins(app: &crate::support::TestApp) -> i64 {
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

async fn demote_all_admins_directly(app: &crate::support::TestApp) {
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
    let admin = app.signed_in_admin().await;
    let one = app.signed_in_user().await;
    let two = one.another_device().await;
    let res = admin.revoke_sessions(one.account.id).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    for device in [&one, &two] {
        assert_tokens_dead(&app, &device.tokens).await;
    }
    // A new login works.
    app.login_as(&one.account).await;
    assert_eq!(admin.profile().await.status(), StatusCode::OK);
}

async fn audit_actions(admin: &AdminClient<'_>, query: &str) -> Vec<Value> {
    let (status, body) = status_and_json(admin.audit(&format!("per_page=100{query}")).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().unwrap().clone()
}

async fn the_audit_trail_records_each_action(b: Backend) {
    let app = spawn_app_with(b, |s| {
        s.auth.refresh_reuse_interval_secs = 0.try_into().unwrap();
        s.auth.login_max_failures = 2.try_into().unwrap();
    })
    .await;
    let admin = app.signed_in_admin().await;
    let me = &admin.account;
    let user = app.signed_in_user().await;
    let mut account = user.account.clone();
    app.login(&account.email, "wrong password").await;
    user.change_password(&account.password, "another password")
        .await;
    account.password = "another password".into();
    let fresh = app.sign_in(&account).await;
    // A second device, ended from the first.
    let second = fresh.another_device().await;
    fresh.revoke_session(second.sid()).await;
    // Refresh-token reuse on a third.
    let stolen = fresh.another_device().await;
    assert_eq!(stolen.refresh().await.status(), StatusCode::OK);
    assert_eq!(stolen.refresh().await.status(), StatusCode::UNAUTHORIZED);
    fresh.logout().await;
    admin
        .patch_user(account.id, &json!({ "role": "admin" }))
        .await;
    admin
        .patch_user(account.id, &json!({ "disabled": true }))
        .await;
    admin.revoke_sessions(account.id).await;
    admin.unlock(account.id).await;
    admin.delete_user(account.id).await;
    for _ in 0..2 {
        app.login("locked@example.com", "wrong password").await;
    }

    let events = audit_actions(&admin, "").await;
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
        .find(|e| e["action"] == "login_failure" && e["target_id"] == account.id)
        .unwrap();
    assert_eq!(failure["detail"]["email"], account.email);
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
    let deleted = audit_actions(&admin, "&action=user_deleted").await;
    assert_eq!(deleted.len(), 1);
    assert_eq!(
        (
            deleted[0]["actor_id"].as_i64(),
            deleted[0]["target_id"].as_i64()
        ),
        (Some(me.id), Some(account.id))
    );
    let by_target = audit_actions(
        &admin,
        &format!("&target_id={}&actor_id={}", account.id, me.id),
    )
    .await;
    assert!(by_target
        .iter()
        .all(|e| e["target_id"] == account.id && e["actor_id"] == me.id));
    let future = audit_actions(&admin, "&since=2999-01-01T00:00:00Z").await;
    assert!(future.is_empty());
    let bad = admin.audit("since=yesterday").await;
    assert_error(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_error").await;
}

async fn stats_count_users_and_logins(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let (user, _) = app.user_with_tokens().await;
    let other = app.create_user().await;
    app.login(&user.email, "wrong password").await;
    app.login("nobody@example.com", "wrong password").await;
    admin
        .patch_user(other.id, &json!({ "disabled": true }))
        .await;
    let (status, stats) = status_and_json(admin.stats().await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        stats,
        json!({ "users_total": 3, "admins_total": 1, "disabled_total": 1, "logins_24h": 2, "failed_logins_24h": 2, "mfa_enabled_total": 0 })
    );
}
