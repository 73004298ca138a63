//! `[email]`: outgoing mail (account recovery, verification, notifications): the
//! SMTP server, the sender, the links mails carry, and the outbox's pace.

use std::num::NonZeroU32;
use std::str::FromStr;

use lettre::message::Mailbox;
use serde::Deserialize;

use super::values::{parse, InvalidValue, Seconds};
use super::SettingsError;
use crate::secret::Secret;

#[derive(Debug, Clone)]
pub struct EmailSettings {
    /// Unset (or empty): no email.
    pub smtp_url: Option<SmtpUrl>,
    pub from: Mailbox,
    pub reset_link: LinkTemplate,
    pub verify_link: LinkTemplate,
    /// Reset and verification mails sent to one address per hour.
    pub max_per_address_per_hour: u32,
    /// Delivery attempts before a mail is given up (marked failed, logged).
    pub max_attempts: NonZeroU32,
    /// The first retry waits this long; each next one twice as long (at most an hour).
    pub retry_base_secs: Seconds<1>,
    /// How often the outbox is looked at when nothing wakes it sooner.
    pub poll_millis: PollMillis,
    /// How long a worker's claim on a mail holds. A mail claimed by an instance that
    /// died is taken by another once its claim has run out. One SMTP conversation
    /// may take a third of it, so at least 3 seconds.
    pub claim_secs: Seconds<3>,
}

/// `smtp://[user:pass@]host[:port]` (plain, or STARTTLS with `?tls=required`) or
/// `smtps://...` (implicit TLS). It may hold credentials: never printed.
#[derive(Debug, Clone)]
pub struct SmtpUrl(Secret);

impl SmtpUrl {
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl FromStr for SmtpUrl {
    type Err = InvalidValue;

    fn from_str(raw: &str) -> Result<SmtpUrl, InvalidValue> {
        let url = raw.trim();
        match url.starts_with("smtp://") || url.starts_with("smtps://") {
            true => Ok(SmtpUrl(Secret::new(url))),
            // Never echo the URL: it may hold credentials.
            false => Err(InvalidValue("must be smtp://... or smtps://...".into())),
        }
    }
}

/// Where a mail's link points: an http(s) URL with `{token}` where the token goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkTemplate(String);

impl LinkTemplate {
    /// The link for `token`.
    pub fn with_token(&self, token: &str) -> String {
        self.0.replace("{token}", token)
    }
}

impl FromStr for LinkTemplate {
    type Err = InvalidValue;

    fn from_str(raw: &str) -> Result<LinkTemplate, InvalidValue> {
        let ok =
            (raw.starts_with("https://") || raw.starts_with("http://")) && raw.contains("{token}");
        match ok {
            true => Ok(LinkTemplate(raw.to_string())),
            false => Err(InvalidValue(
                "must be an http(s) URL containing {token}".into(),
            )),
        }
    }
}

/// How often the outbox is polled: 1 to 60000 milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollMillis(u64);

impl PollMillis {
    pub fn duration(self) -> std::time::Duration {
        std::time::Duration::from_millis(self.0)
    }
}

impl TryFrom<u64> for PollMillis {
    type Error = InvalidValue;

    fn try_from(millis: u64) -> Result<Self, InvalidValue> {
        match (1..=60_000).contains(&millis) {
            true => Ok(PollMillis(millis)),
            false => Err(InvalidValue("must be between 1 and 60000".into())),
        }
    }
}

/// `[email]` as written.
#[derive(Debug, Deserialize)]
pub(super) struct Raw {
    #[serde(default)]
    smtp_url: Option<Secret>,
    from: String,
    reset_link: String,
    verify_link: String,
    max_per_address_per_hour: u32,
    max_attempts: u32,
    retry_base_secs: u64,
    poll_millis: u64,
    #[serde(default = "default_claim_secs")]
    claim_secs: u64,
}

fn default_claim_secs() -> u64 {
    90
}

impl Default for Raw {
    fn default() -> Self {
        Raw {
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
    /// What can be checked without connecting anywhere.
    pub(super) fn parse(raw: Raw) -> Result<EmailSettings, SettingsError> {
        let smtp_url = match raw.smtp_url.as_ref().map(|s| s.expose().trim()) {
            None | Some("") => None,
            Some(url) => Some(
                url.parse()
                    .map_err(|e: InvalidValue| e.at("APP__EMAIL__SMTP_URL"))?,
            ),
        };
        let from = raw.from.parse().map_err(|_| SettingsError::Invalid {
            key: "APP__EMAIL__FROM",
            reason: "must be an address, e.g. turnstile <no-reply@example.com>".into(),
        })?;
        let reset_link = raw
            .reset_link
            .parse()
            .map_err(|e: InvalidValue| e.at("APP__EMAIL__RESET_LINK"))?;
        let verify_link = raw
            .verify_link
            .parse()
            .map_err(|e: InvalidValue| e.at("APP__EMAIL__VERIFY_LINK"))?;
        let pace = || SettingsError::Invalid {
            key: "APP__EMAIL__MAX_ATTEMPTS / POLL_MILLIS",
            reason: "must be at least 1 (poll_millis at most 60000)".into(),
        };
        let max_attempts = NonZeroU32::new(raw.max_attempts).ok_or_else(pace)?;
        let poll_millis = PollMillis::try_from(raw.poll_millis).map_err(|_| pace())?;
        Ok(EmailSettings {
            smtp_url,
            from,
            reset_link,
            verify_link,
            max_per_address_per_hour: raw.max_per_address_per_hour,
            max_attempts,
            poll_millis,
            claim_secs: parse("APP__EMAIL__CLAIM_SECS", raw.claim_secs)?,
            retry_base_secs: parse("APP__EMAIL__RETRY_BASE_SECS", raw.retry_base_secs)?,
        })
    }
}

/// The built-in defaults, for tests of what reads these settings.
#[cfg(test)]
impl Default for EmailSettings {
    fn default() -> Self {
        EmailSettings::parse(Raw::default()).expect("the defaults parse")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_smtp_url_is_smtp_or_smtps_and_never_echoed_when_refused() {
        for good in ["smtp://127.0.0.1:2525", " smtps://u:p@mail.example.com "] {
            assert!(good.parse::<SmtpUrl>().is_ok(), "{good}");
        }
        let url: SmtpUrl = " smtp://h:25 ".parse().unwrap();
        assert_eq!(url.expose(), "smtp://h:25");
        let err = "http://u:hunter2@mail".parse::<SmtpUrl>().unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(!format!("{url:?}").contains("h:25"), "{url:?}");
    }

    #[test]
    fn links_carry_the_token_where_the_template_says() {
        let t: LinkTemplate = "https://app.example.com/reset?token={token}&x=1"
            .parse()
            .unwrap();
        assert_eq!(
            t.with_token("AbC-_9"),
            "https://app.example.com/reset?token=AbC-_9&x=1"
        );
        let t: LinkTemplate = "https://x.example/{token}/go".parse().unwrap();
        assert_eq!(t.with_token("t"), "https://x.example/t/go");
        for bad in [
            "https://x.example/reset",
            "ftp://x.example/{token}",
            "{token}",
        ] {
            assert!(bad.parse::<LinkTemplate>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_outbox_polls_between_once_a_millisecond_and_once_a_minute() {
        assert!(PollMillis::try_from(0).is_err());
        assert_eq!(PollMillis::try_from(1).unwrap().duration().as_millis(), 1);
        assert!(PollMillis::try_from(60_000).is_ok());
        assert!(PollMillis::try_from(60_001).is_err());
    }

    #[test]
    fn the_defaults_parse() {
        let e = EmailSettings::default();
        assert!(e.smtp_url.is_none());
        assert_eq!(e.claim_secs.secs(), 90);
        assert_eq!(e.from.to_string(), "turnstile <no-reply@localhost>");
    }
}
