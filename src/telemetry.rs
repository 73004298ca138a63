//! Logging set-up: env_logger, `info` by default, `RUST_LOG` to change it, and
//! `APP__LOG__FORMAT=json` for one JSON object per line. Lines written while a request
//! is handled carry its id.

use std::io::Write;

use crate::middleware::current_request_id;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    pub fn parse(raw: &str) -> Option<LogFormat> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "text" | "" => Some(LogFormat::Text),
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    }
}

pub fn init() {
    init_with(LogFormat::Text);
}

pub fn init_with(format: LogFormat) {
    let env = env_logger::Env::default().default_filter_or("info");
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
    // try_init: tests may call this more than once.
    let _ = builder.try_init();
}
