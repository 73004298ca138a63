//! Each constructor stores the detail that action was always stored with: the same
//! text as the `json!` the services wrote before there were constructors.

use serde_json::json;

use super::{
    Audit, By, Delivery, KeyRotation, LockedBy, LoginName, LoginRefused, MfaOff, PermissionDiff,
    SecondFactor,
};

fn stored(event: Audit<'_>) -> String {
    event.detail().unwrap()
}

#[test]
fn each_constructor_stores_the_detail_its_action_always_had() {
    let perms = vec!["users:read".to_string(), "audit:read".to_string()];
    let cases: Vec<(Audit<'_>, serde_json::Value)> = vec![
        (
            Audit::register("a@example.com", "user"),
            json!({ "email": "a@example.com", "role": "user" }),
        ),
        (
            Audit::user_created("a@example.com", "admin"),
            json!({ "email": "a@example.com", "role": "admin" }),
        ),
        (
            Audit::login_success("s1", None),
            json!({ "session_id": "s1" }),
        ),
        (
            Audit::login_success("s1", Some(SecondFactor::Totp)),
            json!({ "session_id": "s1", "second_factor": "totp" }),
        ),
        (
            Audit::login_success("s1", Some(SecondFactor::RecoveryCode)),
            json!({ "session_id": "s1", "second_factor": "recovery_code" }),
        ),
        (
            Audit::login_failure(LoginName::Email("a@x.io"), LoginRefused::Disabled),
            json!({ "email": "a@x.io", "reason": "disabled" }),
        ),
        (
            Audit::login_failure(LoginName::Email("a@x.io"), LoginRefused::EmailNotVerified),
            json!({ "email": "a@x.io", "reason": "email_not_verified" }),
        ),
        (
            Audit::login_failure(LoginName::Malformed, LoginRefused::InvalidCredentials),
            json!({ "malformed_email": true, "reason": "invalid_credentials" }),
        ),
        (
            Audit::lockout(LockedBy::Login(LoginName::Email("a@x.io"))),
            json!({ "email": "a@x.io", "reason": "invalid_credentials" }),
        ),
        (
            Audit::lockout(LockedBy::Login(LoginName::Malformed)),
            json!({ "malformed_email": true, "reason": "invalid_credentials" }),
        ),
        (Audit::lockout(LockedBy::Mfa), json!({ "reason": "mfa" })),
        (
            Audit::lockout(LockedBy::PasswordChange),
            json!({ "reason": "password_change" }),
        ),
        (Audit::password_change(), json!({})),
        (
            Audit::password_change_failure(),
            json!({ "reason": "invalid_credentials" }),
        ),
        (
            Audit::refresh_reuse_detected("s1"),
            json!({ "session_id": "s1" }),
        ),
        (
            Audit::refresh_replayed("s1", 250),
            json!({ "session_id": "s1", "ms_since_spent": 250 }),
        ),
        (Audit::logout("s1"), json!({ "session_id": "s1" })),
        (Audit::session_revoked("s1"), json!({ "session_id": "s1" })),
        (
            Audit::session_revoked_by_oauth("s1"),
            json!({ "session_id": "s1", "via": "oauth_revoke" }),
        ),
        (Audit::sessions_revoked(3), json!({ "sessions": 3 })),
        (
            Audit::role_change("user", "support"),
            json!({ "from": "user", "to": "support" }),
        ),
        (Audit::user_disabled(2), json!({ "sessions_revoked": 2 })),
        (Audit::user_enabled(), json!({ "sessions_revoked": 0 })),
        (Audit::user_deleted("a@x.io"), json!({ "email": "a@x.io" })),
        (Audit::unlock(4), json!({ "cleared_failures": 4 })),
        (Audit::admin_bootstrapped(), json!({})),
        (
            Audit::role_created("support", &perms),
            json!({ "name": "support", "permissions": perms }),
        ),
        (
            Audit::role_updated("support", None, None),
            json!({ "name": "support" }),
        ),
        (
            Audit::role_updated(
                "support",
                Some(PermissionDiff {
                    added: vec!["audit:read"],
                    removed: vec![],
                }),
                Some("Support staff"),
            ),
            json!({ "name": "support", "added": ["audit:read"], "removed": [], "description": "Support staff" }),
        ),
        (Audit::role_deleted("support"), json!({ "name": "support" })),
        (
            Audit::password_reset_requested(Delivery::Email),
            json!({ "delivery": "email" }),
        ),
        (
            Audit::password_reset_requested(Delivery::Link),
            json!({ "delivery": "link" }),
        ),
        (Audit::password_reset(), json!({})),
        (
            Audit::email_verification_sent("a@x.io"),
            json!({ "email": "a@x.io" }),
        ),
        (
            Audit::email_verified("a@x.io"),
            json!({ "email": "a@x.io" }),
        ),
        (
            Audit::email_verified_set("a@x.io", false),
            json!({ "email": "a@x.io", "verified": false }),
        ),
        (Audit::mfa_enabled(), json!({ "method": "totp" })),
        (Audit::mfa_disabled(MfaOff::User), json!({ "by": "user" })),
        (
            Audit::mfa_disabled(MfaOff::Admin { was_enabled: true }),
            json!({ "by": "admin", "was_enabled": true }),
        ),
        (
            Audit::mfa_failure(),
            json!({ "reason": "invalid_mfa_code" }),
        ),
        (Audit::recovery_code_used(9), json!({ "remaining": 9 })),
        (Audit::recovery_codes_regenerated(), json!({})),
        (
            Audit::key_rotated(KeyRotation {
                kid: "k2",
                alg: "EdDSA",
                previous_kid: None,
                reason: "initial",
            }),
            json!({ "kid": "k2", "alg": "EdDSA", "previous_kid": null, "reason": "initial" }),
        ),
        (
            Audit::key_rotated(KeyRotation {
                kid: "k2",
                alg: "EdDSA",
                previous_kid: Some("k1"),
                reason: "api",
            }),
            json!({ "kid": "k2", "alg": "EdDSA", "previous_kid": "k1", "reason": "api" }),
        ),
        (
            Audit::api_key_created(7, "ci", &perms),
            json!({ "key_id": 7, "name": "ci", "permissions": perms }),
        ),
        (
            Audit::api_key_deleted(7, "ci"),
            json!({ "key_id": 7, "name": "ci" }),
        ),
    ];
    let mut covered = std::collections::HashSet::new();
    for (event, before) in cases {
        let action = event.action();
        assert_eq!(stored(event), before.to_string(), "{action}");
        covered.insert(action);
    }
    // The list is long: it must not silently miss an action.
    assert_eq!(covered.len(), super::AuditAction::ALL.len());
}

#[test]
fn an_event_caused_by_an_api_key_names_the_key_in_its_detail() {
    let by = By {
        actor: None,
        api_key: Some(12),
    };
    let event = Audit::user_deleted("a@x.io").by(by);
    let before = json!({ "email": "a@x.io", "api_key_id": 12 });
    assert_eq!(stored(event), before.to_string());
    let nothing = Audit::password_change().by(by);
    assert_eq!(stored(nothing), json!({ "api_key_id": 12 }).to_string());
}
