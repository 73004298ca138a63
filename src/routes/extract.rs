//! Extractor configuration: every way a request can fail to parse ends in the JSON
//! error envelope with the right 4xx, never actix's plain-text default.

use actix_web::dev::Payload;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError, UrlencodedError};
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use std::future::{ready, Ready};

use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use crate::auth::principal::client_info;
use crate::error::{AppError, ErrorCode};
use crate::net::ClientInfo;

/// The content type of JSON bodies, and of the OAuth routes' form bodies.
pub const JSON: &str = "application/json";
pub const FORM: &str = "application/x-www-form-urlencoded";

pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(|err, _req| {
            let app = match &err {
                JsonPayloadError::Overflow { .. }
                | JsonPayloadError::OverflowKnownLength { .. } => AppError::PayloadTooLarge,
                JsonPayloadError::ContentType => AppError::UnsupportedMediaType { expected: JSON },
                JsonPayloadError::Deserialize(e) if e.is_data() => AppError::BadRequest {
                    code: ErrorCode::InvalidBody,
                    message: format!("a field has the wrong type: {}", expectation(e)),
                },
                _ => AppError::BadRequest {
                    code: ErrorCode::MalformedJson,
                    message: "the body is not valid JSON".into(),
                },
            };
            app.into()
        })
}

/// What a deserialiser expected, without what it got: serde's messages quote the
/// rejected value (`invalid type: string "hunter2", expected a boolean`), and a value
/// typed into the wrong field may be a password. The expectation comes last in those
/// messages and names only types and allowed values.
fn expectation(e: &dyn std::fmt::Display) -> String {
    let text = e.to_string();
    let text = text.split(" at line ").next().unwrap_or_default();
    match text.rsplit_once(", expected ") {
        Some((_, expected)) => format!("expected {expected}"),
        None => "it could not be read".into(),
    }
}

/// Form bodies (`application/x-www-form-urlencoded`: the OAuth routes, as RFC 7009 and
/// 7662 say).
pub fn form_config(limit: usize) -> web::FormConfig {
    web::FormConfig::default()
        .limit(limit)
        .error_handler(|err, _req| {
            let app = match err {
                UrlencodedError::ContentType => AppError::UnsupportedMediaType { expected: FORM },
                UrlencodedError::Overflow { .. } => AppError::PayloadTooLarge,
                _ => AppError::BadRequest {
                    code: ErrorCode::InvalidBody,
                    message: "the body is not a valid application/x-www-form-urlencoded form"
                        .into(),
                },
            };
            app.into()
        })
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        let message = match err {
            QueryPayloadError::Deserialize(e) => {
                format!(
                    "invalid query string: a parameter has the wrong type ({})",
                    expectation(&e)
                )
            }
            _ => "invalid query string".into(),
        };
        AppError::BadRequest {
            code: ErrorCode::InvalidQuery,
            message,
        }
        .into()
    })
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, _req| {
        let message = match err {
            PathError::Deserialize(_) => "a path parameter has the wrong format".to_string(),
            _ => "invalid path".into(),
        };
        AppError::BadRequest {
            code: ErrorCode::InvalidPath,
            message,
        }
        .into()
    })
}

/// A JSON *object* body, parsed into `T`. `web::Json` alone would also accept an
/// array for a struct (serde reads structs from sequences), which the contract does
/// not allow. Transport errors (413, 415, malformed JSON) come from [`json_config`].
pub struct JsonBody<T>(pub T);

impl<T> JsonBody<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

fn invalid_body(message: String) -> actix_web::Error {
    AppError::BadRequest {
        code: ErrorCode::InvalidBody,
        message,
    }
    .into()
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let value = web::Json::<serde_json::Value>::from_request(req, payload);
        Box::pin(async move { object(value.await?.into_inner()).map(JsonBody) })
    }
}

fn object<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, actix_web::Error> {
    if !value.is_object() {
        return Err(invalid_body("the body must be a JSON object".into()));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let field = e.path().to_string();
        invalid_body(format!(
            "the field `{field}` has the wrong type: {}",
            expectation(e.inner())
        ))
    })
}

/// An optional [`JsonBody`]: no body at all is `None`, and so is JSON `null` unless
/// `NULL_IS_ABSENT` is false (logout has always taken `null` for "no body"; newer
/// routes refuse it, as their documents say); any other body must be a valid one
/// (`Option<web::Json<_>>` would silently turn a bad body into `None`).
pub struct OptionalJsonBody<T, const NULL_IS_ABSENT: bool = true>(pub Option<T>);

/// An optional body that, when sent, must be a JSON object (`null` is a 400).
pub type OptionalObjectBody<T> = OptionalJsonBody<T, false>;

impl<T: DeserializeOwned + 'static, const NULL_IS_ABSENT: bool> FromRequest
    for OptionalJsonBody<T, NULL_IS_ABSENT>
{
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let headers = req.headers();
        let chunked = headers.contains_key(header::TRANSFER_ENCODING);
        let length = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        if !chunked && length == 0 {
            return Box::pin(async { Ok(OptionalJsonBody(None)) });
        }
        let body = web::Json::<serde_json::Value>::from_request(req, payload);
        Box::pin(async move {
            match body.await?.into_inner() {
                serde_json::Value::Null if NULL_IS_ABSENT => Ok(OptionalJsonBody(None)),
                value => object(value).map(|v| OptionalJsonBody(Some(v))),
            }
        })
    }
}

impl FromRequest for ClientInfo {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(client_info(req)))
    }
}

#[cfg(test)]
mod tests {
    use super::expectation;

    #[test]
    fn messages_name_the_expected_type_and_never_the_value_sent() {
        let err = serde_json::from_value::<bool>(serde_json::json!("hunter2 secret")).unwrap_err();
        let text = expectation(&err);
        assert_eq!(text, "expected a boolean");
        let err = serde_json::from_str::<bool>("\"a, expected a trap\"").unwrap_err();
        assert_eq!(expectation(&err), "expected a boolean");
        let err = serde_json::from_value::<i64>(serde_json::json!(["hunter2"])).unwrap_err();
        assert!(!expectation(&err).contains("hunter2"));
    }
}
