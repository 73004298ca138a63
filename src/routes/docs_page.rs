//! `GET /docs`: the API reference for people, rendered by Swagger UI from
//! `/openapi.json`. Its assets come from the `utoipa-swagger-ui` crate's vendored
//! Swagger UI distribution, embedded at build time and served from here: the page
//! loads nothing from any other host, and its Content-Security-Policy says so.

use std::sync::{Arc, OnceLock};

use actix_web::http::header::{self, HeaderValue};
use actix_web::{get, web, HttpResponse};
use utoipa::ToSchema;
use utoipa_swagger_ui::Config;

use crate::error::{AppError, AppResult, ErrorBody};

/// What the page needs, and nothing else: its own scripts and styles (Swagger UI sets
/// inline style attributes), images it embeds as data URIs, and `/openapi.json`.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; font-src 'self'; connect-src 'self'; \
                   base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>turnstile API reference</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <link rel="stylesheet" href="/docs/swagger-ui.css">
  <link rel="stylesheet" href="/docs/index.css">
  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/swagger-ui-standalone-preset.js"></script>
  <script src="/docs/swagger-initializer.js"></script>
</body>
</html>
"#;

/// The files the page loads; nothing else of the distribution is served.
const ASSETS: &[&str] = &[
    "swagger-ui.css",
    "index.css",
    "swagger-ui-bundle.js",
    "swagger-ui-standalone-preset.js",
    "swagger-initializer.js",
    "favicon-32x32.png",
    "favicon-16x16.png",
];

/// The name of one of the page's assets.
#[derive(ToSchema)]
#[allow(dead_code)] // Named only in the OpenAPI document.
pub enum AssetName {
    #[schema(rename = "swagger-ui.css")]
    SwaggerUiCss,
    #[schema(rename = "index.css")]
    IndexCss,
    #[schema(rename = "swagger-ui-bundle.js")]
    SwaggerUiBundleJs,
    #[schema(rename = "swagger-ui-standalone-preset.js")]
    SwaggerUiStandalonePresetJs,
    #[schema(rename = "swagger-initializer.js")]
    SwaggerInitializerJs,
    #[schema(rename = "favicon-32x32.png")]
    Favicon32,
    #[schema(rename = "favicon-16x16.png")]
    Favicon16,
}

/// A file's bytes.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // Named only in the OpenAPI document.
pub struct FileBytes(Vec<u8>);

/// Swagger UI's configuration: the document to render.
fn config() -> Arc<Config<'static>> {
    static CONFIG: OnceLock<Arc<Config<'static>>> = OnceLock::new();
    Arc::clone(CONFIG.get_or_init(|| Arc::new(Config::from("/openapi.json"))))
}

/// The API reference page.
#[utoipa::path(
    tag = "health",
    operation_id = "apiReferencePage",
    responses((status = 200, description = "An HTML page rendering `/openapi.json` with Swagger UI", content_type = "text/html", body = String))
)]
#[get("/docs")]
pub async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .content_type("text/html; charset=utf-8")
        .body(PAGE)
}

/// One of the page's assets (scripts, styles, images).
#[utoipa::path(
    tag = "health",
    operation_id = "apiReferenceAsset",
    params(("file" = AssetName, Path, description = "Asset file name")),
    responses(
        (status = 200, description = "The asset: a style sheet, a script or an image",
            content((FileBytes = "text/css"), (FileBytes = "text/javascript"), (FileBytes = "image/png"))),
        (status = 404, description = "`not_found`: no such asset", body = ErrorBody),
    )
)]
#[get("/docs/{file}")]
pub async fn asset(file: web::Path<String>) -> AppResult<HttpResponse> {
    if !ASSETS.contains(&file.as_str()) {
        return Err(AppError::NotFound("asset"));
    }
    let asset = utoipa_swagger_ui::serve(&file, config())
        .map_err(AppError::internal)?
        .ok_or(AppError::NotFound("asset"))?;
    let mut res = HttpResponse::Ok();
    res.insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        // The same bytes until the next release of the server.
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"));
    if let Ok(content_type) = HeaderValue::from_str(&asset.content_type) {
        res.insert_header((header::CONTENT_TYPE, content_type));
    }
    if asset.gzpipped {
        res.insert_header((header::CONTENT_ENCODING, "gzip"));
    }
    Ok(res.body(asset.bytes.into_owned()))
}
