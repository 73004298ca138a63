//! Building and running the server: the one path `main` and the tests share.

use std::io::Write;
use std::net::TcpListener;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_cors::Cors;
use actix_web::dev::{Server, ServerHandle};
use actix_web::http::header;
use actix_web::middleware::{Condition, Logger};
use actix_web::{web, App, HttpServer};
use utoipa_actix_web::AppExt;

use crate::auth::PermissionTable;
use crate::cache::AuthCache;
use crate::change_feed::{self, Listener};
use crate::credentials::hashpool::HashPool;
use crate::credentials::sealed::Sealer;
use crate::credentials::{keys, totp};
use crate::credentials::{Hasher, TokenService};
use crate::db::{Db, DbInitError, Migrations};
use crate::mail::Mailer;
use crate::metrics::Metrics;
use crate::request_context::RequestContext;
use crate::routes;
use crate::services::audit as audit_service;
use crate::services::bootstrap::{ensure_admin, BootstrapError};
use crate::services::sessions::purge_expired;
use crate::settings::Settings;
use crate::state::AppState;

/// How often expired sessions and stale login failures are deleted.
const PURGE_EVERY: Duration = Duration::from_secs(600);

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("configuration error: {0}")]
    Settings(#[from] crate::settings::SettingsError),
    #[error(transparent)]
    Database(#[from] DbInitError),
    #[error("could not bind {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Bootstrap(#[from] BootstrapError),
    #[error("could not start: {0}")]
    Other(String),
}

/// What an application built on turnstile adds to it (see `examples/monolith.rs`).
#[derive(Clone, Default)]
pub struct Extension {
    /// Its own routes, mounted inside `/api` after turnstile's: behind the bearer
    /// middleware, guarded with `require_permission`, documented in `/openapi.json`
    /// when their handlers carry `#[utoipa::path]`.
    pub api: Option<routes::ApiRoutes>,
    /// Migrations of its own tables, applied after turnstile's at every start.
    pub migrations: Option<Migrations>,
}

pub struct Application {
    port: u16,
    host: String,
    server: Server,
    /// The metrics listener's port and server, when enabled.
    metrics: Option<(u16, Server)>,
    state: web::Data<AppState>,
    /// The PostgreSQL change listener; it stops with the application.
    listener: Arc<Mutex<Option<Listener>>>,
}

/// Stops a running [`Application`] from outside, at once: its servers stop accepting
/// and drop in-flight requests, and its change listener ends. For tests, which drop
/// an application's database right after.
#[derive(Clone)]
pub struct Stopper {
    servers: Vec<ServerHandle>,
    listener: Arc<Mutex<Option<Listener>>>,
}

impl Stopper {
    pub fn stop_now(&self) {
        for server in &self.servers {
            // The command is sent when `stop` is called; nothing to wait for here.
            drop(server.stop(false));
        }
        stop_listener(&self.listener);
    }
}

fn stop_listener(listener: &Mutex<Option<Listener>>) {
    let taken = listener
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .take();
    if let Some(l) = taken {
        l.stop();
    }
}

impl Application {
    /// Connects, migrates, bootstraps the first admin, binds the listener (port 0 picks
    /// a free one) and prepares the server. Nothing is served until it is awaited.
    pub async fn build(settings: Settings) -> Result<Application, StartupError> {
        Self::build_with(settings, Extension::default()).await
    }

    /// [`Application::build`], with an application's own routes and tables.
    pub async fn build_with(
        mut settings: Settings,
        extension: Extension,
    ) -> Result<Application, StartupError> {
        settings.ensure_jwt_secret()?;
        let db = Db::connect(&settings.database)?;
        let applied = db.migrate_with(extension.migrations.as_ref())?;
        if !applied.is_empty() {
            log::info!("applied migrations: {}", applied.join(", "));
        }
        let pool = HashPool::new(
            settings.auth.bcrypt_threads(),
            settings.auth.bcrypt_queue(),
            settings.auth.bcrypt_nice,
        )
        .map_err(|e| StartupError::Other(e.to_string()))?;
        let hasher = Hasher::new(settings.auth.bcrypt_cost.get(), Arc::new(pool))
            .map_err(|e| StartupError::Other(e.to_string()))?;
        let cache = Arc::new(AuthCache::new(
            settings.auth.cache_capacity,
            settings
                .auth
                .cache_ttl_secs
                .duration()
                .max(Duration::from_secs(1)),
        ));
        let change_listener = match db.postgres_url() {
            Some(url) => Some(
                change_feed::spawn_listener(url.to_string(), &cache)
                    .map_err(StartupError::Other)?,
            ),
            None => None,
        };
        ensure_admin(&db, &settings)?;

        let addr = format!("{}:{}", settings.server.host, settings.server.port);
        let listener = TcpListener::bind(&addr).map_err(|source| StartupError::Bind {
            addr: addr.clone(),
            source,
        })?;
        let local = listener
            .local_addr()
            .map_err(|e| StartupError::Other(e.to_string()))?;

        let mailer = Mailer::from_settings(&settings.email).map_err(StartupError::Other)?;
        match &mailer {
            Some(m) => log::info!("email: on, via {}", m.server()),
            None => log::info!(
                "email: off (APP__EMAIL__SMTP_URL is not set): password reset and email \
                 verification answer 501 email_not_configured"
            ),
        }
        let api = routes::openapi_document_with(extension.api);
        let route_table = web::Data::new(routes::RouteTable::from_openapi(&api));
        let permissions = web::Data::new(
            PermissionTable::from_openapi(&api, routes::GUARDED).map_err(StartupError::Other)?,
        );
        let state = web::Data::new(AppState {
            db,
            cache,
            metrics: Arc::new(Metrics::new().map_err(|e| StartupError::Other(e.to_string()))?),
            tokens: TokenService::new(&settings.auth),
            totp_sealer: Arc::new(Sealer::new(
                &settings.auth.jwt_secret,
                totp::SEALING_PURPOSE,
            )),
            key_sealer: Arc::new(Sealer::new(
                &settings.auth.jwt_secret,
                keys::SEALING_PURPOSE,
            )),
            keys_read_at: AtomicI64::new(0),
            hasher,
            mailer: mailer.map(Arc::new),
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
            openapi_json: api
                .to_json()
                .map_err(|e| StartupError::Other(e.to_string()))?,
            settings: Arc::new(settings),
        });
        crate::services::keys::prepare(&state)
            .await
            .map_err(|e| StartupError::Other(format!("signing keys: {e}")))?;
        let server = serve(
            listener,
            state.clone(),
            (route_table, permissions),
            extension.api,
        )?;
        let metrics = if state.settings.metrics.enabled {
            let m = &state.settings.metrics;
            let addr = format!("{}:{}", m.host, m.port);
            let listener = TcpListener::bind(&addr).map_err(|source| StartupError::Bind {
                addr: addr.clone(),
                source,
            })?;
            let port = listener
                .local_addr()
                .map_err(|e| StartupError::Other(e.to_string()))?
                .port();
            Some((port, serve_metrics(listener, state.clone())?))
        } else {
            None
        };
        Ok(Application {
            port: local.port(),
            host: state.settings.server.host.clone(),
            server,
            metrics,
            state,
            listener: Arc::new(Mutex::new(change_listener)),
        })
    }

    /// A handle that stops this application once it runs.
    pub fn stopper(&self) -> Stopper {
        Stopper {
            servers: self.server_handles(),
            listener: Arc::clone(&self.listener),
        }
    }

    fn server_handles(&self) -> Vec<ServerHandle> {
        std::iter::once(self.server.handle())
            .chain(self.metrics.as_ref().map(|(_, s)| s.handle()))
            .collect()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(port, _)| *port)
    }

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully: stops accepting,
    /// lets in-flight requests finish (bounded by `server.shutdown_timeout_secs`),
    /// closes the database pool when the state is dropped, and returns Ok.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let line = format!("listening on http://{}:{}", self.host, self.port);
        log::info!("{line}");
        // Not `println!`, which panics when stdout is closed: the line is logged too,
        // and the server need not die because nobody reads it.
        let _ = writeln!(std::io::stdout(), "{line}");
        let purge = actix_web::rt::spawn(purge_periodically(self.state.clone()));
        let outbox = actix_web::rt::spawn(crate::services::outbox::run(self.state.clone()));
        let keys = actix_web::rt::spawn(crate::services::keys::run(self.state.clone()));
        let handles = self.server_handles();
        actix_web::rt::spawn(async move {
            if shutdown_signal().await.is_ok() {
                log::info!("shutdown signal received: draining in-flight requests");
                for handle in &handles {
                    handle.stop(true).await;
                }
            }
        });
        let result = match self.metrics {
            Some((_, metrics)) => {
                let (main, _) = futures_util::future::join(self.server, metrics).await;
                main
            }
            None => self.server.await,
        };
        purge.abort();
        outbox.abort();
        keys.abort();
        stop_listener(&self.listener);
        log::info!("server stopped");
        result
    }
}

fn cors(settings: &Settings) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST", "PATCH", "DELETE"])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        // A foreign origin gets no CORS headers (the browser then refuses), but the
        // request itself is not turned into an error for non-browser clients.
        .block_on_origin_mismatch(false)
        // Added by the request-context middleware where it matters (see there).
        .disable_vary_header()
        .max_age(600);
    for origin in settings.server.cors_origins.iter() {
        cors = cors.allowed_origin(origin);
    }
    cors
}

/// Resolves on SIGTERM or SIGINT (actix's own handling treats SIGINT as a hard stop).
async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use actix_web::rt::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let ctrl_c = std::pin::pin!(actix_web::rt::signal::ctrl_c());
        let term = std::pin::pin!(term.recv());
        futures_util::future::select(ctrl_c, term).await;
        Ok(())
    }
    #[cfg(not(unix))]
    {
        actix_web::rt::signal::ctrl_c().await
    }
}

fn serve_metrics(
    listener: TcpListener,
    state: web::Data<AppState>,
) -> Result<Server, StartupError> {
    let timeout = state_timeout(&state);
    let server =
        HttpServer::new(move || App::new().app_data(state.clone()).service(metrics_endpoint))
            .workers(1)
            .disable_signals()
            .shutdown_timeout(timeout)
            .listen(listener)
            .map_err(|e| StartupError::Other(e.to_string()))?
            .run();
    Ok(server)
}

/// Prometheus text format; served only on the metrics listener.
#[actix_web::get("/metrics")]
async fn metrics_endpoint(state: web::Data<AppState>) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render(&state.metrics_sample()))
}

fn state_timeout(state: &web::Data<AppState>) -> u64 {
    state.settings.server.shutdown_timeout_secs.secs()
}

fn serve(
    listener: TcpListener,
    state: web::Data<AppState>,
    (route_table, permissions): (web::Data<routes::RouteTable>, web::Data<PermissionTable>),
    extra: Option<routes::ApiRoutes>,
) -> Result<Server, StartupError> {
    let workers = match state.settings.server.workers {
        0 => crate::settings::cores(),
        n => n,
    };
    let shutdown_timeout = state_timeout(&state);
    let access_log = log::log_enabled!(target: "actix_web::middleware::logger", log::Level::Info);
    let json_limit = state.settings.server.json_limit_bytes;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(web::Data::from(Arc::clone(&state.metrics)))
            .app_data(route_table.clone())
            .app_data(permissions.clone())
            .app_data(routes::json_config(json_limit))
            .app_data(routes::form_config(json_limit))
            .app_data(routes::query_config())
            .app_data(routes::path_config())
            .wrap(cors(&state.settings))
            // Outside CORS, so that a refused preflight gets the JSON envelope too.
            .wrap(RequestContext::new(Arc::clone(&state.metrics)))
            // Method and path only: query strings may carry search terms (emails).
            // Not installed at all when its lines would be filtered out anyway.
            .wrap(Condition::new(
                access_log,
                Logger::new(r#"%a "%{METHOD}xi %U" %s %b %Dms id=%{x-request-id}o"#)
                    .custom_request_replace("METHOD", |req| req.method().to_string())
                    .exclude("/health"),
            ))
            .into_utoipa_app()
            .configure(|cfg| routes::configure_with(cfg, extra))
            .into_app()
            .default_service(web::to(routes::no_route))
    })
    .workers(workers)
    .shutdown_timeout(shutdown_timeout)
    .disable_signals()
    .listen(listener)
    .map_err(|e| StartupError::Other(e.to_string()))?
    .run();
    Ok(server)
}

async fn purge_periodically(state: web::Data<AppState>) {
    let window = state.settings.auth.login_window_secs;
    // The first purge one period after start, not at once: a fresh instance has
    // nothing to purge yet.
    let start = actix_web::rt::time::Instant::now() + PURGE_EVERY;
    let mut tick = actix_web::rt::time::interval_at(start, PURGE_EVERY);
    loop {
        tick.tick().await;
        match state
            .db
            .transaction(move |conn| purge_expired(conn, window))
            .await
        {
            Ok((s, f)) if s + f > 0 => {
                log::info!("purged {s} dead sessions, {f} old login failures")
            }
            Ok(_) => {}
            Err(e) => log::warn!("purge failed: {}", e.code()),
        }
        match audit_service::purge_expired(&state).await {
            Ok(0) => {}
            Ok(n) => log::info!("purged {n} audit events past their retention"),
            Err(e) => log::warn!("audit purge failed: {}", e.code()),
        }
    }
}
