//! What every handler shares: the pool, the auth cache, the token service, the hasher
//! and the settings.

use std::net::IpAddr;
use std::sync::Arc;

use tokio::sync::Notify;

use crate::cache::AuthCache;
use crate::credentials::sealed::Sealer;
use crate::credentials::{Hasher, TokenService};
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::mail::Mailer;
use crate::metrics::{Metrics, Sample};
use crate::models::auth_state::{self, AuthTx};
use crate::settings::Settings;

pub struct AppState {
    pub db: Db,
    pub cache: Arc<AuthCache>,
    pub metrics: Arc<Metrics>,
    pub tokens: TokenService,
    pub hasher: Hasher,
    pub settings: Arc<Settings>,
    pub trusted_proxies: Vec<IpAddr>,
    /// Seals TOTP secrets at rest (a key derived from the server secret).
    pub totp_sealer: Arc<Sealer>,
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
}
