//! `Password`: a candidate password that meets the policy (length, no control
//! characters). Never printed.

pub const MIN_CHARS: usize = 8;
/// Generous on purpose (passphrases); the pre-hash makes length irrelevant to bcrypt,
/// and the cap only stops absurd inputs.
pub const MAX_CHARS: usize = 1024;

#[derive(Clone)]
pub struct Password(String);

/// Why a new password was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("password must be at least {MIN_CHARS} characters")]
    TooShort,
    #[error("password must be at most {MAX_CHARS} characters")]
    TooLong,
    #[error("password must not be only whitespace")]
    OnlyWhitespace,
    #[error("password must not contain control characters")]
    ControlCharacters,
}

impl Password {
    /// Checks the policy for a *new* password (registration, change, admin create).
    pub fn parse(raw: String) -> Result<Password, PasswordError> {
        let chars = raw.chars().count();
        if chars < MIN_CHARS {
            return Err(PasswordError::TooShort);
        }
        if chars > MAX_CHARS {
            return Err(PasswordError::TooLong);
        }
        if raw.trim().is_empty() {
            return Err(PasswordError::OnlyWhitespace);
        }
        // NUL, tabs, newlines and other control characters: never typed on purpose,
        // often a sign of a broken client, and NUL ends the password for bcrypt-based
        // verifiers elsewhere.
        if raw.chars().any(char::is_control) {
            return Err(PasswordError::ControlCharacters);
        }
        Ok(Password(raw))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_passwords_are_rejected() {
        assert!(Password::parse("1234567".into()).is_err());
        assert!(Password::parse("12345678".into()).is_ok());
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        // 8 characters, 24 bytes.
        assert!(Password::parse("密码密码密码密码".into()).is_ok());
        // 7 characters, 28 bytes: still too short.
        assert!(Password::parse("😀😀😀😀😀😀😀".into()).is_err());
    }

    #[test]
    fn sixty_four_characters_of_any_script_are_accepted() {
        assert!(Password::parse("ж".repeat(64)).is_ok());
        assert!(Password::parse("🔑".repeat(64)).is_ok());
    }

    #[test]
    fn whitespace_only_and_absurd_lengths_are_rejected() {
        assert!(Password::parse(" ".repeat(12)).is_err());
        assert!(Password::parse("a".repeat(MAX_CHARS + 1)).is_err());
    }

    #[test]
    fn control_characters_are_rejected() {
        for bad in [
            "\0".repeat(8),
            "password\0".into(),
            "pass\tword1".into(),
            "password1\n".into(),
            "pass\u{7f}word".into(),
            "pass\u{85}word".into(),
        ] {
            assert!(Password::parse(bad.clone()).is_err(), "{bad:?}");
        }
        assert!(Password::parse("pass word with spaces".into()).is_ok());
    }

    #[test]
    fn each_refusal_says_what_is_wrong() {
        let says = |raw: String| Password::parse(raw).unwrap_err().to_string();
        assert_eq!(
            says("short".into()),
            "password must be at least 8 characters"
        );
        assert_eq!(
            says("a".repeat(1025)),
            "password must be at most 1024 characters"
        );
        assert_eq!(says(" ".repeat(8)), "password must not be only whitespace");
        assert_eq!(
            says("pass\tword".into()),
            "password must not contain control characters"
        );
    }

    #[test]
    fn debug_output_hides_the_password() {
        let p = Password::parse("correct horse".into()).unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }
}
