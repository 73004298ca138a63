//! Keeping every instance's auth cache honest. A change is applied to the local cache
//! right after its transaction commits; on PostgreSQL it is also sent with NOTIFY from
//! inside that transaction (so it is delivered only if it commits), and every instance
//! LISTENs on a dedicated connection and invalidates what it hears, well within a
//! second. SQLite runs as a single instance and needs no feed.

use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::sql_types::Text;
use diesel::{Connection, PgConnection, QueryResult, RunQueryDsl};

use crate::cache::{AuthCache, Change};
use crate::db::Conn;

const CHANNEL: &str = "turnstile_auth";
/// How often the listener looks for notifications (the bound on propagation delay).
const POLL: Duration = Duration::from_millis(50);
/// How often an idle listener checks that its connection still stands.
const KEEPALIVE: Duration = Duration::from_secs(5);

/// `origin|kind:value`. The origin lets an instance skip its own echoes: it applied
/// those to its cache already, right after commit.
fn encode(origin: &str, change: &Change) -> String {
    match change {
        Change::User(id) => format!("{origin}|u:{id}"),
        Change::Session(sid) => format!("{origin}|s:{sid}"),
        Change::AllSessions(id) => format!("{origin}|a:{id}"),
    }
}

fn decode(payload: &str) -> Option<(&str, Change)> {
    let (origin, change) = payload.split_once('|')?;
    let (kind, value) = change.split_once(':')?;
    let change = match kind {
        "u" => value.parse().ok().map(Change::User),
        "s" => Some(Change::Session(value.to_string())),
        "a" => value.parse().ok().map(Change::AllSessions),
        _ => None,
    }?;
    Some((origin, change))
}

/// Sends `changes` to the other instances; call inside the changing transaction.
pub fn publish(conn: &mut Conn, origin: &str, changes: &[Change]) -> QueryResult<()> {
    if let Conn::Postgres(pg) = conn {
        for change in changes {
            diesel::sql_query("SELECT pg_notify($1, $2)")
                .bind::<Text, _>(CHANNEL)
                .bind::<Text, _>(encode(origin, change))
                .execute(pg)?;
        }
    }
    Ok(())
}

/// Connects and LISTENs before returning, so that no change committed after start-up
/// can be missed, then keeps listening on its own thread. The thread ends by itself
/// once the cache it feeds is gone (the application stopped).
pub fn spawn_listener(url: String, cache: &Arc<AuthCache>) -> Result<JoinHandle<()>, String> {
    let first = connect(&url).map_err(|e| format!("auth change listener: {e}"))?;
    let cache = Arc::downgrade(cache);
    std::thread::Builder::new()
        .name("auth-change-listener".into())
        .spawn(move || listen(&url, first, cache))
        .map_err(|e| e.to_string())
}

fn connect(url: &str) -> Result<PgConnection, diesel::ConnectionError> {
    let mut conn = PgConnection::establish(url)?;
    conn.batch_execute(&format!("LISTEN {CHANNEL}"))
        .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
    Ok(conn)
}

fn listen(url: &str, first: PgConnection, cache: Weak<AuthCache>) {
    let mut conn = first;
    loop {
        if let Err(e) = pump(&mut conn, &cache) {
            log::warn!("auth change listener lost its connection ({e}); reconnecting");
        }
        let mut announced = false;
        conn = loop {
            if cache.strong_count() == 0 {
                return;
            }
            match connect(url) {
                Ok(c) => break c,
                Err(e) => {
                    if !announced {
                        log::warn!("auth change listener cannot reconnect ({e}); retrying");
                        announced = true;
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        };
        // Whatever happened while we were not listening is unknown: start afresh.
        match cache.upgrade() {
            Some(c) => c.clear(),
            None => return,
        }
    }
}

fn pump(conn: &mut PgConnection, cache: &Weak<AuthCache>) -> QueryResult<()> {
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
        if last_check.elapsed() >= KEEPALIVE {
            conn.batch_execute("SELECT 1")?;
            last_check = Instant::now();
        }
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_survive_the_wire_format() {
        for c in [
            Change::User(42),
            Change::Session("abc-_DEF".into()),
            Change::AllSessions(7),
        ] {
            assert_eq!(decode(&encode("me", &c)), Some(("me", c)));
        }
        assert_eq!(decode("me|x:1"), None);
        assert_eq!(decode("me|u:notanumber"), None);
        assert_eq!(decode("u:1"), None);
        assert_eq!(decode("garbage"), None);
    }
}
