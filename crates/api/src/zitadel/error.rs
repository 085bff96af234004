//! ZITADEL errors, in the two shapes its transports use: grpc-gateway status JSON for REST,
//! Connect error JSON for the Connect paths. Every failure on a ZITADEL route becomes one of
//! these here.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use lanyard_service::ServiceError;
use serde_json::{json, Value};

/// gRPC status codes used by the session service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    InvalidArgument,
    NotFound,
    AlreadyExists,
    PermissionDenied,
    ResourceExhausted,
    FailedPrecondition,
    Unimplemented,
    Internal,
    Unavailable,
    Unauthenticated,
}

impl Code {
    fn number(self) -> u16 {
        match self {
            Code::InvalidArgument => 3,
            Code::NotFound => 5,
            Code::AlreadyExists => 6,
            Code::PermissionDenied => 7,
            Code::ResourceExhausted => 8,
            Code::FailedPrecondition => 9,
            Code::Unimplemented => 12,
            Code::Internal => 13,
            Code::Unavailable => 14,
            Code::Unauthenticated => 16,
        }
    }

    fn connect_name(self) -> &'static str {
        match self {
            Code::InvalidArgument => "invalid_argument",
            Code::NotFound => "not_found",
            Code::AlreadyExists => "already_exists",
            Code::PermissionDenied => "permission_denied",
            Code::ResourceExhausted => "resource_exhausted",
            Code::FailedPrecondition => "failed_precondition",
            Code::Unimplemented => "unimplemented",
            Code::Internal => "internal",
            Code::Unavailable => "unavailable",
            Code::Unauthenticated => "unauthenticated",
        }
    }

    /// The HTTP status both Connect and grpc-gateway use for this code.
    fn http_status(self) -> StatusCode {
        match self {
            Code::InvalidArgument | Code::FailedPrecondition => StatusCode::BAD_REQUEST,
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::AlreadyExists => StatusCode::CONFLICT,
            Code::PermissionDenied => StatusCode::FORBIDDEN,
            Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
            Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
            Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Rest,
    Connect,
}

#[derive(Debug, Clone)]
pub struct ZitadelError {
    pub code: Code,
    /// ZITADEL's error id, e.g. `QUERY-SFeaa`.
    pub id: String,
    pub message: String,
    pub retry_after_seconds: Option<u64>,
}

impl ZitadelError {
    pub fn new(code: Code, id: &str, message: impl Into<String>) -> Self {
        ZitadelError {
            code,
            id: id.to_owned(),
            message: message.into(),
            retry_after_seconds: None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(Code::InvalidArgument, "LANYARD-invalid", message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(Code::Unauthenticated, "AUTH-7fs1e", message)
    }

    /// `unavailable` with the standard `Retry-After`: the database cannot serve now.
    pub fn unavailable(message: impl Into<String>) -> Self {
        ZitadelError {
            retry_after_seconds: Some(u64::from(crate::UNAVAILABLE_RETRY_AFTER_SECONDS)),
            ..Self::new(Code::Unavailable, "LANYARD-unavailable", message)
        }
    }

    /// The error in `transport`'s JSON. A retry delay goes out twice, as each protocol's clients
    /// look for it: the HTTP `Retry-After` header, and a `google.rpc.RetryInfo` detail (the gRPC
    /// convention that grpc-gateway and Connect carry), after ZITADEL's own `ErrorDetail`.
    pub fn render(self, transport: Transport) -> Response {
        let status = self.code.http_status();
        let mut response = match transport {
            Transport::Rest => (
                status,
                Json(json!({
                    "code": self.code.number(),
                    "message": format!("{} ({})", self.message, self.id),
                    "details": rest_details(&self),
                })),
            )
                .into_response(),
            Transport::Connect => (
                status,
                Json(json!({
                    "code": self.code.connect_name(),
                    "message": format!("{} ({})", self.message, self.id),
                    "details": connect_details(&self),
                })),
            )
                .into_response(),
        };
        if let Some(seconds) = self.retry_after_seconds {
            response.headers_mut().insert("retry-after", HeaderValue::from(seconds));
        }
        response
    }
}

/// grpc-gateway's `details`: ZITADEL's `ErrorDetail`, then `RetryInfo` when there is a delay.
fn rest_details(error: &ZitadelError) -> Value {
    let mut details = vec![json!({
        "@type": "type.googleapis.com/zitadel.v1.ErrorDetail",
        "id": error.id,
        "message": error.message,
    })];
    if let Some(seconds) = error.retry_after_seconds {
        details.push(json!({
            "@type": "type.googleapis.com/google.rpc.RetryInfo",
            "retryDelay": format!("{seconds}s"),
        }));
    }
    Value::Array(details)
}

/// Connect's `details`: each a protobuf message in base64 (no padding) with its JSON form
/// under `debug`.
fn connect_details(error: &ZitadelError) -> Value {
    let mut details = vec![json!({
        "type": "zitadel.v1.ErrorDetail",
        "value": STANDARD_NO_PAD.encode(error_detail_protobuf(&error.id, &error.message)),
        "debug": { "id": error.id, "message": error.message },
    })];
    if let Some(seconds) = error.retry_after_seconds {
        details.push(json!({
            "type": "google.rpc.RetryInfo",
            "value": STANDARD_NO_PAD.encode(retry_info_protobuf(seconds)),
            "debug": { "retryDelay": format!("{seconds}s") },
        }));
    }
    Value::Array(details)
}

fn push_varint(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
}

/// `zitadel.v1.ErrorDetail { string id = 1; string message = 2; }` in protobuf wire format.
fn error_detail_protobuf(id: &str, message: &str) -> Vec<u8> {
    fn field(out: &mut Vec<u8>, tag: u8, value: &str) {
        out.push(tag);
        push_varint(out, value.len() as u64);
        out.extend_from_slice(value.as_bytes());
    }
    let mut out = Vec::with_capacity(id.len() + message.len() + 6);
    field(&mut out, 0x0a, id);
    field(&mut out, 0x12, message);
    out
}

/// `google.rpc.RetryInfo { google.protobuf.Duration retry_delay = 1; }` with
/// `Duration { int64 seconds = 1; }`, in protobuf wire format.
fn retry_info_protobuf(seconds: u64) -> Vec<u8> {
    let mut duration = vec![0x08];
    push_varint(&mut duration, seconds);
    let mut out = vec![0x0a];
    push_varint(&mut out, duration.len() as u64);
    out.extend_from_slice(&duration);
    out
}

/// Splits a trailing `(ID-xyz)` off a service message.
fn split_id(message: &str, fallback: &str) -> (String, String) {
    if let Some(start) = message.rfind(" (") {
        if message.ends_with(')') {
            let id = &message[start + 2..message.len() - 1];
            if id.contains('-') && !id.contains(' ') {
                return (id.to_owned(), message[..start].to_owned());
            }
        }
    }
    (fallback.to_owned(), message.to_owned())
}

impl From<ServiceError> for ZitadelError {
    fn from(error: ServiceError) -> Self {
        let with_id = |code: Code, message: &str, fallback: &str| {
            let (id, message) = split_id(message, fallback);
            ZitadelError::new(code, &id, message)
        };
        match error {
            ServiceError::Invalid(m) => with_id(Code::InvalidArgument, &m, "LANYARD-invalid"),
            error @ (ServiceError::PageToken(_) | ServiceError::SchemaViolation { .. }) => {
                ZitadelError::new(Code::InvalidArgument, "LANYARD-invalid", error.to_string())
            }
            ServiceError::Conflict(m) => ZitadelError::new(Code::AlreadyExists, "LANYARD-exists", m),
            ServiceError::NotFound("session") => ZitadelError::new(
                Code::NotFound,
                "QUERY-SFeaa",
                "Errors.Session.NotExisting: the session does not exist",
            ),
            ServiceError::NotFound("user") => ZitadelError::new(
                Code::NotFound,
                "QUERY-Dfbg2",
                "Errors.User.NotFound: the user does not exist",
            ),
            ServiceError::NotFound(what) => {
                ZitadelError::new(Code::NotFound, "LANYARD-notfound", format!("{what} not found"))
            }
            ServiceError::Unauthenticated(m) => ZitadelError::unauthenticated(m),
            ServiceError::Forbidden(m) => with_id(Code::PermissionDenied, &m, "AUTHZ-HKJD33"),
            error @ ServiceError::AalRequired { .. } => {
                ZitadelError::new(Code::PermissionDenied, "AUTHZ-aal", error.to_string())
            }
            ServiceError::IdentityDisabled => {
                ZitadelError::new(Code::FailedPrecondition, "SESSION-Gj4ko", "the user is not active")
            }
            ServiceError::PreconditionFailed(m) => with_id(Code::FailedPrecondition, &m, "LANYARD-precondition"),
            ServiceError::CheckFailed(m) => with_id(Code::InvalidArgument, &m, "COMMAND-3M0fs"),
            ServiceError::Unimplemented(m) => ZitadelError::new(Code::Unimplemented, "LANYARD-unimplemented", m),
            error @ ServiceError::RateLimited {
                retry_after_seconds, ..
            } => ZitadelError {
                retry_after_seconds: Some(retry_after_seconds),
                ..ZitadelError::new(Code::ResourceExhausted, "LANYARD-ratelimit", error.to_string())
            },
            ServiceError::Unavailable(e) => {
                metrics::counter!("lanyard_store_errors_total", "kind" => "unavailable").increment(1);
                tracing::error!(error = %e, "store unavailable");
                ZitadelError::unavailable(crate::UNAVAILABLE_REASON)
            }
            ServiceError::Internal(e) => {
                metrics::counter!("lanyard_store_errors_total", "kind" => "internal").increment(1);
                tracing::error!(error = %e, "internal error");
                ZitadelError::new(
                    Code::Internal,
                    "LANYARD-internal",
                    "an unexpected error occurred; it has been logged",
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_detail_is_valid_protobuf() {
        assert_eq!(
            error_detail_protobuf("A-1", "m"),
            vec![0x0a, 3, b'A', b'-', b'1', 0x12, 1, b'm']
        );
        let long = "x".repeat(200);
        let bytes = error_detail_protobuf("i", &long);
        assert_eq!(&bytes[3..6], &[0x12, 0xc8, 0x01]);
    }

    #[test]
    fn retry_info_is_valid_protobuf() {
        assert_eq!(retry_info_protobuf(5), vec![0x0a, 2, 0x08, 5]);
        assert_eq!(retry_info_protobuf(300), vec![0x0a, 3, 0x08, 0xac, 0x02]);
    }

    #[test]
    fn ids_are_split_from_messages() {
        assert_eq!(
            split_id("limit too big (QUERY-4M0fs)", "X"),
            ("QUERY-4M0fs".into(), "limit too big".into())
        );
        assert_eq!(
            split_id("plain (words here)", "X"),
            ("X".into(), "plain (words here)".into())
        );
    }
}
