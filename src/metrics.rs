//! Prometheus metrics: what happened (requests, logins, refreshes, lockouts) and how
//! the machinery is doing (bcrypt queue, database pool, auth cache), served in the
//! text format on a separate, non-public listener.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// The machinery's gauges, read when `/metrics` is scraped.
pub struct Sample {
    pub bcrypt_queue_depth: usize,
    /// Pool connections, and how many of them are idle.
    pub db_pool: (u32, u32),
    pub db_calls: u64,
    pub cache_hits_misses: (u64, u64),
}

pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub logins: IntCounterVec,
    pub refreshes: IntCounterVec,
    pub lockouts: IntCounter,
    /// Authorisation refusals, by the permission that was missing.
    pub authz_denied: IntCounterVec,
    /// Second-factor checks by outcome (`totp`, `recovery_code`, `invalid_code`,
    /// `invalid_token`, `locked`).
    pub second_factor: IntCounterVec,
    /// Mails by kind and outcome (`queued`, `sent`, `failed`, `suppressed`).
    pub mails: IntCounterVec,
    /// Mails in the outbox not yet delivered nor given up, as last seen by the worker.
    pub outbox_depth: IntGauge,
    bcrypt_queue_depth: IntGauge,
    db_connections: prometheus::IntGaugeVec,
    db_calls: IntGauge,
    cache_hits: IntGauge,
    cache_misses: IntGauge,
    cache_hit_ratio: prometheus::Gauge,
}

fn register<T: prometheus::core::Collector + Clone + 'static>(registry: &Registry, metric: T) -> T {
    // Names are fixed and unique here, so registration cannot collide.
    let _ = registry.register(Box::new(metric.clone()));
    metric
}

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new_custom(Some("turnstile".into()), None)?;
        let r = &registry;
        Ok(Metrics {
            http_requests: register(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "http_requests_total",
                        "HTTP requests by route pattern and status",
                    ),
                    &["method", "route", "status"],
                )?,
            ),
            http_duration: register(
                r,
                HistogramVec::new(
                    HistogramOpts::new(
                        "http_request_duration_seconds",
                        "HTTP request latency by route pattern",
                    )
                    .buckets(vec![
                        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                        5.0,
                    ]),
                    &["method", "route"],
                )?,
            ),
            logins: register(
                r,
                IntCounterVec::new(
                    Opts::new("logins_total", "Login attempts by outcome"),
                    &["outcome"],
                )?,
            ),
            refreshes: register(
                r,
                IntCounterVec::new(
                    Opts::new("refreshes_total", "Refresh attempts by outcome"),
                    &["outcome"],
                )?,
            ),
            lockouts: register(
                r,
                IntCounter::new("lockouts_total", "Accounts or IPs locked out")?,
            ),
            second_factor: register(
                r,
                IntCounterVec::new(
                    Opts::new("second_factor_total", "Second-factor checks by outcome"),
                    &["outcome"],
                )?,
            ),
            mails: register(
                r,
                IntCounterVec::new(
                    Opts::new("mails_total", "Mails by kind and outcome"),
                    &["kind", "outcome"],
                )?,
            ),
            outbox_depth: register(
                r,
                IntGauge::new("outbox_depth", "Mails waiting in the outbox")?,
            ),
            authz_denied: register(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "authz_denied_total",
                        "Requests refused for lack of a permission, by permission",
                    ),
                    &["permission"],
                )?,
            ),
            bcrypt_queue_depth: register(
                r,
                IntGauge::new("bcrypt_queue_depth", "bcrypt jobs queued or running")?,
            ),
            db_connections: register(
                r,
                prometheus::IntGaugeVec::new(
                    Opts::new("db_pool_connections", "Database pool connections by state"),
                    &["state"],
                )?,
            ),
            db_calls: register(
                r,
                IntGauge::new("db_calls_total", "Database round-trips started")?,
            ),
            cache_hits: register(
                r,
                IntGauge::new("auth_cache_hits_total", "Auth cache hits")?,
            ),
            cache_misses: register(
                r,
                IntGauge::new("auth_cache_misses_total", "Auth cache misses")?,
            ),
            cache_hit_ratio: register(
                r,
                prometheus::Gauge::new(
                    "auth_cache_hit_ratio",
                    "Auth cache hits / lookups since start",
                )?,
            ),
            registry,
        })
    }

    /// Sets the gauges from `sample` and renders everything in the Prometheus text
    /// format.
    pub fn render(&self, sample: &Sample) -> String {
        self.bcrypt_queue_depth
            .set(sample.bcrypt_queue_depth as i64);
        let (connections, idle) = sample.db_pool;
        self.db_connections
            .with_label_values(&["in_use"])
            .set(i64::from(connections.saturating_sub(idle)));
        self.db_connections
            .with_label_values(&["idle"])
            .set(i64::from(idle));
        self.db_calls.set(sample.db_calls as i64);
        let (hits, misses) = sample.cache_hits_misses;
        self.cache_hits.set(hits as i64);
        self.cache_misses.set(misses as i64);
        let lookups = hits + misses;
        self.cache_hit_ratio.set(if lookups == 0 {
            0.0
        } else {
            hits as f64 / lookups as f64
        });
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }

    pub fn login(&self, outcome: &str) {
        self.logins.with_label_values(&[outcome]).inc();
    }

    pub fn refresh(&self, outcome: &str) {
        self.refreshes.with_label_values(&[outcome]).inc();
    }
}
