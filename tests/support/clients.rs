//! Typed clients of the HTTP API: the requests a test makes as nobody in particular
//! (on [`TestApp`]), as a signed-in account ([`UserClient`]) and as an admin
//! ([`AdminClient`]), each answering the raw response.

use std::fmt::Display;

use actix_web::web;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

use turnstile::domain::{Email, Password};
use turnstile::services::bootstrap::create_admin;

use super::checks::{claims_of, status_and_json};
use super::harness::{new_email, new_role_name, TestApp};

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
