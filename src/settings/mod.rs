//! Configuration: embedded `config/default.toml`, then `config/{APP_ENV}.toml`, then
//! `APP__SECTION__KEY` env vars, parsed once at load into typed sections (one file
//! each), so a bad value is refused at start naming its key and nothing re-parses it.

use std::collections::HashMap;
use std::path::PathBuf;

use config::{Config, Environment, File, FileFormat};
use serde::Deserialize;

use crate::secret::Secret;

mod algorithm;
mod audit;
mod auth;
mod bootstrap;
mod database;
mod email;
mod logging;
mod metrics;
mod server;
mod values;

pub use algorithm::SigningAlgorithm;
pub use audit::AuditSettings;
pub use auth::{cores, AuthSettings, BcryptCost};
pub use bootstrap::BootstrapSettings;
pub use database::DatabaseSettings;
pub use email::{EmailSettings, LinkTemplate, PollMillis, SmtpUrl};
pub use logging::{LogFormat, LogSettings};
pub use metrics::MetricsSettings;
pub use server::{CorsOrigins, ServerSettings, TrustedProxies};
pub use values::{Days, InvalidValue, Seconds, MAX_DAYS, MAX_DURATION_SECS};

/// `config/default.toml` is compiled in, so the binary runs from any directory.
const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

/// Shortest HMAC key we accept: HS256 wants at least as many bytes as its output.
pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// Every setting, each in the type of what it means: what exists was refused or
/// accepted at load, and readers use it as it is.
#[derive(Debug, Clone)]
pub struct Settings {
    pub app_env: String,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub bootstrap: BootstrapSettings,
    pub log: LogSettings,
    pub metrics: MetricsSettings,
    pub email: EmailSettings,
    pub audit: AuditSettings,
}

/// The layered sources as written, before any value is parsed.
#[derive(Debug, Deserialize)]
struct Raw {
    server: server::Raw,
    database: database::Raw,
    auth: auth::Raw,
    #[serde(default)]
    bootstrap: BootstrapSettings,
    #[serde(default)]
    log: logging::Raw,
    #[serde(default)]
    metrics: MetricsSettings,
    #[serde(default)]
    email: email::Raw,
    #[serde(default)]
    audit: audit::Raw,
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
    /// Loads and parses settings for the environment named by `APP_ENV` (default
    /// `development`). The JWT secret is checked by the server alone
    /// ([`Settings::ensure_jwt_secret`]), so `migrate` and `create-admin` run without it.
    pub fn load() -> Result<Settings, SettingsError> {
        let app_env = std::env::var("APP_ENV").unwrap_or_else(|_| default_env());
        Self::read(&app_env)
    }

    /// Reads and parses the layered sources as `APP_ENV=app_env` would.
    pub fn read(app_env: &str) -> Result<Settings, SettingsError> {
        // Variables that are not UTF-8 cannot be ours; skipping them beats a panic.
        let env = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .filter(|(k, _)| k.starts_with("APP") || k == "DATABASE_URL")
            .collect();
        Self::read_from(app_env, env)
    }

    /// [`Settings::read`] over the given environment instead of the process's.
    pub fn read_from(
        app_env: &str,
        env: HashMap<String, String>,
    ) -> Result<Settings, SettingsError> {
        let dir = env
            .get("APP_CONFIG_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("config"));
        let database_url = match env.contains_key("APP__DATABASE__URL") {
            // Diesel's convention, honoured only when the app-specific key is unset.
            false => env.get("DATABASE_URL").cloned(),
            true => None,
        };
        let mut builder = Config::builder()
            .add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml))
            .add_source(File::from(dir.join(format!("{app_env}.toml"))).required(false))
            // No `try_parsing`: it would turn a secret or password made of digits into
            // a number and back (losing leading zeros and precision). Values stay the
            // strings they were, and only fields typed as numbers parse them.
            .add_source(
                Environment::with_prefix("APP")
                    .prefix_separator("__")
                    .separator("__")
                    .source(Some(env)),
            );
        if let Some(url) = database_url {
            builder = builder.set_override("database.url", url)?;
        }
        let raw: Raw = builder.build()?.try_deserialize()?;
        Self::parse(app_env, raw)
    }

    /// Every value into its type; the first one refused is the error.
    fn parse(app_env: &str, raw: Raw) -> Result<Settings, SettingsError> {
        Ok(Settings {
            app_env: app_env.to_string(),
            log: LogSettings::parse(raw.log)?,
            email: EmailSettings::parse(raw.email)?,
            auth: AuthSettings::parse(raw.auth)?,
            audit: AuditSettings::parse(raw.audit)?,
            server: ServerSettings::parse(raw.server)?,
            database: DatabaseSettings::parse(raw.database)?,
            bootstrap: raw.bootstrap,
            metrics: raw.metrics,
        })
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_env(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let env = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::read_from("test", env)
    }

    #[test]
    fn embedded_defaults_match_the_contract() {
        let raw: Raw = Config::builder()
            .add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml))
            .build()
            .unwrap()
            .try_deserialize()
            .unwrap();
        let cfg = Settings::parse("production", raw).unwrap();
        assert_eq!(cfg.server.host, "127.0.0.1");
        assert_eq!(cfg.server.port, 8080);
        assert_eq!(cfg.database.url, "sqlite://data/turnstile.db");
        assert_eq!(cfg.auth.access_token_ttl_secs.secs(), 900);
        assert_eq!(cfg.auth.refresh_token_ttl_secs.secs(), 1_209_600);
        assert_eq!(cfg.auth.refresh_reuse_interval_secs.secs(), 10);
        assert_eq!(cfg.auth.leeway_secs.secs(), 0);
        assert_eq!(cfg.auth.bcrypt_cost.get(), 12);
        assert_eq!(cfg.auth.login_max_failures.get(), 5);
        assert_eq!(cfg.auth.login_window_secs.secs(), 900);
        assert_eq!(cfg.auth.signing_algorithm, SigningAlgorithm::Hs256);
        assert_eq!(cfg.auth.key_rotation_days.days(), 30);
        assert_eq!(cfg.audit.retention_days.days(), 365);
        assert_eq!(cfg.log.format, LogFormat::Text);
        assert_eq!(cfg.email.poll_millis.duration().as_millis(), 1000);
        assert!(cfg.email.smtp_url.is_none());
        assert!(cfg.server.cors_origins.iter().next().is_none());
        assert!(cfg.server.trusted_proxies.as_slice().is_empty());
        assert!(cfg.auth.jwt_secret.expose().is_empty());
    }

    #[test]
    fn strings_of_digits_stay_byte_for_byte_what_was_given() {
        let secret = "1234567890123456789012345678901234567890";
        let s = from_env(&[
            ("APP__BOOTSTRAP__ADMIN_PASSWORD", "00012345678"),
            ("APP__AUTH__JWT_SECRET", secret),
            ("APP__AUTH__ISSUER", "007"),
            ("APP__SERVER__PORT", "0"),
            ("APP__AUTH__LOGIN_MAX_FAILURES", "7"),
        ])
        .unwrap();
        let password = s.bootstrap.admin_password.as_ref().unwrap();
        assert_eq!(password.expose(), "00012345678");
        assert_eq!(s.auth.jwt_secret.expose(), secret);
        assert_eq!(s.auth.issuer, "007");
        // Numeric fields still parse from the environment's strings.
        assert_eq!((s.server.port, s.auth.login_max_failures.get()), (0, 7));
    }

    #[test]
    fn unbounded_lifetimes_are_refused_naming_the_key() {
        for (key, value) in [
            ("APP__AUTH__REFRESH_TOKEN_TTL_SECS", "100000000000000"),
            ("APP__AUTH__REFRESH_TOKEN_TTL_SECS", "18446744073709551615"),
            ("APP__AUTH__ACCESS_TOKEN_TTL_SECS", "0"),
            ("APP__AUTH__LEEWAY_SECS", "315360001"),
            ("APP__AUTH__LOGIN_WINDOW_SECS", "18446744073709551615"),
            ("APP__AUTH__REFRESH_REUSE_INTERVAL_SECS", "999999999999"),
            ("APP__AUTH__CACHE_TTL_SECS", "999999999999"),
        ] {
            let err = from_env(&[(key, value)]).unwrap_err().to_string();
            assert!(err.contains(key), "{key}={value}: {err}");
        }
        let ten_years = MAX_DURATION_SECS.to_string();
        assert!(from_env(&[("APP__AUTH__REFRESH_TOKEN_TTL_SECS", &ten_years)]).is_ok());
    }

    #[test]
    fn every_bad_value_is_refused_naming_its_key_with_the_reason() {
        for (key, value, message) in [
            ("APP__LOG__FORMAT", "logfmt", r#"APP__LOG__FORMAT: must be "text" or "json""#),
            ("APP__AUTH__BCRYPT_COST", "3", "APP__AUTH__BCRYPT_COST: must be between 4 and 31"),
            (
                "APP__AUTH__SIGNING_ALGORITHM",
                "none",
                "APP__AUTH__SIGNING_ALGORITHM: must be HS256, EdDSA, ES256 or RS256",
            ),
            (
                "APP__AUTH__KEY_ROTATION_DAYS",
                "3651",
                "APP__AUTH__KEY_ROTATION_DAYS: must be between 0 (never) and 3650",
            ),
            (
                "APP__AUDIT__RETENTION_DAYS",
                "3651",
                "APP__AUDIT__RETENTION_DAYS: must be between 0 (forever) and 3650",
            ),
            (
                "APP__AUTH__LOGIN_MAX_FAILURES",
                "0",
                "APP__AUTH__LOGIN_MAX_FAILURES: must be greater than 0",
            ),
            (
                "APP__SERVER__TRUSTED_PROXIES",
                "10.0.0.1, proxy",
                r#"APP__SERVER__TRUSTED_PROXIES: "proxy" is not an IP address"#,
            ),
            (
                "APP__SERVER__CORS_ORIGINS",
                "dash.example.com",
                r#"APP__SERVER__CORS_ORIGINS: "dash.example.com" is not an http(s) origin"#,
            ),
            (
                "APP__EMAIL__SMTP_URL",
                "http://u:hunter2@mail",
                "APP__EMAIL__SMTP_URL: must be smtp://... or smtps://...",
            ),
            (
                "APP__EMAIL__FROM",
                "nobody",
                "APP__EMAIL__FROM: must be an address, e.g. turnstile <no-reply@example.com>",
            ),
            (
                "APP__EMAIL__VERIFY_LINK",
                "https://app.example.com/verify",
                "APP__EMAIL__VERIFY_LINK: must be an http(s) URL containing {token}",
            ),
            (
                "APP__EMAIL__POLL_MILLIS",
                "60001",
                "APP__EMAIL__MAX_ATTEMPTS / POLL_MILLIS: must be at least 1 (poll_millis at most 60000)",
            ),
            (
                "APP__EMAIL__CLAIM_SECS",
                "2",
                "APP__EMAIL__CLAIM_SECS: must be between 3 and 315360000 seconds (10 years)",
            ),
            (
                "APP__DATABASE__CONNECT_TIMEOUT_SECS",
                "315360001",
                "APP__DATABASE__CONNECT_TIMEOUT_SECS: must be between 0 and 315360000 seconds (10 years)",
            ),
        ] {
            let err = from_env(&[(key, value)]).unwrap_err().to_string();
            assert_eq!(err, message, "{key}={value}");
        }
    }

    #[test]
    fn an_empty_smtp_url_means_no_email() {
        let s = from_env(&[("APP__EMAIL__SMTP_URL", "  ")]).unwrap();
        assert!(s.email.smtp_url.is_none());
        let s = from_env(&[("APP__EMAIL__SMTP_URL", " smtp://mail:25 ")]).unwrap();
        assert_eq!(s.email.smtp_url.unwrap().expose(), "smtp://mail:25");
    }

    #[test]
    fn a_missing_secret_is_refused_outside_development_and_made_up_inside() {
        let mut s = from_env(&[]).unwrap();
        let err = s.ensure_jwt_secret().unwrap_err().to_string();
        assert!(
            err.starts_with("APP__AUTH__JWT_SECRET is required"),
            "{err}"
        );
        s.app_env = "development".into();
        s.ensure_jwt_secret().unwrap();
        assert!(s.auth.jwt_secret.expose().len() >= MIN_JWT_SECRET_BYTES);
        s.auth.jwt_secret = Secret::new("too-short");
        let err = s.ensure_jwt_secret().unwrap_err().to_string();
        assert!(
            err.contains("APP__AUTH__JWT_SECRET must be at least 32 bytes"),
            "{err}"
        );
    }
}
