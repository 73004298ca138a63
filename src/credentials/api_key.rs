//! API key text: `tsk_` and 256 random bits in base64url. Only its SHA-256 is kept.

use crate::secret::random_url_safe;

/// What every API key starts with.
pub const PREFIX: &str = "tsk_";
/// `tsk_` and 32 random bytes in unpadded base64url.
const LENGTH: usize = PREFIX.len() + 43;
/// How much of a key its listing shows (`tsk_` and 8 more): enough to tell keys
/// apart, far too little to guess the rest.
pub const SHOWN: usize = 12;

pub fn new_key() -> String {
    format!("{PREFIX}{}", random_url_safe(32))
}

/// True for what claims to be an API key rather than a JWT.
pub fn looks_like_key(token: &str) -> bool {
    token.starts_with(PREFIX)
}

/// True when `key` has exactly the shape turnstile's keys have.
pub fn is_well_formed(key: &str) -> bool {
    key.len() == LENGTH
        && key.starts_with(PREFIX)
        && key[PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_256_random_bits_behind_their_prefix() {
        let (a, b) = (new_key(), new_key());
        assert_ne!(a, b);
        assert!(a.starts_with("tsk_") && is_well_formed(&a), "{a}");
        assert!(looks_like_key("tsk_x") && !looks_like_key("eyJhbGciOi"));
        for bad in [
            "tsk_",
            "tsk_short",
            &format!("{a}x"),
            &a.replace("tsk_", "tsx_"),
            &format!("tsk_{}", "!".repeat(43)),
        ] {
            assert!(!is_well_formed(bad), "{bad}");
        }
    }
}
