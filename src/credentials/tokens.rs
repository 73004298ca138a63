//! Access tokens: JWTs with `typ: at+jwt` and a `kid`, signed with HS256 (the server
//! secret) or a key pair of the configured algorithm, validated strictly.

use std::sync::{Arc, RwLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Utc;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{decode, decode_header, encode, DecodingKey, EncodingKey, Header, Validation};
use moka::sync::Cache;
use serde::{Deserialize, Serialize};

use crate::credentials::keys::{jose, KeyRing};
use crate::domain::Amr;
use crate::secret::new_id;
use crate::settings::{AuthSettings, SigningAlgorithm};

/// How many verified tokens are remembered (about 0.5 KiB each).
const VERIFIED_CAPACITY: u64 = 10_000;

/// RFC 9068 media type for JWT access tokens.
const TOKEN_TYPE: &str = "at+jwt";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: String,
    pub ver: i32,
    pub sid: String,
    pub jti: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    /// RFC 8176 methods: `["pwd"]`, or `["pwd", "otp"]` after a second factor.
    #[serde(default)]
    pub amr: Vec<String>,
    /// When the session's holder last authenticated (OpenID Connect's `auth_time`,
    /// seconds since the epoch); kept by refresh. 0 on tokens made before it existed.
    #[serde(default)]
    pub auth_time: i64,
}

impl Claims {
    pub fn user_id(&self) -> Option<i64> {
        self.sub.parse().ok()
    }
}

/// Whom an access token is for, and what it says about their session.
#[derive(Debug, Clone, Copy)]
pub struct TokenSubject<'a> {
    pub user_id: i64,
    pub role: &'a str,
    /// The user's password version (`ver`).
    pub password_version: i32,
    pub session_id: &'a str,
    pub amr: Amr,
    /// When the session's holder last authenticated (Unix seconds).
    pub auth_time: i64,
    /// The session's end (Unix seconds): the token never outlives it.
    pub not_after: Option<i64>,
}

/// Why no token was issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// Start-up makes a key before serving: the database lost it since.
    #[error("there is no signing key")]
    NoSigningKey,
    #[error("signing: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

/// A token that did not verify, whatever the reason: callers learn nothing more, and
/// neither does the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the access token is invalid, expired or revoked")]
pub struct InvalidToken;

/// The token a client gets, with its remaining life in seconds.
pub struct IssuedToken {
    pub token: String,
    pub expires_in: i64,
}

/// The HS256 key and its `kid`.
struct Signer {
    kid: String,
    key: EncodingKey,
}

pub struct TokenService {
    algorithm: SigningAlgorithm,
    /// HS256: the server secret, and a `kid` derived from it (the same on every
    /// instance, and telling tokens of one secret from another's).
    hmac: (Signer, DecodingKey),
    /// EdDSA, ES256, RS256: the key pairs from the database, swapped in whole.
    ring: RwLock<Arc<KeyRing>>,
    validation: Validation,
    ttl_secs: i64,
    issuer: String,
    audience: String,
    /// Tokens that passed full verification, by their exact text.
    verified: Cache<String, Arc<Claims>, foldhash::fast::RandomState>,
}

impl TokenService {
    pub fn new(auth: &AuthSettings) -> TokenService {
        let secret = auth.jwt_secret.expose().as_bytes();
        let algorithm = auth.signing_algorithm;
        // jsonwebtoken's defaults are lax (60 s leeway, nbf unchecked, iss/aud only
        // checked when present): spell out every rule instead. One algorithm only:
        // whatever a token's header asks for, only the configured one verifies.
        let mut validation = Validation::new(jose(algorithm));
        validation.algorithms = vec![jose(algorithm)];
        validation.leeway = auth.leeway_secs.secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.set_issuer(&[&auth.issuer]);
        validation.set_audience(&[&auth.audience]);
        let mac = auth.jwt_secret.mac("turnstile hs256 kid v1", b"");
        let hmac_kid = format!("hs256-{}", URL_SAFE_NO_PAD.encode(&mac[..12]));
        TokenService {
            algorithm,
            hmac: (
                Signer {
                    kid: hmac_kid,
                    key: EncodingKey::from_secret(secret),
                },
                DecodingKey::from_secret(secret),
            ),
            ring: RwLock::new(Arc::new(KeyRing::default())),
            validation,
            ttl_secs: auth.access_token_ttl_secs.delta().num_seconds(),
            verified: Cache::builder()
                .max_capacity(VERIFIED_CAPACITY)
                .time_to_live(auth.access_token_ttl_secs.duration())
                .build_with_hasher(foldhash::fast::RandomState::default()),
            issuer: auth.issuer.clone(),
            audience: auth.audience.clone(),
        }
    }

    pub fn algorithm(&self) -> SigningAlgorithm {
        self.algorithm
    }

    fn ring(&self) -> Arc<KeyRing> {
        Arc::clone(&self.ring.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Swaps in the key pairs read from the database (asymmetric algorithms).
    pub fn install(&self, ring: KeyRing) {
        *self.ring.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(ring);
    }

    /// The `kid` new tokens are signed with, if there is a key to sign with.
    pub fn signing_kid(&self) -> Option<String> {
        match self.algorithm {
            SigningAlgorithm::Hs256 => Some(self.hmac.0.kid.clone()),
            _ => self.ring().signing_kid().map(str::to_string),
        }
    }

    /// The public keys verifiers need (`/.well-known/jwks.json`): none for HS256.
    pub fn published_keys(&self) -> Vec<Jwk> {
        match self.algorithm {
            SigningAlgorithm::Hs256 => Vec::new(),
            _ => self.ring().published(Utc::now().timestamp()),
        }
    }

    /// True when `token` names a `kid` this instance does not know (yet): another
    /// instance may have rotated a moment ago, so the caller may reload the keys.
    pub fn names_unknown_key(&self, token: &str) -> bool {
        if !self.algorithm.is_asymmetric() {
            return false;
        }
        let Ok(header) = decode_header(token) else {
            return false;
        };
        match header.kid {
            Some(kid) => self
                .ring()
                .verifying(&kid, Utc::now().timestamp())
                .is_none(),
            None => false,
        }
    }

    /// Issues an access token for `to` that expires after the configured TTL, or at
    /// `to.not_after` (the session's end) if that comes first.
    pub fn issue(&self, to: &TokenSubject<'_>) -> Result<IssuedToken, IssueError> {
        let now = Utc::now().timestamp();
        let mut exp = now + self.ttl_secs;
        if let Some(limit) = to.not_after {
            exp = exp.min(limit).max(now + 1);
        }
        let claims = Claims {
            sub: to.user_id.to_string(),
            role: to.role.to_string(),
            ver: to.password_version,
            sid: to.session_id.to_string(),
            jti: new_id(),
            iat: now,
            nbf: now,
            exp,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            amr: to.amr.claim(),
            auth_time: to.auth_time,
        };
        let mut header = Header::new(jose(self.algorithm));
        header.typ = Some(TOKEN_TYPE.into());
        let ring = self.ring();
        let (kid, key) = match (self.algorithm, &ring.signing) {
            (SigningAlgorithm::Hs256, _) => (&self.hmac.0.kid, &self.hmac.0.key),
            (_, Some((kid, key))) => (kid, key),
            (_, None) => return Err(IssueError::NoSigningKey),
        };
        header.kid = Some(kid.clone());
        let token = encode(&header, &claims, key)?;
        Ok(IssuedToken {
            token,
            expires_in: exp - now,
        })
    }

    /// Verifies signature, algorithm, key, type and every time and identity claim.
    /// Any failure at all is an invalid token (401), never an internal error.
    ///
    /// The key is chosen by the header's `kid` among the configured algorithm's keys;
    /// the algorithm is never the header's choice. (An HS256 token without a `kid`
    /// verifies with the secret, as before `kid` existed.)
    ///
    /// A token that verified before is found in a small cache keyed by its exact
    /// text: the same bytes carry the same signature, so only the time claims need
    /// checking again. That spares the signature check and the JSON parsing on every
    /// request.
    pub fn verify(&self, token: &str) -> Result<Arc<Claims>, InvalidToken> {
        if let Some(claims) = self.verified.get(token) {
            let now = Utc::now().timestamp();
            let leeway = self.validation.leeway as i64;
            if claims.exp > now - leeway && claims.nbf <= now + leeway {
                return Ok(claims);
            }
            self.verified.invalidate(token);
            return Err(InvalidToken);
        }
        let header = decode_header(token).map_err(|_| InvalidToken)?;
        if header.alg != jose(self.algorithm) {
            return Err(InvalidToken);
        }
        let ring;
        let key = match (self.algorithm, header.kid.as_deref()) {
            (SigningAlgorithm::Hs256, None) => &self.hmac.1,
            (SigningAlgorithm::Hs256, Some(kid)) if kid == self.hmac.0.kid => &self.hmac.1,
            (SigningAlgorithm::Hs256, Some(_)) => return Err(InvalidToken),
            (_, Some(kid)) => {
                ring = self.ring();
                match ring.verifying(kid, Utc::now().timestamp()) {
                    Some(k) => &k.decoding,
                    None => return Err(InvalidToken),
                }
            }
            (_, None) => return Err(InvalidToken),
        };
        let data = decode::<Claims>(token, key, &self.validation).map_err(|_| InvalidToken)?;
        let typ_ok = data.header.typ.as_deref().is_some_and(|t| {
            t.eq_ignore_ascii_case(TOKEN_TYPE) || t.eq_ignore_ascii_case("application/at+jwt")
        });
        if !typ_ok || data.claims.user_id().is_none() || data.claims.sid.is_empty() {
            return Err(InvalidToken);
        }
        let claims = Arc::new(data.claims);
        self.verified.insert(token.to_string(), Arc::clone(&claims));
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use base64::Engine;

    fn settings() -> AuthSettings {
        AuthSettings {
            jwt_secret: Secret::new("0123456789abcdef0123456789abcdef-test"),
            access_token_ttl_secs: 900.try_into().unwrap(),
            refresh_token_ttl_secs: 3600.try_into().unwrap(),
            refresh_reuse_interval_secs: 10.try_into().unwrap(),
            leeway_secs: 0.try_into().unwrap(),
            bcrypt_cost: 4.try_into().unwrap(),
            issuer: "turnstile".into(),
            audience: "turnstile".into(),
            login_max_failures: 5.try_into().unwrap(),
            login_window_secs: 900.try_into().unwrap(),
            bcrypt_threads: 1,
            bcrypt_queue: 4,
            bcrypt_nice: 0,
            cache_capacity: 10,
            cache_ttl_secs: 60.try_into().unwrap(),
            reset_token_ttl_secs: 3600.try_into().unwrap(),
            verify_token_ttl_secs: 86400.try_into().unwrap(),
            require_verified_email: false,
            admin_requires_mfa: false,
            signing_algorithm: SigningAlgorithm::Hs256,
            key_rotation_days: 30.try_into().unwrap(),
            reauth_window_secs: 300,
        }
    }

    fn b64(v: &serde_json::Value) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    }

    fn forge(header: serde_json::Value, claims: serde_json::Value, secret: &[u8]) -> String {
        use hmac::{Hmac, Mac};
        let signing_input = format!("{}.{}", b64(&header), b64(&claims));
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
        mac.update(signing_input.as_bytes());
        let sig =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{signing_input}.{sig}")
    }

    fn good_claims() -> serde_json::Value {
        let now = Utc::now().timestamp();
        serde_json::json!({"sub": "1", "role": "user", "ver": 1, "sid": "s", "jti": "j",
            "iat": now, "nbf": now, "exp": now + 60, "iss": "turnstile", "aud": "turnstile"})
    }

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-test";

    fn subject(amr: Amr) -> TokenSubject<'static> {
        TokenSubject {
            user_id: 42,
            role: "admin",
            password_version: 3,
            session_id: "sess",
            amr,
            auth_time: 0,
            not_after: None,
        }
    }

    #[test]
    fn issued_tokens_verify_and_carry_their_claims() {
        let svc = TokenService::new(&settings());
        let t = svc
            .issue(&TokenSubject {
                auth_time: 1_700_000_000,
                ..subject(Amr::Password)
            })
            .unwrap();
        assert_eq!(t.expires_in, 900);
        let c = svc.verify(&t.token).unwrap();
        assert_eq!(c.auth_time, 1_700_000_000);
        assert_eq!(
            (c.user_id(), c.role.as_str(), c.ver, c.sid.as_str()),
            (Some(42), "admin", 3, "sess")
        );
        assert_eq!(c.amr, vec!["pwd"]);
        let header = jsonwebtoken::decode_header(&t.token).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        let otp = svc.issue(&subject(Amr::PasswordAndOtp)).unwrap();
        assert_eq!(svc.verify(&otp.token).unwrap().amr, vec!["pwd", "otp"]);
    }

    #[test]
    fn a_hand_signed_token_with_the_right_shape_verifies() {
        let svc = TokenService::new(&settings());
        let t = forge(
            serde_json::json!({"alg": "HS256", "typ": "at+jwt"}),
            good_claims(),
            SECRET,
        );
        assert!(svc.verify(&t).is_ok());
    }

    #[test]
    fn a_remembered_token_is_still_refused_once_expired() {
        let svc = TokenService::new(&settings());
        let mut claims = good_claims();
        claims["exp"] = serde_json::json!(Utc::now().timestamp() + 1);
        let t = forge(
            serde_json::json!({"alg": "HS256", "typ": "at+jwt"}),
            claims,
            SECRET,
        );
        assert!(svc.verify(&t).is_ok());
        assert!(svc.verify(&t).is_ok(), "second time, from the cache");
        std::thread::sleep(std::time::Duration::from_millis(2100));
        assert!(svc.verify(&t).is_err());
    }

    #[test]
    fn tokens_with_a_wrong_type_header_are_rejected() {
        let svc = TokenService::new(&settings());
        for typ in [serde_json::json!("JWT"), serde_json::Value::Null] {
            let t = forge(
                serde_json::json!({"alg": "HS256", "typ": typ}),
                good_claims(),
                SECRET,
            );
            assert!(svc.verify(&t).is_err(), "typ {typ}");
        }
    }

    #[test]
    fn tokens_missing_a_required_claim_are_rejected() {
        let svc = TokenService::new(&settings());
        for claim in ["exp", "nbf", "iss", "aud", "sub"] {
            let mut c = good_claims();
            c.as_object_mut().unwrap().remove(claim);
            let t = forge(
                serde_json::json!({"alg": "HS256", "typ": "at+jwt"}),
                c,
                SECRET,
            );
            assert!(svc.verify(&t).is_err(), "without {claim}");
        }
    }

    #[test]
    fn expired_immature_and_foreign_tokens_are_rejected() {
        let svc = TokenService::new(&settings());
        let now = Utc::now().timestamp();
        let header = serde_json::json!({"alg": "HS256", "typ": "at+jwt"});
        let cases = [
            ("exp", serde_json::json!(now - 1)),
            ("nbf", serde_json::json!(now + 30)),
            ("iss", serde_json::json!("someone-else")),
            ("aud", serde_json::json!("someone-else")),
            ("sub", serde_json::json!("not-a-number")),
        ];
        for (claim, value) in cases {
            let mut c = good_claims();
            c[claim] = value;
            assert!(
                svc.verify(&forge(header.clone(), c, SECRET)).is_err(),
                "bad {claim}"
            );
        }
        assert!(svc
            .verify(&forge(
                header,
                good_claims(),
                b"another-secret-another-secret-xx"
            ))
            .is_err());
    }

    #[test]
    fn unsigned_and_other_algorithm_tokens_are_rejected() {
        let svc = TokenService::new(&settings());
        let none = format!(
            "{}.{}.",
            b64(&serde_json::json!({"alg": "none", "typ": "at+jwt"})),
            b64(&good_claims())
        );
        assert!(svc.verify(&none).is_err());
        let hs512 = forge(
            serde_json::json!({"alg": "HS512", "typ": "at+jwt"}),
            good_claims(),
            SECRET,
        );
        assert!(svc.verify(&hs512).is_err());
        assert!(svc.verify("garbage").is_err());
        assert!(svc.verify("").is_err());
    }
}
