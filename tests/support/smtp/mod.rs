//! A real SMTP server on loopback for the tests, in two halves: the server, which can
//! fail the ways a real one does and keeps what it accepts (`server.rs`), and the
//! reading of what it accepted: headers, subject and text body, decoded (`mime.rs`).
//! `tests.rs` holds the sink's own tests.

mod mime;
mod server;
mod tests;

pub use mime::ReceivedMail;
pub use server::{Mode, SmtpSink};
