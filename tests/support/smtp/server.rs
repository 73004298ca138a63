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

use super::mime::ReceivedMail;

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
