//! `Amr`: how a session was authenticated (RFC 8176 authentication method
//! references), kept on the session and sent in every access token's `amr` claim.

/// A password alone, or a password and a one-time code (TOTP or recovery code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Amr {
    #[default]
    Password,
    PasswordAndOtp,
}

impl Amr {
    /// As stored in `sessions.amr`.
    pub fn as_str(self) -> &'static str {
        match self {
            Amr::Password => "pwd",
            Amr::PasswordAndOtp => "pwd otp",
        }
    }

    /// The stored text; anything unknown counts as the weakest method.
    pub fn from_stored(text: &str) -> Amr {
        match text {
            "pwd otp" => Amr::PasswordAndOtp,
            _ => Amr::Password,
        }
    }

    /// The `amr` claim: `["pwd"]` or `["pwd", "otp"]`.
    pub fn claim(self) -> Vec<String> {
        self.as_str().split(' ').map(str::to_string).collect()
    }

    /// From a token's `amr` claim (a token without one passed no second factor).
    pub fn from_claim(claim: &[String]) -> Amr {
        match claim.iter().any(|m| m == "otp") {
            true => Amr::PasswordAndOtp,
            false => Amr::Password,
        }
    }

    pub fn has_second_factor(self) -> bool {
        self == Amr::PasswordAndOtp
    }
}

#[cfg(test)]
mod tests {
    use super::Amr;

    #[test]
    fn amr_round_trips_through_the_column_and_the_claim() {
        for a in [Amr::Password, Amr::PasswordAndOtp] {
            assert_eq!(Amr::from_stored(a.as_str()), a);
            assert_eq!(Amr::from_claim(&a.claim()), a);
        }
        assert_eq!(Amr::PasswordAndOtp.claim(), vec!["pwd", "otp"]);
        assert_eq!(Amr::Password.claim(), vec!["pwd"]);
        assert_eq!(Amr::from_claim(&[]), Amr::Password);
        assert_eq!(Amr::from_stored("garbage"), Amr::Password);
    }
}
