//! Signing keys: EdDSA, ES256 and RS256 tokens that verify from the JWKS alone,
//! rotation (the new key signs at once, the previous one verifies until its tokens
//! expire, then retires), algorithm switches, and two instances agreeing on the keys.

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::{
    assert_error, claims_of, header_of, sign, spawn_app, spawn_app_with, status_and_json, Backend,
    TestApp,
};
use turnstile::credentials::keys::{encoding_key, generate, jose};
use turnstile::settings::SigningAlgorithm;

on_both_backends!(
    every_asymmetric_algorithm_signs_tokens_that_verify_from_the_jwks_alone,
    with_hs256_the_key_set_is_empty_and_rotation_is_refused,
    a_rotation_signs_new_tokens_at_once_and_the_previous_key_retires_after_its_tokens,
    tokens_of_unknown_keys_or_other_algorithms_are_refused,
    switching_the_algorithm_refuses_old_tokens_and_a_refresh_recovers,
    a_rotation_on_one_instance_is_used_by_every_instance_within_a_second,
);

const ALGORITHMS: [(&str, SigningAlgorithm); 3] = [
    ("EdDSA", SigningAlgorithm::EdDsa),
    ("ES256", SigningAlgorithm::Es256),
    ("RS256", SigningAlgorithm::Rs256),
];

async fn signing_with(b: Backend, alg: &str) -> TestApp {
    let alg = SigningAlgorithm::parse(alg).expect("an algorithm");
    spawn_app_with(b, move |s| s.auth.signing_algorithm = alg).await
}

async fn jwks(app: &TestApp) -> (reqwest::header::HeaderMap, Value) {
    let res = app.get("/.well-known/jwks.json", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let headers = res.headers().clone();
    (headers, res.json().await.expect("json"))
}

fn kids(set: &Value) -> Vec<String> {
    set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

/// Verifies `token` the way another service would: the key picked from the JWKS by
/// the header's `kid`, the algorithm pinned, issuer, audience and type checked.
fn verify_from(set: &Value, token: &str, alg: SigningAlgorithm) -> Result<Value, String> {
    let set: JwkSet = serde_json::from_value(set.clone()).map_err(|e| e.to_string())?;
    let kid = header_of(token)["kid"]
        .as_str()
        .ok_or("no kid")?
        .to_string();
    let jwk = set.find(&kid).ok_or("kid not in the JWKS")?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut v = Validation::new(jose(alg));
    v.set_issuer(&["turnstile"]);
    v.set_audience(&["turnstile"]);
    let data = jsonwebtoken::decode::<Value>(token, &key, &v).map_err(|e| e.to_string())?;
    match data.header.typ.as_deref() {
        Some("at+jwt") => Ok(data.claims),
        other => Err(format!("typ {other:?}")),
    }
}

async fn every_asymmetric_algorithm_signs_tokens_that_verify_from_the_jwks_alone(b: Backend) {
    for (name, alg) in ALGORITHMS {
        let app = signing_with(b, name).await;
        let user = app.signed_in_user().await;
        let header = header_of(user.access());
        assert_eq!(header["alg"], name);
        assert_eq!(header["typ"], "at+jwt");
        let (headers, set) = jwks(&app).await;
        assert_eq!(
            kids(&set),
            vec![header["kid"].as_str().unwrap().to_string()],
            "{name}"
        );
        let cache = headers["cache-control"].to_str().unwrap();
        let max_age: u64 = cache.split("max-age=").nth(1).unwrap().parse().unwrap();
        assert!(cache.starts_with("public") && max_age <= 300, "{cache}");
        for key in set["keys"].as_array().unwrap() {
            assert_eq!((&key["alg"], &key["use"]), (&json!(name), &json!("sig")));
            for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
                assert!(key.get(private).is_none(), "{name}: {private} published");
            }
        }
        let claims = verify_from(&set, user.access(), alg).unwrap();
        assert_eq!(claims["sub"], user.account.id.to_string());
        assert_eq!(user.profile().await.status(), StatusCode::OK, "{name}");
        // Refreshed tokens are signed the same way.
        let (status, body) = status_and_json(user.refresh().await).await;
        assert_eq!(status, StatusCode::OK);
        verify_from(&set, body["access_token"].as_str().unwrap(), alg).unwrap();
    }
}

async fn with_hs256_the_key_set_is_empty_and_rotation_is_refused(b: Backend) {
    let app = spawn_app(b).await;
    assert_eq!(jwks(&app).await.1, json!({ "keys": [] }));
    let admin = app.signed_in_admin().await;
    assert_eq!(header_of(admin.access())["alg"], "HS256");
    assert!(
        header_of(admin.access())["kid"].is_string(),
        "HS256 tokens name their key too"
    );
    assert_error(admin.rotate_keys().await, StatusCode::CONFLICT, "conflict").await;
    assert_eq!(
        status_and_json(admin.keys().await).await,
        (StatusCode::OK, json!({ "items": [] }))
    );
    // A token signed with the secret without a kid (as before kid existed) still works.
    let mut claims = claims_of(admin.access());
    claims["jti"] = json!("hand-made");
    let token = sign(
        &json!({ "alg": "HS256", "typ": "at+jwt" }),
        &claims,
        app.jwt_secret().as_bytes(),
    );
    assert_eq!(
        app.get("/api/profile", Some(&token)).await.status(),
        StatusCode::OK
    );
    let token = sign(
        &json!({ "alg": "HS256", "typ": "at+jwt", "kid": "another" }),
        &claims,
        app.jwt_secret().as_bytes(),
    );
    assert_eq!(
        app.get("/api/profile", Some(&token)).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

async fn a_rotation_signs_new_tokens_at_once_and_the_previous_key_retires_after_its_tokens(
    b: Backend,
) {
    let app = spawn_app_with(b, |s| {
        s.auth.signing_algorithm = SigningAlgorithm::EdDsa;
        s.auth.access_token_ttl_secs = 3.try_into().unwrap();
        s.auth.leeway_secs = 0.try_into().unwrap();
    })
    .await;
    let mut admin = app.signed_in_admin().await;
    let before = admin.tokens.clone();
    let old_kid = header_of(&before.access)["kid"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, body) = status_and_json(admin.rotate_keys().await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let new_kid = body["kid"].as_str().unwrap().to_string();
    assert_ne!(new_kid, old_kid);
    // New tokens, from login and from refresh, carry the new key at once.
    let fresh = app.login_as(&admin.account).await;
    assert_eq!(header_of(&fresh.access)["kid"], new_kid.as_str());
    let (_, refreshed) = status_and_json(admin.refresh().await).await;
    admin.adopt(&refreshed);
    assert_eq!(header_of(admin.access())["kid"], new_kid.as_str());
    // The previous key still verifies its tokens, and is still published.
    assert_eq!(
        app.get("/api/profile", Some(&before.access)).await.status(),
        StatusCode::OK
    );
    let set = jwks(&app).await.1;
    assert_eq!(kids(&set), vec![new_kid.clone(), old_kid.clone()]);
    verify_from(&set, &before.access, SigningAlgorithm::EdDsa).unwrap();
    let (_, listed) = status_and_json(admin.keys().await).await;
    let statuses: Vec<(&str, &str)> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["kid"].as_str().unwrap(), k["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        vec![
            (new_kid.as_str(), "current"),
            (old_kid.as_str(), "previous")
        ]
    );
    assert_eq!(
        app.audit_count("key_rotated").await,
        2,
        "the first key and the rotation"
    );
    // ACCESS_TOKEN_TTL_SECS + LEEWAY_SECS after the rotation, it leaves the JWKS.
    actix_web::rt::time::sleep(Duration::from_millis(3300)).await;
    assert_eq!(kids(&jwks(&app).await.1), vec![new_kid.clone()]);
    let fresh = app.login_as(&admin.account).await;
    let (_, listed) = status_and_json(app.get("/api/admin/keys", Some(&fresh.access)).await).await;
    assert_eq!(listed["items"][1]["status"], "retired");
    assert_eq!(
        app.get("/api/profile", Some(&before.access)).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

async fn tokens_of_unknown_keys_or_other_algorithms_are_refused(b: Backend) {
    let app = signing_with(b, "ES256").await;
    let user = app.signed_in_user().await;
    let claims = claims_of(user.access());
    // A key pair of the right algorithm that turnstile never made.
    let stranger = generate(SigningAlgorithm::Es256).unwrap();
    let key = encoding_key(SigningAlgorithm::Es256, &stranger.private_der);
    for kid in [
        Some(stranger.kid.as_str()),
        Some(header_of(user.access())["kid"].as_str().unwrap()),
        None,
    ] {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.typ = Some("at+jwt".into());
        header.kid = kid.map(str::to_string);
        let forged = jsonwebtoken::encode(&header, &claims, &key).unwrap();
        assert_error(
            app.get("/api/profile", Some(&forged)).await,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        )
        .await;
    }
    // The server secret, or no signature, do not pass for ES256.
    let kid = header_of(user.access())["kid"].clone();
    for header in [
        json!({ "alg": "HS256", "typ": "at+jwt", "kid": kid }),
        json!({ "alg": "none", "typ": "at+jwt", "kid": kid }),
    ] {
        let token = sign(&header, &claims, app.jwt_secret().as_bytes());
        assert_error(
            app.get("/api/profile", Some(&token)).await,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        )
        .await;
    }
    assert_eq!(user.profile().await.status(), StatusCode::OK);
}

async fn switching_the_algorithm_refuses_old_tokens_and_a_refresh_recovers(b: Backend) {
    let first = signing_with(b, "EdDSA").await;
    let user = first.signed_in_user().await;
    let old_kid = header_of(user.access())["kid"]
        .as_str()
        .unwrap()
        .to_string();
    first.stop();
    let next = first
        .second_instance_with(|s| s.auth.signing_algorithm = SigningAlgorithm::Rs256)
        .await;
    assert_error(
        next.get("/api/profile", Some(user.access())).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    let set = jwks(&next).await.1;
    assert!(
        !kids(&set).contains(&old_kid),
        "the old algorithm's key is not published"
    );
    let (status, body) = status_and_json(next.refresh(&user.tokens.refresh).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(header_of(access)["alg"], "RS256");
    verify_from(&set, access, SigningAlgorithm::Rs256).unwrap();
    assert_eq!(
        next.get("/api/profile", Some(access)).await.status(),
        StatusCode::OK
    );
}

async fn a_rotation_on_one_instance_is_used_by_every_instance_within_a_second(b: Backend) {
    if b == Backend::Sqlite {
        // One process per SQLite database: the two-instance case is PostgreSQL's.
        return;
    }
    let a = signing_with(b, "EdDSA").await;
    let b_app = a.second_instance().await;
    let admin = a.signed_in_admin().await;
    let user = b_app.signed_in_user().await;
    let old = header_of(user.access())["kid"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, body) = status_and_json(admin.rotate_keys().await).await;
    let new = body["kid"].as_str().unwrap().to_string();
    // A token A signs with the new key right away works on B at once.
    let from_a = a.login_as(&user.account).await;
    assert_eq!(header_of(&from_a.access)["kid"], new.as_str());
    assert_eq!(
        b_app
            .get("/api/profile", Some(&from_a.access))
            .await
            .status(),
        StatusCode::OK
    );
    // B publishes it and signs with it within a second.
    let start = Instant::now();
    loop {
        let published = kids(&jwks(&b_app).await.1);
        if published.first() == Some(&new) && published.contains(&old) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "B still publishes {published:?}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    let from_b = b_app.login_as(&user.account).await;
    assert_eq!(header_of(&from_b.access)["kid"], new.as_str());
    assert_eq!(
        a.get("/api/profile", Some(user.access())).await.status(),
        StatusCode::OK
    );
}
