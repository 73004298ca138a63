//! turnstile: authentication and role-based access control over HTTP.

pub mod auth;
pub mod cache;
pub mod change_feed;
pub mod credentials;
pub mod db;
pub mod domain;
pub mod error;
pub mod mail;
pub mod metrics;
pub mod models;
pub mod net;
pub mod request_context;
pub mod routes;
pub mod schema;
pub mod secret;
pub mod services;
pub mod settings;
pub mod startup;
pub mod state;
pub mod telemetry;
