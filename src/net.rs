//! Client metadata: the client's IP (X-Forwarded-For only from trusted proxies), the
//! key it is rate-limited under, and the user agent.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

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

    /// The key that per-client lockout counts under: the IPv4 address, or the /64
    /// of an IPv6 address (one subscriber usually holds a whole /64 and could
    /// otherwise rotate through it).
    pub fn lockout_key(&self) -> String {
        match self.ip.as_deref().and_then(|s| s.parse::<IpAddr>().ok()) {
            Some(ip) => lockout_key(ip),
            None => "unknown".into(),
        }
    }
}

pub fn lockout_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let prefix = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
            format!("{prefix}/64")
        }
    }
}

/// One `X-Forwarded-For` entry: `ip`, `ip:port`, `[ipv6]` or `[ipv6]:port`, with
/// IPv4-mapped IPv6 addresses turned back into IPv4.
fn parse_entry(raw: &str) -> Option<IpAddr> {
    let s = raw.trim();
    let ip = s
        .parse::<IpAddr>()
        .ok()
        .or_else(|| s.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| {
            s.strip_prefix('[')?
                .strip_suffix(']')?
                .parse::<Ipv6Addr>()
                .ok()
                .map(IpAddr::V6)
        })?;
    Some(ip.to_canonical())
}

/// The peer address, unless the peer is a trusted proxy: then, walking
/// X-Forwarded-For from the right, the first entry that is not itself a trusted
/// proxy. Entries further left were written by the client and prove nothing; an
/// entry that cannot be read ends the walk at the last trusted hop.
pub fn client_ip(req: &HttpRequest, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip().to_canonical();
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let headers: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect();
    let mut nearest = peer;
    for entry in headers.iter().flat_map(|v| v.split(',')).rev() {
        match parse_entry(entry) {
            Some(ip) if trusted.contains(&ip) => nearest = ip,
            Some(ip) => return Some(ip),
            None => return Some(nearest),
        }
    }
    Some(nearest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn req(peer: &str, xff: Option<&str>) -> HttpRequest {
        let mut r = TestRequest::default().peer_addr(peer.parse().unwrap());
        if let Some(x) = xff {
            r = r.insert_header(("X-Forwarded-For", x));
        }
        r.to_http_request()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies() -> Vec<IpAddr> {
        vec![ip("10.0.0.1"), ip("10.0.0.2")]
    }

    #[test]
    fn forwarded_headers_from_untrusted_peers_are_ignored() {
        let got = client_ip(&req("10.0.0.9:4000", Some("1.2.3.4")), &[]);
        assert_eq!(got, Some(ip("10.0.0.9")));
    }

    #[test]
    fn trusted_proxies_pass_on_the_right_most_untrusted_address() {
        let got = client_ip(
            &req("10.0.0.1:4000", Some("6.6.6.6, 1.2.3.4, 10.0.0.2")),
            &proxies(),
        );
        assert_eq!(got, Some(ip("1.2.3.4")));
    }

    #[test]
    fn a_trusted_proxy_without_forwarded_header_is_the_client() {
        assert_eq!(
            client_ip(&req("10.0.0.1:4000", None), &proxies()),
            Some(ip("10.0.0.1"))
        );
    }

    #[test]
    fn entries_with_ports_are_read_not_skipped() {
        for (entry, want) in [
            ("192.0.2.55:4711", "192.0.2.55"),
            ("[2001:db8::7]:4711", "2001:db8::7"),
            ("[2001:db8::7]", "2001:db8::7"),
            ("2001:db8::7", "2001:db8::7"),
        ] {
            let header = format!("6.6.6.6, {entry}");
            let got = client_ip(&req("10.0.0.1:4000", Some(&header)), &proxies());
            assert_eq!(got, Some(ip(want)), "{entry}");
        }
    }

    #[test]
    fn an_unreadable_entry_stops_at_the_last_trusted_hop() {
        let got = client_ip(
            &req("10.0.0.1:4000", Some("6.6.6.6, garbage, 10.0.0.2")),
            &proxies(),
        );
        assert_eq!(got, Some(ip("10.0.0.2")));
    }

    #[test]
    fn ipv4_mapped_addresses_are_the_same_client_as_plain_ipv4() {
        let mapped = client_ip(&req("10.0.0.1:4000", Some("::ffff:192.0.2.55")), &proxies());
        assert_eq!(mapped, Some(ip("192.0.2.55")));
        let peer = client_ip(&req("[::ffff:192.0.2.55]:4000", None), &[]);
        assert_eq!(peer, Some(ip("192.0.2.55")));
        // A proxy seen through a dual-stack socket is still recognised as trusted.
        let via_mapped = client_ip(&req("[::ffff:10.0.0.1]:4000", Some("1.2.3.4")), &proxies());
        assert_eq!(via_mapped, Some(ip("1.2.3.4")));
    }

    #[test]
    fn ipv6_clients_are_rate_limited_by_their_64() {
        assert_eq!(
            lockout_key(ip("2001:db8:1:2:aaaa::1")),
            lockout_key(ip("2001:db8:1:2:bbbb:cccc:dddd:eeee"))
        );
        assert_ne!(
            lockout_key(ip("2001:db8:1:2::1")),
            lockout_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(lockout_key(ip("2001:db8:1:2::1")), "2001:db8:1:2::/64");
        assert_eq!(lockout_key(ip("::ffff:192.0.2.55")), "192.0.2.55");
        assert_eq!(lockout_key(ip("192.0.2.55")), "192.0.2.55");
    }
}
