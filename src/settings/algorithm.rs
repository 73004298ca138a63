//! `SigningAlgorithm`: how access tokens are signed (`APP__AUTH__SIGNING_ALGORITHM`).

/// HS256 signs with the server secret (nothing to publish); the others sign with key
/// pairs turnstile makes and keeps in the database, published at
/// `/.well-known/jwks.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlgorithm {
    Hs256,
    /// Ed25519.
    EdDsa,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys.
    Rs256,
}

impl SigningAlgorithm {
    /// The JOSE name (`alg`), as configured and sent in token headers and JWKs.
    pub fn name(self) -> &'static str {
        match self {
            SigningAlgorithm::Hs256 => "HS256",
            SigningAlgorithm::EdDsa => "EdDSA",
            SigningAlgorithm::Es256 => "ES256",
            SigningAlgorithm::Rs256 => "RS256",
        }
    }

    /// The configured name, exactly as JOSE spells it (case does not matter).
    pub fn parse(raw: &str) -> Option<SigningAlgorithm> {
        [
            SigningAlgorithm::Hs256,
            SigningAlgorithm::EdDsa,
            SigningAlgorithm::Es256,
            SigningAlgorithm::Rs256,
        ]
        .into_iter()
        .find(|a| a.name().eq_ignore_ascii_case(raw.trim()))
    }

    /// True for the algorithms that sign with key pairs of turnstile's own.
    pub fn is_asymmetric(self) -> bool {
        self != SigningAlgorithm::Hs256
    }
}

#[cfg(test)]
mod tests {
    use super::SigningAlgorithm as A;

    #[test]
    fn the_four_algorithms_parse_by_their_jose_names() {
        assert_eq!(A::parse("HS256"), Some(A::Hs256));
        assert_eq!(A::parse("EdDSA"), Some(A::EdDsa));
        assert_eq!(A::parse("eddsa"), Some(A::EdDsa));
        assert_eq!(A::parse(" ES256 "), Some(A::Es256));
        assert_eq!(A::parse("RS256"), Some(A::Rs256));
        for bad in ["", "none", "HS512", "ES384", "Ed25519"] {
            assert_eq!(A::parse(bad), None, "{bad}");
        }
        assert!(!A::Hs256.is_asymmetric() && A::Rs256.is_asymmetric());
    }
}
