//! The r2d2 connection manager: picks the backend from the URL scheme (never by trial),
//! and configures every SQLite connection for concurrent use.

use std::path::PathBuf;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ManageConnection, R2D2Connection};
use diesel::{Connection, ConnectionError, PgConnection, SqliteConnection};

use super::{Backend, Conn, DbInitError};

/// Set on every pooled SQLite connection: WAL lets readers run beside the writer,
/// busy_timeout makes a second writer wait instead of failing at once.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; \
     PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = NORMAL; \
     PRAGMA foreign_keys = ON;";

#[derive(Debug, Clone)]
pub enum DbTarget {
    Postgres(String),
    SqliteFile(PathBuf),
    SqliteMemory,
}

impl DbTarget {
    pub fn parse(url: &str) -> Result<DbTarget, DbInitError> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DbTarget::Postgres(url.to_string()));
        }
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| {
                DbInitError::Url("expected a sqlite://... or postgres://... URL".into())
            })?;
        match rest {
            "" => Err(DbInitError::Url("the sqlite URL names no file".into())),
            ":memory:" => Ok(DbTarget::SqliteMemory),
            path => Ok(DbTarget::SqliteFile(PathBuf::from(path))),
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            DbTarget::Postgres(_) => Backend::Postgres,
            _ => Backend::Sqlite,
        }
    }

    /// Creates the SQLite file's folder if it is missing, and switches the file to WAL
    /// once, alone: the switch needs an exclusive lock that the pool's connections,
    /// opening all at once, would otherwise contend for.
    pub fn prepare(&self) -> Result<(), DbInitError> {
        if let DbTarget::SqliteFile(path) = self {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|source| DbInitError::Folder {
                    path: dir.display().to_string(),
                    source,
                })?;
            }
            sqlite(&path.to_string_lossy()).map_err(|e| DbInitError::Connect(e.to_string()))?;
        }
        Ok(())
    }
}

pub struct Manager {
    target: DbTarget,
}

impl Manager {
    pub fn new(target: DbTarget) -> Self {
        Manager { target }
    }
}

/// Diesel keeps prepared statements per connection, and after a few executions
/// PostgreSQL may switch one to a generic plan, made without the bound values. For
/// the admin lists that is ruinous: `email LIKE $1` planned without the pattern
/// looks selective, so the trigram index is scanned even for a pattern that matches
/// every row (measured: 10 ms with the value, 160 ms generic, at a million users).
/// Planning with the values costs a fraction of a millisecond per query.
const POSTGRES_SETTINGS: &str = "SET plan_cache_mode = force_custom_plan";

fn postgres(url: &str) -> Result<Conn, ConnectionError> {
    let mut conn = PgConnection::establish(url)?;
    conn.batch_execute(POSTGRES_SETTINGS)
        .map_err(ConnectionError::CouldntSetupConfiguration)?;
    Ok(Conn::Postgres(conn))
}

fn sqlite(path: &str) -> Result<Conn, ConnectionError> {
    let mut conn = SqliteConnection::establish(path)?;
    conn.batch_execute(SQLITE_PRAGMAS)
        .map_err(ConnectionError::CouldntSetupConfiguration)?;
    Ok(Conn::Sqlite(conn))
}

impl ManageConnection for Manager {
    type Connection = Conn;
    type Error = ConnectionError;

    fn connect(&self) -> Result<Conn, ConnectionError> {
        match &self.target {
            DbTarget::Postgres(url) => postgres(url),
            DbTarget::SqliteFile(path) => sqlite(&path.to_string_lossy()),
            DbTarget::SqliteMemory => sqlite(":memory:"),
        }
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), ConnectionError> {
        conn.ping()
            .map_err(ConnectionError::CouldntSetupConfiguration)
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.is_broken()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_the_backend_by_scheme() {
        assert!(matches!(
            DbTarget::parse("postgres://u@h/db"),
            Ok(DbTarget::Postgres(_))
        ));
        assert!(matches!(
            DbTarget::parse("postgresql://u@h/db"),
            Ok(DbTarget::Postgres(_))
        ));
        assert!(matches!(
            DbTarget::parse("sqlite://:memory:"),
            Ok(DbTarget::SqliteMemory)
        ));
        match DbTarget::parse("sqlite://data/turnstile.db") {
            Ok(DbTarget::SqliteFile(p)) => assert_eq!(p, PathBuf::from("data/turnstile.db")),
            other => panic!("unexpected {other:?}"),
        }
        match DbTarget::parse("sqlite:///var/lib/t.db") {
            Ok(DbTarget::SqliteFile(p)) => assert_eq!(p, PathBuf::from("/var/lib/t.db")),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn unknown_schemes_are_refused() {
        assert!(DbTarget::parse("mysql://x").is_err());
        assert!(DbTarget::parse("data.db").is_err());
        assert!(DbTarget::parse("sqlite://").is_err());
    }
}
