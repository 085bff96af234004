//! Answers that come from outside the handlers (no route, wrong method, body limit, timeout,
//! request head checks, an extractor's own rejection), in the error JSON of the API that owns
//! the path, so every client can parse every error: Kratos JSON by default, grpc-gateway JSON
//! under `/v2/` and `/v2beta/`, Connect JSON under `/zitadel.` (or, when the request is gRPC or
//! gRPC-Web by its content type, that protocol's status). The rule is by path and content type
//! alone, on both ports, so an answer never depends on which routes a port happens to serve.

use axum::extract::Request;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::kratos::KratosError;
use crate::zitadel::error::{Code, Transport, ZitadelError};

/// The API whose error format a path answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    Kratos,
    Zitadel(Transport),
}

pub(crate) fn owner(path: &str, headers: &HeaderMap) -> Owner {
    let under = |prefix: &str| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    if path.starts_with("/zitadel.") {
        Owner::Zitadel(crate::zitadel::rpc_transport(headers))
    } else if under("/v2") || under("/v2beta") {
        Owner::Zitadel(Transport::Rest)
    } else {
        Owner::Kratos
    }
}

/// The gRPC code for an HTTP status that a layer (not a handler) produced.
fn zitadel_code(status: StatusCode) -> Code {
    match status.as_u16() {
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::NotFound,
        408 | 503 | 504 => Code::Unavailable,
        409 => Code::AlreadyExists,
        // What gRPC and Connect answer for a message, URL or header section above the limit.
        413 | 414 | 431 => Code::ResourceExhausted,
        // grpc-gateway's answer to a known path with the wrong method.
        405 => Code::Unimplemented,
        429 => Code::ResourceExhausted,
        501 => Code::Unimplemented,
        _ if status.is_server_error() => Code::Internal,
        _ => Code::InvalidArgument,
    }
}

fn explain(status: StatusCode, original: &str) -> String {
    match status.as_u16() {
        413 => "the request body is larger than this server accepts".to_owned(),
        503 | 408 | 504 => "the request took too long and was stopped; retry".to_owned(),
        _ if original.trim().is_empty() => format!("the request failed with HTTP status {}", status.as_u16()),
        _ => original.trim().to_owned(),
    }
}

/// An error with this status and message in the format of the API that owns `path`, with
/// `Retry-After` on 503.
pub(crate) fn error_for_path(path: &str, headers: &HeaderMap, status: StatusCode, message: String) -> Response {
    let retry_after = (status == StatusCode::SERVICE_UNAVAILABLE).then_some(crate::UNAVAILABLE_RETRY_AFTER_SECONDS);
    let owner = owner(path, headers);
    let mut response = match owner {
        Owner::Zitadel(transport) => ZitadelError {
            retry_after_seconds: retry_after.map(u64::from),
            ..ZitadelError::new(zitadel_code(status), "LANYARD-http", message)
        }
        .render(transport),
        Owner::Kratos => KratosError {
            retry_after_seconds: retry_after,
            ..KratosError::new(status, message)
        }
        .into_response(),
    };
    // gRPC and gRPC-Web answer HTTP 200 and carry the status in grpc-status.
    if !matches!(
        owner,
        Owner::Zitadel(Transport::Grpc | Transport::GrpcWeb | Transport::GrpcWebText)
    ) {
        *response.status_mut() = status;
    }
    response
}

/// The router's fallback: no route for this path.
pub async fn not_found(uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    if let Some(response) = crate::zitadel::unknown_rpc(path, &headers) {
        return response;
    }
    match owner(path, &headers) {
        Owner::Kratos => crate::kratos::not_found(uri).await.into_response(),
        Owner::Zitadel(Transport::Connect) => {
            // Connect clients read a 404 as `unimplemented`: no such procedure.
            let mut response = ZitadelError::new(
                Code::Unimplemented,
                "LANYARD-route",
                format!("no procedure {path}; Lanyard serves zitadel.session.v2.SessionService and zitadel.session.v2beta.SessionService"),
            )
            .render(Transport::Connect);
            *response.status_mut() = StatusCode::NOT_FOUND;
            response
        }
        Owner::Zitadel(Transport::Rest) => {
            ZitadelError::new(Code::NotFound, "LANYARD-route", format!("no route for {path}")).render(Transport::Rest)
        }
        Owner::Zitadel(transport) => ZitadelError::new(
            Code::Unimplemented,
            "LANYARD-route",
            format!("no procedure {path}; Lanyard serves zitadel.session.v2.SessionService and zitadel.session.v2beta.SessionService"),
        )
        .render(transport),
    }
}

/// The router's fallback for a known path with a method it does not serve (axum adds `Allow`).
pub async fn method_not_allowed(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    match owner(uri.path(), &headers) {
        Owner::Kratos => crate::kratos::method_not_allowed(method, uri).await.into_response(),
        Owner::Zitadel(_) => error_for_path(
            uri.path(),
            &headers,
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{method} is not allowed on {}", uri.path()),
        ),
    }
}

pub async fn error_bodies(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let headers = request.headers().clone();
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let message = explain(status, &String::from_utf8_lossy(&text));
    let mut rewritten = error_for_path(&path, &headers, status, message);
    for (name, value) in parts.headers.iter() {
        if name != CONTENT_TYPE
            && name != CONTENT_LENGTH
            && !(name == RETRY_AFTER && rewritten.headers().contains_key(RETRY_AFTER))
        {
            rewritten.headers_mut().insert(name.clone(), value.clone());
        }
    }
    rewritten
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_belong_to_their_api() {
        assert_eq!(
            owner("/v2/sessions", &HeaderMap::new()),
            Owner::Zitadel(Transport::Rest)
        );
        assert_eq!(owner("/v2", &HeaderMap::new()), Owner::Zitadel(Transport::Rest));
        assert_eq!(
            owner("/v2beta/sessions/x", &HeaderMap::new()),
            Owner::Zitadel(Transport::Rest)
        );
        assert_eq!(
            owner("/zitadel.session.v2.SessionService/ListSessions", &HeaderMap::new()),
            Owner::Zitadel(Transport::Connect)
        );
        assert_eq!(owner("/v2sessions", &HeaderMap::new()), Owner::Kratos);
        assert_eq!(owner("/sessions/whoami", &HeaderMap::new()), Owner::Kratos);
        assert_eq!(owner("/", &HeaderMap::new()), Owner::Kratos);
    }

    #[test]
    fn layer_statuses_map_to_grpc_codes() {
        assert_eq!(zitadel_code(StatusCode::PAYLOAD_TOO_LARGE), Code::ResourceExhausted);
        assert_eq!(zitadel_code(StatusCode::URI_TOO_LONG), Code::ResourceExhausted);
        assert_eq!(zitadel_code(StatusCode::SERVICE_UNAVAILABLE), Code::Unavailable);
        assert_eq!(zitadel_code(StatusCode::METHOD_NOT_ALLOWED), Code::Unimplemented);
        assert_eq!(zitadel_code(StatusCode::BAD_REQUEST), Code::InvalidArgument);
        let response = error_for_path(
            "/v2/x",
            &HeaderMap::new(),
            StatusCode::SERVICE_UNAVAILABLE,
            "slow".into(),
        );
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()[RETRY_AFTER], "5");
    }
}
