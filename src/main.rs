//! The `turnstile` binary: `serve` (default), `migrate`, `create-admin`, `keys rotate`,
//! `healthcheck`, `openapi`.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use turnstile::db::Db;
use turnstile::domain::{Email, Password};
use turnstile::services::bootstrap::create_admin;
use turnstile::services::keys::rotate_from_cli;
use turnstile::settings::{Settings, SettingsError};
use turnstile::startup::Application;

#[derive(Parser)]
#[command(
    name = "turnstile",
    version,
    about = "Authentication and role-based access control service"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create an admin account. The password is read from stdin, or from the
    /// environment variable named by --password-env; never from the command line.
    CreateAdmin {
        #[arg(long)]
        email: String,
        #[arg(long, value_name = "VAR")]
        password_env: Option<String>,
    },
    /// Manage the signing keys of EdDSA, ES256 and RS256 access tokens.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Exit 0 when the local server answers GET /health with 200 (container probes).
    Healthcheck,
    /// Print the OpenAPI document (what GET /openapi.json serves) and exit.
    Openapi,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Make a new current signing key: new tokens are signed with it at once (running
    /// instances follow within a second on PostgreSQL, at their next login or refresh
    /// otherwise); tokens of the previous key keep working until they expire.
    Rotate,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => return configuration_error(e),
    };
    turnstile::telemetry::init_with(settings.log.format);
    let command = cli.command.unwrap_or(Command::Serve);
    // Only the server needs the secret (`migrate` and `create-admin` run without it),
    // so it is checked here rather than at load; a missing or short one is still a
    // configuration error, with that status.
    if matches!(command, Command::Serve) {
        if let Err(e) = settings.ensure_jwt_secret() {
            return configuration_error(e);
        }
    }
    let result = match command {
        Command::Serve => serve(settings),
        Command::Migrate => migrate(&settings),
        Command::Healthcheck => healthcheck(&settings),
        Command::Openapi => openapi(),
        Command::Keys {
            command: KeysCommand::Rotate,
        } => rotate_keys(&settings),
        Command::CreateAdmin {
            email,
            password_env,
        } => admin(&settings, &email, password_env.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Once, on stderr: a log line as well would print it twice there.
            eprintln!("turnstile: {e}");
            ExitCode::FAILURE
        }
    }
}

fn configuration_error(e: SettingsError) -> ExitCode {
    eprintln!("turnstile: configuration error: {e}");
    ExitCode::from(2)
}

/// Writes `text` and a newline to stdout. A reader that stopped reading
/// (`turnstile openapi | head`) is not an error: what it wanted, it has.
fn print_out(text: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        written => written.map_err(|e| format!("could not write to stdout: {e}")),
    }
}

fn serve(settings: Settings) -> Result<(), String> {
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings)
            .await
            .map_err(|e| e.to_string())?;
        app.run_until_stopped().await.map_err(|e| e.to_string())
    })
}

fn migrate(settings: &Settings) -> Result<(), String> {
    let db = Db::connect(&settings.database).map_err(|e| e.to_string())?;
    let applied = db.migrate().map_err(|e| e.to_string())?;
    if applied.is_empty() {
        print_out("database is up to date")
    } else {
        print_out(&format!("applied migrations: {}", applied.join(", ")))
    }
}

fn admin(settings: &Settings, email: &str, password_env: Option<&str>) -> Result<(), String> {
    let email = Email::parse(email).map_err(|e| format!("--email: {e}"))?;
    let raw = match password_env {
        Some(var) => {
            std::env::var(var).map_err(|_| format!("environment variable {var} is not set"))?
        }
        None => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| format!("could not read the password from stdin: {e}"))?;
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    let password = Password::parse(raw).map_err(|e| format!("password: {e}"))?;
    let db = Db::connect(&settings.database).map_err(|e| e.to_string())?;
    db.migrate().map_err(|e| e.to_string())?;
    let user = create_admin(&db, &email, &password, settings.auth.bcrypt_cost.get())
        .map_err(|e| e.to_string())?;
    print_out(&format!("created admin {} (id {})", user.email, user.id))
}

fn rotate_keys(settings: &Settings) -> Result<(), String> {
    // The private key is sealed under the server secret: a made-up one would seal it
    // for nobody.
    if settings.auth.jwt_secret.expose().is_empty() {
        return Err("keys rotate needs APP__AUTH__JWT_SECRET (the server's secret)".into());
    }
    let db = Db::connect(&settings.database).map_err(|e| e.to_string())?;
    db.migrate().map_err(|e| e.to_string())?;
    match rotate_from_cli(&db, settings) {
        Ok(Some(kid)) => print_out(&format!("rotated: new tokens are signed with key {kid}")),
        Ok(None) => Err("no key was made".into()),
        Err(e) => Err(e.to_string()),
    }
}

fn openapi() -> Result<(), String> {
    let doc = turnstile::routes::openapi_document()
        .to_pretty_json()
        .map_err(|e| e.to_string())?;
    print_out(&doc)
}

fn healthcheck(settings: &Settings) -> Result<(), String> {
    use std::io::Read;
    use std::time::Duration;
    // A wildcard bind address is reached through loopback.
    let host = match settings.server.host.as_str() {
        "0.0.0.0" | "::" | "[::]" => "127.0.0.1",
        h => h,
    };
    let addr = format!("{host}:{}", settings.server.port);
    let timeout = Duration::from_secs(3);
    let sock = std::net::ToSocketAddrs::to_socket_addrs(&addr)
        .map_err(|e| format!("{addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("{addr}: no address"))?;
    let mut stream =
        std::net::TcpStream::connect_timeout(&sock, timeout).map_err(|e| format!("{addr}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    write!(stream, "GET /health HTTP/1.0\r\nHost: {host}\r\n\r\n").map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| e.to_string())?;
    let status_ok = response
        .lines()
        .next()
        .is_some_and(|l| l.split_whitespace().nth(1) == Some("200"));
    if status_ok {
        Ok(())
    } else {
        Err(format!(
            "unhealthy: {}",
            response.lines().next().unwrap_or("no answer")
        ))
    }
}
