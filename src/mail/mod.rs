//! Sending mail over SMTP with lettre: plain, STARTTLS (`?tls=required`) or implicit
//! TLS (`smtps://`), credentials in the URL. What the mails say is in `compose`.

pub mod compose;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::settings::EmailSettings;

pub use compose::Composed;

/// Why a mail was not delivered. Never holds the mail's text or the URL's
/// credentials, so it can go into a log line and the outbox row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    /// A permanent refusal (5xx): retrying the same mail will not help.
    pub permanent: bool,
    pub reason: String,
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The server, for log lines: scheme, host and port, no credentials.
    server: String,
}

impl Mailer {
    /// The mailer for `settings`, or `None` when no SMTP URL is set. Nothing is sent
    /// or connected to here.
    pub fn from_settings(settings: &EmailSettings) -> Result<Option<Mailer>, String> {
        let Some(url) = &settings.smtp_url else {
            return Ok(None);
        };
        let url = url.expose();
        // lettre's errors describe the URL, which may hold a password: say only which
        // key is wrong.
        // One conversation may take a third of a claim, so a claim outlasts a send
        // and no other instance takes a mail that is still being sent.
        let timeout = settings.claim_secs.duration() / 3;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|_| "APP__EMAIL__SMTP_URL is not a usable SMTP URL".to_string())?
            .timeout(Some(timeout))
            .build();
        Ok(Some(Mailer {
            transport,
            from: settings.from.clone(),
            server: describe(url),
        }))
    }

    /// Where mail goes, for the start-up line: scheme, host and port only.
    pub fn server(&self) -> &str {
        &self.server
    }

    pub async fn send(&self, to: &str, mail: &Composed) -> Result<(), SendError> {
        let to: Mailbox = to.parse().map_err(|_| SendError {
            permanent: true,
            reason: "the recipient is not a valid address".into(),
        })?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body.clone())
            .map_err(|e| SendError {
                permanent: true,
                reason: format!("the message could not be built: {e}"),
            })?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| SendError {
                permanent: e.is_permanent(),
                reason: classify(&e),
            })
    }
}

/// An SMTP error in words that carry no credentials: the server's status code when
/// there is one, otherwise the kind of failure.
fn classify(e: &lettre::transport::smtp::Error) -> String {
    if let Some(code) = e.status() {
        return format!("the SMTP server answered {code}");
    }
    if e.is_timeout() {
        return "the SMTP server did not answer in time".into();
    }
    if e.is_tls() {
        return "TLS with the SMTP server failed".into();
    }
    "the SMTP server could not be reached".into()
}

/// `smtp://user:pass@host:25?tls=required` → `smtp://host:25 (STARTTLS)`.
fn describe(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("smtp", url));
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let (host, query) = rest.split_once('?').unwrap_or((rest, ""));
    let host = host.trim_end_matches('/');
    let tls = match (scheme, query.contains("tls=required")) {
        ("smtps", _) => "implicit TLS",
        (_, true) => "STARTTLS",
        _ => {
            if query.contains("tls=opportunistic") {
                "opportunistic STARTTLS"
            } else {
                "no TLS"
            }
        }
    };
    format!("{scheme}://{host} ({tls})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_description_never_holds_credentials() {
        assert_eq!(
            describe("smtp://user:s3cret@mail.example.com:587?tls=required"),
            "smtp://mail.example.com:587 (STARTTLS)"
        );
        assert_eq!(
            describe("smtps://u:p@smtp.example.com"),
            "smtps://smtp.example.com (implicit TLS)"
        );
        assert_eq!(
            describe("smtp://127.0.0.1:2525"),
            "smtp://127.0.0.1:2525 (no TLS)"
        );
    }

    #[test]
    fn no_url_means_no_mailer_and_a_bad_one_is_refused_without_echoing_it() {
        let mut s = EmailSettings::default();
        assert!(Mailer::from_settings(&s).unwrap().is_none());
        s.smtp_url = Some("smtp://u:hunter2@[bad".parse().unwrap());
        let err = Mailer::from_settings(&s).err().unwrap();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[actix_web::test]
    async fn urls_of_every_supported_form_build_a_mailer() {
        for url in [
            "smtp://127.0.0.1:2525",
            "smtp://u:p@mail.example.com:587?tls=required",
            "smtps://mail.example.com",
        ] {
            let s = EmailSettings {
                smtp_url: Some(url.parse().unwrap()),
                ..EmailSettings::default()
            };
            assert!(Mailer::from_settings(&s).unwrap().is_some(), "{url}");
        }
    }
}
