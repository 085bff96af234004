//! Admin enrolment of second factors, which Kratos only offers through its self-service flows:
//!
//! - `POST /admin/lanyard/identities/{id}/credentials/totp`, body optional `{"secret": "BASE32"}`
//!   → `{"secret", "otpauth_url"}`;
//! - `POST /admin/lanyard/identities/{id}/credentials/lookup_secret` → `{"codes": [...]}`.
//!
//! Both replace an existing credential of the same type, and both answers are the only time the
//! secret or the codes are shown. Removal is the Kratos route
//! `DELETE /admin/identities/{id}/credentials/{totp|lookup_secret}`.

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::shown_once;
use crate::kratos::extract::{parse_uuid, AdminKey, IdentityWrite};
use crate::kratos::KratosError;
use crate::AppState;

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = EnrolTotpBody)]
pub struct TotpBody {
    /// A base32 secret to import; a new one is generated when absent.
    secret: Option<String>,
}

/// A JSON body that may also be left out (no bytes, or only whitespace), which reads as
/// `T::default()`. Anything else that is not valid JSON for `T` is a 400 that says why.
pub struct OptionalKratosJson<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalKratosJson<T> {
    type Rejection = KratosError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state).await.map_err(|e| {
            KratosError::new(
                e.status(),
                format!("the request body could not be read: {}", e.body_text()),
            )
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalKratosJson(T::default()));
        }
        serde_json::from_slice(&bytes)
            .map(OptionalKratosJson)
            .map_err(|e| KratosError::bad_request(format!("the request body is not valid JSON for this endpoint: {e}")))
    }
}

#[utoipa::path(post, path = "/admin/lanyard/identities/{id}/credentials/totp", operation_id = "lanyardEnrolTotp", tag = "lanyard",
    description = "Enrols (or replaces) the identity's TOTP credential. The body is optional.",
    params(("id" = uuid::Uuid, Path, description = "The identity id")),
    request_body(content = Option<TotpBody>, description = "Optional: `{\"secret\": \"BASE32\"}` to import a secret"),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "The secret, shown once (`Cache-Control: no-store`)", body = TotpEnrolment),
        (status = 400, description = "The id is not a UUID, or the body or secret is malformed", body = crate::kratos::KratosErrorBody),
        (status = 404, description = "No such identity", body = crate::kratos::KratosErrorBody),
    ))]
pub async fn enrol_totp(
    _: AdminKey<IdentityWrite>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    OptionalKratosJson(body): OptionalKratosJson<TotpBody>,
) -> Result<Response, KratosError> {
    let id = parse_uuid("the identity id", &id)?;
    let enrolment = state
        .service
        .enrol_totp(id, body.secret)
        .await
        .map_err(|e| KratosError::from_service(e, &state.config.public_base_url))?;
    Ok(shown_once(
        StatusCode::OK,
        TotpEnrolment {
            secret: enrolment.secret,
            otpauth_url: enrolment.otpauth_url,
        },
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TotpEnrolment {
    /// Base32.
    secret: String,
    /// `otpauth://totp/…` for authenticator apps.
    otpauth_url: String,
}

#[utoipa::path(post, path = "/admin/lanyard/identities/{id}/credentials/lookup_secret", operation_id = "lanyardGenerateLookupSecrets", tag = "lanyard",
    description = "Generates (or replaces) the identity's recovery codes.",
    params(("id" = uuid::Uuid, Path, description = "The identity id")),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "The codes, shown once (`Cache-Control: no-store`)", body = LookupSecrets),
        (status = 400, description = "The id is not a UUID", body = crate::kratos::KratosErrorBody),
        (status = 404, description = "No such identity", body = crate::kratos::KratosErrorBody),
    ))]
pub async fn generate_lookup_secrets(
    _: AdminKey<IdentityWrite>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, KratosError> {
    let id = parse_uuid("the identity id", &id)?;
    let codes = state
        .service
        .generate_recovery_codes(id)
        .await
        .map_err(|e| KratosError::from_service(e, &state.config.public_base_url))?;
    Ok(shown_once(StatusCode::OK, LookupSecrets { codes }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LookupSecrets {
    codes: Vec<String>,
}

#[utoipa::path(post, path = "/admin/lanyard/identities/{id}/unlock", operation_id = "lanyardUnlockIdentity", tag = "lanyard",
    description = "Lifts the password lockout (`rate_limits.max_password_attempts`) of an identity, as ZITADEL's UnlockUser does. Unlocking an identity that is not locked changes nothing.",
    params(("id" = uuid::Uuid, Path, description = "The identity id")),
    security(("admin_key" = [])),
    responses(
        (status = 204, description = "The identity's password checks are allowed again"),
        (status = 400, description = "The id is not a UUID", body = crate::kratos::KratosErrorBody),
        (status = 404, description = "No such identity", body = crate::kratos::KratosErrorBody),
    ))]
pub async fn unlock_identity(
    _: AdminKey<IdentityWrite>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, KratosError> {
    let id = parse_uuid("the identity id", &id)?;
    state
        .service
        .unlock_identity(id)
        .await
        .map_err(|e| KratosError::from_service(e, &state.config.public_base_url))?;
    Ok(StatusCode::NO_CONTENT)
}
