//! Answers that come from outside the handlers (body limit, timeout, an extractor's own
//! rejection) rewritten into the error JSON of the API the path belongs to, so every client
//! can parse every error.

use axum::extract::Request;
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::kratos::KratosError;
use crate::zitadel::error::{Code, Transport, ZitadelError};

fn is_zitadel(path: &str) -> Option<Transport> {
    if path.starts_with("/zitadel.") {
        Some(Transport::Connect)
    } else if path.starts_with("/v2/") || path.starts_with("/v2beta/") {
        Some(Transport::Rest)
    } else {
        None
    }
}

fn zitadel_code(status: u16) -> Code {
    match status {
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::NotFound,
        408 | 504 => Code::Unavailable,
        409 => Code::AlreadyExists,
        413 | 400 | 405 | 415 | 422 => Code::InvalidArgument,
        429 => Code::ResourceExhausted,
        501 => Code::Unimplemented,
        503 => Code::Unavailable,
        _ if status >= 500 => Code::Internal,
        _ => Code::InvalidArgument,
    }
}

fn explain(status: u16, original: &str) -> String {
    match status {
        413 => "the request body is larger than this server accepts".to_owned(),
        503 | 408 | 504 => "the request took too long and was stopped; retry".to_owned(),
        _ if original.trim().is_empty() => format!("the request failed with HTTP status {status}"),
        _ => original.trim().to_owned(),
    }
}

pub async fn error_bodies(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
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
    let message = explain(status.as_u16(), &String::from_utf8_lossy(&text));
    // A 503 (the request ran out of time) says when to retry, like the store's own 503s.
    let retry_after =
        (status == axum::http::StatusCode::SERVICE_UNAVAILABLE).then_some(crate::UNAVAILABLE_RETRY_AFTER_SECONDS);
    let mut rewritten = match is_zitadel(&path) {
        Some(transport) => {
            let mut r = ZitadelError {
                retry_after_seconds: retry_after.map(u64::from),
                ..ZitadelError::new(zitadel_code(status.as_u16()), "LANYARD-http", message)
            }
            .render(transport);
            *r.status_mut() = status;
            r
        }
        None => KratosError {
            retry_after_seconds: retry_after,
            ..KratosError::new(status, message)
        }
        .into_response(),
    };
    for (name, value) in parts.headers.iter() {
        let ours = name == axum::http::header::RETRY_AFTER && rewritten.headers().contains_key(name);
        if name != CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH && !ours {
            rewritten.headers_mut().insert(name.clone(), value.clone());
        }
    }
    rewritten
}
