//! HTTP routes: thin handlers that extract, parse, call a service and map the result.
//!
//! Every route is registered with `service(...)` on a handler carrying
//! `#[utoipa::path]`, so the OpenAPI document is collected from the very routes that
//! are served (`tests/api/openapi.rs` fails if a route bypasses this).

pub(crate) mod admin;
mod api_keys;
mod auth;
mod docs;
pub(crate) mod docs_page;
mod extract;
mod health;
mod keys;
mod methods;
mod mfa;
mod oauth;
pub mod params;
mod profile;
mod roles;
mod sessions;
mod time;
pub mod views;

use utoipa_actix_web::scope;
pub use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::{bearer_auth, declared_permission};

pub use docs::{openapi_document, openapi_document_with, ApiDoc};
pub use extract::{
    form_config, json_config, path_config, query_config, JsonBody, OptionalJsonBody,
    OptionalObjectBody,
};
pub use methods::{no_route, RouteTable};

/// An application's own routes: registered inside `/api`, after turnstile's, so the
/// bearer middleware covers them (see [`crate::startup::Extension`]).
pub type ApiRoutes = fn(&mut ServiceConfig);

/// Every route of the contract.
pub fn configure(cfg: &mut ServiceConfig) {
    configure_with(cfg, None)
}

/// The paths whose every operation declares its permissions (`x-permission` in its
/// `#[utoipa::path]`, the one place a route names them): the guard of their scopes
/// enforces exactly that, and the server refuses to start if one declares none.
pub const GUARDED: &[&str] = &["/api/admin", "/oauth/introspect"];

/// Every route of the contract, plus an application's own inside `/api`. `/api` sits
/// behind the bearer middleware as a whole; the routes under `/api/admin` (and
/// `/oauth/introspect`) behind the declared-permission gate ([`GUARDED`]).
pub fn configure_with(cfg: &mut ServiceConfig, api: Option<ApiRoutes>) {
    cfg.service(health::health)
        .service(health::ready)
        .service(docs::openapi_json)
        .service(keys::jwks)
        .service(docs_page::page)
        .service(docs_page::asset)
        .service(
            scope("/auth")
                .service(auth::register)
                .service(auth::login)
                .service(auth::refresh)
                .service(auth::request_password_reset)
                .service(auth::confirm_password_reset)
                .service(auth::confirm_email_verification)
                .service(mfa::complete_login)
                // Its own scope so the bearer middleware covers exactly this route.
                .service(scope("/logout").wrap(bearer_auth()).service(auth::logout)),
        )
        .service(
            scope("/oauth")
                .service(oauth::revoke)
                // Its own scope so the bearer middleware covers exactly this route.
                .service(
                    scope("/introspect")
                        .wrap(declared_permission())
                        .wrap(bearer_auth())
                        .service(oauth::introspect),
                ),
        )
        .service(
            scope("/api")
                .wrap(bearer_auth())
                .service(profile::get)
                .service(profile::change_password)
                .service(profile::send_email_verification)
                .service(mfa::start)
                .service(mfa::confirm)
                .service(mfa::recovery_codes)
                .service(mfa::disable)
                .service(sessions::list)
                .service(sessions::revoke)
                .service(
                    scope("/admin")
                        .wrap(declared_permission())
                        .service(admin::list_users)
                        .service(admin::create_user)
                        .service(admin::get_user)
                        .service(admin::update_user)
                        .service(admin::delete_user)
                        .service(admin::revoke_sessions)
                        .service(admin::unlock)
                        .service(admin::password_reset)
                        .service(mfa::admin_reset)
                        .service(keys::list)
                        .service(keys::rotate)
                        .service(api_keys::create)
                        .service(api_keys::list)
                        .service(api_keys::delete)
                        .service(admin::audit)
                        .service(admin::stats)
                        .service(roles::list)
                        .service(roles::create)
                        .service(roles::get)
                        .service(roles::update)
                        .service(roles::delete)
                        .service(roles::permissions_catalogue),
                )
                .configure(|cfg| {
                    if let Some(api) = api {
                        api(cfg);
                    }
                }),
        );
}
