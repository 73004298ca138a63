//! Credential primitives, free of HTTP and of the database: access tokens (JWTs),
//! opaque refresh tokens, password hashing on its own bounded pool, second factors
//! (TOTP, recovery codes), signing key pairs, and sealing secrets kept at rest. Each
//! fails with an error of its own (`error` maps them to answers).

pub mod api_key;
pub mod hashpool;
pub mod keys;
pub mod passwords;
pub mod refresh;
pub mod sealed;
pub mod tokens;
pub mod totp;

pub use hashpool::PoolError;
pub use keys::KeyError;
pub use passwords::{HashError, Hasher};
pub use tokens::{Claims, InvalidToken, IssueError, IssuedToken, TokenService, TokenSubject};
