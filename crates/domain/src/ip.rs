//! IP addresses as Lanyard keeps and counts them: parsed strictly, in one canonical form.
//!
//! The same address can be written many ways (`::ffff:203.0.113.99`, and with lenient parsers
//! `203.0.113.099` or `0xCB.0.113.99`); limits keyed on text would count each spelling apart.
//! Every address that enters Lanyard goes through [`parse_ip`] or [`canonical_ip`].

use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IP address (dotted-decimal IPv4 without leading zeros, or IPv6)")]
pub struct InvalidIp(pub String);

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`, what a dual-stack socket reports for IPv4
/// clients) become the IPv4 address they carry.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// Parses an address strictly (the standard library refuses leading zeros, hex and octal
/// parts, and out-of-range octets) and returns its canonical form.
pub fn parse_ip(text: &str) -> Result<IpAddr, InvalidIp> {
    text.trim()
        .parse::<IpAddr>()
        .map(canonical_ip)
        .map_err(|_| InvalidIp(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_an_address_is_one_address_or_refused() {
        let ip = parse_ip("203.0.113.99").unwrap();
        assert_eq!(parse_ip("::ffff:203.0.113.99").unwrap(), ip);
        assert_eq!(parse_ip("::FFFF:cb00:7163").unwrap(), ip);
        assert_eq!(parse_ip(" 203.0.113.99 ").unwrap(), ip);
        for bad in [
            "999.1.1.1",
            "203.0.113.099",
            "0xCB.0.113.99",
            "203.0.113",
            "",
            "::ffff:999.0.0.1",
            "1.2.3.4/8",
        ] {
            assert!(parse_ip(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_ip("2001:DB8::1").unwrap().to_string(), "2001:db8::1");
    }
}
