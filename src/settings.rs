//! Typed configuration: embedded `config/default.toml`, then `config/{APP_ENV}.toml`, then `APP__SECTION__KEY` env vars.

use std::path::PathBuf;

use config::{Config, Environment, File, FileFormat};
use serde::Deserialize;

use crate::secret::Secret;
use crate::telemetry::LogFormat;

/// `config/default.toml` is compiled in, so the binary runs from any directory.
const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// Shortest HMAC key we accept: HS256 wants at least as many bytes as its output.
pub const MIN_JWT_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    #[serde(skip, default = "default_env")]
    pub app_env: String,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    #[serde(default)]
    pub bootstrap: BootstrapSettings,
    #[serde(default)]
    pub log: LogSettings,
    #[serde(default)]
    pub metrics: MetricsSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    pub format: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            format: "text".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct MetricsSettings {
    pub enabled: bool,
    pub host: String,
    pub port: u16,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        MetricsSettings {
            enabled: false,
            host: "127.0.0.1".into(),
            port: 9464,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    #[serde(default)]
    pub cors_origins: String,
    #[serde(default)]
    pub trusted_proxies: String,
    pub json_limit_bytes: usize,
    pub workers: usize,
    #[serde(default = "default_shutdown_timeout")]
    pub shutdown_timeout_secs: u64,
}

fn default_shutdown_timeout() -> u64 {
    30
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    pub url: String,
    pub pool_size: u32,
    pub connect_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuthSettings {
    #[serde(default)]
    pub jwt_secret: Secret,
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_secs: u64,
    pub refresh_reuse_interval_secs: u64,
    pub leeway_secs: u64,
    pub bcrypt_cost: u32,
    pub issuer: String,
    pub audience: String,
    pub login_max_failures: u32,
    pub login_window_secs: u64,
    #[serde(default)]
    pub bcrypt_threads: usize,
    #[serde(default)]
    pub bcrypt_queue: usize,
    #[serde(default = "default_bcrypt_nice")]
    pub bcrypt_nice: i32,
    #[serde(default = "default_cache_capacity")]
    pub cache_capacity: u64,
    #[serde(default = "default_cache_ttl")]
    pub cache_ttl_secs: u64,
}

fn default_bcrypt_nice() -> i32 {
    10
}

fn default_cache_capacity() -> u64 {
    100_000
}

fn default_cache_ttl() -> u64 {
    60
}

/// The machine's core count (at least 1).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl AuthSettings {
    pub fn bcrypt_threads(&self) -> usize {
        match self.bcrypt_threads {
            0 => cores(),
            n => n,
        }
    }

    pub fn bcrypt_queue(&self) -> usize {
        match self.bcrypt_queue {
            0 => self.bcrypt_threads() * 32,
            n => n,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct BootstrapSettings {
    pub admin_email: Option<String>,
    pub admin_password: Option<Secret>,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("configuration could not be read: {0}")]
    Read(#[from] config::ConfigError),
    #[error("{key} is required outside development (set it to a random string of at least {MIN_JWT_SECRET_BYTES} bytes)")]
    MissingSecret { key: &'static str },
    #[error("{key} must be at least {MIN_JWT_SECRET_BYTES} bytes long")]
    ShortSecret { key: &'static str },
    #[error("{key}: {reason}")]
    Invalid { key: &'static str, reason: String },
}

fn default_env() -> String {
    "development".into()
}

impl Settings {
    /// Loads and checks settings for the environment named by `APP_ENV` (default
    /// `development`). The JWT secret is checked by the server alone
    /// ([`Settings::ensure_jwt_secret`]), so `migrate` and `create-admin` run without it.
    pub fn load() -> Result<Settings, SettingsError> {
        let app_env = std::env::var("APP_ENV").unwrap_or_else(|_| default_env());
        let settings = Self::read(&app_env)?;
        settings.check()?;
        Ok(settings)
    }

    /// Reads the layered sources as `APP_ENV=app_env` would, without checking them.
    pub fn read(app_env: &str) -> Result<Settings, SettingsError> {
        let dir = std::env::var("APP_CONFIG_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| PathBuf::from("config"));
        let mut builder = Config::builder()
            .add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml))
            .add_source(File::from(dir.join(format!("{app_env}.toml"))).required(false))
            .add_source(
                Environment::with_prefix("APP")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true),
            );
        // Diesel's convention, honoured only when the app-specific key is unset.
        if std::env::var_os("APP__DATABASE__URL").is_none() {
            if let Ok(url) = std::env::var("DATABASE_URL") {
                builder = builder.set_override("database.url", url)?;
            }
        }
        let mut settings: Settings = builder.build()?.try_deserialize()?;
        settings.app_env = app_env.to_string();
        Ok(settings)
    }

    pub fn is_development(&self) -> bool {
        self.app_env == "development"
    }

    /// Makes sure there is a usable JWT secret. Outside development a missing or short
    /// one is an error naming the key; in development a missing one is replaced by a
    /// random one (tokens then die with the process).
    pub fn ensure_jwt_secret(&mut self) -> Result<(), SettingsError> {
        const KEY: &str = "APP__AUTH__JWT_SECRET";
        if self.auth.jwt_secret.expose().is_empty() {
            if !self.is_development() {
                return Err(SettingsError::MissingSecret { key: KEY });
            }
            log::warn!(
                "{KEY} is not set: using a random secret for this development run; \
                 tokens will not survive a restart. Never run production like this."
            );
            self.auth.jwt_secret = Secret::random(48);
        }
        if self.auth.jwt_secret.expose().len() < MIN_JWT_SECRET_BYTES {
            return Err(SettingsError::ShortSecret { key: KEY });
        }
        Ok(())
    }

    pub fn log_format(&self) -> Result<LogFormat, SettingsError> {
        LogFormat::parse(&self.log.format).ok_or(SettingsError::Invalid {
            key: "APP__LOG__FORMAT",
            reason: "must be \"text\" or \"json\"".into(),
        })
    }

    /// Applies the rules no type can express.
    pub fn check(&self) -> Result<(), SettingsError> {
        self.log_format()?;
        if !(4..=31).contains(&self.auth.bcrypt_cost) {
            return Err(SettingsError::Invalid {
                key: "APP__AUTH__BCRYPT_COST",
                reason: "must be between 4 and 31".into(),
            });
        }
        if self.auth.access_token_ttl_secs == 0 || self.auth.refresh_token_ttl_secs == 0 {
            return Err(SettingsError::Invalid {
                key: "APP__AUTH__ACCESS_TOKEN_TTL_SECS / REFRESH_TOKEN_TTL_SECS",
                reason: "must be greater than 0".into(),
            });
        }
        if self.auth.login_max_failures == 0 {
            return Err(SettingsError::Invalid {
                key: "APP__AUTH__LOGIN_MAX_FAILURES",
                reason: "must be greater than 0".into(),
            });
        }
        if let Some(bad) = split_list(&self.server.trusted_proxies)
            .into_iter()
            .find(|p| p.parse::<std::net::IpAddr>().is_err())
        {
            return Err(SettingsError::Invalid {
                key: "APP__SERVER__TRUSTED_PROXIES",
                reason: format!("{bad:?} is not an IP address"),
            });
        }
        for origin in self.cors_origins() {
            let valid = (origin.starts_with("https://") || origin.starts_with("http://"))
                && actix_web::http::header::HeaderValue::from_str(&origin).is_ok();
            if !valid {
                return Err(SettingsError::Invalid {
                    key: "APP__SERVER__CORS_ORIGINS",
                    reason: format!("{origin:?} is not an http(s) origin"),
                });
            }
        }
        Ok(())
    }

    pub fn cors_origins(&self) -> Vec<String> {
        split_list(&self.server.cors_origins)
    }

    pub fn trusted_proxies(&self) -> Vec<std::net::IpAddr> {
        split_list(&self.server.trusted_proxies)
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect()
    }
}

fn split_list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_match_the_contract() {
        let cfg: Settings = Config::builder()
            .add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml))
            .build()
            .unwrap()
            .try_deserialize()
            .unwrap();
        assert_eq!(cfg.server.host, "127.0.0.1");
        assert_eq!(cfg.server.port, 8080);
        assert_eq!(cfg.database.url, "sqlite://data/turnstile.db");
        assert_eq!(cfg.auth.access_token_ttl_secs, 900);
        assert_eq!(cfg.auth.refresh_token_ttl_secs, 1_209_600);
        assert_eq!(cfg.auth.refresh_reuse_interval_secs, 10);
        assert_eq!(cfg.auth.leeway_secs, 0);
        assert_eq!(cfg.auth.bcrypt_cost, 12);
        assert_eq!(cfg.auth.login_max_failures, 5);
        assert_eq!(cfg.auth.login_window_secs, 900);
        assert!(cfg.auth.jwt_secret.expose().is_empty());
    }

    #[test]
    fn lists_are_split_on_commas_and_trimmed() {
        assert_eq!(split_list(" a, b ,,c"), vec!["a", "b", "c"]);
        assert!(split_list("").is_empty());
    }
}
