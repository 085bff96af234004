//! Page sizes, page tokens and `Link` headers, as Kratos clients expect them.

use axum::http::{HeaderMap, HeaderValue};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use lanyard_service::OffsetPage;

use super::error::KratosError;
use crate::query::QueryParams;

pub const DEFAULT_PAGE_SIZE: u32 = 250;
pub const MAX_PAGE_SIZE: u32 = 1000;
/// The largest row offset the stores take: SQL `OFFSET` is a signed 64-bit integer.
pub const MAX_OFFSET: u64 = i64::MAX as u64;

/// `page_size` (or `per_page`): absent → the default; an integer from 1 to the maximum →
/// itself; anything else (empty, zero, negative, too large, not an integer) → 400 naming the
/// range, rather than silently serving a page of another size.
pub fn page_size(query: &QueryParams, name: &str, default: u32, max: u32) -> Result<u32, KratosError> {
    if !query.has(name) {
        return Ok(default);
    }
    let raw = query.all(name).next().unwrap_or_default();
    raw.trim()
        .parse::<u32>()
        .ok()
        .filter(|size| (1..=max).contains(size))
        .ok_or_else(|| {
            KratosError::bad_request(format!(
                "could not parse parameter {name}: {raw:?} is not an integer from 1 to {max}"
            ))
        })
}

/// The request's path and query with some parameters replaced, for `Link` URLs.
pub fn link_url(path: &str, query: &QueryParams, replace: &[(&str, String)]) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in query.pairs() {
        if !replace.iter().any(|(name, _)| *name == key) {
            serializer.append_pair(key, value);
        }
    }
    for (name, value) in replace {
        serializer.append_pair(name, value);
    }
    format!("{path}?{}", serializer.finish())
}

pub fn set_link(headers: &mut HeaderMap, links: &[(String, &str)]) {
    let value = links
        .iter()
        .map(|(url, rel)| format!("<{url}>; rel=\"{rel}\""))
        .collect::<Vec<_>>()
        .join(",");
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert("link", value);
    }
}

/// Offset paging of the identity-sessions and my-sessions lists: token style
/// (`page_token`/`page_size`) when either is present, otherwise `page`/`per_page`. Pages are
/// 0-based for real (Kratos maps page 0 and 1 to the same rows).
pub fn offset_page(query: &QueryParams) -> Result<OffsetPage, KratosError> {
    if query.has("page_token") || query.has("page_size") {
        let limit = page_size(query, "page_size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)?;
        let offset = match query.first("page_token") {
            None => 0,
            Some(token) => decode_offset_token(token)?,
        };
        if offset > MAX_OFFSET {
            return Err(KratosError::invalid_page_token());
        }
        return Ok(OffsetPage { offset, limit });
    }
    let limit = page_size(query, "per_page", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)?;
    let page = match query.first("page") {
        None => 0,
        Some(raw) => raw.trim().parse::<u64>().map_err(|_| {
            KratosError::bad_request(format!(
                "could not parse parameter page: {raw:?} is not a non-negative integer"
            ))
        })?,
    };
    let offset = page
        .checked_mul(u64::from(limit))
        .filter(|offset| *offset <= MAX_OFFSET)
        .ok_or_else(|| {
            KratosError::bad_request(format!(
                "could not parse parameter page: {page} pages of {limit} are past the last possible row"
            ))
        })?;
    Ok(OffsetPage { offset, limit })
}

pub fn encode_offset_token(offset: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{{\"offset\":\"{offset}\",\"v\":2}}"))
}

fn decode_offset_token(token: &str) -> Result<u64, KratosError> {
    let invalid = KratosError::invalid_page_token;
    let cleaned = token.trim().replace(' ', "+");
    let bytes = URL_SAFE_NO_PAD
        .decode(cleaned.trim_end_matches('='))
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(cleaned.trim_end_matches('=')))
        .map_err(|_| invalid())?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    match &value["offset"] {
        serde_json::Value::String(s) => s.parse().map_err(|_| invalid()),
        serde_json::Value::Number(n) => n.as_u64().ok_or_else(invalid),
        _ => Err(invalid()),
    }
}

/// `Link` and `X-Total-Count` for an offset-paged response.
pub fn offset_headers(path: &str, query: &QueryParams, page: OffsetPage, total: u64) -> HeaderMap {
    let size = u64::from(page.limit);
    let url = |offset: u64| {
        link_url(
            path,
            query,
            &[
                ("page_size", size.to_string()),
                ("page_token", encode_offset_token(offset)),
                ("per_page", size.to_string()),
                ("page", (offset / size).to_string()),
            ],
        )
    };
    let mut links = vec![(url(0), "first")];
    if page.offset + size < total {
        links.push((url(page.offset + size), "next"));
    }
    if page.offset > 0 {
        links.push((url(page.offset.saturating_sub(size)), "prev"));
    }
    if total > size {
        links.push((url((total - 1) / size * size), "last"));
    }
    let mut headers = HeaderMap::new();
    set_link(&mut headers, &links);
    headers.insert("x-total-count", HeaderValue::from(total));
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_rules() {
        let q = |s: &str| QueryParams::parse(Some(s));
        assert_eq!(page_size(&q(""), "page_size", 250, 1000).unwrap(), 250);
        assert_eq!(page_size(&q("page_size=1"), "page_size", 250, 1000).unwrap(), 1);
        assert_eq!(page_size(&q("page_size=1000"), "page_size", 250, 1000).unwrap(), 1000);
        for bad in [
            "page_size=0",
            "page_size=-1",
            "page_size=",
            "page_size=1001",
            "page_size=ten",
        ] {
            assert!(page_size(&q(bad), "page_size", 250, 1000).is_err(), "{bad}");
        }
    }

    #[test]
    fn offset_tokens_round_trip_and_garbage_is_rejected() {
        let q = QueryParams::parse(Some(&format!("page_token={}", encode_offset_token(500))));
        assert_eq!(offset_page(&q).unwrap().offset, 500);
        assert!(offset_page(&QueryParams::parse(Some("page_token=zzz"))).is_err());
    }

    #[test]
    fn offsets_beyond_a_signed_64_bit_integer_are_refused() {
        // Found by schemathesis: these reached SQL as OFFSET 18446744073709551615 (a 500).
        assert!(offset_page(&QueryParams::parse(Some("page=9223372036854775808"))).is_err());
        assert!(offset_page(&QueryParams::parse(Some("page=922337203685477580&per_page=1000"))).is_err());
        let huge = format!("page_token={}", encode_offset_token(u64::MAX));
        assert!(offset_page(&QueryParams::parse(Some(&huge))).is_err());
        let last = offset_page(&QueryParams::parse(Some("page=9223372036854775807&per_page=1"))).unwrap();
        assert_eq!(last.offset, MAX_OFFSET);
    }

    #[test]
    fn legacy_pages_are_zero_based() {
        let page = offset_page(&QueryParams::parse(Some("page=2&per_page=10"))).unwrap();
        assert_eq!((page.offset, page.limit), (20, 10));
    }
}
