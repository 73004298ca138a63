//! Tests of the sink itself, with the real client (lettre) and with a person's telnet.

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::TcpStream;
use std::time::Duration;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{Mode, SmtpSink};

const WAIT: Duration = Duration::from_secs(5);

fn transport(sink: &SmtpSink) -> AsyncSmtpTransport<Tokio1Executor> {
    AsyncSmtpTransport::<Tokio1Executor>::from_url(&sink.url())
        .expect("the sink's URL is a valid SMTP URL")
        .timeout(Some(Duration::from_secs(10)))
        .build()
}

fn plain(subject: &str, body: &str) -> Message {
    Message::builder()
        .from("Turnstile <noreply@turnstile.test>".parse().unwrap())
        .to("alice@example.com".parse().unwrap())
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body(body.to_string())
        .unwrap()
}

fn with_encoding(subject: &str, body: &str, encoding: ContentTransferEncoding) -> Message {
    Message::builder()
        .from("noreply@turnstile.test".parse().unwrap())
        .to("bob@example.com".parse().unwrap())
        .subject(subject)
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .header(encoding)
                .body(body.to_string()),
        )
        .unwrap()
}

#[actix_web::test]
async fn a_mail_sent_with_lettre_arrives_with_subject_and_body() {
    let sink = SmtpSink::start();
    assert_eq!(sink.url(), format!("smtp://127.0.0.1:{}", sink.port()));
    transport(&sink)
        .send(plain(
            "Confirm your address",
            "Hello Alice,\n\nWelcome aboard.\n",
        ))
        .await
        .expect("the sink accepts the mail");

    let mails = sink.wait_for(1, WAIT).await;
    let mail = &mails[0];
    assert_eq!(mail.from, "noreply@turnstile.test");
    assert_eq!(mail.to, vec!["alice@example.com".to_string()]);
    assert_eq!(mail.subject, "Confirm your address");
    assert_eq!(mail.body, "Hello Alice,\n\nWelcome aboard.\n");
    assert_eq!(mail.header("subject"), Some("Confirm your address"));
    assert_eq!(mail.header("TO"), Some("alice@example.com"));
    assert_eq!(
        mail.header("From"),
        Some("Turnstile <noreply@turnstile.test>")
    );
    // lettre sends a short plain ASCII body as it is.
    assert_eq!(mail.header("Content-Transfer-Encoding"), Some("7bit"));
    assert!(
        mail.headers.iter().any(|(name, _)| name == "Date"),
        "{:?}",
        mail.headers
    );
    assert!(
        mail.raw.contains("Subject: Confirm your address\r\n"),
        "{}",
        mail.raw
    );
    assert!(mail.raw.ends_with("Welcome aboard.\r\n"), "{:?}", mail.raw);
    assert_eq!(mail.link_line(), None);
    assert_eq!(mail.link_token(), None);
    assert_eq!(sink.connections(), 1);
    sink.assert_exactly(1, Duration::from_millis(100)).await;
}

#[actix_web::test]
async fn a_non_ascii_subject_and_body_are_decoded_with_the_link_token_intact() {
    let sink = SmtpSink::start();
    let subject = "Réinitialisez votre mot de passe — ça prend une minute ✓";
    let body = "Bonjour Zoé,\n\nPour choisir un nouveau mot de passe, ouvrez ce lien :\n\
                https://example.com/reset?token=AbC-_123\n\nÀ bientôt,\nl'équipe\n";
    transport(&sink).send(plain(subject, body)).await.unwrap();

    let mail = sink.wait_for(1, WAIT).await.remove(0);
    // lettre encodes both: the subject in encoded-words, the body in
    // quoted-printable (mostly ASCII) where `=` becomes `=3D`.
    assert!(
        mail.header("Subject").unwrap().contains("=?utf-8?b?"),
        "{:?}",
        mail.headers
    );
    assert_eq!(
        mail.header("Content-Transfer-Encoding"),
        Some("quoted-printable")
    );
    assert!(mail.raw.contains("token=3DAbC-_123"), "{}", mail.raw);
    assert_eq!(mail.subject, subject);
    assert_eq!(mail.body, body);
    assert_eq!(
        mail.link_line().as_deref(),
        Some("https://example.com/reset?token=AbC-_123")
    );
    assert_eq!(mail.link_token().as_deref(), Some("AbC-_123"));
}

#[actix_web::test]
async fn a_long_ascii_link_line_goes_quoted_printable_and_still_decodes() {
    let sink = SmtpSink::start();
    let token = "Zm9vYmFyYmF6cXV4LXF1dXgtY29yZ2UtZ3JhdWx0X2dhcnBseQ";
    let link = format!("https://turnstile.example.com/password/reset?user=42&token={token}");
    let body = format!("Hello,\n\nReset your password here:\n{link}\n\nThanks\n");
    transport(&sink)
        .send(plain("Reset your password", &body))
        .await
        .unwrap();

    let mail = sink.wait_for(1, WAIT).await.remove(0);
    // A line of 76 characters or more makes lettre pick quoted-printable even for
    // ASCII: the link is split by a soft line break in the raw mail.
    assert_eq!(
        mail.header("Content-Transfer-Encoding"),
        Some("quoted-printable")
    );
    assert!(!mail.raw.contains(&link), "{}", mail.raw);
    assert_eq!(mail.body, body);
    assert_eq!(mail.link_line(), Some(link));
    assert_eq!(mail.link_token().as_deref(), Some(token));
}

#[actix_web::test]
async fn quoted_printable_and_base64_bodies_are_decoded() {
    let sink = SmtpSink::start();
    let body = "Ligne un — été\nhttps://example.com/verify?a=1&token=x_Y-z0\n\u{1F512} fin\n";
    let mailer = transport(&sink);
    mailer
        .send(with_encoding(
            "QP ✓",
            body,
            ContentTransferEncoding::QuotedPrintable,
        ))
        .await
        .unwrap();
    mailer
        .send(with_encoding(
            "Base64 ✓",
            body,
            ContentTransferEncoding::Base64,
        ))
        .await
        .unwrap();

    let mails = sink.wait_for(2, WAIT).await;
    assert_eq!(
        mails[0].header("Content-Transfer-Encoding"),
        Some("quoted-printable")
    );
    assert_eq!(mails[1].header("Content-Transfer-Encoding"), Some("base64"));
    // A message built with `.singlepart(..)` gets one more line break after the
    // encoded body (lettre's `SinglePart` formatting); in quoted-printable it is
    // part of the text, in base64 it is not.
    let expected = [format!("{body}\n"), body.to_string()];
    for ((mail, subject), expected) in mails.iter().zip(["QP ✓", "Base64 ✓"]).zip(expected) {
        assert_eq!(mail.subject, subject);
        assert_eq!(mail.to, vec!["bob@example.com".to_string()]);
        assert_eq!(mail.body, expected, "{}", mail.raw);
        assert_eq!(mail.link_token().as_deref(), Some("x_Y-z0"));
    }
}

#[actix_web::test]
async fn the_text_part_of_a_multipart_mail_is_its_body() {
    let sink = SmtpSink::start();
    let message = Message::builder()
        .from("noreply@turnstile.test".parse().unwrap())
        .to("carol@example.com".parse().unwrap())
        .subject("Both kinds")
        .multipart(MultiPart::alternative_plain_html(
            "Plain text, café\nhttps://example.com/x?token=plain_1\n".to_string(),
            "<p><a href=\"https://example.com/x?token=html_2\">Open</a></p>".to_string(),
        ))
        .unwrap();
    transport(&sink).send(message).await.unwrap();

    let mail = sink.wait_for(1, WAIT).await.remove(0);
    assert!(mail
        .header("Content-Type")
        .unwrap()
        .starts_with("multipart/alternative"));
    assert_eq!(
        mail.body,
        "Plain text, café\nhttps://example.com/x?token=plain_1\n"
    );
    assert_eq!(mail.link_token().as_deref(), Some("plain_1"));
}

#[actix_web::test]
async fn an_unavailable_server_makes_sending_fail_transiently_and_stores_nothing() {
    let sink = SmtpSink::start();
    sink.set_mode(Mode::Unavailable);
    let err = transport(&sink)
        .send(plain("Hello", "Hi"))
        .await
        .expect_err("a 421 greeting fails the send");
    assert!(err.is_transient(), "{err:?}");
    assert!(!err.is_permanent(), "{err:?}");
    assert_eq!(err.status().map(u16::from), Some(421));
    assert_eq!(sink.connections(), 1);
    sink.assert_exactly(0, Duration::from_millis(100)).await;

    // Once the server is back, the retry goes through on a new connection.
    sink.set_mode(Mode::Accept);
    transport(&sink).send(plain("Hello", "Hi")).await.unwrap();
    assert_eq!(sink.wait_for(1, WAIT).await[0].subject, "Hello");
    assert_eq!(sink.connections(), 2);
}

#[actix_web::test]
async fn a_deferred_data_makes_sending_fail_transiently_and_stores_nothing() {
    let sink = SmtpSink::start();
    sink.set_mode(Mode::DeferData);
    let err = transport(&sink)
        .send(plain("Hello", "Hi"))
        .await
        .expect_err("a 451 after DATA fails the send");
    assert!(err.is_transient(), "{err:?}");
    assert_eq!(err.status().map(u16::from), Some(451));
    assert_eq!(sink.connections(), 1);
    sink.assert_exactly(0, Duration::from_millis(100)).await;
}

#[actix_web::test]
async fn a_rejected_mail_makes_sending_fail_permanently_and_stores_nothing() {
    let sink = SmtpSink::start();
    sink.set_mode(Mode::Reject);
    let err = transport(&sink)
        .send(plain("Hello", "Hi"))
        .await
        .expect_err("a 550 after DATA fails the send");
    assert!(err.is_permanent(), "{err:?}");
    assert!(!err.is_transient(), "{err:?}");
    assert_eq!(err.status().map(u16::from), Some(550));
    sink.assert_exactly(0, Duration::from_millis(100)).await;
}

#[actix_web::test]
async fn a_sink_that_goes_down_refuses_connections_and_comes_up_on_the_same_port() {
    let sink = SmtpSink::start();
    let port = sink.port();
    let mailer = transport(&sink);
    mailer.send(plain("Before", "1")).await.unwrap();

    sink.go_down();
    let refused = TcpStream::connect(("127.0.0.1", port)).expect_err("nobody listens");
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
    let err = mailer
        .send(plain("While down", "2"))
        .await
        .expect_err("a refused connection fails the send");
    // Not an SMTP answer at all: neither transient nor permanent, no code.
    assert!(!err.is_transient() && !err.is_permanent(), "{err:?}");
    assert_eq!(err.status(), None);
    assert_eq!(sink.connections(), 1);

    sink.come_up();
    assert_eq!(sink.port(), port);
    mailer.send(plain("After", "3")).await.unwrap();
    let mails = sink.wait_for(2, WAIT).await;
    let subjects: Vec<_> = mails.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(subjects, ["Before", "After"]);
    assert_eq!(sink.connections(), 2);
}

#[actix_web::test]
async fn two_mails_sent_in_a_row_over_one_transport_both_arrive() {
    let sink = SmtpSink::start();
    let mailer = transport(&sink);
    mailer.send(plain("First", "one")).await.unwrap();
    mailer.send(plain("Second", "two")).await.unwrap();

    let mails = sink.assert_exactly(2, Duration::from_millis(200)).await;
    assert_eq!(
        (mails[0].subject.as_str(), mails[0].body.as_str()),
        ("First", "one")
    );
    assert_eq!(
        (mails[1].subject.as_str(), mails[1].body.as_str()),
        ("Second", "two")
    );
    // Without lettre's `pool` feature (turnstile does not enable it) every send
    // is a connection of its own.
    assert_eq!(sink.connections(), 2);
}

#[actix_web::test]
#[should_panic(expected = "expected at least 2 mail(s)")]
async fn waiting_for_more_mails_than_arrive_fails_with_what_came() {
    let sink = SmtpSink::start();
    transport(&sink).send(plain("Only one", "x")).await.unwrap();
    sink.wait_for(2, Duration::from_millis(200)).await;
}

#[actix_web::test]
#[should_panic(expected = "expected exactly 0 mail(s), but 1 arrived")]
async fn an_extra_mail_fails_assert_exactly() {
    let sink = SmtpSink::start();
    transport(&sink)
        .send(plain("Unexpected", "x"))
        .await
        .unwrap();
    sink.assert_exactly(0, Duration::from_millis(200)).await;
}

/// A person with telnet: plain std sockets, line by line.
struct Telnet {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Telnet {
    fn connect(sink: &SmtpSink) -> Telnet {
        let stream = TcpStream::connect(("127.0.0.1", sink.port())).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut telnet = Telnet {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        };
        let greeting = telnet.reply();
        assert_eq!(greeting, "220 turnstile-test-sink ESMTP");
        telnet
    }

    fn send(&mut self, text: &str) {
        self.writer.write_all(text.as_bytes()).unwrap();
    }

    /// A whole (possibly multi-line) reply, lines joined with `\n`.
    fn reply(&mut self) -> String {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).unwrap();
            assert!(
                line.ends_with("\r\n"),
                "a reply line ends with CRLF: {line:?}"
            );
            let line = line.trim_end().to_string();
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if last {
                return lines.join("\n");
            }
        }
    }

    fn command(&mut self, line: &str, code: &str) -> String {
        self.send(&format!("{line}\r\n"));
        let reply = self.reply();
        assert!(reply.starts_with(code), "{line} -> {reply}");
        reply
    }
}

#[test]
fn several_transactions_on_one_connection_with_dot_stuffing_rset_and_noop() {
    let sink = SmtpSink::start();
    let mut t = Telnet::connect(&sink);
    let ehlo = t.command("EHLO tester.local", "250");
    assert_eq!(
        ehlo,
        "250-turnstile-test-sink greets tester.local\n250-8BITMIME\n250 SMTPUTF8"
    );
    t.command("MAIL FROM:<a@example.com> BODY=8BITMIME SMTPUTF8", "250");
    t.command("RCPT TO:<b@example.com>", "250");
    t.command("rcpt to: <c@example.com>", "250");
    t.command("DATA", "354");
    t.send(
        "Subject: =?UTF-8?Q?Caf=C3=A9_cr=C3=A8me?= =?utf-8?B?w6A=?=\r\n \
         la carte\r\n\
         X-Folded: one\r\n\ttwo\r\n\
         \r\n\
         ..a line that starts with a dot\r\n\
         .\r\n",
    );
    assert!(t.reply().starts_with("250"));

    t.command("NOOP", "250");
    t.command("MAIL FROM:<>", "250");
    t.command("RCPT TO:<dropped@example.com>", "250");
    t.command("RSET", "250");
    t.command("DATA", "503");
    t.command("MAIL FROM:<d@example.com>", "250");
    t.command("RCPT TO:<e@example.com>", "250");
    t.command("DATA", "354");
    t.send("Subject: second\r\n\r\nbody two\r\n.\r\n");
    assert!(t.reply().starts_with("250"));
    t.command("QUIT", "221");

    let mails = sink.messages();
    assert_eq!(mails.len(), 2);
    assert_eq!(mails[0].from, "a@example.com");
    assert_eq!(mails[0].to, ["b@example.com", "c@example.com"]);
    assert_eq!(mails[0].subject, "Café crèmeà la carte");
    assert_eq!(mails[0].header("x-folded"), Some("one\ttwo"));
    assert_eq!(mails[0].body, ".a line that starts with a dot");
    assert!(mails[0]
        .raw
        .ends_with("\r\n\r\n.a line that starts with a dot"));
    assert_eq!(mails[1].from, "d@example.com");
    assert_eq!(mails[1].to, ["e@example.com"]);
    assert_eq!(
        (mails[1].subject.as_str(), mails[1].body.as_str()),
        ("second", "body two")
    );
    assert_eq!(sink.connections(), 1);
}

#[test]
fn commands_out_of_order_or_unknown_get_the_right_codes() {
    let sink = SmtpSink::start();
    let mut t = Telnet::connect(&sink);
    t.command("MAIL FROM:<a@example.com>", "503");
    t.command("EHLO", "501");
    t.command("HELO tester", "250 turnstile-test-sink");
    t.command("RCPT TO:<b@example.com>", "503");
    t.command("MAIL TO:<a@example.com>", "501");
    t.command("MAIL FROM:<a@example.com>", "250");
    t.command("MAIL FROM:<a@example.com>", "503");
    t.command("RCPT TO:<>", "501");
    t.command("DATA", "503");
    t.command("STARTTLS", "502");
    t.command("AUTH PLAIN AGFAYg==", "502");
    t.command("VRFY a", "502");
    t.command("", "502");
    t.command("QUIT", "221");
    assert!(sink.messages().is_empty());
}

#[actix_web::test]
async fn a_client_that_disconnects_mid_data_does_not_break_the_sink() {
    let sink = SmtpSink::start();
    {
        let mut t = Telnet::connect(&sink);
        t.command("EHLO tester", "250");
        t.command("MAIL FROM:<a@example.com>", "250");
        t.command("RCPT TO:<b@example.com>", "250");
        t.command("DATA", "354");
        t.send("Subject: cut\r\n\r\nhalf a li");
    }
    {
        // And one that goes away right after connecting.
        let _ = TcpStream::connect(("127.0.0.1", sink.port())).unwrap();
    }
    transport(&sink).send(plain("Whole", "fine")).await.unwrap();
    let mails = sink.assert_exactly(1, Duration::from_millis(200)).await;
    assert_eq!(mails[0].subject, "Whole");
    assert_eq!(sink.connections(), 3);
}
