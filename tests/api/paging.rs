//! The admin API at scale: cursor paging, totals that stop at 10,000, email search
//! through the trigram indexes, user counts kept by the database, audit retention.

use std::collections::BTreeSet;

use diesel::prelude::*;
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::{
    assert_error, new_email, spawn_app, spawn_app_with, status_and_json, AdminClient, Backend,
    TestApp,
};
use turnstile::schema::users;

on_both_backends!(
    following_next_cursor_walks_every_user_once_in_order,
    following_next_cursor_walks_the_audit_trail_newest_first_within_its_filter,
    a_cursor_of_the_other_list_or_made_up_is_a_422,
    a_page_number_beyond_row_ten_thousand_is_refused_and_names_the_cursor,
    totals_are_exact_up_to_ten_thousand_then_capped,
    email_search_finds_substrings_literally_and_forgets_deleted_users,
    stats_follow_every_change_even_when_changes_race,
    audit_events_past_their_retention_are_purged_in_batches,
);

async fn page(admin: &AdminClient<'_>, path: &str, query: &str) -> Value {
    let res = admin
        .app
        .get(&format!("{path}?{query}"), Some(admin.access()))
        .await;
    let (status, body) = status_and_json(res).await;
    assert_eq!(status, StatusCode::OK, "{path}?{query}: {body}");
    body
}

/// Every page from the first, following `next_cursor`: the ids seen, page by page.
async fn walk(admin: &AdminClient<'_>, path: &str, query: &str) -> Vec<Vec<i64>> {
    walk_from(admin, path, query, None).await
}

/// [`walk`], from the page after `cursor` when there is one.
async fn walk_from(
    admin: &AdminClient<'_>,
    path: &str,
    query: &str,
    mut cursor: Option<String>,
) -> Vec<Vec<i64>> {
    let mut pages = vec![];
    loop {
        let q = match &cursor {
            Some(c) => format!("{query}&cursor={c}"),
            None => query.to_string(),
        };
        let body = page(admin, path, &q).await;
        let ids = body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_i64().unwrap())
            .collect();
        pages.push(ids);
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return pages,
        }
        assert!(pages.len() < 1000, "the walk does not end");
    }
}

async fn following_next_cursor_walks_every_user_once_in_order(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    for _ in 0..11 {
        admin
            .create_user(&json!({ "email": new_email(), "password": "correct horse battery" }))
            .await;
    }
    let pages = walk(&admin, "/api/admin/users", "per_page=5").await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [5, 5, 2]);
    let ids: Vec<i64> = pages.concat();
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(ids, sorted, "in id order, each once");
    // The page numbers agree with the cursors.
    let second = page(&admin, "/api/admin/users", "per_page=5&page=2").await;
    let second: Vec<i64> = second["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(second, pages[1]);
    // A page that ends the list has no next cursor; nor does an exact fit.
    let all = page(&admin, "/api/admin/users", "per_page=12").await;
    assert_eq!(all["next_cursor"], Value::Null);
    assert_eq!(
        (all["total"].clone(), all["total_capped"].clone()),
        (json!(12), json!(false))
    );
    // A user added behind the cursor is not shown twice; one added ahead is shown.
    let first = page(&admin, "/api/admin/users", "per_page=5").await;
    let cursor = first["next_cursor"].as_str().unwrap().to_string();
    let res = admin
        .create_user(&json!({ "email": new_email(), "password": "correct horse battery" }))
        .await;
    let (_, added) = status_and_json(res).await;
    let rest = walk_from(&admin, "/api/admin/users", "per_page=5", Some(cursor)).await;
    let rest: Vec<i64> = rest.concat();
    assert_eq!(rest.len(), 8);
    assert_eq!(rest.last(), added["id"].as_i64().as_ref());
    // Filters apply along the walk.
    let role = admin.define_role(&[]).await;
    for _ in 0..3 {
        admin.user_in_role(&role).await;
    }
    let pages = walk(
        &admin,
        "/api/admin/users",
        &format!("per_page=2&role={role}"),
    )
    .await;
    assert_eq!(pages.concat().len(), 3);
}

async fn following_next_cursor_walks_the_audit_trail_newest_first_within_its_filter(b: Backend) {
    let app = spawn_app_with(b, |s| s.auth.login_max_failures = 100.try_into().unwrap()).await;
    let admin = app.signed_in_admin().await;
    let user = app.signed_in_user().await;
    for _ in 0..7 {
        assert_eq!(
            app.login(&user.account.email, "wrong password!")
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let pages = walk(
        &admin,
        "/api/admin/audit",
        "per_page=3&action=login_failure",
    )
    .await;
    let ids = pages.concat();
    assert_eq!(ids.len(), 7, "{pages:?}");
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    // Page numbers land on the same rows as the cursors, past the end too.
    for (n, expected) in pages.iter().enumerate() {
        let body = page(
            &admin,
            "/api/admin/audit",
            &format!("per_page=3&action=login_failure&page={}", n + 1),
        )
        .await;
        let got: Vec<i64> = body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_i64().unwrap())
            .collect();
        assert_eq!(&got, expected, "page {}", n + 1);
    }
    let beyond = page(
        &admin,
        "/api/admin/audit",
        "per_page=3&action=login_failure&page=4",
    )
    .await;
    assert_eq!(beyond["items"], json!([]));
    let target = format!("per_page=2&target_id={}", user.account.id);
    let by_target = walk(&admin, "/api/admin/audit", &target).await.concat();
    let all = page(
        &admin,
        "/api/admin/audit",
        &format!("per_page=100&target_id={}", user.account.id),
    )
    .await;
    let expected: Vec<i64> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(by_target, expected);
}

async fn a_cursor_of_the_other_list_or_made_up_is_a_422(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    app.signed_in_user().await;
    let users = page(&admin, "/api/admin/users", "per_page=1").await;
    let user_cursor = users["next_cursor"].as_str().unwrap().to_string();
    let audit = page(&admin, "/api/admin/audit", "per_page=1").await;
    let audit_cursor = audit["next_cursor"].as_str().unwrap().to_string();
    for (path, cursor) in [
        ("/api/admin/audit", user_cursor.as_str()),
        ("/api/admin/users", audit_cursor.as_str()),
        ("/api/admin/users", "bm9wZQ"),
        ("/api/admin/users", "!!"),
    ] {
        let res = app
            .get(&format!("{path}?cursor={cursor}"), Some(admin.access()))
            .await;
        assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_error").await;
    }
    // Empty means none.
    let body = page(&admin, "/api/admin/users", "cursor=").await;
    assert_eq!(body["items"].as_array().unwrap().len(), 2);
}

/// Writes `n` audit events straight into the database, as the bench seed does.
async fn seed_audit(app: &TestApp, n: usize, action: &'static str, days_ago: i64) {
    use diesel::sql_types::{Integer, Text, Timestamp};
    app.state
        .db
        .run(move |conn| {
            let at = chrono::Utc::now().naive_utc() - chrono::Duration::days(days_ago);
            diesel::sql_query(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
                 INSERT INTO audit_events (at, action, detail) SELECT $2, $3, '{}' FROM n",
            )
            .bind::<Integer, _>(n as i32)
            .bind::<Timestamp, _>(at)
            .bind::<Text, _>(action)
            .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
}

async fn totals_are_exact_up_to_ten_thousand_then_capped(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    seed_audit(&app, 10_000, "seeded", 1).await;
    let body = page(&admin, "/api/admin/audit", "action=seeded&per_page=1").await;
    assert_eq!(
        (body["total"].clone(), body["total_capped"].clone()),
        (json!(10_000), json!(false))
    );
    seed_audit(&app, 1, "seeded", 1).await;
    let body = page(&admin, "/api/admin/audit", "action=seeded&per_page=1").await;
    assert_eq!(
        (body["total"].clone(), body["total_capped"].clone()),
        (json!(10_000), json!(true))
    );
    // Pages by number stop at row 10,000; the cursor goes on to the end.
    let deepest = page(
        &admin,
        "/api/admin/audit",
        "action=seeded&per_page=100&page=100",
    )
    .await;
    assert_eq!(deepest["items"].as_array().unwrap().len(), 100);
    let cursor = deepest["next_cursor"].as_str().expect("a next page");
    let last = page(
        &admin,
        "/api/admin/audit",
        &format!("action=seeded&per_page=100&cursor={cursor}"),
    )
    .await;
    assert_eq!(last["items"].as_array().unwrap().len(), 1);
    assert_eq!(last["next_cursor"], Value::Null);
    let res = app
        .get(
            "/api/admin/audit?action=seeded&per_page=100&page=101",
            Some(admin.access()),
        )
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "page_too_deep").await;
    let small = page(&admin, "/api/admin/audit", "action=login_success").await;
    assert_eq!(
        (small["total"].clone(), small["total_capped"].clone()),
        (json!(1), json!(false))
    );
}

async fn email_search_finds_substrings_literally_and_forgets_deleted_users(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let tag = format!("srch{}", std::process::id());
    let emails = [
        format!("ann_{tag}@example.com"),
        format!("annx{tag}@example.com"),
        format!("bob%{tag}@example.com"),
        format!("o'hara{tag}@example.org"),
        format!("Carl.{tag}@Example.NET"),
    ];
    let mut ids = vec![];
    for email in &emails {
        let res = admin
            .create_user(&json!({ "email": email, "password": "correct horse battery" }))
            .await;
        let (status, body) = status_and_json(res).await;
        assert_eq!(status, StatusCode::CREATED, "{email}: {body}");
        ids.push(body["id"].as_i64().unwrap());
    }
    let found = |q: String| {
        let admin = &admin;
        async move {
            let q = percent(&q);
            let body = page(admin, "/api/admin/users", &format!("per_page=100&q={q}")).await;
            let got: BTreeSet<String> = body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["email"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(body["total"].as_u64().unwrap() as usize, got.len());
            got
        }
    };
    let set = |xs: &[usize]| {
        xs.iter()
            .map(|&i| emails[i].to_lowercase())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(found(tag.clone()).await, set(&[0, 1, 2, 3, 4]));
    // `_` and `%` are letters here, not wildcards.
    assert_eq!(found(format!("ann_{tag}")).await, set(&[0]));
    assert_eq!(found(format!("b%{tag}")).await, set(&[2]));
    assert_eq!(found(format!("n_{tag}")).await, set(&[0]));
    // Quotes, case, dots, and searches shorter than a trigram.
    assert_eq!(found(format!("o'hara{tag}")).await, set(&[3]));
    assert_eq!(found(format!("\"{tag}")).await, set(&[]));
    assert_eq!(found(format!("CARL.{tag}@EXAMPLE.net")).await, set(&[4]));
    assert_eq!(
        found(format!("{tag}@example.")).await,
        set(&[0, 1, 2, 3, 4])
    );
    assert!(found("o'".into()).await.contains(&emails[3]));
    assert!(found("_".into()).await.contains(&emails[0]));
    // With a role filter too.
    let body = page(&admin, "/api/admin/users", &format!("q={tag}&role=admin")).await;
    assert_eq!(body["total"], 0);
    // A deleted user is no longer found.
    assert_eq!(
        admin.delete_user(ids[1]).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(found(tag.clone()).await, set(&[0, 2, 3, 4]));
    // Paging through search results by cursor.
    let pages = walk(&admin, "/api/admin/users", &format!("per_page=1&q={tag}")).await;
    assert_eq!(pages.concat().len(), 4);
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The stats as the database's own aggregates compute them.
async fn counted(app: &TestApp) -> Value {
    app.state
        .db
        .run(|conn| {
            let total: i64 = users::table.count().get_result(conn)?;
            let admins: i64 = users::table.filter(users::role.eq("admin")).count().get_result(conn)?;
            let disabled: i64 = users::table.filter(users::disabled.eq(true)).count().get_result(conn)?;
            let mfa: i64 = users::table.filter(users::mfa_enabled.eq(true)).count().get_result(conn)?;
            Ok(json!({ "users_total": total, "admins_total": admins, "disabled_total": disabled, "mfa_enabled_total": mfa }))
        })
        .await
        .unwrap()
}

async fn stats_follow_every_change_even_when_changes_race(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let created: Vec<Value> = join_all((0..24).map(|i| {
        let admin = &admin;
        async move {
            let role = if i % 4 == 0 { "admin" } else { "user" };
            let res = admin
                .create_user(&json!({ "email": new_email(), "password": "correct horse battery", "role": role }))
                .await;
            status_and_json(res).await.1
        }
    }))
    .await;
    let ids: Vec<i64> = created.iter().map(|u| u["id"].as_i64().unwrap()).collect();
    // Registrations, disables, promotions, demotions and deletions all at once.
    let registrations = (0..12).map(|_| async {
        app.register(&new_email(), "correct horse battery")
            .await
            .status()
    });
    let changes = ids.iter().enumerate().map(|(i, id)| {
        let admin = &admin;
        async move {
            match i % 4 {
                0 => admin
                    .patch_user(id, &json!({ "role": "user" }))
                    .await
                    .status(),
                1 => admin
                    .patch_user(id, &json!({ "disabled": true }))
                    .await
                    .status(),
                2 => admin
                    .patch_user(id, &json!({ "role": "admin", "disabled": true }))
                    .await
                    .status(),
                _ => admin.delete_user(id).await.status(),
            }
        }
    });
    let (registered, changed) =
        futures_util::future::join(join_all(registrations), join_all(changes)).await;
    assert!(
        registered.iter().all(|s| *s == StatusCode::CREATED),
        "{registered:?}"
    );
    assert!(changed.iter().all(|s| s.is_success()), "{changed:?}");
    let (_, stats) = status_and_json(admin.stats().await).await;
    let expected = counted(&app).await;
    for key in [
        "users_total",
        "admins_total",
        "disabled_total",
        "mfa_enabled_total",
    ] {
        assert_eq!(stats[key], expected[key], "{key}: {stats} vs {expected}");
    }
    assert_eq!(stats["users_total"], 1 + 24 + 12 - 6);
}

async fn audit_events_past_their_retention_are_purged_in_batches(b: Backend) {
    let app = spawn_app_with(b, |s| s.audit.retention_days = 30.try_into().unwrap()).await;
    let admin = app.signed_in_admin().await;
    seed_audit(&app, 12_001, "ancient", 31).await;
    seed_audit(&app, 5, "recent", 29).await;
    let deleted = turnstile::services::audit::purge_expired(&app.state)
        .await
        .unwrap();
    assert_eq!(deleted, 12_001);
    assert_eq!(app.audit_count("ancient").await, 0);
    assert_eq!(app.audit_count("recent").await, 5);
    assert!(
        app.audit_count("login_success").await >= 1,
        "today's events stay"
    );
    // 0 keeps everything.
    let forever = spawn_app_with(b, |s| s.audit.retention_days = 0.try_into().unwrap()).await;
    seed_audit(&forever, 3, "ancient", 4000).await;
    assert_eq!(
        turnstile::services::audit::purge_expired(&forever.state)
            .await
            .unwrap(),
        0
    );
    assert_eq!(forever.audit_count("ancient").await, 3);
    drop(admin);
}

async fn a_page_number_beyond_row_ten_thousand_is_refused_and_names_the_cursor(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    for path in ["/api/admin/users", "/api/admin/audit"] {
        for query in ["page=101&per_page=100", "page=501", "page=10001&per_page=1"] {
            let res = app
                .get(&format!("{path}?{query}"), Some(admin.access()))
                .await;
            let body = assert_error(res, StatusCode::BAD_REQUEST, "page_too_deep").await;
            assert!(
                body["message"].as_str().unwrap().contains("cursor"),
                "{body}"
            );
        }
        // The last pages by number still answer (empty here), and so does a cursor
        // given with a deep page number: the cursor wins.
        page(&admin, path, "page=100&per_page=100").await;
        page(&admin, path, "page=500").await;
        let first = page(&admin, path, "per_page=1").await;
        if let Some(cursor) = first["next_cursor"].as_str() {
            page(
                &admin,
                path,
                &format!("page=9999999&per_page=1&cursor={cursor}"),
            )
            .await;
        }
    }
}
