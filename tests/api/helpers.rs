//! Test harness: starts the real app on a random port with a fresh database (a temp
//! SQLite file, or a PostgreSQL database of its own that is dropped afterwards).

use std::fmt::Display;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::web;
use base64::Engine;
use diesel::{Connection, PgConnection, RunQueryDsl};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

use turnstile::domain::{Email, Password};
use turnstile::secret::Secret;
use turnstile::services::bootstrap::create_admin;
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
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
                #[actix_web::test]
                async fn postgres() {
                    if $crate::helpers::postgres_or_skip() {
                        super::$name($crate::helpers::Backend::Postgres).await
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

/// An account the test knows the password of.
#[derive(Clone, Debug)]
pub struct TestUser {
    pub id: i64,
    pub email: String,
    pub password: String,
}

/// An access/refresh pair as returned by login or refresh.
#[derive(Clone, Debug)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

impl Tokens {
    pub fn from_body(body: &Value) -> Tokens {
        Tokens {
            access: body["access_token"]
                .as_str()
                .expect("access_token")
                .to_string(),
            refresh: body["refresh_token"]
                .as_str()
                .expect("refresh_token")
                .to_string(),
        }
    }
}

pub fn new_email() -> String {
    format!("{}@example.com", unique_name())
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        let mut req = self.client.post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    pub async fn patch_json(&self, path: &str, token: &str, body: &Value) -> Response {
        self.client
            .patch(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn delete(&self, path: &str, token: &str) -> Response {
        self.client
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    pub async fn register(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/auth/register",
            None,
            &json!({ "email": email, "password": password }),
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/auth/login",
            None,
            &json!({ "email": email, "password": password }),
        )
        .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.post_json(
            "/auth/refresh",
            None,
            &json!({ "refresh_token": refresh_token }),
        )
        .await
    }

    /// Registers a fresh `user` account.
    pub async fn create_user(&self) -> TestUser {
        let email = new_email();
        let password = "correct horse battery".to_string();
        let res = self.register(&email, &password).await;
        assert_eq!(res.status(), StatusCode::CREATED, "register");
        let body: Value = res.json().await.expect("json");
        TestUser {
            id: body["id"].as_i64().expect("id"),
            email,
            password,
        }
    }

    /// Creates an admin the way `turnstile create-admin` does.
    pub async fn create_admin(&self) -> TestUser {
        let email = new_email();
        let password = "admin password 123".to_string();
        let db = self.state.db.clone();
        let (e, p) = (
            Email::parse(&email).unwrap(),
            Password::parse(password.clone()).unwrap(),
        );
        let user = web::block(move || create_admin(&db, &e, &p, 4))
            .await
            .expect("block")
            .expect("create admin");
        TestUser {
            id: user.id,
            email,
            password,
        }
    }

    pub async fn login_as(&self, user: &TestUser) -> Tokens {
        let res = self.login(&user.email, &user.password).await;
        assert_eq!(res.status(), StatusCode::OK, "login of {}", user.email);
        Tokens::from_body(&res.json().await.expect("json"))
    }

    /// A user and a logged-in pair of tokens for them.
    pub async fn user_with_tokens(&self) -> (TestUser, Tokens) {
        let u = self.create_user().await;
        let t = self.login_as(&u).await;
        (u, t)
    }

    pub async fn admin_with_tokens(&self) -> (TestUser, Tokens) {
        let u = self.create_admin().await;
        let t = self.login_as(&u).await;
        (u, t)
    }

    pub fn jwt_secret(&self) -> String {
        self.state.settings.auth.jwt_secret.expose().to_string()
    }
}

/// Reads a response's status and JSON body (Null when there is none).
pub async fn status_and_json(res: Response) -> (StatusCode, Value) {
    let status = res.status();
    let text = res.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Asserts the error envelope and its code.
pub async fn assert_error(res: Response, status: StatusCode, code: &str) -> Value {
    let (got, body) = status_and_json(res).await;
    assert_eq!(got, status, "body: {body}");
    assert_eq!(body["error"], code, "body: {body}");
    assert!(body["message"].is_string(), "body: {body}");
    body
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The claims of a JWT, unverified.
pub fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("b64");
    serde_json::from_slice(&bytes).expect("claims json")
}

pub fn header_of(token: &str) -> Value {
    let h = token.split('.').next().expect("header");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(h)
        .expect("b64");
    serde_json::from_slice(&bytes).expect("header json")
}

/// Signs `claims` under `header` with HMAC-SHA256/512 (by the header's alg) and `secret`.
pub fn sign(header: &Value, claims: &Value, secret: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = if header["alg"] == "HS512" {
        let mut mac = Hmac::<sha2::Sha512>::new_from_slice(secret).unwrap();
        mac.update(input.as_bytes());
        mac.finalize().into_bytes().to_vec()
    } else {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
        mac.update(input.as_bytes());
        mac.finalize().into_bytes().to_vec()
    };
    format!("{input}.{}", b64(&sig))
}

pub fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
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

/// Counts responses by status.
pub fn tally(statuses: &[StatusCode]) -> std::collections::BTreeMap<u16, usize> {
    let mut out = std::collections::BTreeMap::new();
    for s in statuses {
        *out.entry(s.as_u16()).or_insert(0) += 1;
    }
    out
}

/// A signed-in account and the requests it makes, each answering the raw response.
/// `tokens` is the pair it presents; [`UserClient::adopt`] moves it on to a new pair.
pub struct UserClient<'a> {
    pub app: &'a TestApp,
    pub account: TestUser,
    pub tokens: Tokens,
}

impl<'a> UserClient<'a> {
    pub fn new(app: &'a TestApp, account: TestUser, tokens: Tokens) -> UserClient<'a> {
        UserClient {
            app,
            account,
            tokens,
        }
    }

    /// The same account and tokens, talking to another instance.
    pub fn on<'b>(&self, app: &'b TestApp) -> UserClient<'b> {
        UserClient::new(app, self.account.clone(), self.tokens.clone())
    }

    /// The same account signed in once more: another device, another session.
    pub async fn another_device(&self) -> UserClient<'a> {
        self.app.sign_in(&self.account).await
    }

    /// The admin routes called with this account's token, whatever its role (a
    /// plain user gets 403 from them).
    pub fn as_admin(&self) -> AdminClient<'a> {
        AdminClient {
            me: self.on(self.app),
        }
    }

    /// The id of the session the current access token belongs to.
    pub fn sid(&self) -> String {
        claims_of(&self.tokens.access)["sid"]
            .as_str()
            .expect("sid")
            .to_string()
    }

    /// Takes the pair in a login, refresh or password-change body as the current one.
    pub fn adopt(&mut self, body: &Value) {
        self.tokens = Tokens::from_body(body);
    }

    pub fn access(&self) -> &str {
        &self.tokens.access
    }

    pub async fn profile(&self) -> Response {
        self.app.get("/api/profile", Some(self.access())).await
    }

    /// Presents the current refresh token (which spends it).
    pub async fn refresh(&self) -> Response {
        self.app.refresh(&self.tokens.refresh).await
    }

    /// Logs out with an empty JSON body.
    pub async fn logout(&self) -> Response {
        self.app
            .post_json("/auth/logout", Some(self.access()), &json!({}))
            .await
    }

    pub async fn change_password(&self, current: &str, new: &str) -> Response {
        self.app
            .post_json(
                "/api/profile/password",
                Some(self.access()),
                &json!({ "current_password": current, "new_password": new }),
            )
            .await
    }

    pub async fn sessions(&self) -> Response {
        self.app.get("/api/sessions", Some(self.access())).await
    }

    pub async fn revoke_session(&self, id: impl Display) -> Response {
        self.app
            .delete(&format!("/api/sessions/{id}"), self.access())
            .await
    }
}

/// A signed-in admin: everything a [`UserClient`] does (through `Deref`), plus the
/// admin routes. `id`s are `Display` so a test can send a non-numeric one.
pub struct AdminClient<'a> {
    pub me: UserClient<'a>,
}

impl<'a> std::ops::Deref for AdminClient<'a> {
    type Target = UserClient<'a>;
    fn deref(&self) -> &UserClient<'a> {
        &self.me
    }
}

impl<'a> std::ops::DerefMut for AdminClient<'a> {
    fn deref_mut(&mut self) -> &mut UserClient<'a> {
        &mut self.me
    }
}

/// `path`, with `?query` when there is one.
fn with_query(path: &str, query: &str) -> String {
    match query.trim_start_matches('?') {
        "" => path.to_string(),
        q => format!("{path}?{q}"),
    }
}

impl<'a> AdminClient<'a> {
    /// `GET /api/admin/users`; `query` without the `?` (`""` for none).
    pub async fn list_users(&self, query: &str) -> Response {
        let path = with_query("/api/admin/users", query);
        self.app.get(&path, Some(self.access())).await
    }

    pub async fn create_user(&self, body: &Value) -> Response {
        self.app
            .post_json("/api/admin/users", Some(self.access()), body)
            .await
    }

    pub async fn get_user(&self, id: impl Display) -> Response {
        self.app
            .get(&format!("/api/admin/users/{id}"), Some(self.access()))
            .await
    }

    pub async fn patch_user(&self, id: impl Display, body: &Value) -> Response {
        self.app
            .patch_json(&format!("/api/admin/users/{id}"), self.access(), body)
            .await
    }

    pub async fn delete_user(&self, id: impl Display) -> Response {
        self.app
            .delete(&format!("/api/admin/users/{id}"), self.access())
            .await
    }

    pub async fn revoke_sessions(&self, id: impl Display) -> Response {
        let path = format!("/api/admin/users/{id}/revoke-sessions");
        self.app
            .post_json(&path, Some(self.access()), &json!({}))
            .await
    }

    pub async fn unlock(&self, id: impl Display) -> Response {
        let path = format!("/api/admin/users/{id}/unlock");
        self.app
            .post_json(&path, Some(self.access()), &json!({}))
            .await
    }

    /// `DELETE /api/admin/users/{id}/mfa`: MFA off for a lost device, sessions revoked.
    pub async fn reset_mfa(&self, id: impl Display) -> Response {
        let path = format!("/api/admin/users/{id}/mfa");
        self.app.delete(&path, self.access()).await
    }

    /// `POST /api/admin/keys/rotate`.
    pub async fn rotate_keys(&self) -> Response {
        self.app
            .post_json("/api/admin/keys/rotate", Some(self.access()), &json!({}))
            .await
    }

    /// `POST /api/admin/api-keys` with `body`.
    pub async fn create_api_key(&self, body: &Value) -> Response {
        self.app
            .post_json("/api/admin/api-keys", Some(self.access()), body)
            .await
    }

    /// A new API key granting `permissions`: its id and its secret.
    pub async fn api_key(&self, permissions: &[&str]) -> (i64, String) {
        let body = json!({ "name": "a test service", "permissions": permissions });
        let (status, key) = status_and_json(self.create_api_key(&body).await).await;
        assert_eq!(status, StatusCode::CREATED, "{key}");
        (
            key["id"].as_i64().expect("id"),
            key["key"].as_str().expect("key").to_string(),
        )
    }

    /// `GET /api/admin/keys`.
    pub async fn keys(&self) -> Response {
        self.app.get("/api/admin/keys", Some(self.access())).await
    }

    /// `GET /api/admin/audit`; `query` without the `?` (`""` for none).
    pub async fn audit(&self, query: &str) -> Response {
        let path = with_query("/api/admin/audit", query);
        self.app.get(&path, Some(self.access())).await
    }

    pub async fn stats(&self) -> Response {
        self.app.get("/api/admin/stats", Some(self.access())).await
    }

    pub async fn roles(&self) -> Response {
        self.app.get("/api/admin/roles", Some(self.access())).await
    }

    pub async fn get_role(&self, name: &str) -> Response {
        let path = format!("/api/admin/roles/{name}");
        self.app.get(&path, Some(self.access())).await
    }

    pub async fn create_role(&self, body: &Value) -> Response {
        self.app
            .post_json("/api/admin/roles", Some(self.access()), body)
            .await
    }

    pub async fn patch_role(&self, name: &str, body: &Value) -> Response {
        let path = format!("/api/admin/roles/{name}");
        self.app.patch_json(&path, self.access(), body).await
    }

    pub async fn delete_role(&self, name: &str) -> Response {
        let path = format!("/api/admin/roles/{name}");
        self.app.delete(&path, self.access()).await
    }

    pub async fn permissions(&self) -> Response {
        self.app
            .get("/api/admin/permissions", Some(self.access()))
            .await
    }

    /// Defines a role with these permissions (asserting 201) and returns its name.
    pub async fn define_role(&self, permissions: &[&str]) -> String {
        let name = new_role_name();
        let res = self
            .create_role(&json!({ "name": name, "permissions": permissions }))
            .await;
        assert_eq!(
            res.status(),
            StatusCode::CREATED,
            "define role {permissions:?}"
        );
        name
    }

    /// A new account holding `role`, created through the admin API and logged in.
    pub async fn user_in_role(&self, role: &str) -> UserClient<'a> {
        let email = new_email();
        let password = "correct horse battery".to_string();
        let res = self
            .create_user(&json!({ "email": email, "password": password, "role": role }))
            .await;
        let (status, body) = status_and_json(res).await;
        assert_eq!(status, StatusCode::CREATED, "create user in {role}: {body}");
        let account = TestUser {
            id: body["id"].as_i64().expect("id"),
            email,
            password,
        };
        self.app.sign_in(&account).await
    }
}

/// A role name no other test uses.
pub fn new_role_name() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("r{}-{n}", std::process::id())
}

impl TestApp {
    /// A fresh `user` account, logged in.
    pub async fn signed_in_user(&self) -> UserClient<'_> {
        let (account, tokens) = self.user_with_tokens().await;
        UserClient::new(self, account, tokens)
    }

    /// A fresh admin, logged in.
    pub async fn signed_in_admin(&self) -> AdminClient<'_> {
        let (account, tokens) = self.admin_with_tokens().await;
        AdminClient {
            me: UserClient::new(self, account, tokens),
        }
    }

    /// An existing account, logged in (once more: each call is a new session).
    pub async fn sign_in(&self, account: &TestUser) -> UserClient<'_> {
        let tokens = self.login_as(account).await;
        UserClient::new(self, account.clone(), tokens)
    }
}

/// Asserts that neither token of the pair works any more: the access token gets 401
/// on `/api/profile`, then the refresh token 401 on `/auth/refresh`. Presenting the
/// refresh token spends it, so call this only for tokens that should be dead.
pub async fn assert_tokens_dead(app: &TestApp, tokens: &Tokens) {
    assert_eq!(
        app.get("/api/profile", Some(&tokens.access)).await.status(),
        StatusCode::UNAUTHORIZED,
        "the access token still works"
    );
    assert_eq!(
        app.refresh(&tokens.refresh).await.status(),
        StatusCode::UNAUTHORIZED,
        "the refresh token still works"
    );
}
