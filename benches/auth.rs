//! Criterion benchmarks of the per-request auth work: signing and verifying access
//! tokens (a first verification per algorithm, and the memoised one), and the whole bearer validation path with a warm auth cache (what every
//! request under /api pays). Results: docs/BENCHMARKS.md.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use std::hint::black_box;

use turnstile::auth::middleware::authenticate_token;
use turnstile::credentials::keys::{encoding_key, generate, verifying_key, KeyRing};
use turnstile::credentials::{TokenService, TokenSubject};
use turnstile::domain::Amr;
use turnstile::domain::{Email, Password};
use turnstile::net::ClientInfo;
use turnstile::secret::Secret;
use turnstile::services::accounts::register;
use turnstile::services::login::login;
use turnstile::settings::{Settings, SigningAlgorithm};
use turnstile::startup::Application;

fn settings(db_path: &std::path::Path) -> Settings {
    let mut s = Settings::read("test").expect("settings");
    s.auth.jwt_secret = Secret::random(48);
    s.auth.bcrypt_cost = 4.try_into().unwrap();
    s.server.port = 0;
    s.database.url = format!("sqlite://{}", db_path.display());
    s
}

/// The access token every benchmark signs.
const SUBJECT: TokenSubject<'static> = TokenSubject {
    user_id: 42,
    role: "user",
    password_version: 1,
    session_id: "session-id",
    amr: Amr::Password,
    auth_time: 0,
    not_after: None,
};

fn tokens(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("turnstile-bench-{}", std::process::id()));
    let s = settings(&dir.join("unused.db"));
    let service = TokenService::new(&s.auth);
    c.bench_function("access_token_issue", |b| {
        b.iter(|| {
            service
                .issue(&TokenSubject {
                    user_id: black_box(42),
                    ..SUBJECT
                })
                .unwrap()
        })
    });
    let token = service.issue(&SUBJECT).unwrap().token;
    c.bench_function("access_token_verify", |b| {
        b.iter(|| service.verify(black_box(&token)).unwrap())
    });
}

/// A token's first verification (a miss of the verified-token memo) for each
/// algorithm: what a new token costs before the memo answers for it. Each sample is a
/// token never seen before; making it is not timed.
fn first_verify(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("turnstile-bench-{}", std::process::id()));
    let mut group = c.benchmark_group("access_token_first_verify");
    for alg in [
        SigningAlgorithm::Hs256,
        SigningAlgorithm::EdDsa,
        SigningAlgorithm::Es256,
        SigningAlgorithm::Rs256,
    ] {
        let mut s = settings(&dir.join("unused.db"));
        s.auth.signing_algorithm = alg;
        let service = TokenService::new(&s.auth);
        if alg != SigningAlgorithm::Hs256 {
            let pair = generate(alg).expect("key pair");
            service.install(KeyRing {
                signing: Some((pair.kid.clone(), encoding_key(alg, &pair.private_der))),
                verifying: vec![verifying_key(&pair.public_jwk, None).expect("jwk")],
                ..KeyRing::default()
            });
        }
        group.bench_function(alg.name(), |b| {
            b.iter_batched(
                || service.issue(&SUBJECT).unwrap().token,
                |token| service.verify(black_box(&token)).unwrap(),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn bearer_path(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("turnstile-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db_path = dir.join("bench.db");
    let system = actix_web::rt::System::new();
    let (state, token) = system.block_on(async {
        let app = Application::build(settings(&db_path)).await.expect("app");
        let state = app.state();
        let email = Email::parse("bench@example.com").unwrap();
        let password = Password::parse("correct horse battery".into()).unwrap();
        register(&state, email, password, &ClientInfo::default())
            .await
            .unwrap();
        let pair = login(
            &state,
            "bench@example.com",
            "correct horse battery".into(),
            ClientInfo::default(),
        )
        .await
        .unwrap();
        // Warm the cache the way the first request would.
        authenticate_token(&state, &pair.access_token)
            .await
            .unwrap();
        (state, pair.access_token)
    });
    let calls_before = state.db.calls();
    c.bench_function("bearer_validation_cached", |b| {
        b.iter(|| {
            system
                .block_on(authenticate_token(&state, black_box(&token)))
                .unwrap()
        })
    });
    assert_eq!(
        state.db.calls(),
        calls_before,
        "the cached path made database calls"
    );
    drop(state);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, tokens, first_verify, bearer_path);
criterion_main!(benches);
