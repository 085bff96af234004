//! The User Service RPCs, each from its request message to its response message.

use std::net::IpAddr;

use lanyard_domain::{CredentialType, OtpChannel, Scope};
use lanyard_proto::zitadel::object::v2::{Details, ListDetails};
use lanyard_proto::zitadel::user::v2 as user;
use lanyard_service::{AuthMethod, AuthenticatorKind, Missing, Principal, ServiceError};
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

/// The caller may act on `user`'s authenticators: an API key with `scope`, or the user itself
/// (another user's id is refused whether or not that user exists).
fn authorize(caller: &Principal, user: Option<Uuid>, scope: Scope) -> Result<Uuid, ZitadelError> {
    let denied = |message: String| ZitadelError::new(Code::PermissionDenied, "AUTHZ-HKJD33", message);
    match caller {
        Principal::ApiKey(key) if !key.allows(scope) => Err(denied(format!(
            "this call needs an API key with the {} scope",
            scope.as_str()
        ))),
        Principal::Session { identity_id, .. } if user != Some(*identity_id) => Err(denied(
            "a session token may act only on its own user's authenticators".into(),
        )),
        _ => user.ok_or_else(|| ServiceError::NotFound(Missing::User).into()),
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

/// Runs a decoded request: the same function for every transport.
pub async fn call(
    state: &AppState,
    caller: &Principal,
    client_ip: Option<IpAddr>,
    request: Request,
) -> Result<Reply, ZitadelError> {
    // Listing reads; everything else changes the user's authenticators.
    let scope = match request {
        Request::ListPasskeys(_) | Request::ListAuthenticationMethodTypes(_) => Scope::IdentityRead,
        _ => Scope::IdentityWrite,
    };
    let user = authorize(caller, user_id(request.user_id())?, scope)?;
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
        Request::ListAuthenticationMethodTypes(request) => {
            let domain = request
                .domain_query
                .as_ref()
                .map(|query| query.domain.trim())
                .filter(|domain| !domain.is_empty());
            let methods = service.authentication_methods(user, domain).await.map_err(user_error)?;
            Reply::ListAuthenticationMethodTypes(user::ListAuthenticationMethodTypesResponse {
                details: Some(ListDetails {
                    total_result: methods.len() as u64,
                    timestamp: timestamp(service.now()),
                    ..Default::default()
                }),
                auth_method_types: methods.into_iter().map(|method| method_type(method) as i32).collect(),
            })
        }
        Request::RegisterPasskey(request) => {
            if request.code.is_some() {
                return Err(ZitadelError::new(
                    Code::Unimplemented,
                    "LANYARD-unimplemented",
                    "passkey registration codes are not served: register as the user (its session token) or with an identity.write API key",
                ));
            }
            let registration = service
                .register_webauthn(user, AuthenticatorKind::Passkey, &request.domain)
                .await
                .map_err(user_error)?;
            Reply::RegisterPasskey(user::RegisterPasskeyResponse {
                details: details(state),
                passkey_id: registration.id.to_string(),
                public_key_credential_creation_options: Some(options(registration.options)?),
            })
        }
        Request::VerifyPasskeyRegistration(request) => {
            let id = key_id("passkeyId", &request.passkey_id)?;
            let credential = credential(request.public_key_credential.as_ref())?;
            service
                .verify_webauthn_registration(user, AuthenticatorKind::Passkey, id, credential, &request.passkey_name)
                .await
                .map_err(|e| key_error(e, "passkey"))?;
            Reply::VerifyPasskeyRegistration(user::VerifyPasskeyRegistrationResponse {
                details: details(state),
            })
        }
        Request::ListPasskeys(_) => {
            let keys = service
                .list_webauthn(user, AuthenticatorKind::Passkey)
                .await
                .map_err(user_error)?;
            Reply::ListPasskeys(user::ListPasskeysResponse {
                details: Some(ListDetails {
                    total_result: keys.len() as u64,
                    timestamp: timestamp(service.now()),
                    ..Default::default()
                }),
                result: keys
                    .into_iter()
                    .map(|key| user::Passkey {
                        id: key.id.to_string(),
                        state: if key.ready {
                            user::AuthFactorState::Ready
                        } else {
                            user::AuthFactorState::NotReady
                        } as i32,
                        name: key.name,
                    })
                    .collect(),
            })
        }
        Request::RemovePasskey(request) => {
            let id = key_id("passkeyId", &request.passkey_id)?;
            service
                .remove_webauthn(user, AuthenticatorKind::Passkey, id)
                .await
                .map_err(|e| key_error(e, "passkey"))?;
            Reply::RemovePasskey(user::RemovePasskeyResponse {
                details: details(state),
            })
        }
        Request::RegisterU2F(request) => {
            let registration = service
                .register_webauthn(user, AuthenticatorKind::SecurityKey, &request.domain)
                .await
                .map_err(user_error)?;
            Reply::RegisterU2F(user::RegisterU2fResponse {
                details: details(state),
                u2f_id: registration.id.to_string(),
                public_key_credential_creation_options: Some(options(registration.options)?),
            })
        }
        Request::VerifyU2FRegistration(request) => {
            let id = key_id("u2fId", &request.u2f_id)?;
            let credential = credential(request.public_key_credential.as_ref())?;
            service
                .verify_webauthn_registration(
                    user,
                    AuthenticatorKind::SecurityKey,
                    id,
                    credential,
                    &request.token_name,
                )
                .await
                .map_err(|e| key_error(e, "security key"))?;
            Reply::VerifyU2FRegistration(user::VerifyU2fRegistrationResponse {
                details: details(state),
            })
        }
        Request::RemoveU2F(request) => {
            let id = key_id("u2fId", &request.u2f_id)?;
            service
                .remove_webauthn(user, AuthenticatorKind::SecurityKey, id)
                .await
                .map_err(|e| key_error(e, "security key"))?;
            Reply::RemoveU2F(user::RemoveU2fResponse {
                details: details(state),
            })
        }
    })
}

fn method_type(method: AuthMethod) -> user::AuthenticationMethodType {
    use user::AuthenticationMethodType as Type;
    match method {
        AuthMethod::Password => Type::Password,
        AuthMethod::Passkey => Type::Passkey,
        AuthMethod::Idp => Type::Idp,
        AuthMethod::Totp => Type::Totp,
        AuthMethod::SecurityKey => Type::U2f,
        AuthMethod::OtpSms => Type::OtpSms,
        AuthMethod::OtpEmail => Type::OtpEmail,
        AuthMethod::RecoveryCode => Type::RecoveryCode,
    }
}

/// A passkey or U2F id: Lanyard's are UUIDs, so anything else names no key.
fn key_id(field: &str, id: &str) -> Result<Uuid, ZitadelError> {
    let id = id.trim();
    if id.is_empty() {
        return Err(ZitadelError::invalid(format!("{field} is required")));
    }
    Uuid::parse_str(id).map_err(|_| not_enrolled(&format!("{field} {id:?}")))
}

fn credential(value: Option<&lanyard_proto::well_known::Struct>) -> Result<serde_json::Value, ZitadelError> {
    let value = value.ok_or_else(|| ZitadelError::invalid("publicKeyCredential is required"))?;
    crate::zitadel::request::struct_json(value, "publicKeyCredential")
}

fn options(options: serde_json::Value) -> Result<lanyard_proto::well_known::Struct, ZitadelError> {
    serde_json::from_value(options).map_err(|error| {
        tracing::error!(%error, "WebAuthn options are no JSON object");
        ZitadelError::internal()
    })
}

/// A key that is not there is ZITADEL's missing MFA; the rest as for the user.
fn key_error(error: ServiceError, what: &str) -> ZitadelError {
    match error {
        ServiceError::NotFound(Missing::Credential) => {
            not_enrolled(&format!("{what} with this id (or its registration expired)"))
        }
        other => user_error(other),
    }
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
