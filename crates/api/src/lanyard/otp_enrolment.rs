//! Admin enrolment of one-time codes by SMS and email (ZITADEL `otpSms`, `otpEmail`):
//!
//! - `POST /admin/lanyard/identities/{id}/credentials/code` with `{"channel": "sms"|"email"}`
//!   → `{"channel", "address"}`: codes on that channel go to the address the identity's traits
//!   hold for it (the trait its schema marks `ory.sh/kratos.credentials.code.via`);
//! - `DELETE /admin/lanyard/identities/{id}/credentials/code/{channel}` → 204.
//!
//! The enrolment is the identity's Kratos `code` credential; removing the whole credential is the
//! Kratos route `DELETE /admin/identities/{id}/credentials/code`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use lanyard_domain::OtpChannel;
use serde::{Deserialize, Serialize};

use crate::kratos::extract::{parse_uuid, AdminKey, IdentityWrite, KratosJson};
use crate::kratos::KratosError;
use crate::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnableOtpBody {
    /// `sms` or `email`.
    channel: String,
}

/// Where codes on the channel go.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EnabledOtp {
    channel: &'static str,
    address: String,
}

fn channel(name: &str) -> Result<OtpChannel, KratosError> {
    OtpChannel::parse(name)
        .ok_or_else(|| KratosError::bad_request(format!("channel {name:?} is neither \"sms\" nor \"email\"")))
}

#[utoipa::path(post, path = "/admin/lanyard/identities/{id}/credentials/code", operation_id = "lanyardEnableOtp", tag = "lanyard",
    description = "Enables one-time codes by SMS or email for the identity (ZITADEL's AddOTPSMS / AddOTPEmail), \
        sent to the address its traits hold for the channel. Enabling it again picks up a changed address. \
        Enabled codes count as a second factor: AAL2 becomes available to the identity.",
    params(("id" = uuid::Uuid, Path, description = "The identity id")),
    request_body = EnableOtpBody, security(("admin_key" = [])),
    responses(
        (status = 200, description = "Enabled", body = EnabledOtp),
        (status = 400, description = "The id is not a UUID, the channel is unknown, or the identity has no address for it", body = crate::kratos::KratosErrorBody),
        (status = 404, description = "No such identity", body = crate::kratos::KratosErrorBody),
    ))]
pub async fn enable_otp(
    _: AdminKey<IdentityWrite>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    KratosJson(body): KratosJson<EnableOtpBody>,
) -> Result<Json<EnabledOtp>, KratosError> {
    let id = parse_uuid("the identity id", &id)?;
    let channel = channel(&body.channel)?;
    let address = state
        .service
        .enable_otp(id, channel)
        .await
        .map_err(|e| KratosError::from_service(e, &state.config.public_base_url))?;
    Ok(Json(EnabledOtp {
        channel: channel.as_str(),
        address,
    }))
}

#[utoipa::path(delete, path = "/admin/lanyard/identities/{id}/credentials/code/{channel}", operation_id = "lanyardDisableOtp", tag = "lanyard",
    description = "Disables one-time codes on one channel (ZITADEL's RemoveOTPSMS / RemoveOTPEmail).",
    params(("id" = uuid::Uuid, Path, description = "The identity id"),
        ("channel" = String, Path, description = "`sms` or `email`")),
    security(("admin_key" = [])),
    responses(
        (status = 204, description = "Disabled"),
        (status = 400, description = "The id is not a UUID, or the channel is unknown", body = crate::kratos::KratosErrorBody),
        (status = 404, description = "No such identity, or codes on this channel were not enabled", body = crate::kratos::KratosErrorBody),
    ))]
pub async fn disable_otp(
    _: AdminKey<IdentityWrite>,
    State(state): State<AppState>,
    Path((id, name)): Path<(String, String)>,
) -> Result<StatusCode, KratosError> {
    let id = parse_uuid("the identity id", &id)?;
    state
        .service
        .disable_otp(id, channel(&name)?)
        .await
        .map_err(|e| KratosError::from_service(e, &state.config.public_base_url))?;
    Ok(StatusCode::NO_CONTENT)
}
