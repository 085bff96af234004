//! Where a request comes from.
//!
//! The client IP is the socket's peer address, unless that peer is a configured trusted proxy:
//! then it is the right-most `X-Forwarded-For` entry that is not itself a trusted proxy. A
//! client can put anything in that header, so it is believed only from proxies we run.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use ipnet::IpNet;

use crate::AppState;

#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    trusted
        .iter()
        .any(|net| net.contains(&lanyard_domain::canonical_ip(ip)))
}

/// One `X-Forwarded-For` entry: an address, or an address with a port as some proxies write
/// it (`203.0.113.7:4711`, `[2001:db8::1]:4711`); canonical.
fn forwarded_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    lanyard_domain::parse_ip(entry).ok().or_else(|| {
        entry
            .parse::<SocketAddr>()
            .ok()
            .map(|s| lanyard_domain::canonical_ip(s.ip()))
    })
}

/// The client's canonical address. From a trusted proxy, the right-most `X-Forwarded-For` hop
/// that is not itself trusted; an entry that is not an address ends the walk at the last
/// trusted hop, since everything left of it may have been written by the client.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = lanyard_domain::canonical_ip(peer?);
    if !is_trusted(peer, trusted) {
        return Some(peer);
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let mut nearest_trusted = peer;
    for entry in entries.iter().rev() {
        let Some(hop) = forwarded_entry(entry) else {
            return Some(nearest_trusted);
        };
        if !is_trusted(hop, trusted) {
            return Some(hop);
        }
        nearest_trusted = hop;
    }
    Some(nearest_trusted)
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        Ok(ClientIp(client_ip(peer, &parts.headers, &state.config.trusted_proxies)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().unwrap());
        h
    }

    #[test]
    fn forwarded_for_is_ignored_from_untrusted_peers() {
        let peer = "203.0.113.9".parse().ok();
        assert_eq!(client_ip(peer, &headers("198.51.100.1"), &[]), peer);
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let peer = "10.1.2.3".parse().ok();
        let ip = client_ip(peer, &headers("1.1.1.1, 198.51.100.7, 10.9.9.9"), &trusted);
        assert_eq!(
            ip,
            "198.51.100.7".parse().ok(),
            "a client-supplied left-most entry is not believed"
        );
        assert_eq!(client_ip(peer, &HeaderMap::new(), &trusted), peer);
    }

    #[test]
    fn addresses_are_canonical_and_garbage_stops_the_walk() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let mapped_peer = "::ffff:203.0.113.9".parse().ok();
        assert_eq!(
            client_ip(mapped_peer, &HeaderMap::new(), &[]),
            "203.0.113.9".parse().ok()
        );
        let peer = "10.1.2.3".parse().ok();
        assert_eq!(
            client_ip(peer, &headers("198.51.100.7, ::ffff:203.0.113.99"), &trusted),
            "203.0.113.99".parse().ok()
        );
        assert_eq!(
            client_ip(peer, &headers("198.51.100.7, 203.0.113.099"), &trusted),
            peer,
            "a malformed hop is not skipped to reach a client-written one"
        );
        assert_eq!(
            client_ip(peer, &headers("203.0.113.7:4711"), &trusted),
            "203.0.113.7".parse().ok()
        );
    }
}
