//! What every handler shares: the pool, the token service, the hasher and the settings.

use std::net::IpAddr;
use std::sync::Arc;

use crate::auth::{Hasher, TokenService};
use crate::db::Db;
use crate::settings::Settings;

pub struct AppState {
    pub db: Db,
    pub tokens: TokenService,
    pub hasher: Hasher,
    pub settings: Arc<Settings>,
    pub trusted_proxies: Vec<IpAddr>,
    /// `/openapi.json`, serialised once at start.
    pub openapi_json: String,
}
