//! Security promises under concurrency: dozens of requests at once, against one
//! instance on SQLite and two instances sharing one PostgreSQL database.

use std::collections::HashSet;
use std::time::Duration;

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::{status_and_json, tally, Backend, Cluster, TestApp, Tokens};

on_both_backends!(
    a_burst_of_wrong_passwords_is_checked_at_most_max_failures_times,
    a_burst_hiding_the_right_password_still_checks_at_most_max_wrong_ones,
    a_burst_against_many_accounts_from_one_client_is_checked_at_most_max_times,
    logins_racing_a_password_change_never_yield_a_working_token,
    logins_racing_a_disable_yield_no_token_that_works_after_re_enabling,
    logins_racing_a_deletion_answer_401_never_500,
    concurrent_patches_of_one_user_never_undo_each_other,
    concurrent_presentations_of_one_refresh_token_share_one_successor,
    a_replay_within_the_interval_gets_the_successor_already_issued_not_a_fork,
    a_spent_token_presented_after_the_interval_revokes_the_shared_chain,
    guessing_the_current_password_counts_toward_the_lockout,
);

const WRONG: &str = "wrong password";

fn statuses(results: &[reqwest::Response]) -> Vec<StatusCode> {
    results.iter().map(|r| r.status()).collect()
}

async fn a_burst_of_wrong_passwords_is_checked_at_most_max_failures_times(b: Backend) {
    let c = Cluster::start(b, |s| {
        s.auth.login_max_failures = 5.try_into().unwrap();
        s.auth.bcrypt_cost = 8.try_into().unwrap();
    })
    .await;
    let user = c.a().create_user().await;
    let results = join_all((0..50).map(|i| c.nth(i).login(&user.email, WRONG))).await;
    let counts = tally(&statuses(&results));
    assert_eq!(
        counts.get(&401),
        Some(&5),
        "wrong passwords checked: {counts:?}"
    );
    assert_eq!(counts.get(&429), Some(&45), "{counts:?}");
    // The lock was reached once and audited once, whatever the burst.
    assert_eq!(c.a().audit_count("lockout").await, 1);
    assert_eq!(c.a().audit_count("login_failure").await, 5);
    let right = c.nth(1).login(&user.email, &user.password).await;
    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS);
}

async fn a_burst_hiding_the_right_password_still_checks_at_most_max_wrong_ones(b: Backend) {
    let c = Cluster::start(b, |s| {
        s.auth.login_max_failures = 5.try_into().unwrap();
        s.auth.bcrypt_cost = 8.try_into().unwrap();
    })
    .await;
    let user = c.a().create_user().await;
    let results = join_all((0..50).map(|i| {
        let password = if i == 25 {
            user.password.as_str()
        } else {
            WRONG
        };
        c.nth(i).login(&user.email, password)
    }))
    .await;
    let all = statuses(&results);
    let wrong: Vec<StatusCode> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 25)
        .map(|(_, s)| *s)
        .collect();
    let counts = tally(&wrong);
    assert!(
        counts.get(&401).copied().unwrap_or(0) <= 5,
        "wrong passwords checked: {counts:?}"
    );
    assert_eq!(
        counts.keys().copied().collect::<Vec<_>>(),
        vec![401, 429],
        "{counts:?}"
    );
    assert!(
        [StatusCode::OK, StatusCode::TOO_MANY_REQUESTS].contains(&all[25]),
        "{}",
        all[25]
    );
}

async fn a_burst_against_many_accounts_from_one_client_is_checked_at_most_max_times(b: Backend) {
    let c = Cluster::start(b, |s| {
        s.auth.login_max_failures = 5.try_into().unwrap();
        s.auth.bcrypt_cost = 8.try_into().unwrap();
    })
    .await;
    let emails: Vec<String> = (0..40).map(|_| crate::support::new_email()).collect();
    let results = join_all(
        emails
            .iter()
            .enumerate()
            .map(|(i, e)| c.nth(i).login(e, WRONG)),
    )
    .await;
    let counts = tally(&statuses(&results));
    assert_eq!(counts.get(&401), Some(&5), "{counts:?}");
    assert_eq!(counts.get(&429), Some(&35), "{counts:?}");
}

/// What races the logins in [`logins_racing`].
#[derive(Clone, Copy, Debug)]
enum Race {
    PasswordChange,
    Disable,
    Delete,
}

/// Two dozen logins with the account's password, spread over about a second, and
/// `race` committed in the middle of them. The spacing keeps the hashing queue short,
/// so logins that checked the password before the change finish after it. Whatever each login answered, no token it got
/// may work once the change is done: a login that checked the old password either
/// finished before the change (whose revocation then covers its session) or sees the
/// change when it creates the session and creates none.
async fn logins_racing(b: Backend, race: Race) {
    let c = Cluster::start(b, |s| {
        s.auth.bcrypt_cost = 8.try_into().unwrap();
        s.auth.bcrypt_threads = 4;
        s.auth.login_max_failures = 1000.try_into().unwrap();
    })
    .await;
    let (_, admin) = c.a().admin_with_tokens().await;
    let (user, tokens) = c.a().user_with_tokens().await;
    let logins = (0..24).map(|i| {
        let app = c.nth(i);
        let (email, password) = (user.email.clone(), user.password.clone());
        async move {
            actix_web::rt::time::sleep(Duration::from_millis(40 * i as u64)).await;
            app.login(&email, &password).await
        }
    });
    let path = format!("/api/admin/users/{}", user.id);
    let change = async {
        actix_web::rt::time::sleep(Duration::from_millis(300)).await;
        let app = c.nth(1);
        match race {
            Race::PasswordChange => {
                let body = json!({ "current_password": user.password, "new_password": "a brand new password" });
                app.post_json("/api/profile/password", Some(&tokens.access), &body)
                    .await
            }
            Race::Disable => {
                app.patch_json(&path, &admin.access, &json!({ "disabled": true }))
                    .await
            }
            Race::Delete => app.delete(&path, &admin.access).await,
        }
        .status()
    };
    let (results, changed) = futures_util::future::join(join_all(logins), change).await;
    assert!(changed.is_success(), "{race:?}: {changed}");
    if let Race::Disable = race {
        let res = c
            .a()
            .patch_json(&path, &admin.access, &json!({ "disabled": false }))
            .await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let mut issued = vec![];
    for res in results {
        let (status, body) = status_and_json(res).await;
        match status {
            StatusCode::OK => {
                assert_eq!(body["user"]["disabled"], false, "{race:?}: {body}");
                issued.push(Tokens::from_body(&body));
            }
            StatusCode::UNAUTHORIZED => {}
            other => panic!("{race:?}: a racing login answered {other}: {body}"),
        }
    }
    for t in &issued {
        for app in &c.apps {
            assert_tokens_dead_within_a_second(app, t, &format!("{race:?}")).await;
        }
        let refreshed = c.a().refresh(&t.refresh).await.status();
        assert_eq!(refreshed, StatusCode::UNAUTHORIZED, "{race:?}: refresh");
    }
}

/// The instance that made the change enforces it at once, the other within a second.
async fn assert_tokens_dead_within_a_second(app: &TestApp, t: &Tokens, what: &str) {
    let start = std::time::Instant::now();
    loop {
        let got = app.get("/api/profile", Some(&t.access)).await.status();
        if got == StatusCode::UNAUTHORIZED {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{what}: a token that should be dead still answers {got}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn logins_racing_a_password_change_never_yield_a_working_token(b: Backend) {
    logins_racing(b, Race::PasswordChange).await;
}

async fn logins_racing_a_disable_yield_no_token_that_works_after_re_enabling(b: Backend) {
    logins_racing(b, Race::Disable).await;
}

async fn logins_racing_a_deletion_answer_401_never_500(b: Backend) {
    logins_racing(b, Race::Delete).await;
}

async fn concurrent_patches_of_one_user_never_undo_each_other(b: Backend) {
    let c = Cluster::start(b, |_| {}).await;
    let (_, admin) = c.a().admin_with_tokens().await;
    let mut targets = vec![];
    for _ in 0..12 {
        targets.push(c.a().create_admin().await);
    }
    // Each target gets a demotion and a disable at the same moment, through
    // different instances: 24 concurrent PATCHes that all lock the admin set.
    let patches = targets.iter().enumerate().flat_map(|(i, t)| {
        let path = format!("/api/admin/users/{}", t.id);
        [
            (c.nth(2 * i), path.clone(), json!({ "role": "user" })),
            (c.nth(2 * i + 1), path, json!({ "disabled": true })),
        ]
    });
    let results = join_all(
        patches
            .collect::<Vec<_>>()
            .iter()
            .map(|(app, path, body)| app.patch_json(path, &admin.access, body)),
    )
    .await;
    let counts = tally(&statuses(&results));
    assert_eq!(counts.get(&200), Some(&24), "{counts:?}");
    for t in &targets {
        let path = format!("/api/admin/users/{}", t.id);
        let (_, body) = status_and_json(c.a().get(&path, Some(&admin.access)).await).await;
        assert_eq!(
            (&body["role"], &body["disabled"]),
            (&json!("user"), &json!(true)),
            "{body}"
        );
        let res = c
            .nth(1)
            .patch_json(&path, &admin.access, &json!({ "disabled": false }))
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        // Re-enabled, the account is a plain user: the demotion was not lost.
        let tokens = c.a().login_as(t).await;
        let res = c.nth(1).get("/api/admin/users", Some(&tokens.access)).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(c.a().audit_count("role_change").await, 12);
    assert_eq!(c.a().audit_count("user_disabled").await, 12);
}

async fn refresh_token_of(res: reqwest::Response) -> (StatusCode, Value) {
    let (status, body) = status_and_json(res).await;
    (status, body["refresh_token"].clone())
}

async fn concurrent_presentations_of_one_refresh_token_share_one_successor(b: Backend) {
    let c = Cluster::start(b, |s| {
        s.auth.refresh_reuse_interval_secs = 30.try_into().unwrap()
    })
    .await;
    let (_, first) = c.a().user_with_tokens().await;
    let results = join_all((0..24).map(|i| c.nth(i).refresh(&first.refresh))).await;
    let mut successors = HashSet::new();
    for res in results {
        let (status, token) = refresh_token_of(res).await;
        assert_eq!(status, StatusCode::OK);
        successors.insert(token.as_str().unwrap().to_string());
    }
    assert_eq!(successors.len(), 1, "one rotation, one successor");
    assert_eq!(c.a().audit_count("refresh_replayed").await, 23);
}

async fn a_replay_within_the_interval_gets_the_successor_already_issued_not_a_fork(b: Backend) {
    let c = Cluster::start(b, |s| {
        s.auth.refresh_reuse_interval_secs = 30.try_into().unwrap()
    })
    .await;
    let (_, r1) = c.a().user_with_tokens().await;
    // The victim rotates R1 -> R2.
    let (status, r2) = refresh_token_of(c.a().refresh(&r1.refresh).await).await;
    assert_eq!(status, StatusCode::OK);
    // A thief replays R1 a dozen times at once: every answer is R2, nothing new.
    let replays = join_all((0..12).map(|i| c.nth(i).refresh(&r1.refresh))).await;
    for res in replays {
        assert_eq!(refresh_token_of(res).await, (StatusCode::OK, r2.clone()));
    }
    // Victim and thief hold one chain: R2's successor is the same for both.
    let r2 = r2.as_str().unwrap();
    let (victim, thief) = futures_util::future::join(c.a().refresh(r2), c.nth(1).refresh(r2)).await;
    let (victim, thief) = (
        refresh_token_of(victim).await,
        refresh_token_of(thief).await,
    );
    assert_eq!(victim.0, StatusCode::OK);
    assert_eq!(victim, thief);
    assert_eq!(c.a().audit_count("refresh_replayed").await, 13);
}

async fn a_spent_token_presented_after_the_interval_revokes_the_shared_chain(b: Backend) {
    let c = Cluster::start(b, |s| {
        s.auth.refresh_reuse_interval_secs = 1.try_into().unwrap()
    })
    .await;
    let (_, r1) = c.a().user_with_tokens().await;
    let (_, r2) = refresh_token_of(c.a().refresh(&r1.refresh).await).await;
    let (status, stolen) = refresh_token_of(c.nth(1).refresh(&r1.refresh).await).await;
    assert_eq!(
        (status, &stolen),
        (StatusCode::OK, &r2),
        "the replay gets R2"
    );
    // The victim moves on to R3; the thief comes back with R2 after the interval.
    let res = c.a().refresh(r2.as_str().unwrap()).await;
    let (status, body) = status_and_json(res).await;
    assert_eq!(status, StatusCode::OK);
    let victim = Tokens::from_body(&body);
    actix_web::rt::time::sleep(Duration::from_millis(1200)).await;
    let res = c.nth(1).refresh(stolen.as_str().unwrap()).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // Reuse detected: the session, with the victim's newest pair, is revoked.
    assert_eq!(
        c.a().refresh(&victim.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
    for app in &c.apps {
        assert_tokens_dead_within_a_second(app, &victim, "reuse after the interval").await;
    }
    assert_eq!(c.a().audit_count("refresh_reuse_detected").await, 1);
}

async fn guessing_the_current_password_counts_toward_the_lockout(b: Backend) {
    let c = Cluster::start(b, |s| {
        s.auth.login_max_failures = 5.try_into().unwrap();
        s.auth.bcrypt_cost = 8.try_into().unwrap();
    })
    .await;
    let (user, tokens) = c.a().user_with_tokens().await;
    let c = &c;
    let guess = |i: usize| {
        let body = json!({ "current_password": format!("guess number {i}"), "new_password": "a brand new password" });
        let token = tokens.access.clone();
        async move {
            c.nth(i)
                .post_json("/api/profile/password", Some(&token), &body)
                .await
        }
    };
    let results = join_all((0..30).map(guess)).await;
    let counts = tally(&statuses(&results));
    assert_eq!(counts.get(&401), Some(&5), "guesses checked: {counts:?}");
    assert_eq!(counts.get(&429), Some(&25), "{counts:?}");
    let right =
        json!({ "current_password": user.password, "new_password": "a brand new password" });
    let res = c
        .nth(1)
        .post_json("/api/profile/password", Some(&tokens.access), &right)
        .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    let login = c.a().login(&user.email, &user.password).await;
    assert_eq!(login.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(c.a().audit_count("password_change_failure").await, 5);
    assert_eq!(c.a().audit_count("lockout").await, 1);
}
