//! `[bootstrap]`: the first admin, created at start when both are set and no admin
//! exists.

use serde::Deserialize;

use crate::secret::Secret;

/// Read as given: the bootstrap parses the address and the password with the domain's
/// rules (settings and domain share the bottom layer, so neither imports the other),
/// and refuses to start when they break them.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BootstrapSettings {
    pub admin_email: Option<String>,
    pub admin_password: Option<Secret>,
}
