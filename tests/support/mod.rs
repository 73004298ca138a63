//! What the integration tests stand on, by purpose:
//!
//! - `harness`: starting the real app on a fresh database, once per backend
//!   (`on_both_backends!`), and several instances of it on one database;
//! - `clients`: typed requests, as nobody, as a signed-in account, as an admin;
//! - `checks`: reading answers (status, JSON, error envelope, JWT parts);
//! - `smtp`: a real SMTP server on loopback that keeps what it is sent and can fail.
//!
//! The first three are re-exported here: tests write `use crate::support::{...}`.

pub mod checks;
pub mod clients;
pub mod harness;
pub mod smtp;

pub use checks::*;
pub use clients::*;
pub use harness::*;
