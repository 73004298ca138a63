//! Cross-cutting HTTP concerns applied to every response: a request id (propagated or
//! generated, echoed in `X-Request-Id` and in the request's log lines), request
//! metrics by route pattern, security headers, the JSON error envelope for answers
//! built outside our handlers (actix's own 404/405, a refused preflight), HEAD
//! answered as GET on every route, and a 431 with the envelope for a request whose
//! headers are too large.
//!
//! One hand-written middleware rather than `from_fn` plus `ErrorHandlers`: it runs on
//! every request, and each of those layers cost a boxed service call and a boxed
//! future of its own.

use std::future::{ready, Ready};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{Error, HttpResponse, ResponseError};
use base64::Engine;
use futures_util::future::LocalBoxFuture;
use rand::RngCore;

use crate::error::{AppError, ErrorBody, ErrorCode};
use crate::metrics::Metrics;
use crate::telemetry::REQUEST_ID;

pub const REQUEST_ID_HEADER: &str = "x-request-id";
const REQUEST_ID_NAME: HeaderName = HeaderName::from_static(REQUEST_ID_HEADER);
const MAX_REQUEST_ID: usize = 128;

/// The most bytes a request line and its headers may take together; beyond, 431
/// `request_header_too_large`. actix-http itself refuses a head over its fixed 128 KiB
/// read buffer (or with more than 96 headers) before any of our code runs, with a 431
/// that has no body and cannot be given one: this lower limit is where the service
/// refuses with the JSON envelope first, so that only heads beyond actix-http's get
/// its bare answer. 32 KiB is what common proxies allow (nginx: 4 × 8 KiB) and dozens
/// of times what a request here needs (an access token is about 1 KiB).
pub const MAX_REQUEST_HEAD: usize = 32 * 1024;

/// A client-supplied id is kept only if it is short and made of safe characters,
/// so it can go into logs and headers as it is.
fn acceptable(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
}

/// A new request id: 128 random bits, base64url (22 characters). Built on the stack:
/// this runs for every request.
fn new_request_id() -> HeaderValue {
    let mut raw = [0u8; 16];
    rand::rng().fill_bytes(&mut raw);
    let mut text = [0u8; 22];
    let written = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode_slice(raw, &mut text)
        .unwrap_or(0);
    HeaderValue::from_bytes(&text[..written]).unwrap_or(HeaderValue::from_static("-"))
}

/// What CORS answers depend on. actix-cors would add it to every answer; here it is
/// added where a cache could store the answer or the request was cross-origin: an
/// answer marked `no-store` is never reused, so the header would only cost bytes.
const CORS_VARY: HeaderValue = HeaderValue::from_static(
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
);

const SECURITY_HEADERS: [(HeaderName, HeaderValue); 5] = [
    (
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ),
    (
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    ),
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    (
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    ),
    // Every answer here is about credentials or accounts: never cache it (a route
    // that may be cached, like the JWKS, sets its own).
    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
];

/// The middleware; `metrics` counts and times every request by route pattern.
pub struct RequestContext {
    metrics: Arc<Metrics>,
}

impl RequestContext {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        RequestContext { metrics }
    }
}

impl<S, B> Transform<S, ServiceRequest> for RequestContext
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B, String>>;
    type Error = Error;
    type Transform = RequestContextService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequestContextService {
            service: Rc::new(service),
            metrics: Arc::clone(&self.metrics),
        }))
    }
}

pub struct RequestContextService<S> {
    service: Rc<S>,
    metrics: Arc<Metrics>,
}

impl<S, B> Service<ServiceRequest> for RequestContextService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B, String>>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    actix_web::dev::forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        let id = match req
            .headers()
            .get(&REQUEST_ID_NAME)
            .filter(|v| acceptable(v.as_bytes()))
        {
            Some(v) => v.clone(),
            None => new_request_id(),
        };
        let cross_origin = req.headers().contains_key(header::ORIGIN);
        let metrics = Arc::clone(&self.metrics);
        let method = req.method().clone();
        let started = Instant::now();
        if method == Method::HEAD {
            // RFC 9110 §9.3.2: HEAD is GET without the body. Routed as a GET, every GET
            // route answers it with the same status and headers (the bearer middleware's
            // 401 included); actix-http writes the head of that answer, Content-Length
            // included, and drops its body, because the connection still knows the
            // request was a HEAD. Done here, before routing: nothing outside this layer
            // holds a copy of the request, which changing its method needs.
            req.head_mut().method = Method::GET;
        }
        // Inner layers answer errors as responses (the bearer and admin guards do), so
        // every answer passes here and gets the id and headers. (The request cannot be
        // cloned up front to answer an `Err` here: routing needs it unshared.)
        let inner = match head_size(&req) {
            n if n > MAX_REQUEST_HEAD => Err(refuse(
                req,
                AppError::RequestHeaderTooLarge {
                    limit: MAX_REQUEST_HEAD,
                },
            )),
            _ => Ok(REQUEST_ID.scope(id.clone(), self.service.call(req))),
        };
        Box::pin(async move {
            let mut res = match inner {
                Ok(inner) => with_envelope(inner.await?),
                Err(refused) => refused,
            };
            record(&metrics, &method, &res, started);
            let headers = res.headers_mut();
            let cacheable = headers.contains_key(header::CACHE_CONTROL);
            headers.insert(REQUEST_ID_NAME, id);
            for (name, value) in SECURITY_HEADERS {
                if !headers.contains_key(&name) {
                    headers.insert(name, value);
                }
            }
            if cross_origin || cacheable {
                add_vary(headers);
            }
            Ok(res)
        })
    }
}

/// The size of the request line and headers as they were sent, near enough: method,
/// target and version, and each header's name and value with `: ` and CRLF.
fn head_size(req: &ServiceRequest) -> usize {
    const LINE_EXTRA: usize = " HTTP/1.1\r\n ".len();
    let target = req.uri().path_and_query().map_or(1, |pq| pq.as_str().len());
    let headers: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    req.method().as_str().len() + target + LINE_EXTRA + headers
}

/// Answers `req` with `err` in the envelope, without routing it.
fn refuse<B>(req: ServiceRequest, err: AppError) -> ServiceResponse<EitherBody<B, String>> {
    let body = serde_json::to_string(&ErrorBody {
        error: err.code(),
        message: err.to_string(),
    })
    .unwrap_or_default();
    let mut res = HttpResponse::with_body(err.status_code(), body);
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    req.into_response(res).map_into_right_body()
}

/// Adds the CORS `Vary` to what the answer already varies by.
fn add_vary(headers: &mut header::HeaderMap) {
    let value = match headers.get(header::VARY) {
        Some(v) => {
            let joined = [v.as_bytes(), b", ", CORS_VARY.as_bytes()].concat();
            HeaderValue::from_bytes(&joined).unwrap_or(CORS_VARY)
        }
        None => CORS_VARY,
    };
    headers.insert(header::VARY, value);
}

fn record<B>(metrics: &Metrics, method: &Method, res: &ServiceResponse<B>, started: Instant) {
    let route = res.request().match_pattern();
    let route = route.as_deref().unwrap_or("unmatched");
    metrics
        .http_requests
        .with_label_values(&[method.as_str(), route, res.status().as_str()])
        .inc();
    metrics
        .http_duration
        .with_label_values(&[method.as_str(), route])
        .observe(started.elapsed().as_secs_f64());
}

/// An error answer without a JSON body (built outside our handlers) gets the
/// envelope for its status; everything else passes unchanged.
fn with_envelope<B>(res: ServiceResponse<B>) -> ServiceResponse<EitherBody<B, String>> {
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return res.map_into_left_body();
    }
    let preflight = res.request().method() == Method::OPTIONS
        && res
            .request()
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let (code, message) = match preflight {
        true if status == StatusCode::BAD_REQUEST => (
            ErrorCode::CorsNotAllowed,
            "this origin, method or header is not allowed cross-origin",
        ),
        _ => envelope_for(status),
    };
    let body = serde_json::to_string(&ErrorBody {
        error: code,
        message: message.into(),
    })
    .unwrap_or_default();
    let (req, mut res) = res.into_parts();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    ServiceResponse::new(req, res.set_body(body)).map_into_right_body()
}

fn envelope_for(status: StatusCode) -> (ErrorCode, &'static str) {
    match status {
        StatusCode::NOT_FOUND => (ErrorCode::NotFound, "no such route"),
        StatusCode::METHOD_NOT_ALLOWED => (
            ErrorCode::MethodNotAllowed,
            "this route does not accept that method",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => {
            (ErrorCode::PayloadTooLarge, "the request body is too large")
        }
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => (
            ErrorCode::RequestHeaderTooLarge,
            "the request's headers are too large",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            ErrorCode::UnsupportedMediaType,
            "send the body as application/json",
        ),
        s if s.is_client_error() => (ErrorCode::BadRequest, "the request could not be processed"),
        _ => (ErrorCode::InternalError, "an unexpected error occurred"),
    }
}

#[cfg(test)]
mod tests {
    use super::{acceptable, add_vary, new_request_id, CORS_VARY};
    use actix_web::http::header::{self, HeaderMap, HeaderValue};

    #[test]
    fn only_short_safe_request_ids_are_propagated() {
        assert!(acceptable(b"abc-123_x.y:z"));
        assert!(!acceptable(b""));
        assert!(!acceptable(b"has space"));
        assert!(!acceptable(b"line\nbreak"));
        assert!(!acceptable(&[b'a'; 129]));
    }

    #[test]
    fn new_request_ids_are_22_url_safe_characters_and_differ() {
        let a = new_request_id();
        assert_eq!(a.len(), 22);
        assert!(acceptable(a.as_bytes()));
        assert_ne!(a, new_request_id());
    }

    #[test]
    fn the_cors_vary_joins_what_an_answer_already_varies_by() {
        let mut h = HeaderMap::new();
        add_vary(&mut h);
        assert_eq!(h.get(header::VARY), Some(&CORS_VARY));
        let mut h = HeaderMap::new();
        h.insert(header::VARY, HeaderValue::from_static("Accept"));
        add_vary(&mut h);
        assert_eq!(
            h.get(header::VARY).unwrap(),
            "Accept, Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
        );
    }
}
