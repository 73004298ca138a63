//! Typed configuration: embedded `config/default.toml`, then `config/{APP_ENV}.toml`, then `APP__SECTION__KEY` env vars.

use std::collections::HashMap;
use std::path::PathBuf;

use config::{Config, Environment, File, FileFormat};
use serde::Deserialize;

use crate::secret::Secret;

mod algorithm;
pub use algorithm::SigningAlgorithm;

/// `config/default.toml` is compiled in, so the binary runs from any directory.
const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

/// Shortest HMAC key we accept: HS256 wants at least as many bytes as its output.
pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// The longest duration any setting may name: ten years. Far beyond any sensible
/// lifetime, and far inside what date arithmetic can represent.
pub const MAX_DURATION_SECS: u64 = 10 * 365 * 24 * 60 * 60;
/// The longest signing-key rotation period (10 years).
pub const MAX_KEY_ROTATION_DAYS: u64 = 3650;
/// The longest audit retention that is not "forever" (10 years).
pub const MAX_AUDIT_RETENTION_DAYS: u64 = 3650;

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
    #[serde(default)]
    pub email: EmailSettings,
    #[serde(default)]
    pub audit: AuditSettings,
}

/// The audit trail's housekeeping.
#[derive(Debug, Clone, Deserialize)]
pub struct AuditSettings {
    /// Events older than this many days are deleted by the periodic purge; 0 = keep
    /// them forever.
    pub retention_days: u64,
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings {
            retention_days: 365,
        }
    }
}

/// Outgoing mail (account recovery, verification, notifications).
#[derive(Debug, Clone, Deserialize)]
pub struct EmailSettings {
    /// `smtp://[user:pass@]host[:port]` (plain, or STARTTLS with `?tls=required`) or
    /// `smtps://...` (implicit TLS). Unset: no email.
    #[serde(default)]
    pub smtp_url: Option<Secret>,
    pub from: String,
    /// Where a reset link points; `{token}` is replaced.
    pub reset_link: String,
    /// Where a verification link points; `{token}` is replaced.
    pub verify_link: String,
    /// Reset and verification mails sent to one address per hour.
    pub max_per_address_per_hour: u32,
    /// Delivery attempts before a mail is given up (marked failed, logged).
    pub max_attempts: u32,
    /// The first retry waits this long; each next one twice as long (at most an hour).
    pub retry_base_secs: u64,
    /// How often the outbox is looked at when nothing wakes it sooner.
    pub poll_millis: u64,
    /// How long a worker's claim on a mail holds. A mail claimed by an instance that
    /// died is taken by another once its claim has run out. One SMTP conversation
    /// may take a third of it.
    #[serde(default = "default_claim_secs")]
    pub claim_secs: u64,
}

fn default_claim_secs() -> u64 {
    90
}

impl Default for EmailSettings {
    fn default() -> Self {
        EmailSettings {
            smtp_url: None,
            from: "turnstile <no-reply@localhost>".into(),
            reset_link: "http://localhost:8080/reset-password?token={token}".into(),
            verify_link: "http://localhost:8080/verify-email?token={token}".into(),
            max_per_address_per_hour: 5,
            max_attempts: 8,
            retry_base_secs: 5,
            poll_millis: 1000,
            claim_secs: default_claim_secs(),
        }
    }
}

impl EmailSettings {
    /// The SMTP URL, when email is on (unset and empty both mean off).
    pub fn smtp_url(&self) -> Option<&str> {
        self.smtp_url
            .as_ref()
            .map(|s| s.expose().trim())
            .filter(|s| !s.is_empty())
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    pub fn parse(raw: &str) -> Option<LogFormat> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "text" | "" => Some(LogFormat::Text),
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    }
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
    #[serde(default = "default_reset_ttl")]
    pub reset_token_ttl_secs: u64,
    #[serde(default = "default_verify_ttl")]
    pub verify_token_ttl_secs: u64,
    /// Refuse login (403 `email_not_verified`) to accounts whose address is not verified.
    #[serde(default)]
    pub require_verified_email: bool,
    /// Every permission-guarded route answers 403 `mfa_required` to a session that did
    /// not pass a second factor.
    #[serde(default)]
    pub admin_requires_mfa: bool,
    /// `HS256`, `EdDSA`, `ES256` or `RS256` ([`Settings::signing_algorithm`]).
    #[serde(default = "default_signing_algorithm")]
    pub signing_algorithm: String,
    /// Rotate the asymmetric signing key this often; 0 = never.
    #[serde(default = "default_key_rotation_days")]
    pub key_rotation_days: u64,
    /// Adding a second factor needs a session that authenticated this recently (or
    /// the current password in the request).
    #[serde(default = "default_reauth_window")]
    pub reauth_window_secs: u64,
}

impl AuthSettings {
    /// The configured signing algorithm (checked by [`Settings::check`]; HS256 if the
    /// value was never checked and is not one).
    pub fn signing_algorithm(&self) -> SigningAlgorithm {
        SigningAlgorithm::parse(&self.signing_algorithm).unwrap_or(SigningAlgorithm::Hs256)
    }
}

fn default_signing_algorithm() -> String {
    "HS256".into()
}

fn default_key_rotation_days() -> u64 {
    30
}

fn default_reauth_window() -> u64 {
    300
}

fn default_reset_ttl() -> u64 {
    3600
}

fn default_verify_ttl() -> u64 {
    86400
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
        self.check_email()?;
        if !(4..=31).contains(&self.auth.bcrypt_cost) {
            return Err(SettingsError::Invalid {
                key: "APP__AUTH__BCRYPT_COST",
                reason: "must be between 4 and 31".into(),
            });
        }
        self.check_durations()?;
        if SigningAlgorithm::parse(&self.auth.signing_algorithm).is_none() {
            return Err(SettingsError::Invalid {
                key: "APP__AUTH__SIGNING_ALGORITHM",
                reason: "must be HS256, EdDSA, ES256 or RS256".into(),
            });
        }
        if self.auth.key_rotation_days > MAX_KEY_ROTATION_DAYS {
            return Err(SettingsError::Invalid {
                key: "APP__AUTH__KEY_ROTATION_DAYS",
                reason: format!("must be between 0 (never) and {MAX_KEY_ROTATION_DAYS}"),
            });
        }
        if self.audit.retention_days > MAX_AUDIT_RETENTION_DAYS {
            return Err(SettingsError::Invalid {
                key: "APP__AUDIT__RETENTION_DAYS",
                reason: format!("must be between 0 (forever) and {MAX_AUDIT_RETENTION_DAYS}"),
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

    /// Every duration is bounded, so no lifetime can overflow a timestamp; token
    /// lifetimes must also be positive.
    fn check_durations(&self) -> Result<(), SettingsError> {
        let (a, s, d) = (&self.auth, &self.server, &self.database);
        let e = &self.email;
        let durations: [(&'static str, u64, u64); 12] = [
            ("APP__EMAIL__CLAIM_SECS", e.claim_secs, 3),
            ("APP__AUTH__RESET_TOKEN_TTL_SECS", a.reset_token_ttl_secs, 1),
            (
                "APP__AUTH__VERIFY_TOKEN_TTL_SECS",
                a.verify_token_ttl_secs,
                1,
            ),
            ("APP__EMAIL__RETRY_BASE_SECS", e.retry_base_secs, 1),
            (
                "APP__AUTH__ACCESS_TOKEN_TTL_SECS",
                a.access_token_ttl_secs,
                1,
            ),
            (
                "APP__AUTH__REFRESH_TOKEN_TTL_SECS",
                a.refresh_token_ttl_secs,
                1,
            ),
            (
                "APP__AUTH__REFRESH_REUSE_INTERVAL_SECS",
                a.refresh_reuse_interval_secs,
                0,
            ),
            ("APP__AUTH__LEEWAY_SECS", a.leeway_secs, 0),
            ("APP__AUTH__LOGIN_WINDOW_SECS", a.login_window_secs, 0),
            ("APP__AUTH__CACHE_TTL_SECS", a.cache_ttl_secs, 0),
            (
                "APP__SERVER__SHUTDOWN_TIMEOUT_SECS",
                s.shutdown_timeout_secs,
                0,
            ),
            (
                "APP__DATABASE__CONNECT_TIMEOUT_SECS",
                d.connect_timeout_secs,
                0,
            ),
        ];
        for (key, value, min) in durations {
            if value < min || value > MAX_DURATION_SECS {
                return Err(SettingsError::Invalid {
                    key,
                    reason: format!(
                        "must be between {min} and {MAX_DURATION_SECS} seconds (10 years)"
                    ),
                });
            }
        }
        Ok(())
    }

    /// The mail settings that can be checked without connecting anywhere.
    fn check_email(&self) -> Result<(), SettingsError> {
        let e = &self.email;
        let invalid = |key, reason: &str| SettingsError::Invalid {
            key,
            reason: reason.into(),
        };
        if let Some(url) = e.smtp_url() {
            let scheme_ok = url.starts_with("smtp://") || url.starts_with("smtps://");
            if !scheme_ok {
                // Never echo the URL: it may hold credentials.
                return Err(invalid(
                    "APP__EMAIL__SMTP_URL",
                    "must be smtp://... or smtps://...",
                ));
            }
        }
        if e.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(invalid(
                "APP__EMAIL__FROM",
                "must be an address, e.g. turnstile <no-reply@example.com>",
            ));
        }
        for (key, link) in [
            ("APP__EMAIL__RESET_LINK", &e.reset_link),
            ("APP__EMAIL__VERIFY_LINK", &e.verify_link),
        ] {
            let ok = (link.starts_with("https://") || link.starts_with("http://"))
                && link.contains("{token}");
            if !ok {
                return Err(invalid(key, "must be an http(s) URL containing {token}"));
            }
        }
        if e.max_attempts == 0 || e.poll_millis == 0 || e.poll_millis > 60_000 {
            return Err(invalid(
                "APP__EMAIL__MAX_ATTEMPTS / POLL_MILLIS",
                "must be at least 1 (poll_millis at most 60000)",
            ));
        }
        Ok(())
    }

    pub fn cors_origins(&self) -> Vec<String> {
        split_list(&self.server.cors_origins)
    }

    pub fn trusted_proxies(&self) -> Vec<std::net::IpAddr> {
        split_list(&self.server.trusted_proxies)
            .iter()
            .filter_map(|s| s.parse::<std::net::IpAddr>().ok())
            // A proxy seen through a dual-stack socket arrives as ::ffff:a.b.c.d.
            .map(|ip| ip.to_canonical())
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
        assert_eq!(cfg.audit.retention_days, 365);
        assert!(cfg.auth.jwt_secret.expose().is_empty());
    }

    fn from_env(vars: &[(&str, &str)]) -> Settings {
        let env = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::read_from("test", env).unwrap()
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
        ]);
        let password = s.bootstrap.admin_password.as_ref().unwrap();
        assert_eq!(password.expose(), "00012345678");
        assert_eq!(s.auth.jwt_secret.expose(), secret);
        assert_eq!(s.auth.issuer, "007");
        // Numeric fields still parse from the environment's strings.
        assert_eq!((s.server.port, s.auth.login_max_failures), (0, 7));
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
            let err = from_env(&[(key, value)]).check().unwrap_err().to_string();
            assert!(err.contains(key), "{key}={value}: {err}");
        }
        let ten_years = MAX_DURATION_SECS.to_string();
        let s = from_env(&[("APP__AUTH__REFRESH_TOKEN_TTL_SECS", &ten_years)]);
        assert!(s.check().is_ok());
    }

    #[test]
    fn trusted_proxies_are_compared_in_canonical_form() {
        let s = from_env(&[(
            "APP__SERVER__TRUSTED_PROXIES",
            "::ffff:10.0.0.1, 2001:db8::1",
        )]);
        let want: Vec<std::net::IpAddr> =
            vec!["10.0.0.1".parse().unwrap(), "2001:db8::1".parse().unwrap()];
        assert_eq!(s.trusted_proxies(), want);
    }

    #[test]
    fn lists_are_split_on_commas_and_trimmed() {
        assert_eq!(split_list(" a, b ,,c"), vec!["a", "b", "c"]);
        assert!(split_list("").is_empty());
    }
}
