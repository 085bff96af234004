//! Every error the service can return, through both APIs' error formats: each gets a status
//! and a message of its own kind, and only the server's own failures are 5xx.

use axum::http::StatusCode;
use axum::response::IntoResponse;
use lanyard_domain::{Aal, PageTokenError};
use lanyard_service::{DeliveryError, FailedCheck, Limit, Missing, Refusal, ServiceError};

use crate::kratos::error::KratosError;
use crate::zitadel::error::{Code, ZitadelError};

/// One of each variant. The match without a wildcard makes a new variant a compile error here
/// until it is added to the walk.
fn every_error() -> Vec<ServiceError> {
    let errors = vec![
        ServiceError::Invalid("bad".into()),
        ServiceError::PageToken(PageTokenError::BadSignature),
        ServiceError::SchemaViolation {
            schema_id: "default".into(),
            problems: vec!["email is required".into()],
        },
        ServiceError::Conflict("taken".into()),
        ServiceError::NotFound(Missing::Session),
        ServiceError::NotFound(Missing::Identity),
        ServiceError::NotFound(Missing::User),
        ServiceError::NotFound(Missing::Credential),
        ServiceError::NotFound(Missing::ApiKey),
        ServiceError::Unauthenticated("no token"),
        ServiceError::Forbidden("no".into()),
        ServiceError::AalRequired { required: Aal::Aal2 },
        ServiceError::IdentityDisabled,
        ServiceError::PreconditionFailed("not now".into()),
        ServiceError::CheckFailed(FailedCheck::Password),
        ServiceError::CheckFailed(FailedCheck::Totp),
        ServiceError::CheckFailed(FailedCheck::RecoveryCode),
        ServiceError::CheckFailed(FailedCheck::IdpIntent),
        ServiceError::CheckFailed(FailedCheck::OneTimeCode),
        ServiceError::Delivery(DeliveryError::NotConfigured {
            channel: "email",
            setting: "smtp.host",
        }),
        ServiceError::Delivery(DeliveryError::Failed {
            channel: "sms",
            reason: "the provider answered 500".into(),
        }),
        ServiceError::Refused(Refusal::UserLocked),
        ServiceError::Refused(Refusal::UserInactive),
        ServiceError::Refused(Refusal::ReadDenied),
        ServiceError::Refused(Refusal::DeleteDenied),
        ServiceError::Refused(Refusal::LimitExceeded {
            requested: 1001,
            max: 1000,
        }),
        ServiceError::Refused(Refusal::NoUserAgentToQuery),
        ServiceError::Refused(Refusal::CurrentSession),
        ServiceError::Unimplemented("later".into()),
        ServiceError::RateLimited {
            limit: Limit::FailedChecks,
            retry_after_seconds: 5,
        },
        ServiceError::RateLimited {
            limit: Limit::NewSessions,
            retry_after_seconds: 5,
        },
        ServiceError::RateLimited {
            limit: Limit::CallerSearches,
            retry_after_seconds: 1,
        },
        ServiceError::RateLimited {
            limit: Limit::NodeSearches,
            retry_after_seconds: 1,
        },
        ServiceError::RateLimited {
            limit: Limit::CodeResends,
            retry_after_seconds: 30,
        },
        ServiceError::Unavailable(lanyard_store::StoreError::Corrupt("down".into())),
        ServiceError::Internal("bug".into()),
    ];
    for error in &errors {
        match error {
            ServiceError::Invalid(_)
            | ServiceError::PageToken(_)
            | ServiceError::SchemaViolation { .. }
            | ServiceError::Conflict(_)
            | ServiceError::NotFound(_)
            | ServiceError::Unauthenticated(_)
            | ServiceError::Forbidden(_)
            | ServiceError::AalRequired { .. }
            | ServiceError::IdentityDisabled
            | ServiceError::PreconditionFailed(_)
            | ServiceError::CheckFailed(_)
            | ServiceError::Delivery(_)
            | ServiceError::Refused(_)
            | ServiceError::Unimplemented(_)
            | ServiceError::RateLimited { .. }
            | ServiceError::Unavailable(_)
            | ServiceError::Internal(_) => {}
        }
    }
    errors
}

/// Failures of the server or of a provider it depends on (a code that could not be sent).
fn is_server_failure(error: &ServiceError) -> bool {
    matches!(
        error,
        ServiceError::Unavailable(_) | ServiceError::Internal(_) | ServiceError::Delivery(DeliveryError::Failed { .. })
    )
}

/// The 5xx a Kratos answer may have: the server's own failures, and 501 for what Lanyard does
/// not implement (as Kratos answers it); everything else is the client's and a 4xx.
fn expected_5xx(error: &ServiceError) -> Option<StatusCode> {
    match error {
        ServiceError::Internal(_) => Some(StatusCode::INTERNAL_SERVER_ERROR),
        ServiceError::Unavailable(_) | ServiceError::Delivery(DeliveryError::Failed { .. }) => {
            Some(StatusCode::SERVICE_UNAVAILABLE)
        }
        ServiceError::Unimplemented(_) => Some(StatusCode::NOT_IMPLEMENTED),
        _ => None,
    }
}

async fn kratos_body(error: KratosError) -> (StatusCode, serde_json::Value) {
    let response = error.into_response();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
}

#[tokio::test]
async fn every_service_error_has_a_kratos_status_and_message_of_its_own_kind() {
    for error in every_error() {
        let label = format!("{error:?}");
        let server_failure = is_server_failure(&error);
        let expected = expected_5xx(&error);
        let (status, body) = kratos_body(KratosError::from_service(error, "http://lanyard/")).await;
        match expected {
            Some(expected) => assert_eq!(status, expected, "{label}"),
            None => assert!(status.is_client_error(), "{label}: {status}"),
        }
        let message = body["error"]["message"].as_str().unwrap_or_default();
        let reason = body["error"]["reason"].as_str().unwrap_or_default();
        assert!(!reason.is_empty(), "{label}: no reason in {body}");
        if !server_failure {
            assert!(
                !message.contains("internal server error"),
                "{label}: a {status} says {message:?}"
            );
        }
        assert_eq!(body["error"]["code"], status.as_u16(), "{label}");
    }
}

#[test]
fn every_service_error_has_a_zitadel_code_of_its_own_kind() {
    for error in every_error() {
        let label = format!("{error:?}");
        let server_failure = is_server_failure(&error);
        let zitadel = ZitadelError::from(error);
        let is_5xx_code = matches!(zitadel.code, Code::Internal | Code::Unavailable);
        assert_eq!(is_5xx_code, server_failure, "{label}: {:?}", zitadel.code);
        assert!(!zitadel.id.is_empty() && !zitadel.message.is_empty(), "{label}");
        // The id travels beside the message (and is appended once when rendered).
        assert!(
            !zitadel.message.contains(&format!("({})", zitadel.id)),
            "{label}: the id is inside the message: {}",
            zitadel.message
        );
    }
}
