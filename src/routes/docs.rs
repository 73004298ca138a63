//! The OpenAPI 3.1 document, collected from the registered routes, and `/openapi.json`.

use actix_web::{get, web, App, HttpResponse};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as OpenApiDoc, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

use crate::error::ErrorBody;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "turnstile",
        description = "Authentication and role-based access control. Errors are always \
                       `{\"error\": code, \"message\": text}`."
    ),
    components(schemas(ErrorBody)),
    modifiers(&SecurityAndErrors),
    tags(
        (name = "health", description = "Probes"),
        (name = "auth", description = "Registration, login, refresh, logout"),
        (name = "profile", description = "The caller's own account and sessions"),
        (name = "admin", description = "User management, audit trail and stats (admins only)")
    )
)]
pub struct ApiDoc;

/// Declares the bearer scheme and adds the error answers every operation can give
/// (a malformed request, an unavailable database), so that the document lists every
/// status the server may send.
struct SecurityAndErrors;

fn error(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                utoipa::openapi::ContentBuilder::new()
                    .schema(Some(utoipa::openapi::Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build(),
    )
}

impl Modify for SecurityAndErrors {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("Access token from /auth/login or /auth/refresh"))
                    .build(),
            ),
        );
        for (path, item) in openapi.paths.paths.iter_mut() {
            let admin = path.starts_with("/api/admin");
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.patch,
                &mut item.delete,
                &mut item.put,
            ]
            .into_iter()
            .flatten()
            {
                let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let has_body = op.request_body.is_some();
                let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
                let responses = &mut op.responses.responses;
                let mut add = |status: &str, description: &str| {
                    responses
                        .entry(status.to_string())
                        .or_insert_with(|| error(description));
                };
                if has_body || has_params {
                    add("400", "Malformed JSON, a field of the wrong type, or a bad query or path parameter");
                }
                if has_body {
                    add("413", "Request body too large");
                    add("415", "Body not sent as application/json");
                    add("422", "Well-formed but invalid fields");
                }
                if secured {
                    add("401", "Missing, invalid, expired or revoked access token");
                }
                if admin {
                    add("403", "`forbidden`: the caller is not an admin");
                }
                add("503", "Database unavailable");
            }
        }
    }
}

/// The document for the routes `routes::configure` registers.
pub fn openapi_document() -> OpenApiDoc {
    let (_, mut api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(super::configure)
        .split_for_parts();
    // Modifiers run when `ApiDoc::openapi()` is built, before the routes' paths are
    // merged in: run them again over the complete document.
    SecurityAndErrors.modify(&mut api);
    api
}

/// The OpenAPI 3.1 document of this server.
#[utoipa::path(
    tag = "health",
    responses((status = 200, description = "OpenAPI document", content_type = "application/json", body = Object))
)]
#[get("/openapi.json")]
pub async fn openapi_json(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(state.openapi_json.clone())
}
