//! Secrets and randomness: a string that never shows up in `Debug` output or logs,
//! the keyed hashes derived from it, and random identifiers.

use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::Deserialize;
use sha2::Sha256;

#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// A URL-safe random secret of `bytes` bytes of entropy.
    pub fn random(bytes: usize) -> Self {
        Secret(random_url_safe(bytes))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// HMAC-SHA256 of `data` under this secret, domain-separated by `label`, so that
    /// one server secret can key several unrelated uses without their outputs ever
    /// being interchangeable.
    pub fn mac(&self, label: &str, data: &[u8]) -> [u8; 32] {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = Hmac::<Sha256>::new_from_slice(self.0.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(label.as_bytes());
        mac.update(&[0]);
        mac.update(data);
        mac.finalize().into_bytes().into()
    }
}

/// `bytes` bytes from the operating system's CSPRNG, base64url without padding.
pub fn random_url_safe(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// A new identifier (session, token, request, instance): 128 bits, unguessable.
pub fn new_id() -> String {
    random_url_safe(16)
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

    #[test]
    fn keyed_hashes_depend_on_key_label_and_data() {
        let (a, b) = (Secret::new("key one"), Secret::new("key two"));
        assert_eq!(a.mac("x", b"data"), a.mac("x", b"data"));
        assert_ne!(a.mac("x", b"data"), b.mac("x", b"data"));
        assert_ne!(a.mac("x", b"data"), a.mac("y", b"data"));
        assert_ne!(a.mac("x", b"data"), a.mac("x", b"datb"));
        // The label and the data cannot be shifted into each other.
        assert_ne!(a.mac("ab", b"c"), a.mac("a", b"bc"));
    }
}
