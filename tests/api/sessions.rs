//! Refresh rotation, reuse detection, logout and per-device sessions.

use std::time::Duration;

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::{
    assert_error, assert_tokens_dead, claims_of, spawn_app, spawn_app_with, status_and_json,
    Backend, Tokens,
};

on_both_backends!(
    refresh_rotates_the_pair_and_keeps_the_session,
    reuse_of_a_rotated_token_revokes_that_session_only,
    a_token_presented_again_within_the_reuse_interval_gets_a_pair_of_the_same_session,
    concurrent_refreshes_within_the_reuse_interval_all_succeed,
    with_no_reuse_interval_at_most_one_of_16_concurrent_refreshes_wins,
    refresh_after_the_session_expires_returns_401,
    refresh_with_an_unknown_token_returns_401,
    logout_kills_the_access_and_refresh_tokens_at_once,
    logout_without_a_token_returns_401,
    sessions_list_shows_live_sessions_and_marks_the_current_one,
    deleting_an_own_session_revokes_it_and_someone_elses_is_404,
    refresh_after_disable_returns_401,
    purge_deletes_dead_sessions_and_their_tokens,
);

async fn refresh_rotates_the_pair_and_keeps_the_session(b: Backend) {
    let app = spawn_app(b).await;
    let mut user = app.signed_in_user().await;
    let first = user.tokens.clone();
    let (status, body) = status_and_json(user.refresh().await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["user"]["id"], user.account.id);
    user.adopt(&body);
    let second = &user.tokens;
    assert_ne!(second.refresh, first.refresh);
    assert_eq!(
        claims_of(&second.access)["sid"],
        claims_of(&first.access)["sid"]
    );
    assert_eq!(user.profile().await.status(), StatusCode::OK);
    assert_eq!(user.refresh().await.status(), StatusCode::OK);
}

async fn reuse_of_a_rotated_token_revokes_that_session_only(b: Backend) {
    let app = spawn_app_with(b, |s| {
        s.auth.refresh_reuse_interval_secs = 0.try_into().unwrap()
    })
    .await;
    let stolen = app.signed_in_user().await;
    let other_device = stolen.another_device().await;

    let rotated = Tokens::from_body(&stolen.refresh().await.json::<Value>().await.unwrap());
    assert_error(
        stolen.refresh().await,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;

    // The whole family is dead: the newest refresh token and the session's access tokens.
    assert_eq!(
        app.refresh(&rotated.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/api/profile", Some(&rotated.access))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    // The other device is untouched.
    assert_eq!(other_device.profile().await.status(), StatusCode::OK);
    assert_eq!(other_device.refresh().await.status(), StatusCode::OK);
}

async fn a_token_presented_again_within_the_reuse_interval_gets_a_pair_of_the_same_session(
    b: Backend,
) {
    let app = spawn_app_with(b, |s| {
        s.auth.refresh_reuse_interval_secs = 30.try_into().unwrap()
    })
    .await;
    let first = app.signed_in_user().await;
    let a = Tokens::from_body(&first.refresh().await.json::<Value>().await.unwrap());
    let (status, body) = status_and_json(first.refresh().await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let again = Tokens::from_body(&body);
    assert_eq!(claims_of(&again.access)["sid"], claims_of(&a.access)["sid"]);
    // Both branches stay usable: the session was not revoked.
    assert_eq!(
        app.get("/api/profile", Some(&a.access)).await.status(),
        StatusCode::OK
    );
    assert_eq!(app.refresh(&a.refresh).await.status(), StatusCode::OK);
    assert_eq!(app.refresh(&again.refresh).await.status(), StatusCode::OK);
}

async fn concurrent_refreshes_within_the_reuse_interval_all_succeed(b: Backend) {
    let app = spawn_app_with(b, |s| {
        s.auth.refresh_reuse_interval_secs = 30.try_into().unwrap()
    })
    .await;
    let user = app.signed_in_user().await;
    let results = join_all((0..8).map(|_| user.refresh())).await;
    for r in &results {
        assert_eq!(r.status(), StatusCode::OK);
    }
    assert_eq!(user.profile().await.status(), StatusCode::OK);
}

async fn with_no_reuse_interval_at_most_one_of_16_concurrent_refreshes_wins(b: Backend) {
    let app = spawn_app_with(b, |s| {
        s.auth.refresh_reuse_interval_secs = 0.try_into().unwrap()
    })
    .await;
    let user = app.signed_in_user().await;
    let results = join_all((0..16).map(|_| user.refresh())).await;
    let ok = results
        .iter()
        .filter(|r| r.status() == StatusCode::OK)
        .count();
    let unauthorized = results
        .iter()
        .filter(|r| r.status() == StatusCode::UNAUTHORIZED)
        .count();
    assert!(ok <= 1, "{ok} refreshes won");
    assert_eq!(ok + unauthorized, 16, "every loser gets a 401");
}

async fn refresh_after_the_session_expires_returns_401(b: Backend) {
    let app = spawn_app_with(b, |s| s.auth.refresh_token_ttl_secs = 1.try_into().unwrap()).await;
    let user = app.signed_in_user().await;
    actix_web::rt::time::sleep(Duration::from_millis(2100)).await;
    assert_error(
        user.refresh().await,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
    // An access token never outlives its session.
    assert_eq!(user.profile().await.status(), StatusCode::UNAUTHORIZED);
}

async fn refresh_with_an_unknown_token_returns_401(b: Backend) {
    let app = spawn_app(b).await;
    assert_error(
        app.refresh("no-such-token").await,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
    let res = app.post_json("/auth/refresh", None, &json!({})).await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_error").await;
}

async fn logout_kills_the_access_and_refresh_tokens_at_once(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.signed_in_user().await;
    let tokens = &user.tokens;
    let other = user.another_device().await;
    let res = app
        .post_json(
            "/auth/logout",
            Some(&tokens.access),
            &json!({ "refresh_token": tokens.refresh }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_tokens_dead(&app, tokens).await;
    // Another device of the same user stays logged in.
    assert_eq!(other.profile().await.status(), StatusCode::OK);

    // A body is optional.
    let res = app
        .client
        .post(app.url("/auth/logout"))
        .bearer_auth(other.access())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(other.profile().await.status(), StatusCode::UNAUTHORIZED);
}

async fn logout_without_a_token_returns_401(b: Backend) {
    let app = spawn_app(b).await;
    let res = app.post_json("/auth/logout", None, &json!({})).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers().contains_key("www-authenticate"));
}

async fn sessions_list_shows_live_sessions_and_marks_the_current_one(b: Backend) {
    let app = spawn_app(b).await;
    let a = app.signed_in_user().await;
    let bb = a.another_device().await;
    let ended = a.another_device().await;
    ended.logout().await;

    let (status, body) = status_and_json(a.sessions().await).await;
    assert_eq!(status, StatusCode::OK);
    let list = body.as_array().expect("array");
    assert_eq!(list.len(), 2, "{body}");
    let current: Vec<&Value> = list.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], claims_of(&a.tokens.access)["sid"]);
    assert!(list
        .iter()
        .any(|s| s["id"] == claims_of(&bb.tokens.access)["sid"]));
    for s in list {
        for key in [
            "id",
            "created_at",
            "last_used_at",
            "user_agent",
            "ip",
            "current",
        ] {
            assert!(s.get(key).is_some(), "{key} missing in {s}");
        }
        assert_eq!(s["ip"], "127.0.0.1");
    }
}

async fn deleting_an_own_session_revokes_it_and_someone_elses_is_404(b: Backend) {
    let app = spawn_app(b).await;
    let a = app.signed_in_user().await;
    let phone = a.another_device().await;
    let stranger = app.signed_in_user().await;
    let phone_sid = phone.sid();

    assert_error(
        stranger.revoke_session(&phone_sid).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(phone.profile().await.status(), StatusCode::OK);

    assert_eq!(
        a.revoke_session(&phone_sid).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_tokens_dead(&app, &phone.tokens).await;
    assert_eq!(a.profile().await.status(), StatusCode::OK);
    assert_eq!(
        a.revoke_session("does-not-exist").await.status(),
        StatusCode::NOT_FOUND
    );
}

async fn refresh_after_disable_returns_401(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let user = app.signed_in_user().await;
    let id = user.account.id;
    let res = admin.patch_user(id, &json!({ "disabled": true })).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(user.refresh().await.status(), StatusCode::UNAUTHORIZED);
    // Re-enabling does not resurrect the session.
    admin.patch_user(id, &json!({ "disabled": false })).await;
    assert_eq!(user.refresh().await.status(), StatusCode::UNAUTHORIZED);
}

async fn purge_deletes_dead_sessions_and_their_tokens(b: Backend) {
    use diesel::prelude::*;
    use turnstile::schema::{refresh_tokens, sessions};

    let app = spawn_app(b).await;
    let live = app.signed_in_user().await;
    let dead = live.another_device().await;
    dead.logout().await;

    let db = app.state.db.clone();
    let counts = move |conn: &mut turnstile::db::Conn| -> turnstile::error::AppResult<(i64, i64)> {
        Ok((
            sessions::table.count().get_result(conn)?,
            refresh_tokens::table.count().get_result(conn)?,
        ))
    };
    assert_eq!(db.run(counts).await.unwrap(), (2, 2));
    // Purge as of now: the revoked session and its token go, the live one stays.
    let window = app.state.settings.auth.login_window_secs;
    db.transaction(move |conn| turnstile::services::sessions::purge_expired(conn, window))
        .await
        .unwrap();
    assert_eq!(db.run(counts).await.unwrap(), (1, 1));
    assert_eq!(live.profile().await.status(), StatusCode::OK);
    assert_eq!(dead.refresh().await.status(), StatusCode::UNAUTHORIZED);
}
