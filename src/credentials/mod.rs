//! Credential primitives, free of HTTP and of the database: access tokens (JWTs),
//! opaque refresh tokens, and password hashing on its own bounded pool.

pub mod hashpool;
pub mod passwords;
pub mod refresh;
pub mod tokens;

pub use passwords::Hasher;
pub use tokens::{Claims, IssuedToken, TokenService};
