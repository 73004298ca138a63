//! Authentication building blocks: password hashing, access tokens, refresh tokens,
//! and the bearer middleware that guards `/api`.

pub mod bearer;
pub mod hashpool;
pub mod middleware;
pub mod passwords;
pub mod refresh;
pub mod tokens;

pub use middleware::{bearer_auth, require_admin, AuthUser};
pub use passwords::Hasher;
pub use tokens::{Claims, TokenService};
