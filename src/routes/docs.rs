//! The OpenAPI 3.1 document, collected from the registered routes, and `/openapi.json`.
//!
//! Handlers declare what is particular to them (operation id, success body, their own
//! error answers); [`Normalise`] adds what every operation shares, from facts about
//! it: who may call it, what it reads, what it hashes. The result must be accepted as
//! it is by validators and client generators (`scripts/openapi-check.sh` runs both).

use actix_web::{get, web, App, HttpResponse};
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::schema::{Schema, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::server::ServerBuilder;
use utoipa::openapi::{OpenApi as OpenApiDoc, Ref, RefOr, Required, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

use crate::error::ErrorBody;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "turnstile",
        description = "Authentication and role-based access control. Errors are always \
                       `{\"error\": code, \"message\": text}`. The contract in words: \
                       `docs/api.md` in the repository."
    ),
    components(schemas(ErrorBody, super::admin::RoleFilter, super::docs_page::AssetName)),
    tags(
        (name = "health", description = "Probes and this documentation"),
        (name = "auth", description = "Registration, login, refresh, logout"),
        (name = "profile", description = "The caller's own account and sessions"),
        (name = "admin", description = "User management, audit trail and stats (each route needs its own permission)"),
        (name = "roles", description = "Roles and permissions as data"),
        (name = "mfa", description = "Multi-factor authentication: TOTP enrollment, recovery codes, turning it off"),
        (name = "keys", description = "Signing keys: the public JWKS, listing and rotation"),
        (name = "oauth", description = "Token introspection (RFC 7662) and revocation (RFC 7009) for other services"),
        (name = "api-keys", description = "Service credentials")
    )
)]
pub struct ApiDoc;

/// Operations that never touch the database, so never answer 503 for it.
const NO_DATABASE: &[&str] = &[
    "getHealth",
    "getJwks",
    "getOpenapiDocument",
    "apiReferencePage",
    "apiReferenceAsset",
];

/// Operations that hash a password on the bounded bcrypt pool (503 `server_busy`).
const HASHING: &[&str] = &[
    "disableMfa",
    "register",
    "login",
    "changePassword",
    "createUser",
    "confirmPasswordReset",
];

struct Normalise;

fn error(description: &str, headers: &[(&str, &str)]) -> RefOr<Response> {
    let mut response = ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .build(),
    );
    for (name, about) in headers {
        let (schema_type, minimum) = match *name {
            "Retry-After" => (Type::Integer, Some(0.0)),
            _ => (Type::String, None),
        };
        let header = HeaderBuilder::new()
            .schema(Some(Schema::Object(
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(SchemaType::Type(schema_type))
                    .minimum(minimum)
                    .build(),
            )))
            .description(Some(*about))
            .build();
        response = response.header(*name, header);
    }
    RefOr::T(response.build())
}

const WWW_AUTHENTICATE: (&str, &str) = (
    "WWW-Authenticate",
    "`Bearer realm=\"turnstile\"`, with `error=\"invalid_token\"` when a token was sent (RFC 6750)",
);
const RETRY_AFTER: (&str, &str) = ("Retry-After", "Seconds to wait before trying again");

impl Normalise {
    fn operation(&self, op: &mut Operation) {
        let id = op.operation_id.clone().unwrap_or_default();
        let secured = op
            .security
            .as_ref()
            .is_some_and(|reqs| reqs.iter().any(|r| *r != SecurityRequirement::default()));
        if !secured {
            // Public: say so, rather than leave it to a global default.
            op.security = Some(Vec::new());
        }
        if let Some(RefOr::T(body)) = op.request_body.as_mut() {
            optional_body_without_null(body);
        }
        let has_body = op.request_body.is_some();
        // What the 415 asks for: the type the body is documented in (JSON, or the
        // OAuth routes' form).
        let body_type = match op.request_body.as_ref() {
            Some(RefOr::T(body)) => body.content.keys().next().cloned(),
            _ => None,
        }
        .unwrap_or_else(|| "application/json".to_string());
        let mut has_params = false;
        for p in op.parameters.iter_mut().flatten() {
            has_params = true;
            let RefOr::T(p) = p else { continue };
            // An optional query parameter is absent or a value; never null (an empty
            // value is a 400 or means "no filter").
            if p.parameter_in == ParameterIn::Query {
                if let Some(schema) = p.schema.as_mut() {
                    drop_null(schema);
                }
            }
        }
        let responses = &mut op.responses.responses;
        let mut add = |status: &str, description: &str, headers: &[(&str, &str)]| {
            responses
                .entry(status.to_string())
                .or_insert_with(|| error(description, headers));
        };
        if has_body || has_params {
            add("400", "`malformed_json`, `invalid_body`, `invalid_query` or `invalid_path`: the request could not be read", &[]);
        }
        if has_body {
            add(
                "413",
                "`payload_too_large`: the body is over the configured limit",
                &[],
            );
            add(
                "415",
                &format!("`unsupported_media_type`: the body was not sent as {body_type}"),
                &[],
            );
            add(
                "422",
                "`validation_error`: well-formed, but a field is missing or invalid",
                &[],
            );
        }
        if secured {
            add(
                "401",
                "`unauthorized` (no token) or `invalid_token` (malformed, expired, revoked, or the account changed)",
                &[WWW_AUTHENTICATE],
            );
        }
        let permission = op
            .extensions
            .as_ref()
            .and_then(|e| e.get("x-permission"))
            .and_then(|v| v.as_array())
            .map(|ps| {
                ps.iter()
                    .filter_map(|p| p.as_str())
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            });
        if let Some(permission) = permission {
            add(
                "403",
                &format!("`forbidden`: the caller's role lacks {permission}; `mfa_required`: `ADMIN_REQUIRES_MFA` is on and this session passed no second factor"),
                &[],
            );
        }
        match (HASHING.contains(&id.as_str()), NO_DATABASE.contains(&id.as_str())) {
            (true, _) => add(
                "503",
                "`server_busy` (the password hashing queue is full) or `service_unavailable` (the database does not answer)",
                &[RETRY_AFTER],
            ),
            (false, false) => add(
                "503",
                "`service_unavailable`: the database does not answer",
                &[RETRY_AFTER],
            ),
            (false, true) => {}
        }
        // Answers declared by a handler get the headers they always carry.
        for (status, response) in responses.iter_mut() {
            let RefOr::T(response) = response else {
                continue;
            };
            let header = match status.as_str() {
                "401" if secured => Some(WWW_AUTHENTICATE),
                "429" | "503" => Some(RETRY_AFTER),
                _ => None,
            };
            if let Some((name, about)) = header {
                if !response.headers.contains_key(name) {
                    if let RefOr::T(with) = error(&response.description, &[(name, about)]) {
                        response.headers.extend(with.headers);
                    }
                }
            }
        }
    }
}

/// `Option<T>` as a request body makes utoipa write `oneOf [T, null]`: a client may
/// leave the body out, but never sends `null`. Say exactly that.
fn optional_body_without_null(body: &mut RequestBody) {
    let mut optional = false;
    for content in body.content.values_mut() {
        let RefOr::T(content) = content else { continue };
        if let Some(schema) = content.schema.as_mut() {
            let before = matches!(schema, RefOr::T(Schema::OneOf(_)));
            drop_null(schema);
            optional |= before && !matches!(schema, RefOr::T(Schema::OneOf(_)));
        }
    }
    if optional {
        body.required = Some(Required::False);
    }
}

fn is_null(schema: &RefOr<Schema>) -> bool {
    matches!(schema, RefOr::T(Schema::Object(o)) if o.schema_type == SchemaType::Type(Type::Null))
}

/// `[T, null]` becomes `T`; `oneOf [X, null]` becomes `X`.
fn drop_null(schema: &mut RefOr<Schema>) {
    match schema {
        RefOr::T(Schema::Object(o)) => {
            if let SchemaType::Array(types) = &o.schema_type {
                let rest: Vec<Type> = types
                    .iter()
                    .filter(|t| **t != Type::Null)
                    .cloned()
                    .collect();
                if rest.len() == 1 {
                    o.schema_type = SchemaType::Type(rest[0].clone());
                }
            }
        }
        RefOr::T(Schema::OneOf(one_of)) if one_of.items.len() == 2 => {
            if let Some(other) = one_of.items.iter().find(|s| !is_null(s)).cloned() {
                if one_of.items.iter().any(is_null) {
                    *schema = other;
                }
            }
        }
        _ => {}
    }
}

impl Modify for Normalise {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        openapi.servers = Some(vec![ServerBuilder::new()
            .url("/")
            .description(Some("This server"))
            .build()]);
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
        for item in openapi.paths.paths.values_mut() {
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
                self.operation(op);
            }
        }
    }
}

/// The document for the routes `routes::configure` registers.
pub fn openapi_document() -> OpenApiDoc {
    openapi_document_with(None)
}

/// The document for turnstile's routes and an application's own.
pub fn openapi_document_with(extra: Option<super::ApiRoutes>) -> OpenApiDoc {
    let (_, mut api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(|cfg| super::configure_with(cfg, extra))
        .split_for_parts();
    Normalise.modify(&mut api);
    api
}

/// The OpenAPI 3.1 document of this server.
#[utoipa::path(
    tag = "health",
    operation_id = "getOpenapiDocument",
    responses((status = 200, description = "This OpenAPI 3.1 document", content_type = "application/json",
        body = std::collections::HashMap<String, serde_json::Value>))
)]
#[get("/openapi.json")]
pub async fn openapi_json(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(state.openapi_json.clone())
}
