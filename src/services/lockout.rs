//! Brute-force protection: too many failed password checks for one account, or from
//! one client, inside the window lock further attempts until the window passes.
//!
//! The check and the count are one step. Before bcrypt runs, an attempt *reserves* its
//! place in the window (a pending row, inserted under a lock on the account and client
//! keys, and only if neither is full); afterwards it is settled: a wrong password
//! becomes a counted failure, a right one is forgotten. Pending attempts count toward
//! the lock, so whatever the concurrency, across any number of instances, at most
//! `max_failures` wrong passwords are ever checked per key and window.

use chrono::{Duration, NaiveDateTime};

use crate::db::Conn;
use crate::error::{AppError, AppResult};
use crate::models::login_failures::{self, Counting, Key, Window};
use crate::settings::AuthSettings;
use crate::state::AppState;

#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub max_failures: i64,
    pub window: Duration,
}

/// What an attempt is counted under: the account (a normalised email, or a keyed
/// hash of a malformed one) and the client (see `ClientInfo::lockout_key`).
#[derive(Debug, Clone)]
pub struct AttemptKeys {
    pub account: String,
    pub client: String,
}

impl AttemptKeys {
    fn lock_names(&self) -> [String; 2] {
        [
            format!("account:{}", self.account),
            format!("client:{}", self.client),
        ]
    }
}

/// A reserved place in the lockout window. Settle it with [`Policy::fail`],
/// [`Policy::succeed`] or [`Policy::release`]; one left unsettled (the process died
/// mid-check) keeps counting as a failure until the window passes.
#[derive(Debug, Clone)]
#[must_use = "a reserved attempt counts as a failure until it is settled"]
pub struct Attempt {
    id: i64,
    keys: AttemptKeys,
}

impl Attempt {
    pub fn keys(&self) -> &AttemptKeys {
        &self.keys
    }
}

/// How a reservation went.
pub enum Reservation {
    Granted(Attempt),
    /// The account or the client is locked; retry after this many seconds.
    Locked(u64),
}

impl Policy {
    pub fn from_settings(auth: &AuthSettings) -> Policy {
        Policy {
            max_failures: i64::from(auth.login_max_failures.get()),
            window: auth.login_window_secs.delta(),
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

    fn lock(&self, conn: &mut Conn, keys: &AttemptKeys) -> AppResult<()> {
        let [a, b] = keys.lock_names();
        login_failures::lock(conn, &[&a, &b])?;
        Ok(())
    }

    /// Takes a place in the window for a password check, unless the account or the
    /// client is locked. Call inside a transaction.
    pub fn reserve(
        &self,
        conn: &mut Conn,
        keys: AttemptKeys,
        now: NaiveDateTime,
    ) -> AppResult<Reservation> {
        self.lock(conn, &keys)?;
        let since = now - self.window;
        let counting = Counting::FailuresAndPending;
        let by_account = login_failures::window(conn, Key::Email(&keys.account), since, counting)?;
        let by_client = login_failures::window(conn, Key::Ip(&keys.client), since, counting)?;
        let locked = [
            self.lock_remaining(&by_account, now),
            self.lock_remaining(&by_client, now),
        ]
        .into_iter()
        .flatten()
        .max();
        if let Some(retry) = locked {
            return Ok(Reservation::Locked(retry));
        }
        let id = login_failures::reserve(conn, &keys.account, &keys.client, now)?;
        Ok(Reservation::Granted(Attempt { id, keys }))
    }

    /// Seconds until the account's lock lifts, or `None` when it is not locked: for
    /// paths that check no secret of their own (a refresh) but must not hand tokens
    /// to a locked account. Only counted failures lock here: attempts still being
    /// checked are not failures yet.
    pub fn account_locked(
        &self,
        conn: &mut Conn,
        account: &str,
        now: NaiveDateTime,
    ) -> AppResult<Option<u64>> {
        let since = now - self.window;
        let w = login_failures::window(conn, Key::Email(account), since, Counting::Failures)?;
        Ok(self.lock_remaining(&w, now))
    }

    /// The password was wrong: the attempt becomes a counted failure. Returns true
    /// when this failure is the one that filled the account's or the client's window,
    /// which happens exactly once per lock, however many attempts settle at once.
    pub fn fail(&self, conn: &mut Conn, attempt: &Attempt, now: NaiveDateTime) -> AppResult<bool> {
        self.lock(conn, &attempt.keys)?;
        if login_failures::confirm(conn, attempt.id)? == 0 {
            return Ok(false);
        }
        let since = now - self.window;
        let failures = |conn: &mut Conn, key| {
            login_failures::window(conn, key, since, Counting::Failures).map(|w| w.count)
        };
        let by_account = failures(conn, Key::Email(&attempt.keys.account))?;
        let by_client = failures(conn, Key::Ip(&attempt.keys.client))?;
        Ok(by_account == self.max_failures || by_client == self.max_failures)
    }

    /// The password was right: the attempt is forgotten and the account's counted
    /// failures are cleared (the client's count expires with the window).
    pub fn succeed(&self, conn: &mut Conn, attempt: &Attempt) -> AppResult<()> {
        login_failures::release(conn, attempt.id)?;
        login_failures::clear_failures(conn, &attempt.keys.account)?;
        Ok(())
    }

    /// The password could not be checked, or the outcome is not a failure (a
    /// disabled account): the attempt is forgotten, nothing else changes.
    pub fn release(&self, conn: &mut Conn, attempt: &Attempt) -> AppResult<()> {
        login_failures::release(conn, attempt.id)?;
        Ok(())
    }
}

/// Gives the attempt's place back after `cause` stopped the check, and returns
/// `cause`. If even that fails, the place expires with the window.
pub async fn release(
    state: &AppState,
    policy: Policy,
    attempt: Attempt,
    cause: AppError,
) -> AppError {
    let released = state
        .db
        .transaction(move |conn| policy.release(conn, &attempt))
        .await;
    if let Err(e) = released {
        log::warn!("could not release a lockout reservation: {}", e.code());
    }
    cause
}
