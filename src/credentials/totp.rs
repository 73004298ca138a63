//! Second-factor primitives: TOTP (RFC 6238: SHA-1, 6 digits, 30 s steps, one step
//! of drift either way, by totp-rs) and recovery codes. No database, no HTTP.

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};
use totp_rs::{Builder, Secret};

/// What TOTP secrets are sealed for (`Sealer::new`): the key opens nothing else.
pub const SEALING_PURPOSE: &str = "turnstile totp secret v1";

/// RFC 4226 §4 recommends 160 bits.
const SECRET_BYTES: usize = 20;
/// How many recovery codes a user holds.
pub const RECOVERY_CODES: usize = 10;
/// 16 characters of a 32-letter alphabet: 80 bits per code.
const RECOVERY_LEN: usize = 16;
/// RFC 4648 base32, lowercase: no 0/1/8/9, so nothing reads as O, l or B.
const RECOVERY_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";

/// What the label and the issuer parameter of an `otpauth://` URI must escape: the
/// URI's own delimiters and anything outside printable ASCII (`@` and `.` stay, as in
/// the Key URI Format's examples).
const LABEL: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b',')
    .add(b'/')
    .add(b':')
    .add(b';')
    .add(b'<')
    .add(b'=')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// A fresh TOTP secret: 160 random bits.
pub fn new_secret() -> Vec<u8> {
    let mut bytes = vec![0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// The secret as authenticator apps take it: RFC 4648 base32, no padding.
pub fn base32(secret: &[u8]) -> String {
    Secret::from(secret.to_vec()).to_base32()
}

/// `otpauth://totp/{issuer}:{account}?secret=...&issuer={issuer}` (Key URI Format).
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let issuer = utf8_percent_encode(issuer, LABEL).to_string();
    let account = utf8_percent_encode(account, LABEL);
    format!(
        "otpauth://totp/{issuer}:{account}?secret={}&issuer={issuer}",
        base32(secret)
    )
}

/// The time step (`unix_time / 30`) whose code `code` is, within one step of `now`,
/// or `None`. The caller accepts a step at most once (RFC 6238 §5.2).
pub fn matching_step(secret: &[u8], code: &str, now_unix: u64) -> Option<u64> {
    let totp = Builder::new().with_secret(secret.to_vec()).build().ok()?;
    totp.check(code, now_unix)
}

/// What a user typed as a second factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    /// Six digits: a TOTP code.
    Totp(String),
    /// A recovery code, normalised (lowercase, no separators).
    Recovery(String),
}

impl Code {
    /// Reads either kind; spaces and dashes are ignored, case does not matter.
    /// `None` for anything that is neither.
    pub fn parse(raw: &str) -> Option<Code> {
        let compact: String = raw
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect::<String>()
            .to_ascii_lowercase();
        if compact.len() == 6 && compact.bytes().all(|b| b.is_ascii_digit()) {
            return Some(Code::Totp(compact));
        }
        let recovery = compact.len() == RECOVERY_LEN
            && compact.bytes().all(|b| RECOVERY_ALPHABET.contains(&b));
        recovery.then_some(Code::Recovery(compact))
    }
}

/// Ten fresh recovery codes, shown once: `xxxx-xxxx-xxxx-xxxx`.
pub fn new_recovery_codes() -> Vec<String> {
    let mut rng = rand::rng();
    (0..RECOVERY_CODES)
        .map(|_| {
            let chars: Vec<char> = (0..RECOVERY_LEN)
                .map(|_| RECOVERY_ALPHABET[rng.random_range(0..RECOVERY_ALPHABET.len())] as char)
                .collect();
            chars
                .chunks(4)
                .map(|c| c.iter().collect::<String>())
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect()
}

/// What the database keeps of a recovery code: SHA-256 over the user and the
/// normalised code (80 random bits each, so a fast hash is enough).
pub fn hash_recovery_code(user_id: i64, normalised: &str) -> String {
    let digest = Sha256::digest(format!("turnstile recovery code v1|{user_id}|{normalised}"));
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 seed, truncated to six digits.
    #[test]
    fn codes_match_the_rfc_6238_test_vectors() {
        let seed = b"12345678901234567890";
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(matching_step(seed, code, time), Some(time / 30), "{time}");
        }
    }

    #[test]
    fn one_step_of_drift_is_accepted_either_way_and_no_more() {
        let seed = b"12345678901234567890";
        // 287082 is the code of step 1 (t = 30..59).
        assert_eq!(matching_step(seed, "287082", 89), Some(1));
        assert_eq!(matching_step(seed, "287082", 0), Some(1));
        assert_eq!(matching_step(seed, "287082", 90), None);
        assert_eq!(matching_step(seed, "000000", 59), None);
        assert_eq!(matching_step(seed, "28708", 59), None);
    }

    #[test]
    fn the_otpauth_uri_names_issuer_and_account_and_escapes_delimiters() {
        let secret = b"12345678901234567890";
        assert_eq!(
            otpauth_uri("turnstile", "alice@example.com", secret),
            "otpauth://totp/turnstile:alice@example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=turnstile"
        );
        let odd = otpauth_uri("My App", "a+b@example.com", secret);
        assert!(
            odd.starts_with("otpauth://totp/My%20App:a%2Bb@example.com?"),
            "{odd}"
        );
        assert!(odd.ends_with("&issuer=My%20App"), "{odd}");
    }

    #[test]
    fn secrets_are_160_random_bits() {
        let (a, b) = (new_secret(), new_secret());
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
        assert_eq!(base32(&a).len(), 32);
    }

    #[test]
    fn recovery_codes_are_ten_distinct_readable_codes() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 10);
        for c in &codes {
            assert_eq!(c.len(), 19, "{c}");
            assert_eq!(Code::parse(c), Some(Code::Recovery(c.replace('-', ""))));
        }
    }

    #[test]
    fn codes_are_read_whatever_the_spacing_and_case() {
        assert_eq!(Code::parse(" 123 456 "), Some(Code::Totp("123456".into())));
        assert_eq!(
            Code::parse("ABCD-EFGH-2345-6723"),
            Some(Code::Recovery("abcdefgh23456723".into()))
        );
        for bad in [
            "",
            "12345",
            "1234567",
            "abcd-efgh-2345-672",
            "abcd-efgh-2345-6781",
            "１２３４５６",
        ] {
            assert_eq!(Code::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn recovery_code_hashes_depend_on_the_user_and_hide_the_code() {
        let h = hash_recovery_code(1, "abcdefgh23456723");
        assert_eq!(h, hash_recovery_code(1, "abcdefgh23456723"));
        assert_ne!(h, hash_recovery_code(2, "abcdefgh23456723"));
        assert!(!h.contains("abcdefgh"));
    }
}
