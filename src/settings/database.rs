//! `[database]`: where the data lives and how the pool reaches it.

use serde::Deserialize;

use super::values::{parse, Seconds};
use super::SettingsError;

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// `sqlite://path`, `sqlite::memory:` or `postgres://...` (read by `db`, which
    /// knows the backends).
    pub url: String,
    /// 0 = derived from the core count.
    pub pool_size: u32,
    pub connect_timeout_secs: Seconds<0>,
}

/// `[database]` as written.
#[derive(Debug, Deserialize)]
pub(super) struct Raw {
    url: String,
    pool_size: u32,
    connect_timeout_secs: u64,
}

impl DatabaseSettings {
    pub(super) fn parse(raw: Raw) -> Result<DatabaseSettings, SettingsError> {
        Ok(DatabaseSettings {
            url: raw.url,
            pool_size: raw.pool_size,
            connect_timeout_secs: parse(
                "APP__DATABASE__CONNECT_TIMEOUT_SECS",
                raw.connect_timeout_secs,
            )?,
        })
    }
}
