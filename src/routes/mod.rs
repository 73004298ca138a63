//! HTTP routes: thin handlers that extract, parse, call a service and map the result.

mod admin;
mod auth;
mod extract;
mod health;
mod profile;
mod sessions;

use actix_web::middleware::from_fn;
use actix_web::web;

use crate::auth::{bearer_auth, require_admin};

pub use extract::{fallback_error_handlers, json_config, not_found, path_config, query_config};

/// Every route of the contract. `/api` sits behind the bearer middleware as a whole,
/// and `/api/admin` adds the admin guard on top.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health::health))
        .route("/ready", web::get().to(health::ready))
        .service(
            web::scope("/auth")
                .route("/register", web::post().to(auth::register))
                .route("/login", web::post().to(auth::login))
                .route("/refresh", web::post().to(auth::refresh))
                .service(
                    web::resource("/logout")
                        .wrap(bearer_auth())
                        .route(web::post().to(auth::logout)),
                ),
        )
        .service(
            web::scope("/api")
                .wrap(bearer_auth())
                .route("/profile", web::get().to(profile::get))
                .route(
                    "/profile/password",
                    web::post().to(profile::change_password),
                )
                .route("/sessions", web::get().to(sessions::list))
                .route("/sessions/{id}", web::delete().to(sessions::revoke))
                .service(
                    web::scope("/admin")
                        .wrap(from_fn(require_admin))
                        .route("/users", web::get().to(admin::list_users))
                        .route("/users", web::post().to(admin::create_user))
                        .route("/users/{id}", web::get().to(admin::get_user))
                        .route("/users/{id}", web::patch().to(admin::update_user))
                        .route("/users/{id}", web::delete().to(admin::delete_user))
                        .route(
                            "/users/{id}/revoke-sessions",
                            web::post().to(admin::revoke_sessions),
                        )
                        .route("/users/{id}/unlock", web::post().to(admin::unlock))
                        .route("/audit", web::get().to(admin::audit))
                        .route("/stats", web::get().to(admin::stats)),
                ),
        );
}
