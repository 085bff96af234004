//! Which of ZITADEL's protocols a request on an RPC path speaks, read from its content type,
//! and the deadline it carries.

use std::time::Duration;

use axum::http::HeaderMap;

use super::error::ZitadelError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protocol {
    /// Connect unary with the JSON codec (`application/json`, also when no type is given).
    ConnectJson,
    /// Connect unary with the protobuf codec (`application/proto`).
    ConnectProto,
    /// gRPC over HTTP/2 (`application/grpc`, `application/grpc+proto`).
    Grpc,
    /// gRPC-Web, binary (`application/grpc-web`, `+proto`).
    GrpcWeb,
    /// gRPC-Web with base64 bodies (`application/grpc-web-text`, `+proto`).
    GrpcWebText,
    /// Anything else, named as the client sent it.
    Unsupported(String),
}

impl Protocol {
    pub fn of(headers: &HeaderMap) -> Protocol {
        let Some(value) = headers.get("content-type") else {
            return Protocol::ConnectJson;
        };
        let Ok(text) = value.to_str() else {
            return Protocol::Unsupported(String::from_utf8_lossy(value.as_bytes()).into_owned());
        };
        // Parameters (`; charset=utf-8`) do not change the codec.
        let media_type = text.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        match media_type.as_str() {
            "application/json" => Protocol::ConnectJson,
            "application/proto" => Protocol::ConnectProto,
            "application/grpc" | "application/grpc+proto" => Protocol::Grpc,
            "application/grpc-web" | "application/grpc-web+proto" => Protocol::GrpcWeb,
            "application/grpc-web-text" | "application/grpc-web-text+proto" => Protocol::GrpcWebText,
            _ => Protocol::Unsupported(text.to_owned()),
        }
    }

    /// The deadline the client set: `grpc-timeout` for gRPC and gRPC-Web, `connect-timeout-ms`
    /// for Connect.
    pub fn deadline(&self, headers: &HeaderMap) -> Result<Option<Duration>, ZitadelError> {
        let (name, parse): (&str, fn(&str) -> Option<Duration>) = match self {
            Protocol::Grpc | Protocol::GrpcWeb | Protocol::GrpcWebText => ("grpc-timeout", grpc_timeout),
            Protocol::ConnectJson | Protocol::ConnectProto => ("connect-timeout-ms", connect_timeout),
            Protocol::Unsupported(_) => return Ok(None),
        };
        let Some(value) = headers.get(name) else {
            return Ok(None);
        };
        value
            .to_str()
            .ok()
            .and_then(parse)
            .map(Some)
            .ok_or_else(|| ZitadelError::invalid(format!("the {name} header {value:?} is not a valid timeout")))
    }
}

/// gRPC's `TimeoutValue TimeoutUnit`: at most 8 digits, then one of H M S m u n.
fn grpc_timeout(text: &str) -> Option<Duration> {
    let (digits, unit) = text.split_at(text.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(value * 3600),
        "M" => Duration::from_secs(value * 60),
        "S" => Duration::from_secs(value),
        "m" => Duration::from_millis(value),
        "u" => Duration::from_micros(value),
        "n" => Duration::from_nanos(value),
        _ => return None,
    })
}

/// Connect's `connect-timeout-ms`: at most 10 digits of milliseconds.
fn connect_timeout(text: &str) -> Option<Duration> {
    if text.is_empty() || text.len() > 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().map(Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().expect("a valid header value"));
        }
        map
    }

    #[test]
    fn content_types_pick_the_protocol() {
        let of = |ct: &'static str| Protocol::of(&headers(&[("content-type", ct)]));
        assert_eq!(Protocol::of(&HeaderMap::new()), Protocol::ConnectJson);
        assert_eq!(of("application/json; charset=utf-8"), Protocol::ConnectJson);
        assert_eq!(of("Application/Proto"), Protocol::ConnectProto);
        assert_eq!(of("application/grpc"), Protocol::Grpc);
        assert_eq!(of("application/grpc+proto"), Protocol::Grpc);
        assert_eq!(of("application/grpc-web+proto"), Protocol::GrpcWeb);
        assert_eq!(of("application/grpc-web-text"), Protocol::GrpcWebText);
        assert_eq!(
            of("application/grpc+json"),
            Protocol::Unsupported("application/grpc+json".into())
        );
    }

    #[test]
    fn deadlines_are_read_in_each_protocols_units() {
        let grpc = |v: &'static str| Protocol::Grpc.deadline(&headers(&[("grpc-timeout", v)]));
        assert_eq!(grpc("5S").ok().flatten(), Some(Duration::from_secs(5)));
        assert_eq!(grpc("250m").ok().flatten(), Some(Duration::from_millis(250)));
        assert_eq!(grpc("2H").ok().flatten(), Some(Duration::from_secs(7200)));
        assert!(grpc("123456789S").is_err(), "more than 8 digits");
        assert!(grpc("5s").is_err(), "lower-case s is not a unit");
        assert!(grpc("S").is_err());
        let connect = |v: &'static str| Protocol::ConnectProto.deadline(&headers(&[("connect-timeout-ms", v)]));
        assert_eq!(connect("1500").ok().flatten(), Some(Duration::from_millis(1500)));
        assert!(connect("-1").is_err());
        assert!(connect("12345678901").is_err());
        assert_eq!(Protocol::Grpc.deadline(&HeaderMap::new()).ok().flatten(), None);
    }
}
