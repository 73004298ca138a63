//! Hearing other instances' auth-state changes. Each change is sent with NOTIFY from
//! inside its transaction (`models::auth_state`); every instance LISTENs on a
//! dedicated connection and invalidates what it hears, well within a second. SQLite
//! runs as a single instance and needs no feed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, QueryResult};

use crate::cache::AuthCache;
use crate::models::auth_state::{decode, Change, CHANNEL};

/// How often the listener looks for notifications (the bound on propagation delay).
const POLL: Duration = Duration::from_millis(50);
/// How often an idle listener checks that its connection still stands.
const KEEPALIVE: Duration = Duration::from_secs(5);

/// The running listener. Stopping it (or dropping it) ends its thread.
pub struct Listener {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Listener {
    /// Ends the listener and waits for its thread (at most one poll interval, or
    /// one reconnection attempt).
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Connects and LISTENs before returning, so that no change committed after start-up
/// can be missed, then keeps listening on its own thread until stopped (or until the
/// cache it feeds is gone).
pub fn spawn_listener(url: String, cache: &Arc<AuthCache>) -> Result<Listener, String> {
    let first = connect(&url).map_err(|e| format!("auth change listener: {e}"))?;
    let cache = Arc::downgrade(cache);
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("auth-change-listener".into())
        .spawn(move || listen(&url, first, &cache, &flag))
        .map_err(|e| e.to_string())?;
    Ok(Listener {
        stop,
        thread: Some(thread),
    })
}

fn connect(url: &str) -> Result<PgConnection, diesel::ConnectionError> {
    let mut conn = PgConnection::establish(url)?;
    conn.batch_execute(&format!("LISTEN {CHANNEL}"))
        .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
    Ok(conn)
}

fn stopped(stop: &AtomicBool, cache: &Weak<AuthCache>) -> bool {
    stop.load(Ordering::Acquire) || cache.strong_count() == 0
}

fn listen(url: &str, first: PgConnection, cache: &Weak<AuthCache>, stop: &AtomicBool) {
    let mut conn = first;
    loop {
        let lost = pump(&mut conn, cache, stop);
        if stopped(stop, cache) {
            return;
        }
        if let Err(e) = lost {
            log::warn!("auth change listener lost its connection ({e}); reconnecting");
        }
        let mut announced = false;
        conn = loop {
            if stopped(stop, cache) {
                return;
            }
            match connect(url) {
                Ok(c) => break c,
                Err(e) => {
                    if !announced {
                        log::warn!("auth change listener cannot reconnect ({e}); retrying");
                        announced = true;
                    }
                    sleep_unless_stopped(Duration::from_secs(1), stop);
                }
            }
        };
        // Whatever happened while we were not listening is unknown: start afresh.
        match cache.upgrade() {
            Some(c) => c.clear(),
            None => return,
        }
        log::info!("auth change listener reconnected; auth cache cleared");
    }
}

fn sleep_unless_stopped(total: Duration, stop: &AtomicBool) {
    let until = Instant::now() + total;
    while Instant::now() < until && !stop.load(Ordering::Acquire) {
        std::thread::sleep(POLL);
    }
}

/// Applies notifications until the connection fails or the listener is stopped.
fn pump(conn: &mut PgConnection, cache: &Weak<AuthCache>, stop: &AtomicBool) -> QueryResult<()> {
    let mut last_check = Instant::now();
    loop {
        let notifications: Vec<_> = conn.notifications_iter().collect::<QueryResult<_>>()?;
        let Some(cache) = cache.upgrade() else {
            return Ok(());
        };
        let changes: Vec<Change> = notifications
            .iter()
            .filter_map(|n| decode(&n.payload))
            .filter(|(origin, _)| *origin != cache.instance())
            .map(|(_, change)| change)
            .collect();
        cache.apply(&changes);
        drop(cache);
        if stop.load(Ordering::Acquire) {
            return Ok(());
        }
        if last_check.elapsed() >= KEEPALIVE {
            conn.batch_execute("SELECT 1")?;
            last_check = Instant::now();
        }
        std::thread::sleep(POLL);
    }
}
