//! Opaque refresh tokens and random identifiers: CSPRNG bytes, URL-safe, stored only as
//! SHA-256. A rotated token's successor is derived from it under the server secret, so a
//! token replayed within the reuse interval gets the very successor already issued
//! instead of starting a second chain.

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::secret::{random_url_safe, Secret};

/// A new refresh token (the first of a session): 256 bits of entropy.
pub fn new_refresh_token() -> String {
    random_url_safe(32)
}

/// The token that replaces `parent` when it is rotated: HMAC-SHA256 under the server
/// secret, as unguessable as a random token to anyone without the secret and the
/// parent, and the same every time it is computed.
pub fn successor(key: &Secret, parent: &str) -> String {
    let mac = key.mac("turnstile refresh successor v1", parent.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac)
}

/// What the database stores in place of a refresh token.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url_safe(s: &str) -> bool {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    }

    #[test]
    fn refresh_tokens_are_long_unique_and_url_safe() {
        let a = new_refresh_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, new_refresh_token());
        assert!(url_safe(&a));
    }

    #[test]
    fn a_successor_is_stable_keyed_and_shaped_like_a_token() {
        let key = Secret::new("0123456789abcdef0123456789abcdef");
        let parent = new_refresh_token();
        let next = successor(&key, &parent);
        assert_eq!(next, successor(&key, &parent));
        assert_ne!(next, parent);
        assert_ne!(
            next,
            successor(&Secret::new("another key entirely, 32 bytes!"), &parent)
        );
        assert_ne!(successor(&key, &next), next, "each link of a chain differs");
        assert_eq!(next.len(), 43);
        assert!(url_safe(&next));
    }

    #[test]
    fn the_stored_hash_is_stable_and_not_the_token() {
        let t = new_refresh_token();
        assert_eq!(hash_token(&t), hash_token(&t));
        assert_ne!(hash_token(&t), t);
        assert_eq!(hash_token(&t).len(), 64);
    }
}
