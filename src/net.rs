//! The client behind a request: its IP (X-Forwarded-For believed only from trusted
//! proxies), the key it is rate-limited under, and its user agent. Plain values and
//! functions; the HTTP extractor that fills them lives with the routes.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// What we record about the device behind a request.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Longest user agent kept, in characters.
pub const MAX_USER_AGENT: usize = 512;

impl ClientInfo {
    pub fn new(ip: Option<IpAddr>, user_agent: Option<&str>) -> ClientInfo {
        ClientInfo {
            ip: ip.map(|ip| ip.to_string()),
            user_agent: user_agent.map(|s| s.chars().take(MAX_USER_AGENT).collect()),
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

/// The peer address, unless the peer is a trusted proxy: then, walking the
/// X-Forwarded-For values (in the order the headers came) from the right, the first
/// entry that is not itself a trusted proxy. Entries further left were written by the
/// client and prove nothing; an entry that cannot be read ends the walk at the last
/// trusted hop.
pub fn client_ip(peer: IpAddr, forwarded_for: &[&str], trusted: &[IpAddr]) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted.contains(&peer) {
        return peer;
    }
    let mut nearest = peer;
    for entry in forwarded_for.iter().flat_map(|v| v.split(',')).rev() {
        match parse_entry(entry) {
            Some(ip) if trusted.contains(&ip) => nearest = ip,
            Some(ip) => return ip,
            None => return nearest,
        }
    }
    nearest
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The client of a request from `peer` (`ip:port`) with this X-Forwarded-For.
    fn from(peer: &str, xff: Option<&str>, trusted: &[IpAddr]) -> Option<IpAddr> {
        let peer: SocketAddr = peer.parse().unwrap();
        let headers: Vec<&str> = xff.into_iter().collect();
        Some(client_ip(peer.ip(), &headers, trusted))
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies() -> Vec<IpAddr> {
        vec![ip("10.0.0.1"), ip("10.0.0.2")]
    }

    #[test]
    fn forwarded_headers_from_untrusted_peers_are_ignored() {
        let got = from("10.0.0.9:4000", Some("1.2.3.4"), &[]);
        assert_eq!(got, Some(ip("10.0.0.9")));
    }

    #[test]
    fn trusted_proxies_pass_on_the_right_most_untrusted_address() {
        let got = from(
            "10.0.0.1:4000",
            Some("6.6.6.6, 1.2.3.4, 10.0.0.2"),
            &proxies(),
        );
        assert_eq!(got, Some(ip("1.2.3.4")));
    }

    #[test]
    fn a_trusted_proxy_without_forwarded_header_is_the_client() {
        assert_eq!(
            from("10.0.0.1:4000", None, &proxies()),
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
            let got = from("10.0.0.1:4000", Some(&header), &proxies());
            assert_eq!(got, Some(ip(want)), "{entry}");
        }
    }

    #[test]
    fn an_unreadable_entry_stops_at_the_last_trusted_hop() {
        let got = from(
            "10.0.0.1:4000",
            Some("6.6.6.6, garbage, 10.0.0.2"),
            &proxies(),
        );
        assert_eq!(got, Some(ip("10.0.0.2")));
    }

    #[test]
    fn ipv4_mapped_addresses_are_the_same_client_as_plain_ipv4() {
        let mapped = from("10.0.0.1:4000", Some("::ffff:192.0.2.55"), &proxies());
        assert_eq!(mapped, Some(ip("192.0.2.55")));
        let peer = from("[::ffff:192.0.2.55]:4000", None, &[]);
        assert_eq!(peer, Some(ip("192.0.2.55")));
        // A proxy seen through a dual-stack socket is still recognised as trusted.
        let via_mapped = from("[::ffff:10.0.0.1]:4000", Some("1.2.3.4"), &proxies());
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
