//! Signing keys for EdDSA, ES256 and RS256: making sure a current key exists at
//! start, rotating (by API, by CLI, on a schedule), listing, and the task that keeps
//! every instance's key ring in step.
//!
//! A rotation commits the new key as the algorithm's only current one (a partial
//! unique index makes that hold however instances race) and broadcasts
//! `Change::Keys`; every instance reloads its ring on that notice. A token naming a
//! `kid` an instance does not know yet makes it reload too (at most twice a second),
//! and login and refresh check the current `kid` before signing, so no instance
//! signs with a key that was rotated out, even without the change feed (SQLite and
//! the CLI).

use std::time::Duration as StdDuration;

use actix_web::web;
use chrono::{Duration, NaiveDateTime};

use crate::credentials::keys::{self, NewKeyPair};
use crate::credentials::sealed::Sealer;
use crate::db::{Conn, Db};
use crate::error::{AppError, AppResult};
use crate::models::audit::{Audit, By, KeyRotation};
use crate::models::auth_state::track;
use crate::models::signing_keys::{self, NewSigningKey, SigningKeyRow};
use crate::models::{locks, now};
use crate::services::{authorize, Principal};
use crate::settings::{Settings, SigningAlgorithm};
use crate::state::AppState;

/// How often the key task looks at the clock when nothing wakes it sooner.
const TICK: StdDuration = StdDuration::from_secs(60);

/// Why a key was made (the audit detail).
#[derive(Debug, Clone, Copy)]
pub enum Reason {
    /// The configured algorithm had no usable current key (first start, an algorithm
    /// switch, a key sealed under another server secret).
    Initial,
    Api,
    Cli,
    Schedule,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::Initial => "initial",
            Reason::Api => "api",
            Reason::Cli => "cli",
            Reason::Schedule => "schedule",
        }
    }
}

/// Where a key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Signs new tokens.
    Current,
    /// Rotated out; still verifies the tokens it signed, until they expire.
    Previous,
    /// Verifies nothing any more (or belongs to another algorithm than the one
    /// configured).
    Retired,
}

/// A key as the admin listing shows it.
pub struct KeyInfo {
    pub kid: String,
    pub alg: String,
    pub created_at: NaiveDateTime,
    pub status: KeyState,
}

/// What must hold, under the lock, for the rotation to go ahead.
#[derive(Clone, Copy)]
enum Unless {
    /// Always rotate.
    Never,
    /// Only when the algorithm has no current key that opens.
    HasUsableKey,
    /// Only when the current key is at least this old.
    YoungerThan(Duration),
}

/// Makes and commits a new current key for `alg`, in one transaction under a lock
/// (PostgreSQL; SQLite writes one at a time), unless `unless` says it is not needed.
/// Blocking: call off the async workers. Returns the new `kid`, or `None`.
fn rotate_blocking(
    db: &Db,
    sealer: &Sealer,
    alg: SigningAlgorithm,
    unless: Unless,
    reason: Reason,
    by: By,
    origin: &str,
) -> AppResult<Option<String>> {
    // Made before the transaction: RSA key generation takes a while.
    let pair: NewKeyPair = keys::generate(alg)?;
    let jwk = serde_json::to_string(&pair.public_jwk).map_err(AppError::internal)?;
    let sealed = sealer.seal(&pair.private_der, pair.kid.as_bytes());
    let (made, _changes) = db.transaction_blocking(|conn| {
        track(conn, origin, |tx| {
            locks::lock(tx, "signing_keys", &["rotate"])?;
            let at = now();
            let current = signing_keys::current(tx, alg.name())?;
            if skip(current.as_ref(), unless, sealer, at) {
                return Ok(None);
            }
            let new = NewSigningKey {
                kid: &pair.kid,
                alg: alg.name(),
                private_sealed: &sealed,
                public_jwk: &jwk,
            };
            signing_keys::rotate(tx, &new, at)?;
            Audit::key_rotated(KeyRotation {
                kid: &pair.kid,
                alg: alg.name(),
                previous_kid: current.as_ref().map(|c| c.kid.as_str()),
                reason: reason.as_str(),
            })
            .by(by)
            .record(tx, at)?;
            Ok(Some(pair.kid.clone()))
        })
    })?;
    Ok(made)
}

fn skip(
    current: Option<&SigningKeyRow>,
    unless: Unless,
    sealer: &Sealer,
    at: NaiveDateTime,
) -> bool {
    match (unless, current) {
        (Unless::Never, _) => false,
        (Unless::HasUsableKey, Some(c)) => {
            sealer.open(&c.private_sealed, c.kid.as_bytes()).is_some()
        }
        (Unless::HasUsableKey, None) => false,
        (Unless::YoungerThan(age), Some(c)) => c.created_at + age > at,
        (Unless::YoungerThan(_), None) => false,
    }
}

/// At start: with an asymmetric algorithm, makes sure it has a current key this
/// instance can sign with, then loads the ring. Nothing to do for HS256.
pub async fn prepare(state: &AppState) -> AppResult<()> {
    let alg = state.tokens.algorithm();
    if !alg.is_asymmetric() {
        return Ok(());
    }
    let (db, sealer) = (state.db.clone(), state.key_sealer.clone());
    let origin = state.cache.instance().to_string();
    let made = web::block(move || {
        rotate_blocking(
            &db,
            &sealer,
            alg,
            Unless::HasUsableKey,
            Reason::Initial,
            By::default(),
            &origin,
        )
    })
    .await??;
    if let Some(kid) = made {
        log::info!("signing keys: made a new {} key ({kid})", alg.name());
    }
    state.reload_signing_keys().await
}

/// `POST /api/admin/keys/rotate`: a new key signs from now on; the previous one
/// verifies until the tokens it signed have expired.
pub async fn rotate(state: &AppState, caller: &Principal) -> AppResult<String> {
    authorize(
        &state.metrics,
        caller,
        [crate::domain::permission::KEYS_MANAGE],
    )?;
    let alg = state.tokens.algorithm();
    if !alg.is_asymmetric() {
        return Err(AppError::KeyNotRotatable);
    }
    let (db, sealer, by) = (state.db.clone(), state.key_sealer.clone(), caller.by());
    let origin = state.cache.instance().to_string();
    let kid = web::block(move || {
        rotate_blocking(&db, &sealer, alg, Unless::Never, Reason::Api, by, &origin)
    })
    .await??
    .ok_or_else(|| AppError::internal("an unconditional rotation made no key"))?;
    // This instance signs with it before answering; the others follow the notice.
    state.reload_signing_keys().await?;
    Ok(kid)
}

/// `turnstile keys rotate`: the same, from the command line. Running instances pick
/// the key up from the change feed (PostgreSQL) or at their next login or refresh.
pub fn rotate_from_cli(db: &Db, settings: &Settings) -> AppResult<Option<String>> {
    let alg = settings.auth.signing_algorithm;
    if !alg.is_asymmetric() {
        return Err(AppError::KeyNotRotatable);
    }
    let sealer = Sealer::new(&settings.auth.jwt_secret, keys::SEALING_PURPOSE);
    rotate_blocking(
        db,
        &sealer,
        alg,
        Unless::Never,
        Reason::Cli,
        By::default(),
        "cli",
    )
}

/// `GET /api/admin/keys`: every key ever made, newest first.
pub async fn list(state: &AppState, caller: &Principal) -> AppResult<Vec<KeyInfo>> {
    authorize(
        &state.metrics,
        caller,
        [crate::domain::permission::KEYS_MANAGE],
    )?;
    let alg = state.tokens.algorithm();
    let retention = state.key_retention();
    // The JWKS is served from this instance's key ring: read it again first, so that
    // a rotation made elsewhere (another instance, the CLI) shows in both alike.
    state.reload_signing_keys().await?;
    state
        .db
        .run(move |conn| {
            let at = now().and_utc().timestamp();
            Ok(signing_keys::all(conn)?
                .into_iter()
                .map(|row| KeyInfo {
                    status: status(&row, alg, retention, at),
                    kid: row.kid,
                    alg: row.alg,
                    created_at: row.created_at,
                })
                .collect())
        })
        .await
}

/// A key's status at `at` (Unix seconds); whether a rotated-out key is still
/// `previous` is [`keys::retired`]'s to say, as it is for the JWKS.
fn status(row: &SigningKeyRow, alg: SigningAlgorithm, retention: Duration, at: i64) -> KeyState {
    match row.rotated_out_at {
        _ if row.alg != alg.name() => KeyState::Retired,
        None => KeyState::Current,
        Some(t) if keys::retired(t, retention, at) => KeyState::Retired,
        Some(_) => KeyState::Previous,
    }
}

/// Runs until the application stops: reloads the key ring whenever a change notice
/// says the keys changed, and rotates on schedule (`KEY_ROTATION_DAYS`; of several
/// instances, one does it).
pub async fn run(state: web::Data<AppState>) {
    let alg = state.tokens.algorithm();
    if !alg.is_asymmetric() {
        return;
    }
    let period = state.settings.auth.key_rotation_days.period();
    loop {
        let changed = state.cache.keys_changed().notified();
        let tick = actix_web::rt::time::sleep(TICK);
        futures_util::future::select(std::pin::pin!(changed), std::pin::pin!(tick)).await;
        if let Some(due) = period {
            let (db, sealer) = (state.db.clone(), state.key_sealer.clone());
            let origin = state.cache.instance().to_string();
            let rotated = web::block(move || {
                rotate_blocking(
                    &db,
                    &sealer,
                    alg,
                    Unless::YoungerThan(due),
                    Reason::Schedule,
                    By::default(),
                    &origin,
                )
            })
            .await;
            match rotated {
                Ok(Ok(Some(kid))) => log::info!("signing keys: rotated on schedule ({kid})"),
                Ok(Ok(None)) => {}
                Ok(Err(e)) => log::warn!("signing keys: scheduled rotation failed ({})", e.code()),
                Err(_) => log::warn!("signing keys: scheduled rotation could not run"),
            }
        }
        if let Err(e) = state.reload_signing_keys().await {
            log::warn!("signing keys: reload failed ({})", e.code());
        }
    }
}

/// Before signing a token at login or refresh: if another instance (or the CLI)
/// rotated since this instance last read the keys, read them now. One query, on
/// paths that hash passwords or rotate refresh tokens anyway; none for HS256.
pub async fn ensure_fresh(state: &AppState) -> AppResult<()> {
    let alg = state.tokens.algorithm();
    if !alg.is_asymmetric() {
        return Ok(());
    }
    let current = state
        .db
        .run(move |conn: &mut Conn| Ok(signing_keys::current(conn, alg.name())?.map(|r| r.kid)))
        .await?;
    if current.is_some() && current != state.tokens.signing_kid() {
        state.reload_signing_keys().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(alg: &str, created: i64, rotated: Option<i64>) -> SigningKeyRow {
        let t = |s: i64| chrono::DateTime::from_timestamp(s, 0).unwrap().naive_utc();
        SigningKeyRow {
            kid: "k".into(),
            alg: alg.into(),
            private_sealed: String::new(),
            public_jwk: String::new(),
            created_at: t(created),
            rotated_out_at: rotated.map(t),
        }
    }

    #[test]
    fn a_key_is_current_then_previous_for_the_retention_then_retired() {
        let at = 1_000;
        let keep = Duration::seconds(100);
        let ed = SigningAlgorithm::EdDsa;
        assert_eq!(
            status(&row("EdDSA", 0, None), ed, keep, at),
            KeyState::Current
        );
        assert_eq!(
            status(&row("EdDSA", 0, Some(950)), ed, keep, at),
            KeyState::Previous
        );
        assert_eq!(
            status(&row("EdDSA", 0, Some(900)), ed, keep, at),
            KeyState::Retired
        );
        // After an algorithm switch, the old algorithm's keys verify nothing.
        assert_eq!(
            status(&row("ES256", 0, None), ed, keep, at),
            KeyState::Retired
        );
    }

    #[test]
    fn the_listing_says_previous_exactly_while_the_jwks_publishes_the_key() {
        let pair = keys::generate(SigningAlgorithm::EdDsa).unwrap();
        let keep = Duration::seconds(10);
        // Rotated out 0.7 s into second 100: its retention ends at 110.7.
        let rotated = chrono::DateTime::from_timestamp(100, 700_000_000)
            .unwrap()
            .naive_utc();
        let ring = keys::KeyRing {
            signing: None,
            verifying: vec![keys::verifying_key(&pair.public_jwk, Some(rotated)).unwrap()],
            retention: keep,
        };
        let mut listed = row("EdDSA", 0, None);
        listed.rotated_out_at = Some(rotated);
        for now in 105..=115 {
            let published = !ring.published(now).is_empty();
            let previous = status(&listed, SigningAlgorithm::EdDsa, keep, now);
            assert_eq!(
                previous == KeyState::Previous,
                published,
                "at {now}: listed {previous:?}, published {published}"
            );
            assert_eq!(ring.verifying(&pair.kid, now).is_some(), published);
        }
        assert_eq!(
            status(&listed, SigningAlgorithm::EdDsa, keep, 110),
            KeyState::Retired
        );
    }
}
