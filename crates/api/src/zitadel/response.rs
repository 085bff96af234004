//! From the service's session views to ZITADEL response messages.

use lanyard_domain::{Factor, Identity, Method, Micros};
use lanyard_proto::zitadel::object::v2::Details;
use lanyard_proto::zitadel::session::v2 as session;
use lanyard_proto::Timestamp;
use lanyard_service::SessionView;
use serde_json::Value;

use super::error::ZitadelError;

/// Microseconds split into seconds and nanoseconds, as `google.protobuf.Timestamp` holds them
/// (nanos within 0..1e9 also before 1970).
pub fn timestamp(at: Micros) -> Option<Timestamp> {
    Some(Timestamp {
        seconds: at.0.div_euclid(1_000_000),
        nanos: (at.0.rem_euclid(1_000_000) * 1_000) as i32,
    })
}

/// The name a user logs in with: the username trait, else the email trait, else the first
/// identifier.
fn login_name(identity: &Identity) -> String {
    ["username", "email"]
        .iter()
        .find_map(|t| identity.traits.get(*t).and_then(Value::as_str).map(str::to_owned))
        .or_else(|| identity.identifiers.first().cloned())
        .unwrap_or_else(|| identity.id.to_string())
}

fn factors(view: &SessionView) -> Option<session::Factors> {
    let session = &view.session;
    let mut factors = session::Factors::default();
    if let (Some(identity_id), Some(checked)) = (session.identity_id, session.user_checked_at) {
        let identity = view.identity.as_ref();
        factors.user = Some(session::UserFactor {
            verified_at: timestamp(checked),
            id: identity_id.to_string(),
            login_name: identity.map(login_name).unwrap_or_default(),
            display_name: identity
                .and_then(|i| i.traits.get("name"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            organization_id: identity
                .and_then(|i| i.organization_id)
                .map(|org| org.to_string())
                .unwrap_or_default(),
        });
    }
    for Factor {
        method,
        completed_at,
        user_verified,
        ..
    } in &session.factors
    {
        let verified_at = timestamp(*completed_at);
        match method {
            Method::Password | Method::Profile | Method::LinkRecovery | Method::CodeRecovery => {
                factors.password = Some(session::PasswordFactor { verified_at })
            }
            Method::Totp => factors.totp = Some(session::TotpFactor { verified_at }),
            Method::LookupSecret => factors.recovery_code = Some(session::RecoveryCodeFactor { verified_at }),
            Method::Webauthn | Method::Passkey => {
                factors.web_auth_n = Some(session::WebAuthNFactor {
                    verified_at,
                    user_verified: *user_verified,
                })
            }
            Method::Oidc | Method::Saml => factors.intent = Some(session::IntentFactor { verified_at }),
            Method::OtpSms => factors.otp_sms = Some(session::OtpFactor { verified_at }),
            Method::OtpEmail | Method::Code => factors.otp_email = Some(session::OtpFactor { verified_at }),
        }
    }
    (factors != session::Factors::default()).then_some(factors)
}

fn user_agent(view: &SessionView) -> Option<session::UserAgent> {
    let device = view.session.devices.first()?;
    let agent = session::UserAgent {
        fingerprint_id: device.fingerprint_id.clone(),
        ip: device.ip_address.clone(),
        description: device.user_agent.clone(),
        header: device
            .headers
            .iter()
            .map(|(name, values)| {
                (
                    name.clone(),
                    session::user_agent::HeaderValues { values: values.clone() },
                )
            })
            .collect(),
    };
    (agent != session::UserAgent::default()).then_some(agent)
}

pub fn session(view: &SessionView) -> session::Session {
    let session = &view.session;
    session::Session {
        id: session.id.to_string(),
        creation_date: timestamp(session.created_at),
        change_date: timestamp(session.changed_at),
        sequence: u64::try_from(session.sequence).unwrap_or_default(),
        factors: factors(view),
        metadata: session.metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        user_agent: user_agent(view),
        expiration_date: session.expires_at.and_then(timestamp),
    }
}

pub fn details(view: &SessionView) -> Option<Details> {
    Some(Details {
        sequence: u64::try_from(view.session.sequence).unwrap_or_default(),
        change_date: timestamp(view.session.changed_at),
        creation_date: timestamp(view.session.created_at),
        resource_owner: String::new(),
    })
}

/// The codes a Create or Set asked to have returned (`returnCode`) and the WebAuthn request
/// options it asked for, if any.
pub fn challenges(
    codes: lanyard_service::OtpCodes,
    webauthn_options: Option<serde_json::Value>,
) -> Result<Option<session::Challenges>, ZitadelError> {
    if codes.sms.is_none() && codes.email.is_none() && webauthn_options.is_none() {
        return Ok(None);
    }
    let web_auth_n = webauthn_options
        .map(|options| {
            serde_json::from_value(options).map_err(|error| {
                tracing::error!(%error, "WebAuthn options are no JSON object");
                ZitadelError::internal()
            })
        })
        .transpose()?
        .map(|options| session::challenges::WebAuthN {
            public_key_credential_request_options: Some(options),
        });
    Ok(Some(session::Challenges {
        web_auth_n,
        otp_sms: codes.sms,
        otp_email: codes.email,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_split_microseconds_into_seconds_and_nanos() {
        let split = |us| timestamp(Micros(us)).map(|t| (t.seconds, t.nanos));
        assert_eq!(split(1_796_464_800_123_456), Some((1_796_464_800, 123_456_000)));
        assert_eq!(split(0), Some((0, 0)));
        // Before 1970 the nanos stay positive, as protobuf requires.
        assert_eq!(split(-1), Some((-1, 999_999_000)));
        let at = Micros(1_796_464_800_123_456);
        assert_eq!(timestamp(at).and_then(Timestamp::to_datetime), Some(at.to_datetime()));
    }
}
