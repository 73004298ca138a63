//! Cross-cutting HTTP concerns applied to every response: a request id (propagated or
//! generated, echoed in `X-Request-Id` and in the request's log lines), request
//! metrics by route pattern, and security headers.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, Error};

use crate::metrics::Metrics;
use crate::secret::new_id;
use crate::telemetry::REQUEST_ID;

pub const REQUEST_ID_HEADER: &str = "x-request-id";
const MAX_REQUEST_ID: usize = 128;

/// A client-supplied id is kept only if it is short and made of safe characters,
/// so it can go into logs and headers as it is.
fn acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

const SECURITY_HEADERS: [(&str, &str); 5] = [
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    (
        "content-security-policy",
        "default-src 'none'; frame-ancestors 'none'",
    ),
    // Every answer here is about credentials or accounts: never cache it.
    ("cache-control", "no-store"),
];

pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(String::from)
        .unwrap_or_else(new_id);
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let method = req.method().as_str().to_string();
    let started = Instant::now();

    // Inner layers answer errors as responses (the bearer and admin guards do), so
    // every answer passes here and gets the id and headers. (The request cannot be
    // cloned up front to answer an `Err` here: routing needs it unshared.)
    let mut res = REQUEST_ID
        .scope(id.clone(), next.call(req))
        .await?
        .map_into_boxed_body();

    if let Some(metrics) = metrics {
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".into());
        let status = res.status();
        metrics
            .http_requests
            .with_label_values(&[&method, &route, status.as_str()])
            .inc();
        metrics
            .http_duration
            .with_label_values(&[&method, &route])
            .observe(started.elapsed().as_secs_f64());
    }

    let headers = res.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&id) {
        headers.insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    for (name, value) in SECURITY_HEADERS {
        let name = HeaderName::from_static(name);
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::acceptable;

    #[test]
    fn only_short_safe_request_ids_are_propagated() {
        assert!(acceptable("abc-123_x.y:z"));
        assert!(!acceptable(""));
        assert!(!acceptable("has space"));
        assert!(!acceptable("line\nbreak"));
        assert!(!acceptable(&"a".repeat(129)));
    }
}
