//! Signing key pairs for EdDSA (Ed25519), ES256 (P-256) and RS256 (RSA-2048): made
//! with the RustCrypto crates, used through jsonwebtoken, published as JWKs. No
//! database here: `KeyRing` is built from stored rows and swapped in whole.

use chrono::{Duration, NaiveDateTime};
use jsonwebtoken::jwk::{Jwk, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use rand::RngCore;

use crate::settings::SigningAlgorithm;

/// What private keys are sealed for (`Sealer::new`): the key opens nothing else.
pub const SEALING_PURPOSE: &str = "turnstile signing key v1";

/// RSA modulus size: 2048 bits (NIST SP 800-57: good beyond 2030 for signatures that
/// live minutes).
const RSA_BITS: usize = 2048;

/// The jsonwebtoken algorithm of a configured one.
pub fn jose(alg: SigningAlgorithm) -> Algorithm {
    match alg {
        SigningAlgorithm::Hs256 => Algorithm::HS256,
        SigningAlgorithm::EdDsa => Algorithm::EdDSA,
        SigningAlgorithm::Es256 => Algorithm::ES256,
        SigningAlgorithm::Rs256 => Algorithm::RS256,
    }
}

/// A new key pair: the private key as DER (PKCS#8 for Ed25519 and P-256, PKCS#1 for
/// RSA, the forms jsonwebtoken signs with), and its public JWK with `kid` (the RFC
/// 7638 thumbprint), `alg` and `use: sig`.
pub struct NewKeyPair {
    pub kid: String,
    pub private_der: Vec<u8>,
    pub public_jwk: Jwk,
}

#[derive(Debug, thiserror::Error)]
#[error("could not make a {0} key pair: {1}")]
pub struct KeyError(&'static str, String);

pub fn generate(alg: SigningAlgorithm) -> Result<NewKeyPair, KeyError> {
    let fail = |e: &dyn std::fmt::Display| KeyError(alg.name(), e.to_string());
    let der: Vec<u8> = match alg {
        SigningAlgorithm::EdDsa => {
            use ed25519_dalek::pkcs8::EncodePrivateKey;
            let mut seed = [0u8; 32];
            rand::rng().fill_bytes(&mut seed);
            // PKCS#8 v1 (the seed alone): the form jsonwebtoken reads the public key
            // out of for the JWK.
            let bytes = ed25519_dalek::pkcs8::KeypairBytes {
                secret_key: seed,
                public_key: None,
            };
            bytes
                .to_pkcs8_der()
                .map_err(|e| fail(&e))?
                .as_bytes()
                .to_vec()
        }
        SigningAlgorithm::Es256 => {
            use p256::pkcs8::EncodePrivateKey;
            let key = p256::ecdsa::SigningKey::random(&mut rsa::rand_core::OsRng);
            key.to_pkcs8_der()
                .map_err(|e| fail(&e))?
                .as_bytes()
                .to_vec()
        }
        SigningAlgorithm::Rs256 => {
            use rsa::pkcs1::EncodeRsaPrivateKey;
            let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, RSA_BITS)
                .map_err(|e| fail(&e))?;
            key.to_pkcs1_der()
                .map_err(|e| fail(&e))?
                .as_bytes()
                .to_vec()
        }
        SigningAlgorithm::Hs256 => {
            return Err(KeyError(
                "HS256",
                "HS256 signs with the server secret".into(),
            ))
        }
    };
    let encoding = encoding_key(alg, &der);
    let mut jwk = Jwk::from_encoding_key(&encoding, jose(alg)).map_err(|e| fail(&e))?;
    let kid = jwk
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(|e| fail(&e))?;
    jwk.common.key_id = Some(kid.clone());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    Ok(NewKeyPair {
        kid,
        private_der: der,
        public_jwk: jwk,
    })
}

/// What signs with a stored private key.
pub fn encoding_key(alg: SigningAlgorithm, der: &[u8]) -> EncodingKey {
    match alg {
        SigningAlgorithm::EdDsa => EncodingKey::from_ed_der(der),
        SigningAlgorithm::Es256 => EncodingKey::from_ec_der(der),
        _ => EncodingKey::from_rsa_der(der),
    }
}

/// Whether a key rotated out at `rotated_out_at` has retired at `now` (Unix seconds):
/// it stops verifying, leaves the JWKS, and the admin listing calls it `retired`. The
/// one rule for all three, so they cannot disagree: retired from the whole second
/// that `rotated_out_at + retention` falls in (tokens carry whole seconds, and so
/// does the clock this is asked with).
pub fn retired(rotated_out_at: NaiveDateTime, retention: Duration, now: i64) -> bool {
    (rotated_out_at + retention).and_utc().timestamp() <= now
}

/// A published key: what verifies tokens signed with it, and since when it no longer
/// signs.
pub struct VerifyingKey {
    pub kid: String,
    pub jwk: Jwk,
    pub decoding: DecodingKey,
    /// When it was rotated out; `None` for the current key.
    pub rotated_out_at: Option<NaiveDateTime>,
}

/// The keys of the configured asymmetric algorithm: the current one that signs, and
/// every key tokens may still carry.
#[derive(Default)]
pub struct KeyRing {
    pub signing: Option<(String, EncodingKey)>,
    pub verifying: Vec<VerifyingKey>,
    /// How long a rotated-out key keeps verifying ([`retired`]).
    pub retention: Duration,
}

impl KeyRing {
    fn in_service(&self, key: &VerifyingKey, now: i64) -> bool {
        key.rotated_out_at
            .is_none_or(|t| !retired(t, self.retention, now))
    }

    /// The key with this `kid`, if it still verifies at `now`.
    pub fn verifying(&self, kid: &str, now: i64) -> Option<&VerifyingKey> {
        self.verifying
            .iter()
            .find(|k| k.kid == kid && self.in_service(k, now))
    }

    /// The public keys to publish at `now`.
    pub fn published(&self, now: i64) -> Vec<Jwk> {
        self.verifying
            .iter()
            .filter(|k| self.in_service(k, now))
            .map(|k| k.jwk.clone())
            .collect()
    }

    pub fn signing_kid(&self) -> Option<&str> {
        self.signing.as_ref().map(|(kid, _)| kid.as_str())
    }
}

/// The verifying half of a stored public JWK.
pub fn verifying_key(jwk: &Jwk, rotated_out_at: Option<NaiveDateTime>) -> Option<VerifyingKey> {
    let kid = jwk.common.key_id.clone()?;
    let decoding = DecodingKey::from_jwk(jwk).ok()?;
    Some(VerifyingKey {
        kid,
        jwk: jwk.clone(),
        decoding,
        rotated_out_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asymmetric_algorithm_makes_a_key_that_signs_and_verifies_from_its_jwk() {
        for alg in [
            SigningAlgorithm::EdDsa,
            SigningAlgorithm::Es256,
            SigningAlgorithm::Rs256,
        ] {
            let pair = generate(alg).unwrap();
            let header = jsonwebtoken::Header::new(jose(alg));
            let claims = serde_json::json!({ "sub": "1", "exp": 4_000_000_000_u64 });
            let token =
                jsonwebtoken::encode(&header, &claims, &encoding_key(alg, &pair.private_der))
                    .unwrap();
            let key = verifying_key(&pair.public_jwk, None).unwrap();
            let mut v = jsonwebtoken::Validation::new(jose(alg));
            v.required_spec_claims.clear();
            v.validate_aud = false;
            jsonwebtoken::decode::<serde_json::Value>(&token, &key.decoding, &v).unwrap();
            assert_eq!(key.kid, pair.kid);
        }
    }

    #[test]
    fn a_published_jwk_holds_public_parameters_only() {
        for alg in [
            SigningAlgorithm::EdDsa,
            SigningAlgorithm::Es256,
            SigningAlgorithm::Rs256,
        ] {
            let jwk = serde_json::to_value(generate(alg).unwrap().public_jwk).unwrap();
            for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
                assert!(jwk.get(private).is_none(), "{alg:?}: {private} in {jwk}");
            }
            assert_eq!(jwk["use"], "sig");
            assert_eq!(jwk["alg"], alg.name());
            assert!(jwk["kid"].is_string());
        }
    }

    fn at(secs: i64, micros: u32) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(secs, micros * 1000)
            .unwrap()
            .naive_utc()
    }

    #[test]
    fn a_key_retires_at_the_whole_second_its_retention_ends_in() {
        let keep = Duration::seconds(10);
        // Rotated out on a whole second: retired exactly 10 s later.
        assert!(!retired(at(100, 0), keep, 109));
        assert!(retired(at(100, 0), keep, 110));
        // Rotated out half a second in: retired from second 110 on, although
        // 110.5 has not come yet (a clock asked in whole seconds says 110 until then).
        assert!(!retired(at(100, 500_000), keep, 109));
        assert!(retired(at(100, 500_000), keep, 110));
        assert!(retired(at(100, 999_999), keep, 110));
        assert!(!retired(at(100, 999_999), keep, 109));
    }

    #[test]
    fn a_key_leaves_verification_and_the_jwks_when_it_retires() {
        let pair = generate(SigningAlgorithm::EdDsa).unwrap();
        let ring = KeyRing {
            signing: None,
            verifying: vec![verifying_key(&pair.public_jwk, Some(at(90, 500_000))).unwrap()],
            retention: Duration::seconds(10),
        };
        assert!(ring.verifying(&pair.kid, 99).is_some());
        assert_eq!(ring.published(99).len(), 1);
        assert!(ring.verifying(&pair.kid, 100).is_none());
        assert!(ring.published(100).is_empty());
        assert!(ring.verifying("another", 0).is_none());
    }
}
