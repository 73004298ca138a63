//! The auth cache, the cross-instance change feed, and the bounded bcrypt pool.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use futures_util::future::LocalBoxFuture;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::{
    assert_error, postgres_or_skip, spawn_app, spawn_app_with, AdminClient, Backend, TestApp,
    UserClient,
};

on_both_backends!(
    authenticated_requests_make_no_database_calls_in_steady_state,
    a_full_bcrypt_queue_answers_503_with_retry_after,
);

async fn authenticated_requests_make_no_database_calls_in_steady_state(b: Backend) {
    let app = spawn_app(b).await;
    let user = app.signed_in_user().await;
    // The first request fills the cache.
    assert_eq!(user.profile().await.status(), StatusCode::OK);
    let before = app.state.db.calls();
    for _ in 0..20 {
        assert_eq!(user.profile().await.status(), StatusCode::OK);
        assert_eq!(user.sessions().await.status(), StatusCode::OK);
    }
    // /api/sessions reads the session list itself; the middleware reads nothing.
    assert_eq!(
        app.state.db.calls() - before,
        20,
        "only the 20 session listings hit the database"
    );
    assert!(app.state.cache.hits() >= 40);
}

async fn a_full_bcrypt_queue_answers_503_with_retry_after(b: Backend) {
    let app = spawn_app_with(b, |s| {
        s.auth.bcrypt_threads = 1;
        s.auth.bcrypt_queue = 1;
        s.auth.bcrypt_cost = 10.try_into().unwrap();
        s.auth.login_max_failures = 1000.try_into().unwrap();
    })
    .await;
    let user = app.create_user().await;
    let results = join_all((0..12).map(|_| app.login(&user.email, "wrong password"))).await;
    let mut busy = 0;
    for res in results {
        match res.status() {
            StatusCode::UNAUTHORIZED => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                busy += 1;
                assert_eq!(res.headers()["retry-after"], "1");
                assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "server_busy").await;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(busy > 0, "12 logins at once never filled a queue of one");
    // The storm is over: the pool serves again, and /health never depended on it.
    assert_eq!(app.get("/health", None).await.status(), StatusCode::OK);
    assert_eq!(
        app.login(&user.email, &user.password).await.status(),
        StatusCode::OK
    );
}

/// Polls `path` on instance B with `user`'s token until it answers `want`; fails
/// after a second.
async fn enforced_within_a_second(user: &UserClient<'_>, path: &str, want: StatusCode, what: &str) {
    let start = Instant::now();
    loop {
        let got = user.app.get(path, Some(user.access())).await.status();
        if got == want {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{what}: instance B still answers {got} after 1 s"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn two_instances() -> Option<(TestApp, TestApp)> {
    if !postgres_or_skip() {
        return None;
    }
    // No reuse interval: a second refresh of one token is reuse at once.
    let a = spawn_app_with(Backend::Postgres, |s| {
        s.auth.refresh_reuse_interval_secs = 0.try_into().unwrap()
    })
    .await;
    let b = a.second_instance().await;
    Some((a, b))
}

/// Makes B (the instance `user` talks to) cache the token's state, so a stale cache
/// would let it through.
async fn warm(user: &UserClient<'_>) {
    // A login sends a change notice of its own (last_login_at). Only once B has served
    // the token from its cache after that notice had time to arrive (several listener
    // polls) can the change under test alone be what empties B's entry.
    let start = Instant::now();
    let settled = start + Duration::from_millis(300);
    loop {
        let calls = user.app.state.db.calls();
        assert_eq!(user.profile().await.status(), StatusCode::OK);
        let from_cache = user.app.state.db.calls() == calls;
        if from_cache && Instant::now() >= settled {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "B never served from its cache"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The account a scenario changes, signed in through instance A, and the admin.
struct Subject<'a> {
    admin: &'a AdminClient<'a>,
    /// One session each, in sign-in order; B is probed with the last one's token.
    devices: Vec<UserClient<'a>>,
}

impl<'a> Subject<'a> {
    fn probed(&self) -> &UserClient<'a> {
        self.devices.last().expect("a device")
    }

    fn id(&self) -> i64 {
        self.probed().account.id
    }

    /// The admin patches the account with `body`.
    fn patched(&'a self, body: Value) -> LocalBoxFuture<'a, Response> {
        Box::pin(async move { self.admin.patch_user(self.id(), &body).await })
    }

    /// A role of the account's own, for the scenarios that change a role.
    fn role(&self) -> String {
        format!("r-{}", self.id())
    }

    /// The admin defines the account's own role with `permissions` and gives it.
    fn in_own_role(&'a self, permissions: Value) -> LocalBoxFuture<'a, Response> {
        Box::pin(async move {
            let body = json!({ "name": self.role(), "permissions": permissions });
            assert_eq!(
                self.admin.create_role(&body).await.status(),
                StatusCode::CREATED
            );
            self.patched(json!({ "role": self.role() })).await
        })
    }

    /// The admin sets the permissions of the account's own role.
    fn role_granting(&'a self, permissions: Value) -> LocalBoxFuture<'a, Response> {
        let body = json!({ "permissions": permissions });
        Box::pin(async move { self.admin.patch_role(&self.role(), &body).await })
    }
}

/// A request (or a few) made through instance A; answers the last response.
type Step = for<'a> fn(&'a Subject<'a>) -> LocalBoxFuture<'a, Response>;

/// A change made through instance A, and what instance B must answer after it.
struct Scenario {
    name: &'static str,
    /// How many devices the account signs in on through A.
    devices: usize,
    /// Made through A, and the status A answers it with, before B sees the token.
    prepare: Option<(Step, StatusCode)>,
    /// The change, made through A once B has cached the token's state, and the
    /// status A answers it with.
    change: Step,
    a_answers: StatusCode,
    /// The path B is probed on with the last device's token; what B answers there
    /// once warm (checked before the change when given), and within a second after.
    probe: &'static str,
    before: Option<StatusCode>,
    after: StatusCode,
}

const PROFILE: &str = "/api/profile";
const STATS: &str = "/api/admin/stats";

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "a permission taken from the account's role",
        devices: 1,
        prepare: Some((|s| s.in_own_role(json!(["users:read"])), StatusCode::OK)),
        change: |s| s.role_granting(json!([])),
        a_answers: StatusCode::OK,
        probe: STATS,
        before: Some(StatusCode::OK),
        after: StatusCode::FORBIDDEN,
    },
    Scenario {
        name: "a permission given to the account's role",
        devices: 1,
        prepare: Some((|s| s.in_own_role(json!([])), StatusCode::OK)),
        change: |s| s.role_granting(json!(["users:read"])),
        a_answers: StatusCode::OK,
        probe: STATS,
        before: Some(StatusCode::FORBIDDEN),
        after: StatusCode::OK,
    },
    Scenario {
        name: "password change",
        devices: 1,
        prepare: None,
        change: |s| {
            let user = s.probed();
            Box::pin(user.change_password(&user.account.password, "a brand new password"))
        },
        a_answers: StatusCode::OK,
        probe: PROFILE,
        before: None,
        after: StatusCode::UNAUTHORIZED,
    },
    Scenario {
        name: "disable",
        devices: 1,
        prepare: None,
        change: |s| s.patched(json!({ "disabled": true })),
        a_answers: StatusCode::OK,
        probe: PROFILE,
        before: None,
        after: StatusCode::UNAUTHORIZED,
    },
    Scenario {
        name: "deletion",
        devices: 1,
        prepare: None,
        change: |s| Box::pin(s.admin.delete_user(s.id())),
        a_answers: StatusCode::NO_CONTENT,
        probe: PROFILE,
        before: None,
        after: StatusCode::UNAUTHORIZED,
    },
    Scenario {
        name: "promotion",
        devices: 1,
        prepare: None,
        change: |s| s.patched(json!({ "role": "admin" })),
        a_answers: StatusCode::OK,
        probe: STATS,
        before: Some(StatusCode::FORBIDDEN),
        after: StatusCode::OK,
    },
    Scenario {
        name: "demotion",
        devices: 1,
        prepare: Some((|s| s.patched(json!({ "role": "admin" })), StatusCode::OK)),
        change: |s| s.patched(json!({ "role": "user" })),
        a_answers: StatusCode::OK,
        probe: STATS,
        before: Some(StatusCode::OK),
        after: StatusCode::FORBIDDEN,
    },
    Scenario {
        name: "logout",
        devices: 1,
        prepare: None,
        change: |s| Box::pin(s.probed().logout()),
        a_answers: StatusCode::NO_CONTENT,
        probe: PROFILE,
        before: None,
        after: StatusCode::UNAUTHORIZED,
    },
    Scenario {
        // One session revoked by its owner from another device (the laptop).
        name: "session revocation",
        devices: 2,
        prepare: None,
        change: |s| Box::pin(s.devices[0].revoke_session(s.probed().sid())),
        a_answers: StatusCode::NO_CONTENT,
        probe: PROFILE,
        before: None,
        after: StatusCode::UNAUTHORIZED,
    },
    Scenario {
        // Every session revoked by an admin.
        name: "admin revoke-sessions",
        devices: 1,
        prepare: None,
        change: |s| Box::pin(s.admin.revoke_sessions(s.id())),
        a_answers: StatusCode::NO_CONTENT,
        probe: PROFILE,
        before: None,
        after: StatusCode::UNAUTHORIZED,
    },
    Scenario {
        // A lost device: the admin's MFA reset ends every session of the account.
        name: "admin MFA reset",
        devices: 1,
        prepare: None,
        change: |s| Box::pin(s.admin.reset_mfa(s.id())),
        a_answers: StatusCode::NO_CONTENT,
        probe: PROFILE,
        before: None,
        after: StatusCode::UNAUTHORIZED,
    },
    Scenario {
        // RFC 7009 revocation of the access token, sent to A.
        name: "oauth revoke",
        devices: 1,
        prepare: None,
        change: |s| {
            Box::pin(async move {
                let user = s.probed();
                user.app
                    .client
                    .post(user.app.url("/oauth/revoke"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(format!("token={}", user.access()))
                    .send()
                    .await
                    .unwrap()
            })
        },
        a_answers: StatusCode::OK,
        probe: PROFILE,
        before: None,
        after: StatusCode::UNAUTHORIZED,
    },
    Scenario {
        // Refresh-token reuse detected on A kills the session on B.
        name: "refresh reuse",
        devices: 1,
        prepare: None,
        change: |s| {
            Box::pin(async {
                assert_eq!(s.probed().refresh().await.status(), StatusCode::OK);
                s.probed().refresh().await
            })
        },
        a_answers: StatusCode::UNAUTHORIZED,
        probe: PROFILE,
        before: None,
        after: StatusCode::UNAUTHORIZED,
    },
];

#[actix_web::test]
async fn changes_made_on_one_instance_are_enforced_by_another_within_a_second() {
    let Some((a, b)) = two_instances().await else {
        return;
    };
    let admin = a.signed_in_admin().await;
    for scenario in SCENARIOS {
        let name = scenario.name;
        let mut devices = vec![a.signed_in_user().await];
        while devices.len() < scenario.devices {
            devices.push(devices[0].another_device().await);
        }
        let subject = Subject {
            admin: &admin,
            devices,
        };
        if let Some((prepare, answers)) = scenario.prepare {
            let res = prepare(&subject).await;
            assert_eq!(res.status(), answers, "{name}: preparing on A");
        }
        let on_b = subject.probed().on(&b);
        warm(&on_b).await;
        if let Some(before) = scenario.before {
            let got = b.get(scenario.probe, Some(on_b.access())).await.status();
            assert_eq!(got, before, "{name}: B before the change");
        }
        let res = (scenario.change)(&subject).await;
        assert_eq!(res.status(), scenario.a_answers, "{name}: the change on A");
        enforced_within_a_second(&on_b, scenario.probe, scenario.after, name).await;
    }
}
