//! What every handler shares: the pool, the auth cache, the token service, the hasher
//! and the settings.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::Duration;

use tokio::sync::Notify;

use crate::cache::AuthCache;
use crate::credentials::keys::{self, KeyRing};
use crate::credentials::sealed::Sealer;
use crate::credentials::{Hasher, TokenService};
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::mail::Mailer;
use crate::metrics::{Metrics, Sample};
use crate::models::auth_state::{self, AuthTx};
use crate::models::{now, signing_keys};
use crate::settings::Settings;

pub struct AppState {
    pub db: Db,
    pub cache: Arc<AuthCache>,
    pub metrics: Arc<Metrics>,
    pub tokens: TokenService,
    pub hasher: Hasher,
    pub settings: Arc<Settings>,
    /// Seals TOTP secrets at rest (a key derived from the server secret).
    pub totp_sealer: Arc<Sealer>,
    /// Seals the private halves of signing key pairs (another derived key).
    pub key_sealer: Arc<Sealer>,
    /// When the signing keys were last read because a token named an unknown `kid`
    /// (milliseconds since the epoch): at most one such read every half second.
    pub keys_read_at: AtomicI64,
    /// The SMTP mailer, when email is configured.
    pub mailer: Option<Arc<Mailer>>,
    /// Wakes the outbox worker after a mail was queued (it also polls).
    pub outbox_wake: Arc<Notify>,
    /// `/openapi.json`, serialised once at start.
    pub openapi_json: String,
}

impl AppState {
    /// The mailer, or 501 `email_not_configured`.
    pub fn require_mail(&self) -> AppResult<&Arc<Mailer>> {
        self.mailer.as_ref().ok_or(AppError::EmailNotConfigured)
    }

    /// Tells the outbox worker a mail is waiting; call after the queuing commit.
    pub fn mail_queued(&self, kind: &str) {
        self.metrics
            .mails
            .with_label_values(&[kind, "queued"])
            .inc();
        self.outbox_wake.notify_one();
    }

    /// What `/metrics` reports about the machinery right now.
    pub fn metrics_sample(&self) -> Sample {
        Sample {
            bcrypt_queue_depth: self.hasher.pool().depth(),
            db_pool: self.db.pool_state(),
            db_calls: self.db.calls(),
            cache_hits_misses: (self.cache.hits(), self.cache.misses()),
        }
    }

    /// Runs `f` in one transaction with a handle through which auth-state writes
    /// record what they change. The changes are broadcast to other instances from
    /// inside that transaction and, once it has committed, applied to this instance's
    /// cache: enforced from the very next request.
    pub async fn change<F, R>(&self, f: F) -> AppResult<R>
    where
        F: FnOnce(&mut AuthTx<'_>) -> AppResult<R> + Send + 'static,
        R: Send + 'static,
    {
        let origin = self.cache.instance().to_string();
        let (result, changed) = self
            .db
            .transaction(move |conn| auth_state::track(conn, &origin, f))
            .await?;
        self.cache.apply(&changed);
        Ok(result)
    }

    /// How long a rotated-out key still verifies (and stays in the JWKS): as long as
    /// the last token signed with it may live.
    pub fn key_retention(&self) -> Duration {
        let a = &self.settings.auth;
        a.access_token_ttl_secs.delta() + a.leeway_secs.delta()
    }

    /// Reads the configured algorithm's key pairs from the database and swaps them in
    /// (nothing to do for HS256): the current one signs, every one still retained
    /// verifies.
    pub async fn reload_signing_keys(&self) -> AppResult<()> {
        let alg = self.tokens.algorithm();
        if !alg.is_asymmetric() {
            return Ok(());
        }
        let retention = self.key_retention();
        let rows = self
            .db
            .run(move |conn| Ok(signing_keys::live(conn, alg.name(), now() - retention)?))
            .await?;
        let mut ring = KeyRing {
            retention,
            ..KeyRing::default()
        };
        for row in rows {
            let jwk = serde_json::from_str(&row.public_jwk).map_err(|_| {
                AppError::internal(format!("signing key {}: unreadable JWK", row.kid))
            })?;
            let verifying = keys::verifying_key(&jwk, row.rotated_out_at).ok_or_else(|| {
                AppError::internal(format!("signing key {}: unusable JWK", row.kid))
            })?;
            if row.rotated_out_at.is_none() {
                // Sealed under another server secret: this instance cannot sign.
                let der = self
                    .key_sealer
                    .open(&row.private_sealed, row.kid.as_bytes())
                    .ok_or_else(|| {
                        AppError::internal(format!(
                            "signing key {} does not open under APP__AUTH__JWT_SECRET",
                            row.kid
                        ))
                    })?;
                ring.signing = Some((row.kid.clone(), keys::encoding_key(alg, &der)));
            }
            ring.verifying.push(verifying);
        }
        self.tokens.install(ring);
        Ok(())
    }

    /// A token named a `kid` this instance does not know: another instance may have
    /// rotated an instant ago, before its change notice arrived. Reads the keys again,
    /// at most once every half second whatever tokens arrive. True if it did.
    pub async fn reload_keys_for(&self, token: &str) -> bool {
        if !self.tokens.names_unknown_key(token) {
            return false;
        }
        let now_ms = chrono::Utc::now().timestamp_millis();
        let last = self.keys_read_at.load(Ordering::Relaxed);
        if now_ms - last < 500
            || self
                .keys_read_at
                .compare_exchange(last, now_ms, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
        {
            return false;
        }
        match self.reload_signing_keys().await {
            Ok(()) => true,
            Err(e) => {
                log::warn!("could not reload the signing keys: {}", e.code());
                false
            }
        }
    }
}
