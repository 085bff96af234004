//! Kratos's error JSON: `{"error": {"id"?, "code", "status", "reason", "message", "debug"?}}`.
//! Every failure on a Kratos route turns into one of these here, and nowhere else.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use lanyard_domain::Aal;
use lanyard_service::{DeliveryError, Refusal, ServiceError};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone)]
pub struct KratosError {
    pub status: StatusCode,
    pub id: Option<&'static str>,
    pub reason: String,
    pub message: Option<String>,
    pub debug: Option<String>,
    /// Top-level `redirect_browser_to`, for the AAL error.
    pub redirect_browser_to: Option<Box<str>>,
    /// Seconds for a `Retry-After` header (429, 503).
    pub retry_after_seconds: Option<u32>,
}

fn standard_message(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "The request was malformed or contained invalid parameters",
        401 => "The request could not be authorized",
        403 => "The requested action was forbidden",
        404 => "The requested resource could not be found",
        405 => "The requested method is not allowed for this resource",
        409 => "The resource could not be created due to a conflict",
        413 => "The request body is too large",
        429 => "Too many requests; retry after the number of seconds in the Retry-After header",
        501 => "The requested feature is not implemented",
        503 => "The service is temporarily unavailable",
        _ => "An internal server error occurred, please contact the system administrator",
    }
}

impl KratosError {
    pub fn new(status: StatusCode, reason: impl Into<String>) -> Self {
        KratosError {
            status,
            id: None,
            reason: reason.into(),
            message: None,
            debug: None,
            redirect_browser_to: None,
            retry_after_seconds: None,
        }
    }

    pub fn bad_request(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, reason)
    }

    pub fn not_found(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, reason)
    }

    pub fn unauthorized(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, reason)
    }

    pub fn with_id(mut self, id: &'static str) -> Self {
        self.id = Some(id);
        self
    }

    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    pub fn with_debug(mut self, debug: impl Into<String>) -> Self {
        self.debug = Some(debug.into());
        self
    }

    /// A path or query id that is not a UUID, as Kratos reports it.
    pub fn bad_uuid(what: &str, error: uuid::Error) -> Self {
        Self::bad_request(format!("{what} is not a valid UUID: {error}"))
            .with_message(error.to_string())
            .with_debug("could not parse UUID")
    }

    /// The whoami 401. Kratos sends no `error.id`; Lanyard adds `session_inactive`.
    pub fn no_valid_session() -> Self {
        Self::unauthorized("No valid session credentials found in the request.").with_id("session_inactive")
    }

    /// Kratos' answer to a page token it did not issue.
    pub fn invalid_page_token() -> Self {
        Self::bad_request("The page token is invalid, do not craft your own page tokens")
    }

    pub fn from_service(error: ServiceError, public_base_url: &str) -> Self {
        match error {
            ServiceError::Invalid(reason) => Self::bad_request(reason),
            ServiceError::PageToken(e) => Self::invalid_page_token().with_debug(e.to_string()),
            error @ ServiceError::SchemaViolation { .. } => Self::bad_request(error.to_string()),
            ServiceError::Conflict(reason) => Self::new(StatusCode::CONFLICT, reason),
            ServiceError::NotFound(what) => {
                Self::not_found(format!("Unable to locate the resource: the {what} does not exist"))
            }
            ServiceError::Unauthenticated(_) => Self::no_valid_session(),
            ServiceError::Forbidden(reason) => Self::new(StatusCode::FORBIDDEN, reason),
            ServiceError::AalRequired { required } => {
                let aal = if required >= Aal::Aal2 {
                    "aal2"
                } else {
                    required.as_str()
                };
                let mut error = Self::new(
                    StatusCode::FORBIDDEN,
                    format!("the session must be at least {aal}; a second factor is needed"),
                )
                .with_id("session_aal2_required")
                .with_message("Session does not fulfill the requested Authenticator Assurance Level");
                error.redirect_browser_to =
                    Some(format!("{}self-service/login/browser?aal={aal}", public_base_url).into());
                error
            }
            ServiceError::IdentityDisabled => Self::bad_request("This account was disabled.")
                .with_id("identity_disabled")
                .with_message("identity is disabled"),
            ServiceError::PreconditionFailed(reason) => Self::bad_request(reason),
            ServiceError::CheckFailed(check) => Self::unauthorized(check.to_string()),
            ServiceError::Delivery(error @ DeliveryError::NotConfigured { .. }) => Self::bad_request(error.to_string()),
            ServiceError::Delivery(error @ DeliveryError::Failed { .. }) => KratosError {
                retry_after_seconds: Some(crate::UNAVAILABLE_RETRY_AFTER_SECONDS),
                ..Self::new(StatusCode::SERVICE_UNAVAILABLE, error.to_string())
            },
            ServiceError::Refused(Refusal::CurrentSession) => {
                Self::bad_request("cannot revoke current session").with_debug("use the logout flow instead")
            }
            ServiceError::Refused(reason) => {
                let status = match reason {
                    Refusal::ReadDenied | Refusal::DeleteDenied => StatusCode::FORBIDDEN,
                    _ => StatusCode::BAD_REQUEST,
                };
                Self::new(status, reason.to_string())
            }
            ServiceError::Unimplemented(reason) => Self::new(StatusCode::NOT_IMPLEMENTED, reason),
            error @ ServiceError::RateLimited {
                retry_after_seconds, ..
            } => KratosError {
                retry_after_seconds: Some(u32::try_from(retry_after_seconds).unwrap_or(u32::MAX)),
                ..Self::new(StatusCode::TOO_MANY_REQUESTS, error.to_string())
            },
            ServiceError::Unavailable(e) => {
                metrics::counter!("lanyard_store_errors_total", "kind" => "unavailable").increment(1);
                tracing::error!(error = %e, "store unavailable");
                KratosError {
                    retry_after_seconds: Some(crate::UNAVAILABLE_RETRY_AFTER_SECONDS),
                    ..Self::new(StatusCode::SERVICE_UNAVAILABLE, crate::UNAVAILABLE_REASON)
                }
            }
            ServiceError::Internal(e) => {
                metrics::counter!("lanyard_store_errors_total", "kind" => "internal").increment(1);
                tracing::error!(error = %e, "internal error");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "an unexpected error occurred; it has been logged",
                )
            }
        }
    }
}

/// Kratos's error JSON, as every Kratos or Lanyard route answers a failure.
#[derive(Serialize, ToSchema)]
pub struct KratosErrorBody<'a> {
    error: KratosGenericError<'a>,
    /// Where a browser should go next (the AAL error only).
    #[serde(skip_serializing_if = "Option::is_none")]
    redirect_browser_to: Option<&'a str>,
}

#[derive(Serialize, ToSchema)]
pub struct KratosGenericError<'a> {
    /// A machine-readable id, e.g. `session_inactive`, `session_aal2_required`, `identity_disabled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    /// The HTTP status code.
    code: u16,
    /// The HTTP status text.
    status: &'a str,
    /// What was wrong with this request.
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    debug: Option<&'a str>,
    /// The standard message for the status.
    message: &'a str,
}

impl IntoResponse for KratosError {
    fn into_response(self) -> Response {
        let body = KratosErrorBody {
            error: KratosGenericError {
                id: self.id,
                code: self.status.as_u16(),
                status: self.status.canonical_reason().unwrap_or("Error"),
                reason: &self.reason,
                debug: self.debug.as_deref(),
                message: self.message.as_deref().unwrap_or_else(|| standard_message(self.status)),
            },
            redirect_browser_to: self.redirect_browser_to.as_deref(),
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after_seconds {
            response
                .headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from(seconds));
        }
        response
    }
}
