//! A string that never shows up in `Debug` output or logs.

use base64::Engine;
use rand::RngCore;
use serde::Deserialize;

#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// A URL-safe random secret of `bytes` bytes of entropy.
    pub fn random(bytes: usize) -> Self {
        let mut buf = vec![0u8; bytes];
        rand::rng().fill_bytes(&mut buf);
        Secret(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_value() {
        let s = Secret::new("hunter2-hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn random_secrets_differ_and_are_long_enough() {
        let (a, b) = (Secret::random(32), Secret::random(32));
        assert_ne!(a.expose(), b.expose());
        assert!(a.expose().len() >= 32);
    }
}
