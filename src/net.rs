//! Client metadata: the client's IP (X-Forwarded-For only from trusted proxies) and user agent.

use std::net::IpAddr;

use actix_web::http::header::USER_AGENT;
use actix_web::HttpRequest;

/// What we record about the device behind a request.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

const MAX_USER_AGENT: usize = 512;

impl ClientInfo {
    pub fn from_request(req: &HttpRequest, trusted: &[IpAddr]) -> ClientInfo {
        let user_agent = req
            .headers()
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(MAX_USER_AGENT).collect());
        ClientInfo {
            ip: client_ip(req, trusted).map(|ip| ip.to_string()),
            user_agent,
        }
    }

    /// The key that per-IP lockout counts under.
    pub fn ip_key(&self) -> &str {
        self.ip.as_deref().unwrap_or("unknown")
    }
}

/// The peer address, unless the peer is a trusted proxy: then the right-most
/// X-Forwarded-For entry that is not itself a trusted proxy (entries further left
/// are written by the client and prove nothing).
pub fn client_ip(req: &HttpRequest, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !trusted.contains(ip))
            .unwrap_or(peer),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn req(peer: &str, xff: Option<&str>) -> HttpRequest {
        let mut r = TestRequest::default().peer_addr(format!("{peer}:4000").parse().unwrap());
        if let Some(x) = xff {
            r = r.insert_header(("X-Forwarded-For", x));
        }
        r.to_http_request()
    }

    #[test]
    fn forwarded_headers_from_untrusted_peers_are_ignored() {
        let ip = client_ip(&req("10.0.0.9", Some("1.2.3.4")), &[]);
        assert_eq!(ip, Some("10.0.0.9".parse().unwrap()));
    }

    #[test]
    fn trusted_proxies_pass_on_the_right_most_untrusted_address() {
        let trusted: Vec<IpAddr> = vec!["10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap()];
        let ip = client_ip(
            &req("10.0.0.1", Some("6.6.6.6, 1.2.3.4, 10.0.0.2")),
            &trusted,
        );
        assert_eq!(ip, Some("1.2.3.4".parse().unwrap()));
    }

    #[test]
    fn a_trusted_proxy_without_forwarded_header_is_the_client() {
        let trusted: Vec<IpAddr> = vec!["10.0.0.1".parse().unwrap()];
        assert_eq!(
            client_ip(&req("10.0.0.1", None), &trusted),
            Some("10.0.0.1".parse().unwrap())
        );
    }
}
