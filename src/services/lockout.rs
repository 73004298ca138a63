//! Brute-force protection: too many failed logins for one account, or from one
//! client IP, inside the window lock further attempts until the window passes.

use chrono::{Duration, NaiveDateTime};

use crate::db::Conn;
use crate::error::AppResult;
use crate::models::login_failures::{self, Key, Window};
use crate::settings::AuthSettings;

#[derive(Clone, Copy)]
pub struct Policy {
    pub max_failures: i64,
    pub window: Duration,
}

impl Policy {
    pub fn from_settings(auth: &AuthSettings) -> Policy {
        Policy {
            max_failures: i64::from(auth.login_max_failures),
            window: Duration::seconds(auth.login_window_secs as i64),
        }
    }

    /// Seconds until this window stops locking, or `None` when it does not lock.
    fn lock_remaining(&self, w: &Window, now: NaiveDateTime) -> Option<u64> {
        if w.count < self.max_failures {
            return None;
        }
        let oldest = w.oldest?;
        let secs = (oldest + self.window - now).num_seconds();
        Some(secs.max(1) as u64)
    }

    /// `Some(retry_after_secs)` when the account or the IP is locked right now.
    pub fn check(
        &self,
        conn: &mut Conn,
        email: &str,
        ip: &str,
        now: NaiveDateTime,
    ) -> AppResult<Option<u64>> {
        let since = now - self.window;
        let by_email = login_failures::window(conn, Key::Email(email), since)?;
        let by_ip = login_failures::window(conn, Key::Ip(ip), since)?;
        Ok([
            self.lock_remaining(&by_email, now),
            self.lock_remaining(&by_ip, now),
        ]
        .into_iter()
        .flatten()
        .max())
    }

    /// Records a failure; returns true when this one tipped the account or IP into a lock.
    pub fn record_failure(
        &self,
        conn: &mut Conn,
        email: &str,
        ip: &str,
        now: NaiveDateTime,
    ) -> AppResult<bool> {
        login_failures::record(conn, email, ip, now)?;
        let since = now - self.window;
        let by_email = login_failures::window(conn, Key::Email(email), since)?.count;
        let by_ip = login_failures::window(conn, Key::Ip(ip), since)?.count;
        Ok(by_email == self.max_failures || by_ip == self.max_failures)
    }
}
