//! Integration tests: the real app over HTTP, on SQLite and on PostgreSQL.

#[path = "../support/mod.rs"]
mod support;

mod admin;
mod api_keys;
mod docs;
mod email;
mod gate;
mod health;
mod hostile;
mod keys;
mod lockout;
mod login;
mod mfa;
mod monolith;
mod oauth;
mod openapi;
mod operations;
mod paging;
mod privilege;
mod profile;
mod races;
mod reauth;
mod register;
mod roles;
mod scale;
mod sessions;
mod tokens;
