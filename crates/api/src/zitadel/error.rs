//! ZITADEL errors, in the shape each of its transports uses: grpc-gateway status JSON for REST,
//! Connect error JSON for Connect (with either codec), `grpc-status` / `grpc-message` /
//! `grpc-status-details-bin` for gRPC and gRPC-Web. Every failure on a ZITADEL route becomes one
//! of these here.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use lanyard_proto::google::rpc::{RetryInfo, Status};
use lanyard_proto::well_known::{Any, Duration as ProtoDuration};
use lanyard_proto::zitadel::v1::ErrorDetail;
use lanyard_proto::Message;
use lanyard_service::{DeliveryError, Missing, Refusal, ServiceError};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use serde_json::{json, Value};

/// gRPC status codes used by the session service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    InvalidArgument,
    DeadlineExceeded,
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
            Code::DeadlineExceeded => 4,
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
            Code::DeadlineExceeded => "deadline_exceeded",
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
            Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
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
    /// Connect with either codec: its errors are JSON for both.
    Connect,
    Grpc,
    GrpcWeb,
    GrpcWebText,
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

    /// A failure of Lanyard's own, already logged by the caller: the client learns no more.
    pub fn internal() -> Self {
        Self::new(
            Code::Internal,
            "LANYARD-internal",
            "an unexpected error occurred; it has been logged",
        )
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
            Transport::Grpc => super::grpc::error(&super::protocol::Protocol::Grpc, self.grpc_status()),
            Transport::GrpcWeb => super::grpc::error(&super::protocol::Protocol::GrpcWeb, self.grpc_status()),
            Transport::GrpcWebText => super::grpc::error(&super::protocol::Protocol::GrpcWebText, self.grpc_status()),
        };
        if let Some(seconds) = self.retry_after_seconds {
            response.headers_mut().insert("retry-after", HeaderValue::from(seconds));
        }
        response
    }
}

impl ZitadelError {
    /// The status as gRPC sends it: `grpc-status`, the percent-encoded `grpc-message`, and a
    /// `google.rpc.Status` with the same details as the other transports in
    /// `grpc-status-details-bin`.
    fn grpc_status(&self) -> HeaderMap {
        let message = format!("{} ({})", self.message, self.id);
        let status = Status {
            code: i32::from(self.code.number()),
            message: message.clone(),
            details: detail_messages(self)
                .into_iter()
                .map(|(name, value)| Any {
                    type_url: format!("type.googleapis.com/{name}"),
                    value: value.into(),
                })
                .collect(),
        };
        let mut headers = HeaderMap::new();
        headers.insert("grpc-status", HeaderValue::from(self.code.number()));
        let encoded = utf8_percent_encode(&message, GRPC_MESSAGE_ESCAPES).to_string();
        if let Ok(value) = HeaderValue::from_str(&encoded) {
            headers.insert("grpc-message", value);
        }
        if let Ok(value) = HeaderValue::from_str(&STANDARD_NO_PAD.encode(status.encode_to_vec())) {
            headers.insert("grpc-status-details-bin", value);
        }
        headers
    }
}

/// gRPC percent-encodes every byte of `grpc-message` outside printable ASCII, and `%`.
const GRPC_MESSAGE_ESCAPES: &AsciiSet = &CONTROLS.add(b'%');

/// The details every transport carries, as (message name, protobuf bytes): ZITADEL's
/// `ErrorDetail`, then `RetryInfo` when there is a delay.
fn detail_messages(error: &ZitadelError) -> Vec<(&'static str, Vec<u8>)> {
    let mut details = vec![(
        "zitadel.v1.ErrorDetail",
        ErrorDetail {
            id: error.id.clone(),
            message: error.message.clone(),
        }
        .encode_to_vec(),
    )];
    if let Some(seconds) = error.retry_after_seconds {
        let retry = RetryInfo {
            retry_delay: Some(ProtoDuration {
                seconds: i64::try_from(seconds).unwrap_or(i64::MAX),
                nanos: 0,
            }),
        };
        details.push(("google.rpc.RetryInfo", retry.encode_to_vec()));
    }
    details
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
    let debug = |name: &str| match name {
        "google.rpc.RetryInfo" => json!({ "retryDelay": format!("{}s", error.retry_after_seconds.unwrap_or(0)) }),
        _ => json!({ "id": error.id, "message": error.message }),
    };
    detail_messages(error)
        .into_iter()
        .map(|(name, value)| {
            json!({
                "type": name,
                "value": STANDARD_NO_PAD.encode(value),
                "debug": debug(name),
            })
        })
        .collect()
}

/// Splits a trailing `(ID-xyz)` off a service message.
/// ZITADEL's code and error id for each reason the service gives.
fn refusal(refusal: Refusal) -> ZitadelError {
    let (code, id) = match refusal {
        Refusal::UserLocked => (Code::FailedPrecondition, "COMMAND-JLK35"),
        Refusal::UserInactive => (Code::FailedPrecondition, "SESSION-Gj4ko"),
        Refusal::ReadDenied => (Code::PermissionDenied, "QUERY-dsfr3"),
        Refusal::DeleteDenied => (Code::PermissionDenied, "COMMAND-sGr42"),
        Refusal::LimitExceeded { .. } => (Code::InvalidArgument, "QUERY-4M0fs"),
        Refusal::NoUserAgentToQuery => (Code::InvalidArgument, "GRPC-x8n23uh"),
        Refusal::CurrentSession => (Code::InvalidArgument, "LANYARD-invalid"),
    };
    ZitadelError::new(code, id, refusal.to_string())
}

impl From<ServiceError> for ZitadelError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Invalid(m) => ZitadelError::new(Code::InvalidArgument, "LANYARD-invalid", m),
            error @ (ServiceError::PageToken(_) | ServiceError::SchemaViolation { .. }) => {
                ZitadelError::new(Code::InvalidArgument, "LANYARD-invalid", error.to_string())
            }
            ServiceError::Conflict(m) => ZitadelError::new(Code::AlreadyExists, "LANYARD-exists", m),
            ServiceError::NotFound(Missing::Session) => ZitadelError::new(
                Code::NotFound,
                "QUERY-SFeaa",
                "Errors.Session.NotExisting: the session does not exist",
            ),
            ServiceError::NotFound(Missing::User) => ZitadelError::new(
                Code::NotFound,
                "QUERY-Dfbg2",
                "Errors.User.NotFound: the user does not exist",
            ),
            ServiceError::NotFound(what) => {
                ZitadelError::new(Code::NotFound, "LANYARD-notfound", format!("{what} not found"))
            }
            ServiceError::Unauthenticated(m) => ZitadelError::unauthenticated(m),
            ServiceError::Forbidden(m) => ZitadelError::new(Code::PermissionDenied, "AUTHZ-HKJD33", m),
            error @ ServiceError::AalRequired { .. } => {
                ZitadelError::new(Code::PermissionDenied, "AUTHZ-aal", error.to_string())
            }
            ServiceError::IdentityDisabled => {
                ZitadelError::new(Code::FailedPrecondition, "SESSION-Gj4ko", "the user is not active")
            }
            ServiceError::PreconditionFailed(m) => {
                ZitadelError::new(Code::FailedPrecondition, "LANYARD-precondition", m)
            }
            ServiceError::CheckFailed(check) => {
                ZitadelError::new(Code::InvalidArgument, "COMMAND-3M0fs", check.to_string())
            }
            ServiceError::Refused(reason) => refusal(reason),
            ServiceError::Delivery(error @ DeliveryError::NotConfigured { .. }) => {
                ZitadelError::new(Code::FailedPrecondition, "LANYARD-delivery", error.to_string())
            }
            ServiceError::Delivery(error @ DeliveryError::Failed { .. }) => ZitadelError {
                id: "LANYARD-delivery".into(),
                ..ZitadelError::unavailable(error.to_string())
            },
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
                ZitadelError::internal()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_are_the_protobuf_messages_clients_decode() {
        let error = ZitadelError {
            retry_after_seconds: Some(300),
            ..ZitadelError::new(Code::ResourceExhausted, "A-1", "m")
        };
        let details = detail_messages(&error);
        assert_eq!(
            details[0],
            ("zitadel.v1.ErrorDetail", vec![0x0a, 3, b'A', b'-', b'1', 0x12, 1, b'm'])
        );
        assert_eq!(details[1], ("google.rpc.RetryInfo", vec![0x0a, 3, 0x08, 0xac, 0x02]));
    }

    #[test]
    fn grpc_statuses_carry_code_message_and_details() {
        let error = ZitadelError::new(Code::NotFound, "QUERY-SFeaa", "100% gone, ü");
        let headers = error.grpc_status();
        assert_eq!(headers.get("grpc-status").map(|v| v.as_bytes()), Some(&b"5"[..]));
        assert_eq!(
            headers.get("grpc-message").map(|v| v.as_bytes()),
            Some(&b"100%25 gone, %C3%BC (QUERY-SFeaa)"[..])
        );
        let details = headers
            .get("grpc-status-details-bin")
            .and_then(|v| STANDARD_NO_PAD.decode(v.as_bytes()).ok())
            .and_then(|bytes| Status::decode(bytes.as_slice()).ok());
        let detail = details
            .as_ref()
            .and_then(|s| s.details.first())
            .and_then(|any| ErrorDetail::decode(any.value.as_ref()).ok());
        assert_eq!(details.map(|s| s.code), Some(5));
        assert_eq!(detail.map(|d| d.id), Some("QUERY-SFeaa".to_owned()));
    }

    #[test]
    fn every_refusal_has_zitadels_code_and_id_and_no_id_in_its_message() {
        let cases = [
            (Refusal::UserLocked, Code::FailedPrecondition, "COMMAND-JLK35"),
            (Refusal::UserInactive, Code::FailedPrecondition, "SESSION-Gj4ko"),
            (Refusal::ReadDenied, Code::PermissionDenied, "QUERY-dsfr3"),
            (Refusal::DeleteDenied, Code::PermissionDenied, "COMMAND-sGr42"),
            (
                Refusal::LimitExceeded {
                    requested: 1001,
                    max: 1000,
                },
                Code::InvalidArgument,
                "QUERY-4M0fs",
            ),
            (Refusal::NoUserAgentToQuery, Code::InvalidArgument, "GRPC-x8n23uh"),
        ];
        for (reason, code, id) in cases {
            let error = ZitadelError::from(ServiceError::Refused(reason));
            assert_eq!((error.code, error.id.as_str()), (code, id), "{reason:?}");
            assert!(!error.message.contains(id), "{}", error.message);
        }
        let failed = ZitadelError::from(ServiceError::CheckFailed(lanyard_service::FailedCheck::Totp));
        assert_eq!(
            (failed.code, failed.id.as_str()),
            (Code::InvalidArgument, "COMMAND-3M0fs")
        );
        assert_eq!(failed.message, "the TOTP code is invalid");
    }
}
