//! `[server]`: the public listener, its CORS origins and the proxies it believes.

use std::net::IpAddr;
use std::str::FromStr;

use serde::Deserialize;

use super::values::{parse, split_list, InvalidValue, Seconds};
use super::SettingsError;

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub cors_origins: CorsOrigins,
    pub trusted_proxies: TrustedProxies,
    pub json_limit_bytes: usize,
    /// 0 = one per core.
    pub workers: usize,
    pub shutdown_timeout_secs: Seconds<0>,
}

/// `[server]` as written.
#[derive(Debug, Deserialize)]
pub(super) struct Raw {
    host: String,
    port: u16,
    #[serde(default)]
    cors_origins: String,
    #[serde(default)]
    trusted_proxies: String,
    json_limit_bytes: usize,
    workers: usize,
    #[serde(default = "default_shutdown_timeout")]
    shutdown_timeout_secs: u64,
}

fn default_shutdown_timeout() -> u64 {
    30
}

impl ServerSettings {
    pub(super) fn parse(raw: Raw) -> Result<ServerSettings, SettingsError> {
        Ok(ServerSettings {
            shutdown_timeout_secs: parse(
                "APP__SERVER__SHUTDOWN_TIMEOUT_SECS",
                raw.shutdown_timeout_secs,
            )?,
            trusted_proxies: raw
                .trusted_proxies
                .parse()
                .map_err(|e: InvalidValue| e.at("APP__SERVER__TRUSTED_PROXIES"))?,
            cors_origins: raw
                .cors_origins
                .parse()
                .map_err(|e: InvalidValue| e.at("APP__SERVER__CORS_ORIGINS"))?,
            host: raw.host,
            port: raw.port,
            json_limit_bytes: raw.json_limit_bytes,
            workers: raw.workers,
        })
    }
}

/// The origins CORS allows (admin dashboards), each `http(s)://...` and fit for a
/// header; parsed from a comma-separated list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsOrigins(Vec<String>);

impl CorsOrigins {
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl FromStr for CorsOrigins {
    type Err = InvalidValue;

    fn from_str(raw: &str) -> Result<CorsOrigins, InvalidValue> {
        split_list(raw)
            .map(|origin| {
                let valid = (origin.starts_with("https://") || origin.starts_with("http://"))
                    && actix_web::http::header::HeaderValue::from_str(origin).is_ok();
                match valid {
                    true => Ok(origin.to_string()),
                    false => Err(InvalidValue(format!("{origin:?} is not an http(s) origin"))),
                }
            })
            .collect::<Result<_, _>>()
            .map(CorsOrigins)
    }
}

/// The peers whose `X-Forwarded-For` is believed, in canonical form: a proxy seen
/// through a dual-stack socket arrives as `::ffff:a.b.c.d`, and must still match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpAddr>);

impl TrustedProxies {
    pub fn as_slice(&self) -> &[IpAddr] {
        &self.0
    }
}

impl FromStr for TrustedProxies {
    type Err = InvalidValue;

    fn from_str(raw: &str) -> Result<TrustedProxies, InvalidValue> {
        split_list(raw)
            .map(|p| {
                p.parse::<IpAddr>()
                    .map(|ip| ip.to_canonical())
                    .map_err(|_| InvalidValue(format!("{p:?} is not an IP address")))
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_proxies_are_kept_in_canonical_form() {
        let proxies: TrustedProxies = "::ffff:10.0.0.1, 2001:db8::1".parse().unwrap();
        let want: Vec<IpAddr> = vec!["10.0.0.1".parse().unwrap(), "2001:db8::1".parse().unwrap()];
        assert_eq!(proxies.as_slice(), want);
        assert!("".parse::<TrustedProxies>().unwrap().as_slice().is_empty());
        let err = "10.0.0.1, proxy.local"
            .parse::<TrustedProxies>()
            .unwrap_err();
        assert_eq!(err.to_string(), r#""proxy.local" is not an IP address"#);
    }

    #[test]
    fn cors_origins_are_http_or_https_and_fit_for_a_header() {
        let origins: CorsOrigins = " https://a.example, http://b.example:8080 ,"
            .parse()
            .unwrap();
        assert_eq!(
            origins.iter().collect::<Vec<_>>(),
            ["https://a.example", "http://b.example:8080"]
        );
        for bad in ["a.example", "ftp://a.example", "https://a\nb.example"] {
            assert!(bad.parse::<CorsOrigins>().is_err(), "{bad:?}");
        }
    }
}
