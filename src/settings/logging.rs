//! `[log]`: how log lines are written.

use serde::Deserialize;

use super::SettingsError;

#[derive(Debug, Clone, Default)]
pub struct LogSettings {
    pub format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// `text` (or nothing) or `json`, in any case.
    pub fn parse(raw: &str) -> Option<LogFormat> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "text" | "" => Some(LogFormat::Text),
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    }
}

/// `[log]` as written.
#[derive(Debug, Deserialize)]
pub(super) struct Raw {
    format: String,
}

impl Default for Raw {
    fn default() -> Self {
        Raw {
            format: "text".into(),
        }
    }
}

impl LogSettings {
    pub(super) fn parse(raw: Raw) -> Result<LogSettings, SettingsError> {
        let format = LogFormat::parse(&raw.format).ok_or(SettingsError::Invalid {
            key: "APP__LOG__FORMAT",
            reason: "must be \"text\" or \"json\"".into(),
        })?;
        Ok(LogSettings { format })
    }
}

#[cfg(test)]
mod tests {
    use super::LogFormat;

    #[test]
    fn the_log_format_is_text_or_json_in_any_case() {
        assert_eq!(LogFormat::parse(" JSON "), Some(LogFormat::Json));
        assert_eq!(LogFormat::parse("text"), Some(LogFormat::Text));
        assert_eq!(LogFormat::parse(""), Some(LogFormat::Text));
        assert_eq!(LogFormat::parse("logfmt"), None);
    }
}
