//! HTTP routes: thin handlers that extract, parse, call a service and map the result.
//!
//! Every route is registered with `service(...)` on a handler carrying
//! `#[utoipa::path]`, so the OpenAPI document is collected from the very routes that
//! are served (`tests/api/openapi.rs` fails if a route bypasses this).

pub(crate) mod admin;
mod auth;
mod docs;
pub(crate) mod docs_page;
mod extract;
mod health;
mod methods;
pub mod params;
mod profile;
mod sessions;
pub mod views;

use actix_web::middleware::from_fn;
use utoipa_actix_web::scope;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::{bearer_auth, require_admin};

pub use docs::{openapi_document, ApiDoc};
pub use extract::{
    fallback_error_handlers, json_config, path_config, query_config, JsonBody, OptionalJsonBody,
};
pub use methods::{no_route, RouteTable};

/// Every route of the contract. `/api` sits behind the bearer middleware as a whole,
/// and `/api/admin` adds the admin guard on top.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(health::health)
        .service(health::ready)
        .service(docs::openapi_json)
        .service(docs_page::page)
        .service(docs_page::asset)
        .service(
            scope("/auth")
                .service(auth::register)
                .service(auth::login)
                .service(auth::refresh)
                // Its own scope so the bearer middleware covers exactly this route.
                .service(scope("/logout").wrap(bearer_auth()).service(auth::logout)),
        )
        .service(
            scope("/api")
                .wrap(bearer_auth())
                .service(profile::get)
                .service(profile::change_password)
                .service(sessions::list)
                .service(sessions::revoke)
                .service(
                    scope("/admin")
                        .wrap(from_fn(require_admin))
                        .service(admin::list_users)
                        .service(admin::create_user)
                        .service(admin::get_user)
                        .service(admin::update_user)
                        .service(admin::delete_user)
                        .service(admin::revoke_sessions)
                        .service(admin::unlock)
                        .service(admin::audit)
                        .service(admin::stats),
                ),
        );
}
