//! A real SMTP server on loopback for the tests: it speaks enough of RFC 5321 for
//! lettre (and for a person with telnet), keeps every accepted mail, decoded, and
//! can be told to fail in the ways a real server does (421 at the greeting, 451 or
//! 550 after DATA) or to go away entirely and come back on the same port.
//!
//! Plain std: one accepting thread per listening period, one thread per connection.
//! Nothing here blocks the test's (current-thread) runtime for more than a few
//! milliseconds: waiting for mail polls with `actix_web::rt::time::sleep`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// The name the sink gives itself in its greeting and EHLO answer.
const SERVER_NAME: &str = "turnstile-test-sink";
/// A client that says nothing for this long is dropped (with a 421).
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the accepting thread looks for a new connection or a stop request.
const ACCEPT_POLL: Duration = Duration::from_millis(5);
/// How long `come_up` keeps trying to bind the port again.
const REBIND_FOR: Duration = Duration::from_secs(5);
/// How often `wait_for` and `assert_exactly` look at the mailbox.
const WAIT_POLL: Duration = Duration::from_millis(20);

/// How the sink answers.
#[allow(dead_code)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Normal: every transaction is accepted (250 after DATA).
    Accept,
    /// A transient failure the client must retry later: `421 4.3.0 Service not
    /// available` as the greeting, then close. (A connection already open when this
    /// mode is set gets the same 421 after its DATA, and is closed.)
    Unavailable,
    /// Accept the connection and the envelope, but answer `451 4.3.0 Try again
    /// later` after DATA (message not stored).
    DeferData,
    /// A permanent rejection: `550 5.7.1 Rejected` after DATA (message not stored).
    Reject,
}

/// One mail the sink accepted.
#[allow(dead_code)]
#[derive(Clone, Debug)]
pub struct ReceivedMail {
    /// The envelope's `MAIL FROM` address, without `<>` (empty for the null path).
    pub from: String,
    /// The envelope's `RCPT TO` addresses, without `<>`, in order.
    pub to: Vec<String>,
    /// The message's headers, unfolded, in order; values are as sent (not decoded).
    pub headers: Vec<(String, String)>,
    /// The `Subject` header, RFC 2047 encoded-words (B and Q) decoded.
    pub subject: String,
    /// The text body, transfer-decoded (7bit, 8bit, quoted-printable, base64) and
    /// with `\n` line endings. For a multipart mail, the first `text/plain` part.
    pub body: String,
    /// The whole DATA as received, dot-unstuffed (CRLF line endings, without the
    /// line break that belongs to the final `.`).
    pub raw: String,
}

#[allow(dead_code)]
impl ReceivedMail {
    /// The header value by case-insensitive name (the first one, if repeated).
    pub fn header(&self, name: &str) -> Option<&str> {
        header_value(&self.headers, name)
    }

    /// The `token` query parameter of the first URL in the body that has one
    /// (`...?token=XYZ` or `&token=XYZ`), i.e. the token of the mail's link. The
    /// token alphabet is base64url (`A-Za-z0-9-_`).
    pub fn link_token(&self) -> Option<String> {
        let separators = |c: char| {
            c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | '(' | ')' | '[' | ']')
        };
        for word in self.body.split(separators) {
            if !word.contains("://") {
                continue;
            }
            let Some((_, query)) = word.split_once('?') else {
                continue;
            };
            let query = query.split('#').next().unwrap_or_default();
            for pair in query.split('&') {
                // `&amp;token=` in an HTML body.
                let pair = pair.strip_prefix("amp;").unwrap_or(pair);
                if let Some(value) = pair.strip_prefix("token=") {
                    let token: String = value
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                        .collect();
                    if !token.is_empty() {
                        return Some(token);
                    }
                }
            }
        }
        None
    }

    /// The first line of the body that contains "://" (the link), trimmed.
    pub fn link_line(&self) -> Option<String> {
        self.body
            .lines()
            .find(|line| line.contains("://"))
            .map(|line| line.trim().to_string())
    }

    fn parse(from: String, to: Vec<String>, data: &[u8]) -> ReceivedMail {
        let (headers, body) = split_message(data);
        let subject = header_value(&headers, "Subject")
            .map(decode_encoded_words)
            .unwrap_or_default();
        let body = text_of(&headers, body)
            .unwrap_or_else(|| decode_part(&headers, body))
            .replace("\r\n", "\n");
        ReceivedMail {
            from,
            to,
            headers,
            subject,
            body,
            raw: String::from_utf8_lossy(data).into_owned(),
        }
    }
}

/// What the sink's threads share.
struct Shared {
    mode: Mutex<Mode>,
    messages: Mutex<Vec<ReceivedMail>>,
    connections: AtomicUsize,
    /// A handle on every open connection, to cut them when the sink is dropped.
    open: Mutex<HashMap<usize, TcpStream>>,
    handlers: Mutex<Vec<JoinHandle<()>>>,
}

/// The accepting thread of one listening period; it owns the listening socket.
struct Listening {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

/// An SMTP server on 127.0.0.1 that keeps what it is sent. Stops when dropped.
pub struct SmtpSink {
    port: u16,
    shared: Arc<Shared>,
    listening: Mutex<Option<Listening>>,
}

#[allow(dead_code)]
impl SmtpSink {
    /// Binds 127.0.0.1 on a free port and starts accepting in a background thread
    /// (`Mode::Accept`).
    pub fn start() -> SmtpSink {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .unwrap_or_else(|e| panic!("SMTP sink: cannot bind 127.0.0.1 on a free port: {e}"));
        let port = listener
            .local_addr()
            .expect("SMTP sink: the listening socket has no address")
            .port();
        let sink = SmtpSink {
            port,
            shared: Arc::new(Shared {
                mode: Mutex::new(Mode::Accept),
                messages: Mutex::new(Vec::new()),
                connections: AtomicUsize::new(0),
                open: Mutex::new(HashMap::new()),
                handlers: Mutex::new(Vec::new()),
            }),
            listening: Mutex::new(None),
        };
        sink.listen(listener);
        sink
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `smtp://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn set_mode(&self, mode: Mode) {
        *lock(&self.shared.mode) = mode;
    }

    /// Stops listening: new connections are refused (the listening socket is
    /// closed; the port is kept to bind again). Connections already open carry on.
    pub fn go_down(&self) {
        let listening = lock(&self.listening).take();
        if let Some(listening) = listening {
            listening.stop.store(true, Ordering::SeqCst);
            // The thread drops the listening socket as it ends.
            let _ = listening.thread.join();
        }
    }

    /// Listens again on the same port (retrying the bind for a few seconds if the
    /// OS needs it). Does nothing when already listening.
    pub fn come_up(&self) {
        if lock(&self.listening).is_some() {
            return;
        }
        let started = Instant::now();
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)) {
                Ok(listener) => break listener,
                Err(_) if started.elapsed() < REBIND_FOR => {
                    thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!(
                    "SMTP sink: cannot listen on 127.0.0.1:{} again after {REBIND_FOR:?}: {e}",
                    self.port
                ),
            }
        };
        self.listen(listener);
    }

    /// Every mail accepted so far, in arrival order.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        lock(&self.shared.messages).clone()
    }

    /// How many connections were opened so far (including refused transactions),
    /// to tell that a client retried.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Waits (polling every 20 ms without blocking the runtime) until at least `n`
    /// mails were accepted and returns them all; panics with what arrived so far
    /// after `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            if Instant::now() >= deadline {
                panic!(
                    "SMTP sink on port {}: expected at least {n} mail(s) within {timeout:?}, \
                     but {} arrived ({} connection(s) so far){}",
                    self.port,
                    got.len(),
                    self.connections(),
                    summary(&got)
                );
            }
            actix_web::rt::time::sleep(WAIT_POLL).await;
        }
    }

    /// Asserts that no more than `n` mails arrive during `settle` and that exactly
    /// `n` are there at its end (polling every 20 ms); returns them. Panics as soon
    /// as an extra mail arrives.
    pub async fn assert_exactly(&self, n: usize, settle: Duration) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + settle;
        loop {
            let got = self.messages();
            if got.len() > n {
                panic!(
                    "SMTP sink on port {}: expected exactly {n} mail(s), but {} arrived{}",
                    self.port,
                    got.len(),
                    summary(&got)
                );
            }
            if Instant::now() >= deadline {
                assert!(
                    got.len() == n,
                    "SMTP sink on port {}: expected exactly {n} mail(s) after {settle:?}, \
                     but {} arrived ({} connection(s) so far){}",
                    self.port,
                    got.len(),
                    self.connections(),
                    summary(&got)
                );
                return got;
            }
            actix_web::rt::time::sleep(WAIT_POLL).await;
        }
    }

    fn listen(&self, listener: TcpListener) {
        listener
            .set_nonblocking(true)
            .expect("SMTP sink: cannot make the listening socket non-blocking");
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            let shared = self.shared.clone();
            thread::Builder::new()
                .name(format!("smtp-sink-{}", self.port))
                .spawn(move || accept_loop(listener, &shared, &stop))
                .expect("SMTP sink: cannot start the accepting thread")
        };
        *lock(&self.listening) = Some(Listening { stop, thread });
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.go_down();
        for (_, stream) in lock(&self.shared.open).drain() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        let handlers: Vec<_> = lock(&self.shared.handlers).drain(..).collect();
        for handler in handlers {
            let _ = handler.join();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn summary(mails: &[ReceivedMail]) -> String {
    mails
        .iter()
        .enumerate()
        .map(|(i, m)| format!("\n  #{}: {} -> {:?}: {:?}", i + 1, m.from, m.to, m.subject))
        .collect()
}

fn accept_loop(listener: TcpListener, shared: &Arc<Shared>, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => start_session(shared, stream),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            // WouldBlock (nothing to accept) or a connection that died in the queue.
            Err(_) => thread::sleep(ACCEPT_POLL),
        }
    }
}

fn start_session(shared: &Arc<Shared>, stream: TcpStream) {
    let id = shared.connections.fetch_add(1, Ordering::SeqCst);
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let _ = stream.set_write_timeout(Some(READ_TIMEOUT));
    if let Ok(handle) = stream.try_clone() {
        lock(&shared.open).insert(id, handle);
    }
    let session_shared = shared.clone();
    let handler = thread::Builder::new()
        .name(format!("smtp-sink-conn-{id}"))
        .spawn(move || {
            let _ = Session::run(&session_shared, stream);
            lock(&session_shared.open).remove(&id);
        });
    let mut handlers = lock(&shared.handlers);
    handlers.retain(|h| !h.is_finished());
    if let Ok(handler) = handler {
        handlers.push(handler);
    }
}

/// One SMTP conversation.
struct Session<'a> {
    shared: &'a Shared,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    greeted: bool,
    from: Option<String>,
    to: Vec<String>,
}

impl Session<'_> {
    fn run(shared: &Shared, stream: TcpStream) -> std::io::Result<()> {
        let writer = stream.try_clone()?;
        let mut session = Session {
            shared,
            reader: BufReader::new(stream),
            writer,
            greeted: false,
            from: None,
            to: Vec::new(),
        };
        if session.mode() == Mode::Unavailable {
            session.reply("421 4.3.0 Service not available")?;
            return session.close();
        }
        session.reply(&format!("220 {SERVER_NAME} ESMTP"))?;
        loop {
            let Some(line) = session.read_line()? else {
                return Ok(());
            };
            let line = String::from_utf8_lossy(strip_eol(&line)).into_owned();
            let (verb, arg) = match line.split_once(' ') {
                Some((verb, arg)) => (verb.to_ascii_uppercase(), arg.trim()),
                None => (line.to_ascii_uppercase(), ""),
            };
            match verb.as_str() {
                "EHLO" | "HELO" if arg.is_empty() => {
                    session.reply(&format!("501 5.5.4 Syntax: {verb} hostname"))?
                }
                "EHLO" => {
                    session.reset();
                    session.greeted = true;
                    session.reply(&format!(
                        "250-{SERVER_NAME} greets {arg}\r\n250-8BITMIME\r\n250 SMTPUTF8"
                    ))?
                }
                "HELO" => {
                    session.reset();
                    session.greeted = true;
                    session.reply(&format!("250 {SERVER_NAME}"))?
                }
                "MAIL" if !session.greeted => {
                    session.reply("503 5.5.1 Error: send HELO/EHLO first")?
                }
                "MAIL" if session.from.is_some() => {
                    session.reply("503 5.5.1 Error: nested MAIL command")?
                }
                "MAIL" => match parse_path(arg, "FROM:") {
                    Some(from) => {
                        session.from = Some(from);
                        session.reply("250 2.1.0 Ok")?
                    }
                    None => session.reply("501 5.5.4 Syntax: MAIL FROM:<address>")?,
                },
                "RCPT" if session.from.is_none() => {
                    session.reply("503 5.5.1 Error: need MAIL command")?
                }
                "RCPT" => match parse_path(arg, "TO:").filter(|to| !to.is_empty()) {
                    Some(to) => {
                        session.to.push(to);
                        session.reply("250 2.1.5 Ok")?
                    }
                    None => session.reply("501 5.5.4 Syntax: RCPT TO:<address>")?,
                },
                "DATA" if !arg.is_empty() => session.reply("501 5.5.4 Syntax: DATA")?,
                "DATA" if session.to.is_empty() => {
                    session.reply("503 5.5.1 Error: need RCPT command")?
                }
                "DATA" => {
                    session.reply("354 End data with <CR><LF>.<CR><LF>")?;
                    let Some(data) = session.read_data()? else {
                        // Disconnected in the middle: nothing is kept.
                        return Ok(());
                    };
                    let from = session.from.take().unwrap_or_default();
                    let to = std::mem::take(&mut session.to);
                    match session.mode() {
                        Mode::Accept => {
                            // Stored before the 250, so a client that got its 250 finds
                            // the mail there.
                            let mail = ReceivedMail::parse(from, to, &data);
                            lock(&session.shared.messages).push(mail);
                            session.reply("250 2.0.0 Ok: queued")?
                        }
                        Mode::DeferData => session.reply("451 4.3.0 Try again later")?,
                        Mode::Reject => session.reply("550 5.7.1 Rejected")?,
                        Mode::Unavailable => {
                            session.reply("421 4.3.0 Service not available")?;
                            return session.close();
                        }
                    }
                }
                "RSET" => {
                    session.reset();
                    session.reply("250 2.0.0 Ok")?
                }
                "NOOP" => session.reply("250 2.0.0 Ok")?,
                "QUIT" => {
                    session.reply("221 2.0.0 Bye")?;
                    return session.close();
                }
                _ => session.reply("502 5.5.2 Error: command not recognized")?,
            }
        }
    }

    fn mode(&self) -> Mode {
        *lock(&self.shared.mode)
    }

    fn reset(&mut self) {
        self.from = None;
        self.to.clear();
    }

    fn reply(&mut self, text: &str) -> std::io::Result<()> {
        self.writer.write_all(format!("{text}\r\n").as_bytes())?;
        self.writer.flush()
    }

    /// One line with its line break; `None` at the end of the stream. A client that
    /// stays silent too long gets a 421 and an error ends the session.
    fn read_line(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        let mut line = Vec::new();
        match self.reader.read_until(b'\n', &mut line) {
            Ok(0) => Ok(None),
            Ok(_) => Ok(Some(line)),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                let _ = self.reply("421 4.4.2 Error: timeout exceeded");
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// The message up to the line holding only `.`, dot-unstuffed, without the line
    /// break that belongs to that final `.`; `None` if the client went away first.
    fn read_data(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        let mut data = Vec::new();
        loop {
            let Some(line) = self.read_line()? else {
                return Ok(None);
            };
            if !line.ends_with(b"\n") {
                // The stream ended in the middle of a line.
                return Ok(None);
            }
            if strip_eol(&line) == b"." {
                break;
            }
            let line = line.strip_prefix(b".").unwrap_or(&line);
            data.extend_from_slice(line);
        }
        if data.ends_with(b"\r\n") {
            data.truncate(data.len() - 2);
        } else if data.ends_with(b"\n") {
            data.truncate(data.len() - 1);
        }
        Ok(Some(data))
    }

    /// Ends the conversation without a reset: stop writing, then read what the
    /// client still sends until it closes too (for a second at most).
    fn close(self) -> std::io::Result<()> {
        let _ = self.writer.shutdown(Shutdown::Write);
        let mut stream = self.reader.into_inner();
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut sink = [0u8; 512];
        while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
        Ok(())
    }
}

fn strip_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The address of `FROM:<a@b> PARAMS` (after the keyword; parameters such as
/// `BODY=8BITMIME` or `SMTPUTF8` are tolerated and ignored). Without angle brackets
/// the first word is taken, for a person typing by hand.
fn parse_path(arg: &str, keyword: &str) -> Option<String> {
    let head = arg.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = arg[keyword.len()..].trim_start();
    if let Some(rest) = rest.strip_prefix('<') {
        let end = rest.find('>')?;
        Some(rest[..end].trim().to_string())
    } else {
        rest.split_whitespace().next().map(str::to_string)
    }
}

// --- Reading the message ---------------------------------------------------------

fn header_value<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The headers (unfolded) and the body of a message or MIME part.
fn split_message(data: &[u8]) -> (Vec<(String, String)>, &[u8]) {
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let (line, next) = match data[pos..].iter().position(|&b| b == b'\n') {
            Some(i) => (&data[pos..pos + i], pos + i + 1),
            None => (&data[pos..], data.len()),
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        pos = next;
        if line.is_empty() {
            return (trimmed(headers), &data[pos..]);
        }
        let text = String::from_utf8_lossy(line);
        if line[0] == b' ' || line[0] == b'\t' {
            // Unfolding: the line break goes, the whitespace stays.
            if let Some((_, value)) = headers.last_mut() {
                value.push_str(&text);
            }
        } else if let Some((name, value)) = text.split_once(':') {
            headers.push((name.trim().to_string(), value.to_string()));
        }
    }
    (trimmed(headers), &data[data.len()..])
}

fn trimmed(headers: Vec<(String, String)>) -> Vec<(String, String)> {
    headers
        .into_iter()
        .map(|(name, value)| (name, value.trim().to_string()))
        .collect()
}

/// A parameter of a structured header value (`text/plain; charset="utf-8"`).
fn parameter(value: &str, name: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|param| {
        let (key, val) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| val.trim().trim_matches('"').to_string())
    })
}

fn mime_type(headers: &[(String, String)]) -> String {
    header_value(headers, "Content-Type")
        .map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_else(|| "text/plain".into())
}

/// The first `text/plain` part (the entity itself when it is one), decoded.
fn text_of(headers: &[(String, String)], body: &[u8]) -> Option<String> {
    let mime = mime_type(headers);
    if mime == "text/plain" {
        return Some(decode_part(headers, body));
    }
    if mime.starts_with("multipart/") {
        let boundary = parameter(header_value(headers, "Content-Type")?, "boundary")?;
        return multipart_parts(body, &boundary)
            .into_iter()
            .find_map(|part| {
                let (headers, body) = split_message(part);
                text_of(&headers, body)
            });
    }
    None
}

/// The parts between `--boundary` lines, each without the line break that belongs
/// to the next delimiter.
fn multipart_parts<'b>(body: &'b [u8], boundary: &str) -> Vec<&'b [u8]> {
    let delimiter = format!("--{boundary}");
    let closing = format!("--{boundary}--");
    let mut parts = Vec::new();
    let mut start: Option<usize> = None;
    let mut pos = 0;
    while pos < body.len() {
        let (line, next) = match body[pos..].iter().position(|&b| b == b'\n') {
            Some(i) => (&body[pos..pos + i], pos + i + 1),
            None => (&body[pos..], body.len()),
        };
        let line = String::from_utf8_lossy(line);
        let line = line.trim_end();
        if line == delimiter || line == closing {
            if let Some(start) = start {
                let part = &body[start..pos];
                let part = part.strip_suffix(b"\n").unwrap_or(part);
                parts.push(part.strip_suffix(b"\r").unwrap_or(part));
            }
            if line == closing {
                break;
            }
            start = Some(next);
        }
        pos = next;
    }
    parts
}

/// A single part's body, transfer-decoded and turned into text by its charset.
fn decode_part(headers: &[(String, String)], body: &[u8]) -> String {
    let encoding = header_value(headers, "Content-Transfer-Encoding")
        .unwrap_or("7bit")
        .trim()
        .to_ascii_lowercase();
    let bytes = match encoding.as_str() {
        "quoted-printable" => decode_quoted_printable(body),
        "base64" => decode_base64(body),
        _ => body.to_vec(),
    };
    let charset = header_value(headers, "Content-Type")
        .and_then(|ct| parameter(ct, "charset"))
        .unwrap_or_else(|| "utf-8".into());
    text_in_charset(&bytes, &charset)
}

fn text_in_charset(bytes: &[u8], charset: &str) -> String {
    match charset.to_ascii_lowercase().as_str() {
        "iso-8859-1" | "iso8859-1" | "latin1" | "latin-1" => {
            bytes.iter().map(|&b| char::from(b)).collect()
        }
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `=XX` escapes (and `_` for a space in a header's Q encoding); a stray `=` stays.
fn decode_escapes(input: &[u8], underscore_is_space: bool, out: &mut Vec<u8>) {
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b == b'=' && i + 2 < input.len() {
            if let (Some(hi), Some(lo)) = (hex_value(input[i + 1]), hex_value(input[i + 2])) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(if underscore_is_space && b == b'_' {
            b' '
        } else {
            b
        });
        i += 1;
    }
}

/// RFC 2045 quoted-printable: soft line breaks (`=` at the end of a line) join
/// lines, trailing whitespace of an encoded line is dropped, `=XX` is a byte.
fn decode_quoted_printable(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let lines: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
    for (i, line) in lines.iter().enumerate() {
        let mut line = line.strip_suffix(b"\r").unwrap_or(line);
        while let Some((&last, rest)) = line.split_last() {
            if last != b' ' && last != b'\t' {
                break;
            }
            line = rest;
        }
        let soft_break = line.last() == Some(&b'=');
        if soft_break {
            line = &line[..line.len() - 1];
        }
        decode_escapes(line, false, &mut out);
        if !soft_break && i + 1 < lines.len() {
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

/// Base64 (standard or URL-safe alphabet); whitespace and anything else outside the
/// alphabet is skipped, `=` ends the data.
fn decode_base64(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let mut bits: u32 = 0;
    let mut count = 0;
    for &b in input {
        let value = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => continue,
        };
        bits = (bits << 6) | u32::from(value);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    out
}

/// One RFC 2047 encoded-word at the start of `text`: its charset, its bytes and
/// its length in `text`.
fn encoded_word(text: &str) -> Option<(String, Vec<u8>, usize)> {
    let rest = text.strip_prefix("=?")?;
    let charset_end = rest.find('?')?;
    let charset = &rest[..charset_end];
    let rest = &rest[charset_end + 1..];
    let encoding = rest.as_bytes().first()?.to_ascii_uppercase();
    let rest = rest.get(1..)?.strip_prefix('?')?;
    let encoded = &rest[..rest.find("?=")?];
    if charset.is_empty()
        || charset.contains(char::is_whitespace)
        || encoded.contains(char::is_whitespace)
    {
        return None;
    }
    let bytes = match encoding {
        b'B' => decode_base64(encoded.as_bytes()),
        b'Q' => {
            let mut out = Vec::new();
            decode_escapes(encoded.as_bytes(), true, &mut out);
            out
        }
        _ => return None,
    };
    // `utf-8*en`: an RFC 2231 language suffix.
    let charset = charset.split('*').next().unwrap_or_default().to_string();
    Some((charset, bytes, 2 + charset_end + 1 + 2 + encoded.len() + 2))
}

/// A header value with its encoded-words decoded. Whitespace between two adjacent
/// encoded-words is dropped (RFC 2047 §6.2), and adjacent words of one charset are
/// joined before being read, so a character split across two words survives.
fn decode_encoded_words(value: &str) -> String {
    let mut out = String::new();
    let mut pending: Option<(String, Vec<u8>)> = None;
    let mut gap = String::new();
    let flush = |pending: &mut Option<(String, Vec<u8>)>, out: &mut String| {
        if let Some((charset, bytes)) = pending.take() {
            out.push_str(&text_in_charset(&bytes, &charset));
        }
    };
    let mut i = 0;
    while i < value.len() {
        let rest = &value[i..];
        if let Some((charset, bytes, len)) =
            rest.starts_with("=?").then(|| encoded_word(rest)).flatten()
        {
            let joins = pending.is_some() && gap.chars().all(char::is_whitespace);
            match pending.as_mut() {
                Some((previous, so_far)) if joins && previous.eq_ignore_ascii_case(&charset) => {
                    so_far.extend_from_slice(&bytes);
                }
                _ => {
                    flush(&mut pending, &mut out);
                    if !joins {
                        out.push_str(&gap);
                    }
                    pending = Some((charset, bytes));
                }
            }
            gap.clear();
            i += len;
        } else {
            let c = rest.chars().next().unwrap_or_default();
            gap.push(c);
            i += c.len_utf8();
        }
    }
    flush(&mut pending, &mut out);
    out.push_str(&gap);
    out
}

// --- Tests of the sink itself, with the real client --------------------------------

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
