//! The `turnstile` binary as an operator runs it: start-up line, refusal without a
//! secret, `migrate`, `create-admin`, bootstrap admin.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_turnstile");

struct TempDb(std::path::PathBuf);

impl TempDb {
    fn new(tag: &str) -> TempDb {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        TempDb(std::env::temp_dir().join(format!(
            "turnstile-cli-{tag}-{}-{nanos}/t.db",
            std::process::id()
        )))
    }

    fn url(&self) -> String {
        format!("sqlite://{}", self.0.display())
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A command with a clean configuration environment.
fn turnstile(app_env: &str, db: &TempDb) -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("APP__") || key == "DATABASE_URL" {
            cmd.env_remove(key);
        }
    }
    cmd.env("APP_ENV", app_env)
        .env("APP__DATABASE__URL", db.url())
        .env("APP__AUTH__BCRYPT_COST", "4")
        .env("RUST_LOG", "info");
    cmd
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the server on port 0 and returns the port from its `listening on` line.
fn serve(mut cmd: Command) -> (Server, u16) {
    let mut child = cmd
        .env("APP__SERVER__PORT", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn turnstile");
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("stdout line");
        if let Some(addr) = line.split("listening on http://").nth(1) {
            let port = addr
                .rsplit(':')
                .next()
                .unwrap()
                .trim()
                .parse()
                .expect("port");
            assert_ne!(port, 0, "the real port, not 0");
            return (server, port);
        }
        assert!(Instant::now() < deadline, "no listening line in time");
    }
    panic!("server exited before listening");
}

fn http_get(port: u16, path: &str) -> String {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn serve_logs_the_real_port_after_migrations_and_answers() {
    let db = TempDb::new("serve");
    let mut cmd = turnstile("development", &db);
    cmd.env("APP__SERVER__HOST", "127.0.0.1");
    let (_server, port) = serve(cmd);
    let res = http_get(port, "/health");
    assert!(
        res.starts_with("HTTP/1.0 200") || res.starts_with("HTTP/1.1 200"),
        "{res}"
    );
    assert!(res.contains(r#"{"status":"ok"}"#));
    assert!(db.0.exists(), "the SQLite file and its folder are created");
}

#[test]
fn production_refuses_to_start_without_a_jwt_secret() {
    let db = TempDb::new("nosecret");
    let out = turnstile("production", &db).output().expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("APP__AUTH__JWT_SECRET"), "{stderr}");
}

#[test]
fn production_refuses_a_short_jwt_secret() {
    let db = TempDb::new("shortsecret");
    let out = turnstile("production", &db)
        .env("APP__AUTH__JWT_SECRET", "too-short")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("APP__AUTH__JWT_SECRET"));
}

#[test]
fn a_missing_or_short_secret_at_serve_is_a_configuration_error_with_status_2() {
    for secret in [None, Some("too-short")] {
        let db = TempDb::new("secret-status");
        let mut cmd = turnstile("production", &db);
        if let Some(s) = secret {
            cmd.env("APP__AUTH__JWT_SECRET", s);
        }
        let out = cmd.arg("serve").output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{secret:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("turnstile: configuration error: APP__AUTH__JWT_SECRET"),
            "{secret:?}: {stderr}"
        );
        assert_eq!(
            stderr.matches("APP__AUTH__JWT_SECRET").count(),
            1,
            "{stderr}"
        );
    }
}

#[test]
fn migrate_applies_migrations_and_exits_without_needing_the_secret() {
    let db = TempDb::new("migrate");
    let first = turnstile("production", &db)
        .arg("migrate")
        .output()
        .expect("run");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(String::from_utf8_lossy(&first.stdout).contains("applied"));
    let again = turnstile("production", &db)
        .arg("migrate")
        .output()
        .expect("run");
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("up to date"));
}

#[test]
fn create_admin_reads_the_password_from_stdin_or_an_env_var() {
    let db = TempDb::new("admin");
    let mut child = turnstile("development", &db)
        .args(["create-admin", "--email", "Root@Example.com"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a very long admin password\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("root@example.com"));

    let out = turnstile("development", &db)
        .args([
            "create-admin",
            "--email",
            "second@example.com",
            "--password-env",
            "ADMIN_PW",
        ])
        .env("ADMIN_PW", "another admin password")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let dup = turnstile("development", &db)
        .args([
            "create-admin",
            "--email",
            "root@example.com",
            "--password-env",
            "ADMIN_PW",
        ])
        .env("ADMIN_PW", "another admin password")
        .output()
        .unwrap();
    assert!(!dup.status.success(), "an existing address is refused");

    let weak = turnstile("development", &db)
        .args([
            "create-admin",
            "--email",
            "weak@example.com",
            "--password-env",
            "ADMIN_PW",
        ])
        .env("ADMIN_PW", "short")
        .output()
        .unwrap();
    assert!(!weak.status.success());
}

#[test]
fn the_bootstrap_admin_is_created_once_and_can_log_in() {
    let db = TempDb::new("bootstrap");
    let start = || {
        let mut cmd = turnstile("development", &db);
        cmd.env("APP__BOOTSTRAP__ADMIN_EMAIL", "boot@example.com")
            .env("APP__BOOTSTRAP__ADMIN_PASSWORD", "bootstrap password")
            .env(
                "APP__AUTH__JWT_SECRET",
                "0123456789abcdef0123456789abcdef0123",
            );
        serve(cmd)
    };
    let (server, _) = start();
    drop(server);
    // A second start finds the admin and leaves it alone.
    let (_server, port) = start();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let body = r#"{"email":"boot@example.com","password":"bootstrap password"}"#;
    write!(
        s,
        "POST /auth/login HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(&mut s, &mut out).unwrap();
    assert!(out.contains(" 200 "), "{out}");
    assert!(out.contains(r#""role":"admin""#), "{out}");
}

fn sigterm(server: &Server) {
    let status = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

fn wait_for_exit(server: &mut Server, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = server.0.try_wait().expect("wait") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "server did not exit in {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn post_json(port: u16, path: &str, body: &str) -> String {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        s,
        "POST {path} HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn sigterm_lets_in_flight_requests_finish_then_exits_zero() {
    let db = TempDb::new("shutdown");
    let mut cmd = turnstile("development", &db);
    // A slow hash keeps the login in flight while the signal arrives.
    cmd.env("APP__AUTH__BCRYPT_COST", "13");
    let (mut server, port) = serve(cmd);
    let body = r#"{"email":"drain@example.com","password":"correct horse battery"}"#;
    assert!(post_json(port, "/auth/register", body).contains(" 201 "));

    let in_flight = std::thread::spawn(move || post_json(port, "/auth/login", body));
    std::thread::sleep(Duration::from_millis(150));
    sigterm(&server);
    let answer = in_flight.join().unwrap();
    assert!(
        answer.contains(" 200 "),
        "in-flight login was cut off: {answer}"
    );
    let status = wait_for_exit(&mut server, Duration::from_secs(15));
    assert!(status.success(), "exit status {status:?}");
    // Nothing is accepted any more.
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn json_log_format_writes_one_json_object_per_line() {
    let db = TempDb::new("jsonlog");
    let log_path = db.0.with_file_name("stderr.log");
    std::fs::create_dir_all(log_path.parent().unwrap()).unwrap();
    let log = std::fs::File::create(&log_path).unwrap();
    let mut cmd = turnstile("development", &db);
    cmd.env("APP__LOG__FORMAT", "json")
        .env("APP__SERVER__PORT", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log));
    let mut child = cmd.spawn().expect("spawn");
    let stdout = child.stdout.take().unwrap();
    let mut server = Server(child);
    let line = BufReader::new(stdout).lines().next().unwrap().unwrap();
    let port: u16 = line.rsplit(':').next().unwrap().trim().parse().unwrap();
    assert!(http_get(port, "/api/profile").contains(" 401 "));
    sigterm(&server);
    wait_for_exit(&mut server, Duration::from_secs(15));

    let text = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    let mut saw_listening = false;
    let mut saw_request = false;
    for line in lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        for key in ["ts", "level", "target", "message"] {
            assert!(v.get(key).is_some(), "{key} missing: {line}");
        }
        let msg = v["message"].as_str().unwrap();
        saw_listening |= msg.contains("listening on http://");
        saw_request |= msg.contains("/api/profile") && msg.contains("id=");
    }
    assert!(saw_listening && saw_request, "{text}");
}

#[test]
fn healthcheck_reports_whether_the_local_server_answers() {
    let db = TempDb::new("healthcheck");
    let (server, port) = serve(turnstile("development", &db));
    let check = || {
        turnstile("development", &db)
            .arg("healthcheck")
            .env("APP__SERVER__PORT", port.to_string())
            .output()
            .expect("run")
            .status
            .success()
    };
    assert!(check());
    drop(server);
    assert!(!check());
}

/// The body of an HTTP/1.0 answer.
fn body_of(answer: &str) -> &str {
    answer.split("\r\n\r\n").nth(1).unwrap_or_default()
}

#[test]
fn digit_strings_in_the_environment_are_kept_byte_for_byte() {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let db = TempDb::new("digits");
    let secret = "1234567890123456789012345678901234567890";
    let mut cmd = turnstile("production", &db);
    cmd.env("APP__SERVER__HOST", "127.0.0.1")
        .env("APP__AUTH__JWT_SECRET", secret)
        .env("APP__BOOTSTRAP__ADMIN_EMAIL", "digits@example.com")
        .env("APP__BOOTSTRAP__ADMIN_PASSWORD", "00012345678");
    let (_server, port) = serve(cmd);
    let answer = post_json(
        port,
        "/auth/login",
        r#"{"email":"digits@example.com","password":"00012345678"}"#,
    );
    assert!(answer.contains(" 200 "), "leading zeros kept: {answer}");
    let body: serde_json::Value = serde_json::from_str(body_of(&answer)).unwrap();
    let token = body["access_token"].as_str().unwrap();
    let (input, signature) = token.rsplit_once('.').unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(input.as_bytes());
    let expected =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    assert_eq!(
        signature, expected,
        "signed with the secret exactly as given"
    );
    let numeric = post_json(
        port,
        "/auth/login",
        r#"{"email":"digits@example.com","password":"12345678"}"#,
    );
    assert!(numeric.contains(" 401 "), "{numeric}");
}

#[test]
fn unbounded_lifetimes_refuse_to_start_naming_the_key() {
    for (key, value) in [
        ("APP__AUTH__REFRESH_TOKEN_TTL_SECS", "100000000000000"),
        ("APP__AUTH__REFRESH_TOKEN_TTL_SECS", "18446744073709551615"),
        ("APP__AUTH__ACCESS_TOKEN_TTL_SECS", "18446744073709551615"),
        ("APP__AUTH__LOGIN_WINDOW_SECS", "99999999999"),
    ] {
        let db = TempDb::new("lifetimes");
        let child = turnstile("development", &db)
            .env(key, value)
            .env("APP__SERVER__PORT", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn turnstile");
        let mut server = Server(child);
        let status = wait_for_exit(&mut server, Duration::from_secs(10));
        assert_eq!(status.code(), Some(2), "{key}={value}");
        let mut stderr = String::new();
        let pipe = server.0.stderr.as_mut().expect("stderr");
        std::io::Read::read_to_string(pipe, &mut stderr).unwrap();
        assert!(stderr.contains("configuration error"), "{stderr}");
        assert!(stderr.contains(key), "{key}={value}: {stderr}");
    }
}

/// The `kid` in the header of the access token a login answer carries.
fn kid_of_login(answer: &str) -> String {
    use base64::Engine;
    let body: serde_json::Value = serde_json::from_str(body_of(answer)).expect("login json");
    let token = body["access_token"].as_str().expect("access_token");
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.split('.').next().unwrap())
        .unwrap();
    let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
    header["kid"].as_str().expect("kid").to_string()
}

#[test]
fn keys_rotate_makes_the_key_the_running_server_signs_with_next() {
    let db = TempDb::new("keys");
    let secret = "keys-rotate-test-secret-keys-rotate-test-secret";
    let with_keys = |cmd: &mut Command| {
        cmd.env("APP__AUTH__JWT_SECRET", secret)
            .env("APP__AUTH__SIGNING_ALGORITHM", "EdDSA");
    };
    // HS256 signs with the secret: nothing to rotate.
    let out = turnstile("production", &db)
        .env("APP__AUTH__JWT_SECRET", secret)
        .args(["keys", "rotate"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("HS256"));
    // Without the server's secret, a key would be sealed for nobody.
    let out = turnstile("production", &db)
        .env("APP__AUTH__SIGNING_ALGORITHM", "EdDSA")
        .args(["keys", "rotate"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("APP__AUTH__JWT_SECRET"));

    let mut serve_cmd = turnstile("production", &db);
    with_keys(&mut serve_cmd);
    let (_server, port) = serve(serve_cmd);
    let credentials = r#"{"email":"keys@example.com","password":"correct horse battery"}"#;
    post_json(port, "/auth/register", credentials);
    let first = kid_of_login(&post_json(port, "/auth/login", credentials));
    let mut rotate = turnstile("production", &db);
    with_keys(&mut rotate);
    let out = rotate.args(["keys", "rotate"]).output().expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new = stdout.trim().rsplit(' ').next().unwrap().to_string();
    assert_ne!(new, first);
    // The server reads the current key before it signs: the next login uses it, and
    // it is published beside the previous one.
    assert_eq!(
        kid_of_login(&post_json(port, "/auth/login", credentials)),
        new
    );
    let jwks = http_get(port, "/.well-known/jwks.json");
    assert!(jwks.contains(&new) && jwks.contains(&first), "{jwks}");
}

#[test]
fn openapi_into_a_pipe_closed_early_exits_quietly_without_a_panic() {
    let db = TempDb::new("openapi-pipe");
    let mut child = turnstile("development", &db)
        .arg("openapi")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn turnstile");
    // `turnstile openapi | head -c 0`: the reader is gone before anything is written.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
}

#[test]
fn a_command_that_fails_prints_its_error_once() {
    let db = TempDb::new("error-once");
    let out = turnstile("development", &db)
        .args(["create-admin", "--email", "not-an-address"])
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("--email:").count(), 1, "{stderr}");
    assert!(stderr.contains("turnstile: --email:"), "{stderr}");
}

#[test]
fn head_is_answered_as_get_with_the_access_log_on() {
    use std::io::Read;
    let db = TempDb::new("head");
    let mut cmd = turnstile("development", &db);
    // RUST_LOG=info (set by `turnstile`): the access log middleware is installed
    // outside the one that routes HEAD as GET.
    cmd.env("APP__SERVER__HOST", "127.0.0.1");
    let (_server, port) = serve(cmd);
    for (path, status) in [("/openapi.json", "200"), ("/api/profile", "401")] {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        write!(s, "HEAD {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        let status_line = answer.lines().next().unwrap_or_default();
        assert!(
            status_line.contains(&format!(" {status} ")),
            "{path}: {answer}"
        );
        let (head, body) = answer.split_once("\r\n\r\n").expect("a head");
        assert!(head.contains("content-length: "), "{path}: {head}");
        assert!(body.is_empty(), "{path}: a body after HEAD: {body}");
    }
}
