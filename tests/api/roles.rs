//! Roles and permissions as data: custom roles, per-route permissions, no escalation,
//! the built-in roles, and changes enforced at the next request.

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::openapi::ADMIN_PERMISSIONS;
use crate::support::{
    assert_error, new_role_name, spawn_app, spawn_app_with, status_and_json, tally, Backend,
    Cluster,
};
use turnstile::settings::SigningAlgorithm;

on_both_backends!(
    a_support_role_reads_users_and_audit_but_gets_403_on_writes,
    every_admin_route_checks_its_own_permission,
    a_permission_change_applies_to_an_already_issued_token_at_the_next_request,
    the_profile_lists_the_callers_effective_permissions,
    nobody_puts_a_permission_into_a_role_they_do_not_hold,
    nobody_gives_a_role_beyond_what_they_hold,
    a_request_needing_several_permissions_needs_all_of_them,
    the_builtin_roles_are_protected,
    a_role_in_use_cannot_be_deleted,
    roles_are_listed_read_and_validated,
    the_catalogue_lists_builtin_and_application_permissions,
    role_changes_are_audited_and_refusals_counted,
    a_role_deleted_while_being_given_is_never_half_given,
    a_role_holds_at_most_256_permissions,
);

/// `n` distinct, well-formed permissions.
pub fn many_permissions(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("app:action{i}")).collect()
}

const ALL_BUILTIN: &[&str] = &[
    "users:read",
    "users:write",
    "users:delete",
    "users:unlock",
    "sessions:revoke",
    "audit:read",
    "roles:read",
    "roles:manage",
    "keys:manage",
    "tokens:introspect",
];

async fn a_support_role_reads_users_and_audit_but_gets_403_on_writes(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let role = admin.define_role(&["users:read", "audit:read"]).await;
    let support = admin.user_in_role(&role).await.as_admin();
    let victim = app.create_user().await;
    assert_eq!(support.list_users("").await.status(), StatusCode::OK);
    assert_eq!(support.get_user(victim.id).await.status(), StatusCode::OK);
    assert_eq!(support.stats().await.status(), StatusCode::OK);
    assert_eq!(support.audit("").await.status(), StatusCode::OK);
    let writes = [
        support
            .patch_user(victim.id, &json!({ "disabled": true }))
            .await,
        support.delete_user(victim.id).await,
        support.revoke_sessions(victim.id).await,
        support.unlock(victim.id).await,
        support
            .create_user(&json!({ "email": "x@example.com", "password": "long enough pw" }))
            .await,
        support.roles().await,
        support
            .create_role(&json!({ "name": "nope", "permissions": [] }))
            .await,
    ];
    for res in writes {
        assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    }
    // Nothing changed.
    let (_, body) = status_and_json(admin.get_user(victim.id).await).await;
    assert_eq!(body["disabled"], false);
}

/// What a route needs to run far enough to prove the guard let it through.
async fn call(
    admin: &crate::support::AdminClient<'_>,
    as_caller: &crate::support::AdminClient<'_>,
    method: &str,
    path: &str,
) -> StatusCode {
    let app = admin.me.app;
    let target = app.create_user().await;
    let role = admin.define_role(&[]).await;
    // The {id} of an API-key route is a key's.
    let id = match path.starts_with("/api/admin/api-keys/") {
        true => admin.api_key(&[]).await.0,
        false => target.id,
    };
    let concrete = path
        .replace("{id}", &id.to_string())
        .replace("{name}", &role);
    let token = as_caller.access();
    let res = match method {
        "get" => app.get(&concrete, Some(token)).await,
        "delete" => app.delete(&concrete, token).await,
        "patch" if path.contains("roles") => {
            app.patch_json(&concrete, token, &json!({ "description": "changed" }))
                .await
        }
        "patch" => {
            app.patch_json(&concrete, token, &json!({ "disabled": true }))
                .await
        }
        "post" if path == "/api/admin/roles" => {
            let body = json!({ "name": new_role_name(), "permissions": [] });
            app.post_json(&concrete, Some(token), &body).await
        }
        "post" if path == "/api/admin/users" => {
            let body =
                json!({ "email": crate::support::new_email(), "password": "long enough pw" });
            app.post_json(&concrete, Some(token), &body).await
        }
        "post" if path == "/api/admin/api-keys" => {
            let body = json!({ "name": "a service", "permissions": [] });
            app.post_json(&concrete, Some(token), &body).await
        }
        "post" if path.ends_with("/password-reset") => {
            let body = json!({ "send_email": false });
            app.post_json(&concrete, Some(token), &body).await
        }
        "post" => app.post_json(&concrete, Some(token), &json!({})).await,
        other => panic!("{other}"),
    };
    res.status()
}

async fn every_admin_route_checks_its_own_permission(b: Backend) {
    // With a key pair to rotate, so that every route can succeed.
    let app = spawn_app_with(b, |s| s.auth.signing_algorithm = SigningAlgorithm::EdDsa).await;
    let admin = app.signed_in_admin().await;
    for (method, path, needed) in ADMIN_PERMISSIONS {
        let all_but: Vec<&str> = ALL_BUILTIN
            .iter()
            .copied()
            .filter(|p| !needed.contains(p))
            .collect();
        let without = admin
            .user_in_role(&admin.define_role(&all_but).await)
            .await
            .as_admin();
        let got = call(&admin, &without, method, path).await;
        assert_eq!(
            got,
            StatusCode::FORBIDDEN,
            "{method} {path} without {needed:?}"
        );
        let with = admin
            .user_in_role(&admin.define_role(needed).await)
            .await
            .as_admin();
        let got = call(&admin, &with, method, path).await;
        assert!(
            got.is_success(),
            "{method} {path} with {needed:?} answered {got}"
        );
    }
    // A plain user holds none of them.
    let user = app.signed_in_user().await.as_admin();
    for (method, path, _) in ADMIN_PERMISSIONS {
        assert_eq!(
            call(&admin, &user, method, path).await,
            StatusCode::FORBIDDEN,
            "{method} {path}"
        );
    }
}

async fn a_permission_change_applies_to_an_already_issued_token_at_the_next_request(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let role = admin.define_role(&["users:read"]).await;
    let staff = admin.user_in_role(&role).await.as_admin();
    assert_eq!(staff.stats().await.status(), StatusCode::OK);
    let res = admin
        .patch_role(&role, &json!({ "permissions": ["audit:read"] }))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    // The same access token, the very next request.
    assert_eq!(staff.stats().await.status(), StatusCode::FORBIDDEN);
    assert_eq!(staff.audit("").await.status(), StatusCode::OK);
    // The built-in `user` role can gain an application permission too.
    let user = app.signed_in_user().await;
    let res = admin
        .patch_role("user", &json!({ "permissions": ["users:read"] }))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(user.as_admin().stats().await.status(), StatusCode::OK);
}

async fn the_profile_lists_the_callers_effective_permissions(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let (_, body) = status_and_json(admin.profile().await).await;
    assert_eq!(body["permissions"], json!(["*"]));
    assert_eq!(body["role"], "admin");
    let user = app.signed_in_user().await;
    let (_, body) = status_and_json(user.profile().await).await;
    assert_eq!(body["permissions"], json!([]));
    let role = admin
        .define_role(&["users:read", "audit:read", "notes:write"])
        .await;
    let staff = admin.user_in_role(&role).await;
    let (_, body) = status_and_json(staff.profile().await).await;
    assert_eq!(body["role"], role.as_str());
    assert_eq!(
        body["permissions"],
        json!(["audit:read", "notes:write", "users:read"])
    );
}

async fn nobody_puts_a_permission_into_a_role_they_do_not_hold(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let manager_role = admin.define_role(&["roles:manage", "users:read"]).await;
    let manager = admin.user_in_role(&manager_role).await.as_admin();
    // Within what it holds: fine.
    let mine = manager.define_role(&["users:read"]).await;
    for (body, what) in [
        (
            json!({ "name": new_role_name(), "permissions": ["users:delete"] }),
            "a permission it lacks",
        ),
        (
            json!({ "name": new_role_name(), "permissions": ["*"] }),
            "everything",
        ),
    ] {
        let res = manager.create_role(&body).await;
        assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
        let _ = what;
    }
    // Not by changing a role either, its own included.
    for role in [mine.as_str(), manager_role.as_str(), "user"] {
        let res = manager
            .patch_role(
                role,
                &json!({ "permissions": ["users:read", "users:delete"] }),
            )
            .await;
        assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    }
    // Nor by taking away what it does not hold.
    let strong = admin.define_role(&["users:delete"]).await;
    let res = manager
        .patch_role(&strong, &json!({ "permissions": [] }))
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let (_, body) = status_and_json(admin.get_role(&strong).await).await;
    assert_eq!(body["permissions"], json!(["users:delete"]));
}

async fn nobody_gives_a_role_beyond_what_they_hold(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let manager_role = admin
        .define_role(&["roles:manage", "users:write", "users:read"])
        .await;
    let manager = admin.user_in_role(&manager_role).await.as_admin();
    let target = app.create_user().await;
    // A role within what the manager holds: fine, by create and by patch.
    let small = admin.define_role(&["users:read"]).await;
    let res = manager
        .patch_user(target.id, &json!({ "role": small }))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = manager
        .create_user(&json!({ "email": crate::support::new_email(), "password": "long enough pw", "role": small }))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    // Beyond it: admin, or a role with a permission it lacks.
    let big = admin.define_role(&["users:delete"]).await;
    for role in ["admin", big.as_str()] {
        let res = manager
            .patch_user(target.id, &json!({ "role": role }))
            .await;
        assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
        let body = json!({ "email": crate::support::new_email(), "password": "long enough pw", "role": role });
        assert_error(
            manager.create_user(&body).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
    }
    // Nor change the role of someone who holds more: an admin stays an admin.
    let res = manager
        .patch_user(admin.me.account.id, &json!({ "role": "user" }))
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    // Giving `user` needs users:write, any other role roles:manage (the writer also
    // holds users:read, which the target's current role grants).
    let writer_role = admin.define_role(&["users:write", "users:read"]).await;
    let writer = admin.user_in_role(&writer_role).await.as_admin();
    let res = writer
        .patch_user(target.id, &json!({ "role": "user" }))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = writer
        .patch_user(target.id, &json!({ "role": small }))
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    // Unknown and malformed roles are 422.
    for role in ["no-such-role", "Not A Role"] {
        let res = admin.patch_user(target.id, &json!({ "role": role })).await;
        assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_error").await;
    }
}

async fn a_request_needing_several_permissions_needs_all_of_them(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let small = admin.define_role(&[]).await;
    let only_roles = admin
        .user_in_role(&admin.define_role(&["roles:manage"]).await)
        .await
        .as_admin();
    let only_write = admin
        .user_in_role(&admin.define_role(&["users:write"]).await)
        .await
        .as_admin();
    let target = app.create_user().await;
    let both = json!({ "role": small, "disabled": true });
    for caller in [&only_roles, &only_write] {
        let res = caller.patch_user(target.id, &both).await;
        assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let (_, body) = status_and_json(admin.get_user(target.id).await).await;
    assert_eq!(
        (&body["role"], &body["disabled"]),
        (&json!("user"), &json!(false))
    );
    // Each alone is fine for the one that holds it.
    assert_eq!(
        only_roles
            .patch_user(target.id, &json!({ "role": small }))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        only_write
            .patch_user(target.id, &json!({ "disabled": true }))
            .await
            .status(),
        StatusCode::OK
    );
}

async fn the_builtin_roles_are_protected(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let res = admin
        .patch_role("admin", &json!({ "permissions": [] }))
        .await;
    assert_error(res, StatusCode::CONFLICT, "builtin_role").await;
    let res = admin
        .patch_role("admin", &json!({ "description": "x" }))
        .await;
    assert_error(res, StatusCode::CONFLICT, "builtin_role").await;
    for name in ["admin", "user"] {
        assert_error(
            admin.delete_role(name).await,
            StatusCode::CONFLICT,
            "builtin_role",
        )
        .await;
        let (status, body) = status_and_json(admin.get_role(name).await).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["builtin"], true);
    }
    let (_, body) = status_and_json(admin.get_role("admin").await).await;
    assert_eq!(body["permissions"], json!(["*"]));
    // `user` can be changed (for the application's own permissions).
    let res = admin
        .patch_role("user", &json!({ "permissions": ["notes:read"] }))
        .await;
    let (status, body) = status_and_json(res).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["permissions"], json!(["notes:read"]));
    // last_admin keeps its meaning: the last enabled user whose role is admin.
    let res = admin
        .patch_user(admin.me.account.id, &json!({ "role": "user" }))
        .await;
    assert_error(res, StatusCode::CONFLICT, "last_admin").await;
    let creating = json!({ "name": "admin", "permissions": [] });
    assert_error(
        admin.create_role(&creating).await,
        StatusCode::CONFLICT,
        "role_exists",
    )
    .await;
}

async fn a_role_in_use_cannot_be_deleted(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let role = admin.define_role(&["users:read"]).await;
    let holder = admin.user_in_role(&role).await;
    assert_error(
        admin.delete_role(&role).await,
        StatusCode::CONFLICT,
        "role_in_use",
    )
    .await;
    let (_, body) = status_and_json(admin.get_role(&role).await).await;
    assert_eq!(body["users"], 1);
    let res = admin
        .patch_user(holder.account.id, &json!({ "role": "user" }))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        admin.delete_role(&role).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_error(
        admin.get_role(&role).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let res = admin
        .patch_user(holder.account.id, &json!({ "role": role }))
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_error").await;
    assert_error(
        admin.delete_role(&role).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

async fn roles_are_listed_read_and_validated(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let name = new_role_name();
    let res = admin
        .create_role(&json!({ "name": name, "description": " Support staff ", "permissions": ["users:read", "users:read", "audit:read"] }))
        .await;
    let (status, role) = status_and_json(res).await;
    assert_eq!(status, StatusCode::CREATED, "{role}");
    assert_eq!(role["name"], name.as_str());
    assert_eq!(role["description"], "Support staff");
    assert_eq!(role["permissions"], json!(["audit:read", "users:read"]));
    assert_eq!(
        (&role["builtin"], &role["users"]),
        (&json!(false), &json!(0))
    );
    for key in ["created_at", "updated_at"] {
        assert!(role[key].is_string(), "{key}");
    }
    let (_, list) = status_and_json(admin.roles().await).await;
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "ordered by name");
    assert!(names.contains(&"admin") && names.contains(&"user") && names.contains(&name.as_str()));
    let admin_row = &list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "admin")
        .unwrap()
        .clone();
    assert_eq!(admin_row["users"], 1);
    for bad in [
        json!({ "name": "A", "permissions": [] }),
        json!({ "name": "has space", "permissions": [] }),
        json!({ "name": new_role_name(), "permissions": ["notapermission"] }),
        json!({ "name": new_role_name(), "permissions": ["Users:Read"] }),
        json!({ "name": new_role_name() }),
        json!({ "permissions": [] }),
        json!({ "name": new_role_name(), "permissions": [], "description": "x".repeat(201) }),
    ] {
        let res = admin.create_role(&bad).await;
        assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_error").await;
    }
    let res = admin
        .create_role(&json!({ "name": 5, "permissions": [] }))
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_body").await;
    let res = admin
        .patch_role(&name, &json!({ "permissions": ["bad"] }))
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_error").await;
    assert_error(
        admin.get_role("no-such-role").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        admin.patch_role("no-such-role", &json!({})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // The listing filters by any existing role, and refuses one that does not exist.
    admin.user_in_role(&name).await;
    let (_, page) = status_and_json(admin.list_users(&format!("role={name}")).await).await;
    assert_eq!(page["total"], 1);
    let res = admin.list_users("role=no-such-role").await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_error").await;
}

async fn the_catalogue_lists_builtin_and_application_permissions(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    admin.define_role(&["notes:write", "users:read"]).await;
    let (status, body) = status_and_json(admin.permissions().await).await;
    assert_eq!(status, StatusCode::OK);
    let items = body["items"].as_array().unwrap();
    for name in ALL_BUILTIN {
        let item = items
            .iter()
            .find(|i| i["name"] == *name)
            .unwrap_or_else(|| panic!("{name}"));
        assert_eq!(item["builtin"], true);
        assert!(!item["description"].as_str().unwrap().is_empty());
    }
    let notes = items
        .iter()
        .find(|i| i["name"] == "notes:write")
        .expect("notes:write");
    assert_eq!(notes["builtin"], false);
    assert!(
        items.iter().all(|i| i["name"] != "*"),
        "* is not a permission of its own"
    );
    assert_eq!(
        items.iter().filter(|i| i["name"] == "users:read").count(),
        1
    );
}

async fn role_changes_are_audited_and_refusals_counted(b: Backend) {
    let app = spawn_app_with(b, |s| {
        s.metrics.enabled = true;
        s.metrics.port = 0;
    })
    .await;
    let admin = app.signed_in_admin().await;
    let role = admin.define_role(&["users:read"]).await;
    admin
        .patch_role(&role, &json!({ "permissions": ["audit:read"] }))
        .await;
    admin.delete_role(&role).await;
    let (_, trail) = status_and_json(admin.audit("per_page=100").await).await;
    let actions: Vec<&Value> = trail["items"].as_array().unwrap().iter().collect();
    for (action, check) in [
        (
            "role_created",
            json!({ "name": role, "permissions": ["users:read"] }),
        ),
        (
            "role_updated",
            json!({ "name": role, "added": ["audit:read"], "removed": ["users:read"] }),
        ),
        ("role_deleted", json!({ "name": role })),
    ] {
        let event = actions
            .iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("{action}"));
        assert_eq!(event["actor_id"], admin.me.account.id);
        for (k, v) in check.as_object().unwrap() {
            assert_eq!(&event["detail"][k], v, "{action} {k}");
        }
    }
    let user = app.signed_in_user().await.as_admin();
    for _ in 0..3 {
        user.audit("").await;
    }
    let metrics = app
        .client
        .get(format!("{}/metrics", app.metrics_address.as_ref().unwrap()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"turnstile_authz_denied_total{permission="audit:read"} 3"#),
        "{metrics}"
    );
}

async fn a_role_deleted_while_being_given_is_never_half_given(b: Backend) {
    let c = Cluster::start(b, |_| {}).await;
    let admin = c.a().signed_in_admin().await;
    for _ in 0..3 {
        let role = admin.define_role(&["users:read"]).await;
        let mut targets = vec![];
        for _ in 0..12 {
            targets.push(c.a().create_user().await);
        }
        // A dozen assignments through both instances, and the deletion, at once.
        let gives = targets.iter().enumerate().map(|(i, t)| {
            let app = c.nth(i);
            let role = role.clone();
            let token = admin.access().to_string();
            async move {
                let path = format!("/api/admin/users/{}", t.id);
                app.patch_json(&path, &token, &json!({ "role": role }))
                    .await
                    .status()
            }
        });
        let (gave, deleted) = futures_util::future::join(
            join_all(gives),
            c.nth(1)
                .delete(&format!("/api/admin/roles/{role}"), admin.access()),
        )
        .await;
        let counts = tally(&gave);
        let holders = counts.get(&200).copied().unwrap_or(0);
        match deleted.status() {
            StatusCode::NO_CONTENT => {
                assert_eq!(holders, 0, "a deleted role was given: {counts:?}")
            }
            StatusCode::CONFLICT => assert!(holders > 0, "{counts:?}"),
            other => panic!("delete answered {other}"),
        }
        assert_eq!(
            holders + counts.get(&422).copied().unwrap_or(0),
            12,
            "{counts:?}"
        );
        // What the API says matches what was answered.
        let (_, page) =
            status_and_json(admin.list_users(&format!("role={role}&per_page=100")).await).await;
        if deleted.status() == StatusCode::CONFLICT {
            assert_eq!(page["total"], holders);
        }
    }
}

async fn a_role_holds_at_most_256_permissions(b: Backend) {
    let app = spawn_app(b).await;
    let admin = app.signed_in_admin().await;
    let name = new_role_name();
    let body = json!({ "name": name, "permissions": many_permissions(257) });
    let err = assert_error(
        admin.create_role(&body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_error",
    )
    .await;
    assert!(err["message"].as_str().unwrap().contains("256"), "{err}");
    assert_eq!(admin.get_role(&name).await.status(), StatusCode::NOT_FOUND);
    let body = json!({ "name": name, "permissions": many_permissions(256) });
    let (status, role) = status_and_json(admin.create_role(&body).await).await;
    assert_eq!(status, StatusCode::CREATED, "{role}");
    assert_eq!(role["permissions"].as_array().unwrap().len(), 256);
    let err = assert_error(
        admin
            .patch_role(&name, &json!({ "permissions": many_permissions(300) }))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_error",
    )
    .await;
    assert!(err["message"].as_str().unwrap().contains("256"), "{err}");
    let (_, role) = status_and_json(admin.get_role(&name).await).await;
    assert_eq!(role["permissions"].as_array().unwrap().len(), 256);
    // The document says so.
    let (_, doc) = status_and_json(app.get("/openapi.json", None).await).await;
    for schema in ["CreateRole", "PatchRole", "NewApiKeyRequest"] {
        let permissions = &doc["components"]["schemas"][schema]["properties"]["permissions"];
        assert_eq!(permissions["maxItems"], 256, "{schema}: {permissions}");
    }
}
