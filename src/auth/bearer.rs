//! The `Bearer` credentials scheme, parsed case-insensitively as RFC 9110 §11.1 requires
//! (actix-web-httpauth's own parser only accepts the exact spelling `Bearer`).

use std::fmt;

use actix_web::http::header::{HeaderValue, InvalidHeaderValue, TryIntoHeaderValue};
use actix_web_httpauth::headers::authorization::{ParseError, Scheme};

#[derive(Clone)]
pub struct BearerToken(String);

impl BearerToken {
    pub fn token(&self) -> &str {
        &self.0
    }
}

/// RFC 6750 §2.1 token68 characters, as a table: this runs over every byte of every
/// token on every request.
const TOKEN68: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] =
            c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
        b += 1;
    }
    table
};

fn is_token68(token: &[u8]) -> bool {
    let padding = token.iter().rev().take_while(|&&b| b == b'=').count();
    let body = &token[..token.len() - padding];
    !body.is_empty() && body.iter().all(|&b| TOKEN68[b as usize])
}

impl Scheme for BearerToken {
    fn parse(header: &HeaderValue) -> Result<Self, ParseError> {
        let value = header.as_bytes();
        let space = value
            .iter()
            .position(|&b| b == b' ')
            .ok_or(ParseError::Invalid)?;
        if !value[..space].eq_ignore_ascii_case(b"bearer") {
            return Err(ParseError::MissingScheme);
        }
        let token = value[space + 1..].trim_ascii();
        if !is_token68(token) {
            return Err(ParseError::Invalid);
        }
        // token68 is ASCII, so this cannot fail once the table accepted every byte.
        let token = std::str::from_utf8(token).map_err(|_| ParseError::Invalid)?;
        Ok(BearerToken(token.to_string()))
    }
}

impl TryIntoHeaderValue for BearerToken {
    type Error = InvalidHeaderValue;

    fn try_into_value(self) -> Result<HeaderValue, Self::Error> {
        HeaderValue::from_str(&format!("Bearer {}", self.0))
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Bearer [redacted]")
    }
}

impl fmt::Display for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Bearer [redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: &str) -> Result<BearerToken, ParseError> {
        BearerToken::parse(&HeaderValue::from_str(v).unwrap())
    }

    #[test]
    fn the_scheme_name_is_case_insensitive() {
        for v in [
            "Bearer abc.def.ghi",
            "bearer abc.def.ghi",
            "BEARER abc.def.ghi",
        ] {
            assert_eq!(parse(v).unwrap().token(), "abc.def.ghi");
        }
    }

    #[test]
    fn token68_characters_and_trailing_padding_are_accepted() {
        let all = "AZaz09-._~+/";
        assert_eq!(
            parse(&format!("Bearer {all}==")).unwrap().token(),
            format!("{all}==")
        );
        assert!(parse("Bearer ===").is_err());
    }

    #[test]
    fn other_schemes_and_empty_tokens_are_rejected() {
        assert!(parse("Basic dXNlcjpwYXNz").is_err());
        assert!(parse("Bearer").is_err());
        assert!(parse("Bearer ").is_err());
        assert!(parse("Bearer a b").is_err());
        assert!(parse("Bearerabc").is_err());
        assert!(parse("Bearer a=b").is_err());
        assert!(parse("Bearer a\"b").is_err());
    }
}
