//! Use cases: what the handlers call. Each one parses nothing and renders nothing;
//! it runs queries in transactions and returns data or an `AppError`.

pub mod admin;
pub mod auth;
pub mod lockout;
pub mod login;
pub mod refresh;
pub mod sessions;
