//! `[audit]`: the audit trail's housekeeping.

use serde::Deserialize;

use super::values::{Days, MAX_DAYS};
use super::SettingsError;

#[derive(Debug, Clone)]
pub struct AuditSettings {
    /// Events older than this are deleted by the periodic purge; 0 = keep them forever.
    pub retention_days: Days,
}

/// `[audit]` as written.
#[derive(Debug, Deserialize)]
pub(super) struct Raw {
    retention_days: u64,
}

impl Default for Raw {
    fn default() -> Self {
        Raw {
            retention_days: 365,
        }
    }
}

impl AuditSettings {
    pub(super) fn parse(raw: Raw) -> Result<AuditSettings, SettingsError> {
        let retention_days =
            Days::try_from(raw.retention_days).map_err(|_| SettingsError::Invalid {
                key: "APP__AUDIT__RETENTION_DAYS",
                reason: format!("must be between 0 (forever) and {MAX_DAYS}"),
            })?;
        Ok(AuditSettings { retention_days })
    }
}
