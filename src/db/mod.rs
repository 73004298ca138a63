//! Database access: one Diesel `MultiConnection` over SQLite and PostgreSQL, an r2d2 pool,
//! embedded migrations, and helpers that run queries off the async workers.

mod manager;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::web;
use diesel::migration::MigrationSource;
use diesel::prelude::*;
use diesel::r2d2::{Pool, PooledConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::AppResult;
use crate::settings::DatabaseSettings;

pub use manager::{DbTarget, Manager};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// The PostgreSQL advisory lock key that serialises migrations ("turnstil" in ASCII).
const MIGRATION_LOCK: i64 = 0x7475_726e_7374_696c;

/// A connection to whichever backend the database URL names.
#[derive(diesel::MultiConnection)]
pub enum Conn {
    Postgres(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

type ConnPool = Pool<Manager>;

/// A set of embedded migrations, one directory per backend (`embed_migrations!`).
#[derive(Clone, Copy)]
pub struct Migrations {
    pub sqlite: &'static EmbeddedMigrations,
    pub postgres: &'static EmbeddedMigrations,
}

/// `EmbeddedMigrations` is a migration source only by value; this lends one by
/// reference.
struct Lent(&'static EmbeddedMigrations);

impl<DB: diesel::backend::Backend> MigrationSource<DB> for Lent {
    fn migrations(
        &self,
    ) -> diesel::migration::Result<Vec<Box<dyn diesel::migration::Migration<DB>>>> {
        MigrationSource::<DB>::migrations(self.0)
    }
}
pub type PooledConn = PooledConnection<Manager>;

#[derive(Debug, thiserror::Error)]
pub enum DbInitError {
    #[error("invalid database URL: {0}")]
    Url(String),
    #[error("could not prepare the database folder {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
    #[error("could not connect to the database: {0}")]
    Connect(String),
    #[error("could not run migrations: {0}")]
    Migrate(String),
}

/// Cheap to clone; every clone shares the pool.
#[derive(Clone)]
pub struct Db {
    pool: ConnPool,
    /// SQLite allows one writer at a time; writers queue here instead of
    /// failing with SQLITE_BUSY when a deferred transaction upgrades to a write.
    write_lock: Option<Arc<Mutex<()>>>,
    backend: Backend,
    /// Database round-trips started through this handle (reads and transactions):
    /// proves the authenticated hot path makes none.
    calls: Arc<AtomicU64>,
    url: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Db {
    /// Builds the pool; fails fast when the first connection cannot be made.
    pub fn connect(settings: &DatabaseSettings) -> Result<Db, DbInitError> {
        let target = DbTarget::parse(&settings.url)?;
        target.prepare()?;
        let backend = target.backend();
        let size = match (&target, settings.pool_size) {
            // Every connection to `:memory:` would be a separate, empty database.
            (DbTarget::SqliteMemory, _) => 1,
            (_, 0) => default_pool_size(),
            (_, n) => n,
        };
        let mut builder = Pool::builder().max_size(size).connection_timeout(
            settings
                .connect_timeout_secs
                .duration()
                .max(Duration::from_secs(1)),
        );
        if matches!(target, DbTarget::SqliteMemory) {
            builder = builder
                .min_idle(Some(1))
                .idle_timeout(None)
                .max_lifetime(None);
        }
        let pool = builder
            .build(Manager::new(target))
            .map_err(|e| DbInitError::Connect(e.to_string()))?;
        let write_lock = (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(())));
        Ok(Db {
            pool,
            write_lock,
            backend,
            calls: Arc::new(AtomicU64::new(0)),
            url: settings.url.clone(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies pending migrations; called at start and by `turnstile migrate`.
    pub fn migrate(&self) -> Result<Vec<String>, DbInitError> {
        self.migrate_with(None)
    }

    /// Applies turnstile's pending migrations, then those of an application built on
    /// it (its own tables; versions must not collide with turnstile's).
    pub fn migrate_with(&self, extra: Option<&Migrations>) -> Result<Vec<String>, DbInitError> {
        let mut conn = self
            .pool
            .get()
            .map_err(|e| DbInitError::Connect(e.to_string()))?;
        let mut sets = vec![Migrations {
            sqlite: &SQLITE_MIGRATIONS,
            postgres: &POSTGRES_MIGRATIONS,
        }];
        sets.extend(extra.copied());
        // Instances starting together on one PostgreSQL take turns: the first applies
        // what is pending, the others then find nothing to do. (A session lock, so it
        // is released below whatever happened, before the connection goes back.)
        let postgres = matches!(&*conn, Conn::Postgres(_));
        if postgres {
            diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
                .execute(&mut *conn)
                .map_err(|e| DbInitError::Migrate(e.to_string()))?;
        }
        let mut applied = Vec::new();
        let mut outcome = Ok(());
        for set in &sets {
            let done = match &mut *conn {
                Conn::Sqlite(c) => c.run_pending_migrations(Lent(set.sqlite)).map(names),
                Conn::Postgres(c) => c.run_pending_migrations(Lent(set.postgres)).map(names),
            };
            match done {
                Ok(names) => applied.extend(names),
                Err(e) => {
                    outcome = Err(DbInitError::Migrate(e.to_string()));
                    break;
                }
            }
        }
        if postgres {
            diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
                .execute(&mut *conn)
                .map_err(|e| DbInitError::Migrate(e.to_string()))?;
        }
        outcome.map(|()| applied)
    }

    /// Runs `f` with a pooled connection on the blocking thread pool.
    pub async fn run<F, R>(&self, f: F) -> AppResult<R>
    where
        F: FnOnce(&mut Conn) -> AppResult<R> + Send + 'static,
        R: Send + 'static,
    {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let pool = self.pool.clone();
        web::block(move || {
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await?
    }

    /// Runs `f` inside one transaction on the blocking thread pool: all of it or nothing.
    pub async fn transaction<F, R>(&self, f: F) -> AppResult<R>
    where
        F: FnOnce(&mut Conn) -> AppResult<R> + Send + 'static,
        R: Send + 'static,
    {
        let db = self.clone();
        web::block(move || db.transaction_blocking(f)).await?
    }

    /// The same as [`Db::transaction`] for callers already off the async workers (CLI, start-up).
    pub fn transaction_blocking<F, R>(&self, f: F) -> AppResult<R>
    where
        F: FnOnce(&mut Conn) -> AppResult<R>,
    {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let _guard = self
            .write_lock
            .as_ref()
            .map(|lock| lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        let mut conn = self.pool.get()?;
        (*conn).transaction(f)
    }

    /// True when the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        self.run(|conn| {
            diesel::sql_query("SELECT 1").execute(conn)?;
            Ok(())
        })
        .await
        .is_ok()
    }

    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// The PostgreSQL URL, for connections that live outside the pool (LISTEN).
    pub fn postgres_url(&self) -> Option<&str> {
        (self.backend == Backend::Postgres).then_some(self.url.as_str())
    }

    pub fn pool_state(&self) -> (u32, u32) {
        let s = self.pool.state();
        (s.connections, s.idle_connections)
    }
}

fn names(versions: Vec<diesel::migration::MigrationVersion<'_>>) -> Vec<String> {
    versions.into_iter().map(|v| v.to_string()).collect()
}

fn default_pool_size() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as u32;
    (cores * 4).clamp(4, 32)
}
