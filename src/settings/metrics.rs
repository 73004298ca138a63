//! `[metrics]`: the Prometheus listener, never on the public port.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct MetricsSettings {
    pub enabled: bool,
    pub host: String,
    pub port: u16,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        MetricsSettings {
            enabled: false,
            host: "127.0.0.1".into(),
            port: 9464,
        }
    }
}
