//! Password hashing: bcrypt over a SHA-256 pre-hash, always off the async workers.
//!
//! bcrypt reads at most 72 bytes and stops at a NUL byte, so long passphrases would
//! silently collide. We therefore hash `base64(SHA-256(password))` (44 ASCII bytes,
//! no NUL): every byte of the password counts, at bcrypt's cost.

use std::sync::Arc;

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::credentials::hashpool::{HashPool, PoolError};
use crate::domain::Password;

/// Why a password could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error(transparent)]
    Pool(#[from] PoolError),
    #[error("bcrypt: {0}")]
    Bcrypt(#[from] bcrypt::BcryptError),
}

#[derive(Clone)]
pub struct Hasher {
    cost: u32,
    pool: Arc<HashPool>,
    /// Verified against when the account does not exist, so an unknown email
    /// costs exactly what a wrong password does.
    dummy_hash: String,
}

fn prehash(password: &str) -> String {
    let digest = Sha256::digest(password.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(digest)
}

/// Blocking: hashes at `cost`.
pub fn hash_blocking(password: &str, cost: u32) -> Result<String, HashError> {
    Ok(bcrypt::hash(prehash(password), cost)?)
}

/// Blocking: a malformed stored hash counts as a mismatch, not as an error.
pub fn verify_blocking(password: &str, hash: &str) -> bool {
    bcrypt::verify(prehash(password), hash).unwrap_or(false)
}

impl Hasher {
    /// Blocking (computes the dummy hash once at start).
    pub fn new(cost: u32, pool: Arc<HashPool>) -> Result<Hasher, HashError> {
        let dummy_hash = hash_blocking("turnstile-dummy-password-for-timing", cost)?;
        Ok(Hasher {
            cost,
            pool,
            dummy_hash,
        })
    }

    pub fn pool(&self) -> &HashPool {
        &self.pool
    }

    pub fn cost(&self) -> u32 {
        self.cost
    }

    pub async fn hash(&self, password: Password) -> Result<String, HashError> {
        let cost = self.cost;
        self.pool
            .run(move || hash_blocking(password.expose(), cost))
            .await?
    }

    /// Checks `password` against `hash`, or against the dummy hash when there is
    /// no account, so both cases take the same time. Returns false for the latter.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, PoolError> {
        let dummy = self.dummy_hash.clone();
        self.pool
            .run(move || match hash {
                Some(h) => verify_blocking(&password, &h),
                None => {
                    let _ = verify_blocking(&password, &dummy);
                    false
                }
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let h = hash_blocking("correct horse battery staple", 4).unwrap();
        assert!(verify_blocking("correct horse battery staple", &h));
        assert!(!verify_blocking("correct horse battery stapl", &h));
    }

    #[test]
    fn passwords_sharing_the_first_72_bytes_are_not_interchangeable() {
        let base = "x".repeat(72);
        let h = hash_blocking(&format!("{base}-one"), 4).unwrap();
        assert!(!verify_blocking(&format!("{base}-two"), &h));
        assert!(verify_blocking(&format!("{base}-one"), &h));
    }

    #[test]
    fn a_corrupt_hash_is_a_mismatch_not_a_panic() {
        assert!(!verify_blocking("whatever1", "not-a-bcrypt-hash"));
    }
}
