//! What every handler shares: the pool, the auth cache, the token service, the hasher
//! and the settings.

use std::net::IpAddr;
use std::sync::Arc;

use crate::auth::{Hasher, TokenService};
use crate::cache::{AuthCache, Change};
use crate::changes;
use crate::db::{Conn, Db};
use crate::error::AppResult;
use crate::metrics::Metrics;
use crate::settings::Settings;

pub struct AppState {
    pub db: Db,
    pub cache: Arc<AuthCache>,
    pub metrics: Arc<Metrics>,
    pub tokens: TokenService,
    pub hasher: Hasher,
    pub settings: Arc<Settings>,
    pub trusted_proxies: Vec<IpAddr>,
    /// `/openapi.json`, serialised once at start.
    pub openapi_json: String,
}

impl AppState {
    /// Runs `f` in one transaction. The auth-state changes it records are broadcast
    /// to other instances from inside that transaction and, once it has committed,
    /// applied to this instance's cache: enforced from the very next request.
    pub async fn change<F, R>(&self, f: F) -> AppResult<R>
    where
        F: FnOnce(&mut Conn, &mut Vec<Change>) -> AppResult<R> + Send + 'static,
        R: Send + 'static,
    {
        let origin = self.cache.instance().to_string();
        let (result, changed) = self
            .db
            .transaction(move |conn| {
                let mut changed = Vec::new();
                let result = f(conn, &mut changed)?;
                changes::publish(conn, &origin, &changed)?;
                Ok((result, changed))
            })
            .await?;
        self.cache.apply(&changed);
        Ok(result)
    }
}
