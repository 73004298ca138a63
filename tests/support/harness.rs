//! Test harness: starts the real app on a random port with a fresh database (a temp
//! SQLite file, or a PostgreSQL database of its own that is dropped afterwards), runs
//! a test once per backend ([`on_both_backends!`]), starts more instances on one
//! database ([`Cluster`]), and makes names no other test uses.

use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::web;
use diesel::{Connection, PgConnection, RunQueryDsl};

use turnstile::secret::Secret;
use turnstile::settings::Settings;
use turnstile::startup::{Application, Extension, Stopper};
use turnstile::state::AppState;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named test once per backend: `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[actix_web::test]
                async fn sqlite() {
                    super::$name($crate::support::harness::Backend::Sqlite).await
                }
                #[actix_web::test]
                async fn postgres() {
                    if $crate::support::harness::postgres_or_skip() {
                        super::$name($crate::support::harness::Backend::Postgres).await
                    }
                }
            }
        )*
    };
}

fn admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// True when PostgreSQL is reachable. Under CI (`CI=true`) an unreachable server
/// fails the test loudly; elsewhere the test is skipped with a notice.
pub fn postgres_or_skip() -> bool {
    match PgConnection::establish(&admin_url()) {
        Ok(_) => true,
        Err(e) => {
            if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
                panic!(
                    "PostgreSQL at {} is required in CI but unreachable: {e}",
                    admin_url()
                );
            }
            eprintln!("NOTICE: PostgreSQL unreachable ({e}); skipping this PostgreSQL test");
            false
        }
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique_name() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("turnstile_test_{}_{}_{}", std::process::id(), n, nanos)
}

pub struct TestApp {
    pub address: String,
    /// The metrics listener, when the test enabled it.
    pub metrics_address: Option<String>,
    pub client: reqwest::Client,
    pub state: web::Data<AppState>,
    stopper: Stopper,
    /// What the application adds to turnstile (nothing, but in the monolith tests).
    extension: Extension,
    cleanup: Cleanup,
}

pub enum Cleanup {
    SqliteFile(std::path::PathBuf),
    PostgresDb(String),
    /// Another instance owns the database.
    Nothing,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // The instance ends before its database does, so nothing of it is left
        // trying to reach a database that is gone.
        self.stopper.stop_now();
        match &self.cleanup {
            Cleanup::SqliteFile(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::PostgresDb(name) => {
                let name = name.clone();
                // A thread of its own: Drop may run inside the async runtime.
                let _ = std::thread::spawn(move || {
                    if let Ok(mut c) = PgConnection::establish(&admin_url()) {
                        let _ = diesel::sql_query(format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .execute(&mut c);
                    }
                })
                .join();
            }
            Cleanup::Nothing => {}
        }
    }
}

/// Settings for a test run: `APP_ENV=test` files, then the test's own overrides.
pub fn test_settings(backend: Backend) -> (Settings, Cleanup) {
    let mut s = Settings::read("test").expect("test settings load");
    s.server.host = "127.0.0.1".into();
    s.server.port = 0;
    s.server.workers = 2;
    s.auth.jwt_secret = Secret::random(48);
    s.auth.bcrypt_cost = 4.try_into().unwrap();
    s.bootstrap = Default::default();
    let name = unique_name();
    let cleanup = match backend {
        Backend::Sqlite => {
            let path = std::env::temp_dir().join(format!("{name}.db"));
            s.database.url = format!("sqlite://{}", path.display());
            Cleanup::SqliteFile(path)
        }
        Backend::Postgres => {
            let mut c = PgConnection::establish(&admin_url()).expect("PostgreSQL admin connection");
            diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
                .execute(&mut c)
                .expect("create test database");
            let base = admin_url();
            let root = base.rsplit_once('/').map(|(r, _)| r).unwrap_or(&base);
            s.database.url = format!("{root}/{name}");
            s.database.pool_size = 8;
            Cleanup::PostgresDb(name)
        }
    };
    (s, cleanup)
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Starts the app after `tweak` has adjusted its settings.
pub async fn spawn_app_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_extended(backend, Extension::default())
        .tweaked(tweak)
        .await
}

/// Starts an application built on turnstile (its own routes and tables).
pub fn spawn_extended(backend: Backend, extension: Extension) -> Pending {
    turnstile::telemetry::init_for_tests();
    let (settings, cleanup) = test_settings(backend);
    Pending {
        settings,
        cleanup,
        extension,
    }
}

/// An app about to start: settings may still be adjusted.
pub struct Pending {
    settings: Settings,
    cleanup: Cleanup,
    extension: Extension,
}

impl Pending {
    pub async fn tweaked(mut self, tweak: impl FnOnce(&mut Settings)) -> TestApp {
        tweak(&mut self.settings);
        start_with(self.settings, self.cleanup, self.extension).await
    }
}

async fn start_with(settings: Settings, cleanup: Cleanup, extension: Extension) -> TestApp {
    let app = Application::build_with(settings, extension.clone())
        .await
        .expect("application builds");
    let port = app.port();
    let metrics_address = app.metrics_port().map(|p| format!("http://127.0.0.1:{p}"));
    let state = app.state();
    let stopper = app.stopper();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        metrics_address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        state,
        stopper,
        extension,
        cleanup,
    }
}

impl TestApp {
    /// Stops this instance (its servers and background work) as a crash or a
    /// redeploy would; its database stays for the next instance.
    pub fn stop(&self) {
        self.stopper.stop_now();
    }

    /// A second instance of the app on the same database, secret and settings, as
    /// behind a load balancer.
    pub async fn second_instance(&self) -> TestApp {
        self.second_instance_with(|_| {}).await
    }

    /// The same with some settings changed, as a redeploy with a new configuration.
    pub async fn second_instance_with(&self, tweak: impl FnOnce(&mut Settings)) -> TestApp {
        let mut settings = (*self.state.settings).clone();
        settings.server.port = 0;
        tweak(&mut settings);
        start_with(settings, Cleanup::Nothing, self.extension.clone()).await
    }
}

pub fn new_email() -> String {
    format!("{}@example.com", unique_name())
}

/// A role name no other test uses.
pub fn new_role_name() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("r{}-{n}", std::process::id())
}

/// The instances a race runs against: one on SQLite (one process owns the file), two
/// on one PostgreSQL database (as behind a load balancer). Requests are spread over
/// them round-robin with [`Cluster::nth`].
pub struct Cluster {
    pub apps: Vec<TestApp>,
}

impl Cluster {
    pub async fn start(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> Cluster {
        let first = spawn_app_with(backend, tweak).await;
        let mut apps = vec![];
        if backend == Backend::Postgres {
            apps.push(first.second_instance().await);
        }
        apps.insert(0, first);
        Cluster { apps }
    }

    /// The first instance.
    pub fn a(&self) -> &TestApp {
        &self.apps[0]
    }

    /// Instance `i` modulo the number of instances.
    pub fn nth(&self, i: usize) -> &TestApp {
        &self.apps[i % self.apps.len()]
    }
}

impl TestApp {
    pub fn jwt_secret(&self) -> String {
        self.state.settings.auth.jwt_secret.expose().to_string()
    }

    /// How many audit events with this action exist, read from the database.
    pub async fn audit_count(&self, action: &str) -> i64 {
        let filter = turnstile::models::audit::AuditFilter {
            action: Some(action.to_string()),
            ..Default::default()
        };
        self.state
            .db
            .run(move |conn| {
                let window = turnstile::models::Window {
                    limit: 1,
                    offset: 0,
                    after: None,
                };
                Ok(turnstile::models::audit::list(conn, &filter, window)?
                    .1
                    .total)
            })
            .await
            .expect("audit count")
    }
}
