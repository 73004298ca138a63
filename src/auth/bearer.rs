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

/// RFC 6750 §2.1 token68 characters.
fn is_token68(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

impl Scheme for BearerToken {
    fn parse(header: &HeaderValue) -> Result<Self, ParseError> {
        let value = header.to_str()?;
        let (scheme, rest) = value.split_once(' ').ok_or(ParseError::Invalid)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(ParseError::MissingScheme);
        }
        let token = rest.trim_start_matches(' ').trim_end();
        if !is_token68(token) {
            return Err(ParseError::Invalid);
        }
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
    fn other_schemes_and_empty_tokens_are_rejected() {
        assert!(parse("Basic dXNlcjpwYXNz").is_err());
        assert!(parse("Bearer").is_err());
        assert!(parse("Bearer ").is_err());
        assert!(parse("Bearer a b").is_err());
        assert!(parse("Bearerabc").is_err());
    }
}
