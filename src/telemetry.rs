//! Logging set-up: env_logger, `info` by default, `RUST_LOG` to change it, and
//! `APP__LOG__FORMAT=json` for one JSON object per line. Lines written while a request
//! is handled carry its id.

use std::io::Write;

use actix_web::http::header::HeaderValue;

use crate::settings::LogFormat;

tokio::task_local! {
    /// The current request's id, for log lines written while handling it (set by
    /// the request-context middleware; kept as the header value it echoes, which is
    /// checked ASCII, so that setting it costs no copy).
    pub static REQUEST_ID: HeaderValue;
}

/// The id of the request being handled on this task, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID
        .try_with(|id| id.to_str().ok().map(str::to_owned))
        .ok()
        .flatten()
}

pub fn init() {
    init_with(LogFormat::Text);
}

/// For tests: lines go through the test harness's output capture (shown only for a
/// failing test), at `warn` unless `RUST_LOG` says otherwise.
pub fn init_for_tests() {
    let env = env_logger::Env::default().default_filter_or("warn");
    let _ = builder(env, LogFormat::Text).is_test(true).try_init();
}

pub fn init_with(format: LogFormat) {
    let env = env_logger::Env::default().default_filter_or("info");
    // try_init: tests may call this more than once.
    let _ = builder(env, format).try_init();
}

fn builder(env: env_logger::Env<'_>, format: LogFormat) -> env_logger::Builder {
    let mut builder = env_logger::Builder::from_env(env);
    match format {
        LogFormat::Json => {
            builder.format(|buf, record| {
                let mut line = serde_json::json!({
                    "ts": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    "level": record.level().as_str(),
                    "target": record.target(),
                    "message": record.args().to_string(),
                });
                if let Some(id) = current_request_id() {
                    line["request_id"] = serde_json::Value::String(id);
                }
                writeln!(buf, "{line}")
            });
        }
        LogFormat::Text => {
            builder.format(|buf, record| {
                let ts = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                match current_request_id() {
                    Some(id) => writeln!(
                        buf,
                        "[{ts} {} {}] [{id}] {}",
                        record.level(),
                        record.target(),
                        record.args()
                    ),
                    None => writeln!(
                        buf,
                        "[{ts} {} {}] {}",
                        record.level(),
                        record.target(),
                        record.args()
                    ),
                }
            });
        }
    }
    builder
}
