//! Secrets kept at rest in the database (TOTP secrets today), sealed with an AEAD
//! (XChaCha20-Poly1305) under a key derived from the server secret with HKDF-SHA256.
//!
//! Each sealed value carries its own random 192-bit nonce, and is bound to what it
//! belongs to (`aad`, e.g. the user id), so a sealed value copied onto another row does
//! not open. Changing the server secret makes every sealed value unreadable: see
//! `docs/security.md` ("MFA at rest") for what that means for enrolled users.

use base64::Engine;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;

use crate::secret::Secret;

/// Written in front of every sealed value, so a later scheme can be told apart.
const VERSION: &str = "v1.";
const NONCE_LEN: usize = 24;

pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl Sealer {
    /// A sealer for one `purpose` (domain separation: the key for TOTP secrets opens
    /// nothing else).
    pub fn new(server_secret: &Secret, purpose: &str) -> Sealer {
        let hk = Hkdf::<Sha256>::new(
            Some(b"turnstile sealed values"),
            server_secret.expose().as_bytes(),
        );
        let mut key = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's 8160-byte limit.
        hk.expand(purpose.as_bytes(), &mut key)
            .unwrap_or_else(|_| unreachable!("32 bytes is a valid HKDF-SHA256 output length"));
        Sealer {
            cipher: XChaCha20Poly1305::new(&key.into()),
        }
    }

    /// `plaintext` sealed and bound to `aad`, as text for a database column.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .unwrap_or_else(|_| {
                unreachable!("XChaCha20-Poly1305 seals any message that fits in memory")
            });
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!(
            "{VERSION}{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(out)
        )
    }

    /// The plaintext, or `None` when the value was sealed under another key, for
    /// another `aad`, or was tampered with.
    pub fn open(&self, sealed: &str, aad: &[u8]) -> Option<Vec<u8>> {
        let body = sealed.strip_prefix(VERSION)?;
        let raw = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(body)
            .ok()?;
        if raw.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(secret: &str) -> Sealer {
        Sealer::new(&Secret::new(secret), "test purpose")
    }

    #[test]
    fn a_sealed_value_opens_with_the_same_key_and_binding_only() {
        let s = sealer("0123456789abcdef0123456789abcdef");
        let sealed = s.seal(b"JBSWY3DPEHPK3PXP", b"user:1");
        assert_eq!(
            s.open(&sealed, b"user:1").as_deref(),
            Some(&b"JBSWY3DPEHPK3PXP"[..])
        );
        assert_eq!(s.open(&sealed, b"user:2"), None, "bound to its row");
        let other = sealer("another secret, also 32 bytes long!!");
        assert_eq!(
            other.open(&sealed, b"user:1"),
            None,
            "another server secret"
        );
        let other_purpose = Sealer::new(&Secret::new("0123456789abcdef0123456789abcdef"), "x");
        assert_eq!(
            other_purpose.open(&sealed, b"user:1"),
            None,
            "another purpose"
        );
    }

    #[test]
    fn the_sealed_text_never_shows_the_plaintext_and_differs_every_time() {
        let s = sealer("0123456789abcdef0123456789abcdef");
        let (a, b) = (
            s.seal(b"JBSWY3DPEHPK3PXP", b""),
            s.seal(b"JBSWY3DPEHPK3PXP", b""),
        );
        assert_ne!(a, b, "a fresh nonce each time");
        assert!(!a.contains("JBSWY3DP"));
    }

    #[test]
    fn tampered_or_garbage_values_do_not_open() {
        let s = sealer("0123456789abcdef0123456789abcdef");
        let sealed = s.seal(b"secret", b"");
        let mut chars: Vec<char> = sealed.chars().collect();
        let last = chars.len() - 1;
        chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
        let tampered: String = chars.into_iter().collect();
        assert_eq!(s.open(&tampered, b""), None);
        for garbage in ["", "v1.", "v1.AAAA", "v0.abc", "not sealed"] {
            assert_eq!(s.open(garbage, b""), None, "{garbage}");
        }
    }
}
