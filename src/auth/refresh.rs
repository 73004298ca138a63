//! Opaque refresh tokens and random identifiers: CSPRNG bytes, URL-safe, stored only as SHA-256.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

fn random_url_safe(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// A new refresh token: 256 bits of entropy.
pub fn new_refresh_token() -> String {
    random_url_safe(32)
}

/// A new session id or token id: 128 bits, unguessable.
pub fn new_id() -> String {
    random_url_safe(16)
}

/// What the database stores in place of a refresh token.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_are_long_unique_and_url_safe() {
        let a = new_refresh_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, new_refresh_token());
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn the_stored_hash_is_stable_and_not_the_token() {
        let t = new_refresh_token();
        assert_eq!(hash_token(&t), hash_token(&t));
        assert_ne!(hash_token(&t), t);
        assert_eq!(hash_token(&t).len(), 64);
    }
}
