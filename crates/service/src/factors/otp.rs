//! One-time codes by SMS and email (ZITADEL `otpSms` and `otpEmail`).
//!
//! Enabling a channel stores the address the identity's traits give for it (the trait its
//! schema marks `ory.sh/kratos.credentials.code.via`) in the identity's `code` credential. A
//! challenge issues a fresh code for one session and channel; a check uses it up. Codes are
//! compared by a digest keyed with the server's secret, in constant time, once.

use lanyard_domain::{CredentialType, Identity, Micros, OtpChallenge, OtpChannel};
use rand::rngs::OsRng;
use rand::Rng;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{factor_credential, lock, read_config, to_config};
use crate::{CodeMessage, Lanyard, Limit, Missing, ServiceError, ServiceResult};

/// Digits in a code, as ZITADEL's default OTP SMS and email generators make them.
pub const OTP_CODE_DIGITS: usize = 8;

/// How long a code can be used.
pub const OTP_CODE_LIFETIME: time::Duration = time::Duration::minutes(5);

/// The shortest time between two codes sent to one session on one channel.
pub const OTP_RESEND_INTERVAL: time::Duration = time::Duration::seconds(30);

/// Keeps these digests apart from every other use of the server's secret.
const DIGEST_PURPOSE: &str = "lanyard one-time code v1";

/// The `code` credential's config, in Kratos's shape.
#[derive(Debug, Default, Serialize, Deserialize)]
struct CodeConfig {
    #[serde(default)]
    addresses: Vec<CodeAddress>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CodeAddress {
    channel: String,
    address: String,
}

/// How a new code reaches its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OtpDelivery {
    /// In the response, for a login UI that delivers it itself.
    ReturnCode,
    /// Sent by Lanyard to the enrolled address; an email may carry a link made from
    /// `url_template` (`{{.Code}}`, `{{.UserID}}`, `{{.SessionID}}` and `{{.LoginName}}` are
    /// filled in, as in ZITADEL's templates).
    Send { url_template: Option<String> },
}

/// The link of an email: `template` with its placeholders filled in.
fn fill_template(template: &str, code: &str, user: &Identity, session_id: Uuid) -> String {
    let login_name = user.identifiers.first().map(String::as_str).unwrap_or_default();
    template
        .replace("{{.Code}}", code)
        .replace("{{.UserID}}", &user.id.to_string())
        .replace("{{.SessionID}}", &session_id.to_string())
        .replace("{{.LoginName}}", login_name)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtpChallengeRequest {
    pub channel: OtpChannel,
    pub delivery: OtpDelivery,
}

/// The codes a request asked to have returned, by channel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OtpCodes {
    pub sms: Option<String>,
    pub email: Option<String>,
}

impl OtpCodes {
    fn set(&mut self, channel: OtpChannel, code: String) {
        match channel {
            OtpChannel::Sms => self.sms = Some(code),
            OtpChannel::Email => self.email = Some(code),
        }
    }
}

fn new_code() -> String {
    (0..OTP_CODE_DIGITS)
        .map(|_| char::from(b'0' + OsRng.gen_range(0..10u8)))
        .collect()
}

/// The address one-time codes go to on `channel`, if the identity enabled it.
pub(crate) fn otp_address(identity: &Identity, channel: OtpChannel) -> Option<String> {
    let credential = identity.credentials.get(&CredentialType::Code)?;
    let config: CodeConfig = serde_json::from_value(credential.config.clone()).ok()?;
    config
        .addresses
        .into_iter()
        .find(|a| a.channel == channel.as_str())
        .map(|a| a.address)
}

/// The channels an identity has enabled one-time codes on.
pub(super) fn code_channels(identity: &Identity) -> Vec<OtpChannel> {
    identity
        .credentials
        .get(&CredentialType::Code)
        .and_then(|credential| read_config::<CodeConfig>(identity, credential).ok())
        .map(|config| {
            config
                .addresses
                .iter()
                .filter_map(|address| OtpChannel::parse(&address.channel))
                .collect()
        })
        .unwrap_or_default()
}

impl Lanyard {
    fn otp_digest(&self, session_id: Uuid, channel: OtpChannel, code: &str) -> lanyard_domain::TokenDigest {
        let mut data = Vec::with_capacity(16 + 8 + code.len());
        data.extend_from_slice(session_id.as_bytes());
        data.extend_from_slice(channel.as_str().as_bytes());
        data.push(0);
        data.extend_from_slice(code.as_bytes());
        self.page_keys.keyed_digest(DIGEST_PURPOSE, &data)
    }

    /// Enables one-time codes on `channel` for the identity, to the address its traits hold
    /// for that channel (re-enabling picks up a changed address). Returns the address.
    pub async fn enable_otp(&self, identity_id: Uuid, channel: OtpChannel) -> ServiceResult<String> {
        let _guard = lock(identity_id).await;
        let mut identity = self.identity(identity_id).await?;
        let schema = self.schemas.get(&identity.schema_id).ok_or_else(|| {
            ServiceError::PreconditionFailed(format!("the identity's schema {:?} is unknown", identity.schema_id))
        })?;
        let address = schema.code_address(&identity.traits, channel).ok_or_else(|| {
            ServiceError::PreconditionFailed(format!(
                "the identity has no {} address: its schema marks none of its traits for codes by {} \
                 (`ory.sh/kratos.credentials.code.via: {}`), or that trait is empty",
                match channel {
                    OtpChannel::Sms => "phone",
                    OtpChannel::Email => "email",
                },
                channel.as_str(),
                channel.as_str()
            ))
        })?;
        let now = self.now();
        let mut config = match identity.credentials.get(&CredentialType::Code) {
            Some(existing) => read_config::<CodeConfig>(&identity, existing)?,
            None => CodeConfig::default(),
        };
        config.addresses.retain(|a| a.channel != channel.as_str());
        config.addresses.push(CodeAddress {
            channel: channel.as_str().to_owned(),
            address: address.clone(),
        });
        config.addresses.sort_by(|a, b| a.channel.cmp(&b.channel));
        let credential = match identity.credentials.remove(&CredentialType::Code) {
            Some(mut existing) => {
                existing.config = to_config(&config)?;
                existing.updated_at = now;
                existing
            }
            None => factor_credential(&identity, CredentialType::Code, to_config(&config)?, now),
        };
        identity.credentials.insert(CredentialType::Code, credential);
        identity.updated_at = now;
        self.save_identity(&identity).await?;
        Ok(address)
    }

    /// Disables one-time codes on `channel`; the `code` credential goes with its last channel.
    pub async fn disable_otp(&self, identity_id: Uuid, channel: OtpChannel) -> ServiceResult<()> {
        let _guard = lock(identity_id).await;
        let mut identity = self.identity(identity_id).await?;
        let Some(existing) = identity.credentials.get(&CredentialType::Code) else {
            return Err(ServiceError::NotFound(Missing::Credential));
        };
        let mut config = read_config::<CodeConfig>(&identity, existing)?;
        let before = config.addresses.len();
        config.addresses.retain(|a| a.channel != channel.as_str());
        if config.addresses.len() == before {
            return Err(ServiceError::NotFound(Missing::Credential));
        }
        let now = self.now();
        if config.addresses.is_empty() {
            identity.credentials.remove(&CredentialType::Code);
        } else if let Some(credential) = identity.credentials.get_mut(&CredentialType::Code) {
            credential.config = to_config(&config)?;
            credential.updated_at = now;
        }
        identity.updated_at = now;
        self.save_identity(&identity).await
    }

    /// Issues a fresh code for each request on `session_id` of `user`, replacing any earlier
    /// one on that channel; returns those asked to be returned.
    pub(crate) async fn issue_otp_challenges(
        &self,
        session_id: Uuid,
        user: Option<&Identity>,
        requests: &[OtpChallengeRequest],
        now: Micros,
    ) -> ServiceResult<OtpCodes> {
        let mut codes = OtpCodes::default();
        if requests.is_empty() {
            return Ok(codes);
        }
        let Some(user) = user else {
            return Err(ServiceError::PreconditionFailed(
                "a user check is needed before a one-time code challenge".into(),
            ));
        };
        let mut addresses = Vec::with_capacity(requests.len());
        for request in requests {
            let Some(address) = otp_address(user, request.channel) else {
                return Err(ServiceError::PreconditionFailed(format!(
                    "the user has not enabled one-time codes by {} (Errors.User.MFA.OTP.NotReady)",
                    request.channel.as_str()
                )));
            };
            if matches!(request.delivery, OtpDelivery::Send { .. }) {
                self.check_resend_interval(session_id, request.channel, now).await?;
            }
            addresses.push(address);
        }
        for (request, address) in requests.iter().zip(addresses) {
            let code = new_code();
            let challenge = OtpChallenge {
                session_id,
                channel: request.channel,
                digest: self.otp_digest(session_id, request.channel, &code),
                expires_at: now.plus(OTP_CODE_LIFETIME),
            };
            match &request.delivery {
                OtpDelivery::ReturnCode => {
                    self.store.put_otp_challenge(&challenge, now).await?;
                    codes.set(request.channel, code);
                }
                // Stored once sent: a failed delivery neither replaces the code the user may
                // already have nor counts against the resend interval.
                OtpDelivery::Send { url_template } => {
                    let message = CodeMessage {
                        channel: request.channel,
                        url: url_template
                            .as_deref()
                            .map(|template| fill_template(template, &code, user, session_id)),
                        address,
                        code,
                        valid_for: OTP_CODE_LIFETIME,
                    };
                    self.code_delivery.deliver(&message).await.inspect_err(|error| {
                        tracing::warn!(%error, session_id = %session_id, channel = request.channel.as_str(), "one-time code not delivered");
                    })?;
                    tracing::info!(session_id = %session_id, channel = request.channel.as_str(), "one-time code sent");
                    self.store.put_otp_challenge(&challenge, now).await?;
                }
            }
        }
        Ok(codes)
    }

    /// Refuses to send another code while the last one of this session and channel is younger
    /// than [`OTP_RESEND_INTERVAL`].
    async fn check_resend_interval(&self, session_id: Uuid, channel: OtpChannel, now: Micros) -> ServiceResult<()> {
        let Some(previous) = self.store.otp_challenge(session_id, channel).await? else {
            return Ok(());
        };
        let issued_at = previous.expires_at.plus(-OTP_CODE_LIFETIME);
        let wait_micros = issued_at.plus(OTP_RESEND_INTERVAL).0 - now.0;
        if wait_micros <= 0 {
            return Ok(());
        }
        Err(ServiceError::RateLimited {
            limit: Limit::CodeResends,
            retry_after_seconds: u64::try_from(wait_micros).map_or(1, |micros| micros.div_ceil(1_000_000)),
        })
    }

    /// Uses up the code of `session_id` on `channel`: `true` once, when it matches the latest
    /// challenge and has not expired.
    pub(crate) async fn check_otp(&self, session_id: Uuid, channel: OtpChannel, code: &str) -> ServiceResult<bool> {
        let Some(challenge) = self.store.otp_challenge(session_id, channel).await? else {
            return Ok(false);
        };
        let presented = self.otp_digest(session_id, channel, code.trim());
        if !challenge.digest.ct_eq(&presented) || challenge.expires_at <= self.now() {
            return Ok(false);
        }
        Ok(self
            .store
            .consume_otp_challenge(session_id, channel, &challenge.digest)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_get_the_code_and_the_ids_and_nothing_else() {
        let user = Identity {
            id: Uuid::now_v7(),
            schema_id: "default".into(),
            traits: serde_json::json!({"email": "ada@example.org"}),
            state: lanyard_domain::IdentityState::Active,
            state_changed_at: None,
            metadata_public: None,
            metadata_admin: None,
            organization_id: None,
            external_id: None,
            identifiers: vec!["ada@example.org".into()],
            credentials: Default::default(),
            created_at: Micros(0),
            updated_at: Micros(0),
        };
        let session = Uuid::now_v7();
        let link = fill_template(
            "https://x/otp?c={{.Code}}&u={{.UserID}}&s={{.SessionID}}&n={{.LoginName}}&o={{.Other}}",
            "12345678",
            &user,
            session,
        );
        assert_eq!(
            link,
            format!(
                "https://x/otp?c=12345678&u={}&s={session}&n=ada@example.org&o={{{{.Other}}}}",
                user.id
            )
        );
    }

    #[test]
    fn codes_have_eight_digits_and_vary() {
        let codes: Vec<String> = (0..50).map(|_| new_code()).collect();
        assert!(codes
            .iter()
            .all(|c| c.len() == OTP_CODE_DIGITS && c.bytes().all(|b| b.is_ascii_digit())));
        let mut distinct = codes.clone();
        distinct.sort();
        distinct.dedup();
        assert!(distinct.len() > 45, "{codes:?}");
    }
}
