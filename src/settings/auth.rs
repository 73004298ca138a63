//! `[auth]`: tokens and their lifetimes, password hashing, lockout, the auth-state
//! cache, and what a login and a second factor require.

use std::num::NonZeroU32;

use serde::Deserialize;

use super::values::{parse, Days, InvalidValue, Seconds, MAX_DAYS};
use super::{SettingsError, SigningAlgorithm};
use crate::secret::Secret;

#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// Checked by the server alone ([`super::Settings::ensure_jwt_secret`]): `migrate`
    /// and `create-admin` run without it.
    pub jwt_secret: Secret,
    pub access_token_ttl_secs: Seconds<1>,
    pub refresh_token_ttl_secs: Seconds<1>,
    pub refresh_reuse_interval_secs: Seconds<0>,
    pub leeway_secs: Seconds<0>,
    pub bcrypt_cost: BcryptCost,
    pub issuer: String,
    pub audience: String,
    pub login_max_failures: NonZeroU32,
    pub login_window_secs: Seconds<0>,
    /// 0 = one per core ([`AuthSettings::bcrypt_threads`]).
    pub bcrypt_threads: usize,
    /// 0 = 32 per thread ([`AuthSettings::bcrypt_queue`]).
    pub bcrypt_queue: usize,
    pub bcrypt_nice: i32,
    pub cache_capacity: u64,
    pub cache_ttl_secs: Seconds<0>,
    pub reset_token_ttl_secs: Seconds<1>,
    pub verify_token_ttl_secs: Seconds<1>,
    /// Refuse login (403 `email_not_verified`) to accounts whose address is not verified.
    pub require_verified_email: bool,
    /// Every permission-guarded route answers 403 `mfa_required` to a session that did
    /// not pass a second factor.
    pub admin_requires_mfa: bool,
    pub signing_algorithm: SigningAlgorithm,
    /// Rotate the asymmetric signing key this often; 0 = never.
    pub key_rotation_days: Days,
    /// Adding a second factor needs a session that authenticated this recently (or
    /// the current password in the request).
    pub reauth_window_secs: u64,
}

/// A bcrypt cost factor bcrypt accepts: 4 to 31.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct BcryptCost(u32);

impl BcryptCost {
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for BcryptCost {
    type Error = InvalidValue;

    fn try_from(cost: u32) -> Result<Self, InvalidValue> {
        match (4..=31).contains(&cost) {
            true => Ok(BcryptCost(cost)),
            false => Err(InvalidValue("must be between 4 and 31".into())),
        }
    }
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

    pub(super) fn parse(raw: Raw) -> Result<AuthSettings, SettingsError> {
        Ok(AuthSettings {
            bcrypt_cost: parse("APP__AUTH__BCRYPT_COST", raw.bcrypt_cost)?,
            reset_token_ttl_secs: parse(
                "APP__AUTH__RESET_TOKEN_TTL_SECS",
                raw.reset_token_ttl_secs,
            )?,
            verify_token_ttl_secs: parse(
                "APP__AUTH__VERIFY_TOKEN_TTL_SECS",
                raw.verify_token_ttl_secs,
            )?,
            access_token_ttl_secs: parse(
                "APP__AUTH__ACCESS_TOKEN_TTL_SECS",
                raw.access_token_ttl_secs,
            )?,
            refresh_token_ttl_secs: parse(
                "APP__AUTH__REFRESH_TOKEN_TTL_SECS",
                raw.refresh_token_ttl_secs,
            )?,
            refresh_reuse_interval_secs: parse(
                "APP__AUTH__REFRESH_REUSE_INTERVAL_SECS",
                raw.refresh_reuse_interval_secs,
            )?,
            leeway_secs: parse("APP__AUTH__LEEWAY_SECS", raw.leeway_secs)?,
            login_window_secs: parse("APP__AUTH__LOGIN_WINDOW_SECS", raw.login_window_secs)?,
            cache_ttl_secs: parse("APP__AUTH__CACHE_TTL_SECS", raw.cache_ttl_secs)?,
            signing_algorithm: SigningAlgorithm::parse(&raw.signing_algorithm).ok_or(
                SettingsError::Invalid {
                    key: "APP__AUTH__SIGNING_ALGORITHM",
                    reason: "must be HS256, EdDSA, ES256 or RS256".into(),
                },
            )?,
            key_rotation_days: Days::try_from(raw.key_rotation_days).map_err(|_| {
                SettingsError::Invalid {
                    key: "APP__AUTH__KEY_ROTATION_DAYS",
                    reason: format!("must be between 0 (never) and {MAX_DAYS}"),
                }
            })?,
            login_max_failures: NonZeroU32::new(raw.login_max_failures).ok_or(
                SettingsError::Invalid {
                    key: "APP__AUTH__LOGIN_MAX_FAILURES",
                    reason: "must be greater than 0".into(),
                },
            )?,
            jwt_secret: raw.jwt_secret,
            issuer: raw.issuer,
            audience: raw.audience,
            bcrypt_threads: raw.bcrypt_threads,
            bcrypt_queue: raw.bcrypt_queue,
            bcrypt_nice: raw.bcrypt_nice,
            cache_capacity: raw.cache_capacity,
            require_verified_email: raw.require_verified_email,
            admin_requires_mfa: raw.admin_requires_mfa,
            reauth_window_secs: raw.reauth_window_secs,
        })
    }
}

/// `[auth]` as written.
#[derive(Debug, Deserialize)]
pub(super) struct Raw {
    #[serde(default)]
    jwt_secret: Secret,
    access_token_ttl_secs: u64,
    refresh_token_ttl_secs: u64,
    refresh_reuse_interval_secs: u64,
    leeway_secs: u64,
    bcrypt_cost: u32,
    issuer: String,
    audience: String,
    login_max_failures: u32,
    login_window_secs: u64,
    #[serde(default)]
    bcrypt_threads: usize,
    #[serde(default)]
    bcrypt_queue: usize,
    #[serde(default = "default_bcrypt_nice")]
    bcrypt_nice: i32,
    #[serde(default = "default_cache_capacity")]
    cache_capacity: u64,
    #[serde(default = "default_cache_ttl")]
    cache_ttl_secs: u64,
    #[serde(default = "default_reset_ttl")]
    reset_token_ttl_secs: u64,
    #[serde(default = "default_verify_ttl")]
    verify_token_ttl_secs: u64,
    #[serde(default)]
    require_verified_email: bool,
    #[serde(default)]
    admin_requires_mfa: bool,
    #[serde(default = "default_signing_algorithm")]
    signing_algorithm: String,
    #[serde(default = "default_key_rotation_days")]
    key_rotation_days: u64,
    #[serde(default = "default_reauth_window")]
    reauth_window_secs: u64,
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

#[cfg(test)]
mod tests {
    use super::BcryptCost;

    #[test]
    fn a_bcrypt_cost_is_one_bcrypt_accepts() {
        assert!(BcryptCost::try_from(3).is_err());
        assert_eq!(BcryptCost::try_from(4).unwrap().get(), 4);
        assert_eq!(BcryptCost::try_from(31).unwrap().get(), 31);
        assert!(BcryptCost::try_from(32).is_err());
    }
}
