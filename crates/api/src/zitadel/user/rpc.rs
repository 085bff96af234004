//! The User Service RPCs, each from its request message to its response message.

use std::net::IpAddr;

use lanyard_domain::{CredentialType, OtpChannel, Scope};
use lanyard_proto::zitadel::object::v2::Details;
use lanyard_proto::zitadel::user::v2 as user;
use lanyard_service::{Missing, Principal, ServiceError};
use uuid::Uuid;

use super::{Reply, Request};
use crate::zitadel::error::{Code, ZitadelError};
use crate::zitadel::response::timestamp;
use crate::AppState;

/// The longest user id ZITADEL accepts.
const MAX_USER_ID: usize = 200;

/// The user a request names: a Lanyard identity id. An id that cannot be one names no user.
pub(super) fn user_id(id: &str) -> Result<Option<Uuid>, ZitadelError> {
    let id = id.trim();
    if id.is_empty() {
        return Err(ZitadelError::invalid("userId is required"));
    }
    if id.len() > MAX_USER_ID {
        return Err(ZitadelError::invalid(format!(
            "userId is longer than {MAX_USER_ID} characters"
        )));
    }
    Ok(Uuid::parse_str(id).ok())
}

/// The caller may manage `user`'s authenticators: an API key with `identity.write`, or the
/// user itself.
fn authorize(caller: &Principal, user: Option<Uuid>) -> Result<Uuid, ZitadelError> {
    let allowed = match caller {
        Principal::ApiKey(key) => {
            if !key.allows(Scope::IdentityWrite) {
                return Err(ZitadelError::new(
                    Code::PermissionDenied,
                    "AUTHZ-HKJD33",
                    "managing a user's authenticators needs an API key with the identity.write scope",
                ));
            }
            true
        }
        Principal::Session { identity_id, .. } => user == Some(*identity_id),
    };
    match user {
        Some(user) if allowed => Ok(user),
        _ if !allowed => Err(ZitadelError::new(
            Code::PermissionDenied,
            "AUTHZ-HKJD33",
            "a session token may manage only its own user's authenticators",
        )),
        _ => Err(ServiceError::NotFound(Missing::User).into()),
    }
}

/// A missing identity is ZITADEL's missing user.
fn user_error(error: ServiceError) -> ZitadelError {
    match error {
        ServiceError::NotFound(Missing::Identity) => ServiceError::NotFound(Missing::User).into(),
        other => other.into(),
    }
}

fn not_enrolled(what: &str) -> ZitadelError {
    ZitadelError::new(
        Code::NotFound,
        "COMMAND-Hd8Fq",
        format!("Errors.User.MFA.NotExisting: the user has no {what}"),
    )
}

fn details(state: &AppState) -> Option<Details> {
    Some(Details {
        change_date: timestamp(state.service.now()),
        ..Default::default()
    })
}

fn webauthn_not_served() -> ZitadelError {
    ZitadelError::new(
        Code::Unimplemented,
        "LANYARD-unimplemented",
        "passkeys and security keys are not served by this version of Lanyard",
    )
}

/// Runs a decoded request: the same function for every transport.
pub async fn call(
    state: &AppState,
    caller: &Principal,
    client_ip: Option<IpAddr>,
    request: Request,
) -> Result<Reply, ZitadelError> {
    let user = authorize(caller, user_id(request.user_id())?)?;
    let service = &state.service;
    Ok(match request {
        Request::RegisterTOTP(_) => {
            let enrolment = service.register_totp(user).await.map_err(user_error)?;
            Reply::RegisterTOTP(user::RegisterTotpResponse {
                details: details(state),
                uri: enrolment.otpauth_url,
                secret: enrolment.secret,
            })
        }
        Request::VerifyTOTPRegistration(request) => {
            if request.code.trim().is_empty() {
                return Err(ZitadelError::invalid("code is required"));
            }
            service
                .verify_totp_registration(user, &request.code, client_ip)
                .await
                .map_err(user_error)?;
            Reply::VerifyTOTPRegistration(user::VerifyTotpRegistrationResponse {
                details: details(state),
            })
        }
        Request::RemoveTOTP(_) => {
            remove_credential(state, user, CredentialType::Totp, "TOTP generator").await?;
            Reply::RemoveTOTP(user::RemoveTotpResponse {
                details: details(state),
            })
        }
        Request::AddOTPSMS(_) => {
            service.enable_otp(user, OtpChannel::Sms).await.map_err(user_error)?;
            Reply::AddOTPSMS(user::AddOtpsmsResponse {
                details: details(state),
            })
        }
        Request::RemoveOTPSMS(_) => {
            disable_otp(state, user, OtpChannel::Sms).await?;
            Reply::RemoveOTPSMS(user::RemoveOtpsmsResponse {
                details: details(state),
            })
        }
        Request::AddOTPEmail(_) => {
            service.enable_otp(user, OtpChannel::Email).await.map_err(user_error)?;
            Reply::AddOTPEmail(user::AddOtpEmailResponse {
                details: details(state),
            })
        }
        Request::RemoveOTPEmail(_) => {
            disable_otp(state, user, OtpChannel::Email).await?;
            Reply::RemoveOTPEmail(user::RemoveOtpEmailResponse {
                details: details(state),
            })
        }
        Request::RegisterPasskey(_)
        | Request::VerifyPasskeyRegistration(_)
        | Request::ListPasskeys(_)
        | Request::RemovePasskey(_)
        | Request::RegisterU2F(_)
        | Request::VerifyU2FRegistration(_)
        | Request::RemoveU2F(_) => return Err(webauthn_not_served()),
    })
}

async fn remove_credential(state: &AppState, user: Uuid, kind: CredentialType, what: &str) -> Result<(), ZitadelError> {
    match state.service.delete_identity_credential(user, kind).await {
        Err(ServiceError::NotFound(Missing::Credential)) => Err(not_enrolled(what)),
        other => other.map_err(user_error),
    }
}

async fn disable_otp(state: &AppState, user: Uuid, channel: OtpChannel) -> Result<(), ZitadelError> {
    match state.service.disable_otp(user, channel).await {
        Err(ServiceError::NotFound(Missing::Credential)) => Err(not_enrolled(match channel {
            OtpChannel::Sms => "OTP SMS",
            OtpChannel::Email => "OTP email",
        })),
        other => other.map_err(user_error),
    }
}
