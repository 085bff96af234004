//! Checks of the request line and headers that Lanyard makes itself, before routing, so that
//! the answers come in the API's error format (through `error_bodies`) rather than from hyper,
//! which answers its own limits with an empty body and closes the connection.
//!
//! The header section limit sits well below hyper's (its read buffer, about 400 KiB): heads
//! between the two get a 431 that clients can parse. hyper still answers alone for heads above
//! its buffer, more than 100 header fields, URLs of 65,535 bytes or more, and requests that are
//! not HTTP/1.1 at all (docs/SECURITY.md, "Errors outside the routes").

use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::nul::uri_has_nul;

/// The largest header section Lanyard accepts, in bytes, counted as on the wire (`name: value`
/// and CRLF per field). Browsers send a few KiB; a proxy chain with cookies rarely passes 16 KiB.
pub const MAX_HEADER_SECTION_BYTES: usize = 64 * 1024;

fn header_section_bytes(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum()
}

pub async fn check_request_head(request: Request, next: Next) -> Response {
    let uri = request.uri();
    if uri_has_nul(uri.path()) || uri.query().is_some_and(uri_has_nul) {
        // Plain text: `error_bodies` turns it into the route's API error JSON.
        return (StatusCode::BAD_REQUEST, "the URL must not contain NUL characters (%00)").into_response();
    }
    let size = header_section_bytes(request.headers());
    if size > MAX_HEADER_SECTION_BYTES {
        return (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("the request headers take {size} bytes; at most {MAX_HEADER_SECTION_BYTES} are accepted"),
        )
            .into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_sections_are_counted_as_on_the_wire() {
        let mut headers = HeaderMap::new();
        headers.insert("host", "lanyard".parse().unwrap());
        headers.append("cookie", "a=b".parse().unwrap());
        assert_eq!(
            header_section_bytes(&headers),
            "host: lanyard\r\n".len() + "cookie: a=b\r\n".len()
        );
    }
}
