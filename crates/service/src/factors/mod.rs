//! Second factors Lanyard verifies itself: TOTP (`totp`) and recovery codes (`lookup_secret`).
//! Enrolment is an admin use case; verification is for the session checks (ZITADEL `totp`
//! and `recoveryCode` checks) and never leaks which part of a code was wrong.
//!
//! Holding either credential makes AAL2 available to the identity
//! ([`Identity::highest_available_aal`]), so enrolling one makes `whoami` demand AAL2 of the
//! identity's sessions under the default `whoami_required_aal`.

mod methods;
mod otp;
mod recovery;
mod totp;
mod totp_registration;
mod webauthn;

pub use methods::AuthMethod;
pub use otp::{OtpChallengeRequest, OtpCodes, OtpDelivery, OTP_CODE_DIGITS, OTP_CODE_LIFETIME};
pub use totp_registration::TOTP_REGISTRATION_LIFETIME;
pub use webauthn::{
    AuthenticatorKind, RelyingParty, RelyingPartyError, UserVerification, WebauthnChallengeRequest, WebauthnKey,
    WebauthnRegistration,
};

use lanyard_domain::{Credential, CredentialType, Identity, Micros};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::{Mutex, MutexGuard};
use uuid::Uuid;

use crate::{Lanyard, Missing, ServiceError, ServiceResult};
use recovery::LookupConfig;
use totp::TotpConfig;

/// The issuer named in `otpauth://` URLs.
pub const TOTP_ISSUER: &str = "Lanyard";

/// A TOTP enrolment, to show once: the secret and the URL an authenticator app scans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpEnrolment {
    /// Base32 (RFC 4648), upper case, no padding.
    pub secret: String,
    /// `otpauth://totp/Lanyard:<account>?secret=...&issuer=Lanyard&algorithm=SHA1&digits=6&period=30`
    pub otpauth_url: String,
}

/// The current 6-digit TOTP code of a base32 secret at `unix_seconds`, as an authenticator app
/// would show it. For tests and tools; the service verifies codes with [`Lanyard::verify_totp`].
pub fn totp_code_at(secret: &str, unix_seconds: i64) -> ServiceResult<String> {
    totp::code_at(secret, unix_seconds).map_err(ServiceError::Invalid)
}

/// Verification is read, check, write: two requests with the same code must not both see the
/// old `last_step` (or the same unused recovery code). These striped locks serialise the
/// factor use cases per identity on this node.
///
/// Across nodes sharing one database the window between read and write remains; closing it
/// needs a conditional update in the store (compare on the credential's `updated_at`).
const LOCK_STRIPES: usize = 64;
static LOCKS: [Mutex<()>; LOCK_STRIPES] = [const { Mutex::const_new(()) }; LOCK_STRIPES];

async fn lock(identity_id: Uuid) -> MutexGuard<'static, ()> {
    LOCKS[(identity_id.as_u128() % LOCK_STRIPES as u128) as usize]
        .lock()
        .await
}

fn unix_seconds(now: Micros) -> i64 {
    now.0.div_euclid(1_000_000)
}

/// RFC 3986 percent-encoding of everything but the unreserved characters.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The account an `otpauth://` URL names: the identity's first identifier, else its id.
fn totp_account(identity: &Identity) -> String {
    identity
        .identifiers
        .first()
        .cloned()
        .unwrap_or_else(|| identity.id.to_string())
}

fn otpauth_url(secret: &str, account: &str) -> String {
    format!(
        "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm=SHA1&digits={digits}&period={period}",
        issuer = percent_encode(TOTP_ISSUER),
        account = percent_encode(account),
        digits = totp::DIGITS,
        period = totp::PERIOD,
    )
}

fn read_config<T: DeserializeOwned>(identity: &Identity, credential: &Credential) -> ServiceResult<T> {
    serde_json::from_value(credential.config.clone()).map_err(|e| {
        ServiceError::Internal(format!(
            "the stored {} credential of identity {} is malformed: {e}",
            credential.kind.as_str(),
            identity.id
        ))
    })
}

fn to_config(config: &impl Serialize) -> ServiceResult<serde_json::Value> {
    serde_json::to_value(config).map_err(|e| ServiceError::Internal(format!("credential config: {e}")))
}

fn factor_credential(identity: &Identity, kind: CredentialType, config: serde_json::Value, now: Micros) -> Credential {
    Credential {
        kind,
        identifiers: vec![identity.id.to_string()],
        config,
        version: 0,
        created_at: now,
        updated_at: now,
    }
}

impl Lanyard {
    async fn save_identity(&self, identity: &Identity) -> ServiceResult<()> {
        if !self.store.update_identity(identity).await? {
            return Err(ServiceError::NotFound(Missing::Identity));
        }
        // Enrolled factors change the AAL whoami demands.
        self.invalidate(lanyard_store::Invalidation::Identity(identity.id))
            .await;
        Ok(())
    }

    /// Enrols (or replaces) the identity's TOTP credential. With `secret`, imports that base32
    /// secret (at least 16 bytes decoded); without, generates 20 random bytes. Returns the
    /// secret and its `otpauth://` URL, which are never shown again.
    pub async fn enrol_totp(&self, identity_id: Uuid, secret: Option<String>) -> ServiceResult<TotpEnrolment> {
        let secret = match secret {
            Some(secret) => totp::canonical_secret(&secret).map_err(ServiceError::Invalid)?,
            None => totp::generate_secret(),
        };
        self.install_totp(identity_id, secret, None).await
    }

    /// Makes `secret` the identity's TOTP credential. Re-enrolling the same secret keeps its
    /// replay protection; `last_step`, when given, is a step already used (the code that
    /// verified a registration).
    async fn install_totp(
        &self,
        identity_id: Uuid,
        secret: String,
        last_step: Option<i64>,
    ) -> ServiceResult<TotpEnrolment> {
        let _guard = lock(identity_id).await;
        let mut identity = self.identity(identity_id).await?;
        let kept_step = match identity.credentials.get(&CredentialType::Totp) {
            Some(existing) => read_config::<TotpConfig>(&identity, existing)
                .ok()
                .filter(|c| c.secret == secret)
                .and_then(|c| c.last_step),
            None => None,
        };
        let now = self.now();
        let config = to_config(&TotpConfig {
            secret: secret.clone(),
            last_step: kept_step.max(last_step),
        })?;
        let credential = factor_credential(&identity, CredentialType::Totp, config, now);
        identity.credentials.insert(CredentialType::Totp, credential);
        identity.updated_at = now;
        self.save_identity(&identity).await?;
        Ok(TotpEnrolment {
            otpauth_url: otpauth_url(&secret, &totp_account(&identity)),
            secret,
        })
    }

    /// Generates a new set of 12 recovery codes, replacing any previous set, and returns them
    /// for showing once (`xxxxx-xxxxx`). Only their digests are stored.
    pub async fn generate_recovery_codes(&self, identity_id: Uuid) -> ServiceResult<Vec<String>> {
        let _guard = lock(identity_id).await;
        let mut identity = self.identity(identity_id).await?;
        let (codes, config) = recovery::generate(identity_id.as_bytes());
        let now = self.now();
        let credential = factor_credential(&identity, CredentialType::LookupSecret, to_config(&config)?, now);
        identity.credentials.insert(CredentialType::LookupSecret, credential);
        identity.updated_at = now;
        self.save_identity(&identity).await?;
        Ok(codes)
    }

    /// Checks a TOTP code against the identity's enrolled secret at the service's clock, with
    /// one step of skew either way. On success the code's time step is stored, so that code
    /// (and every earlier one) is refused from then on. `Ok(false)` when the code is wrong,
    /// replayed, or the identity has no TOTP credential.
    ///
    /// The identity is re-read from the store, so a stale `identity` cannot replay a code.
    pub async fn verify_totp(&self, identity: &Identity, code: &str) -> ServiceResult<bool> {
        let _guard = lock(identity.id).await;
        let mut current = self.identity(identity.id).await?;
        let Some(credential) = current.credentials.get(&CredentialType::Totp) else {
            return Ok(false);
        };
        let mut config: TotpConfig = read_config(&current, credential)?;
        let key = totp::decode_secret(&config.secret).map_err(|e| {
            ServiceError::Internal(format!(
                "the stored TOTP secret of identity {} is unusable: {e}",
                current.id
            ))
        })?;
        let now = self.now();
        let Some(step) = totp::verify(&key, code, unix_seconds(now), config.last_step) else {
            return Ok(false);
        };
        config.last_step = Some(step);
        let config = to_config(&config)?;
        if let Some(credential) = current.credentials.get_mut(&CredentialType::Totp) {
            credential.config = config;
            credential.updated_at = now;
        }
        self.save_identity(&current).await?;
        Ok(true)
    }

    /// Uses up one recovery code: `Ok(true)` and the code is marked used, or `Ok(false)` when it
    /// is wrong, already used, or the identity has no recovery codes. Dashes, spaces and case
    /// do not matter.
    pub async fn consume_recovery_code(&self, identity: &Identity, code: &str) -> ServiceResult<bool> {
        let _guard = lock(identity.id).await;
        let mut current = self.identity(identity.id).await?;
        let Some(credential) = current.credentials.get(&CredentialType::LookupSecret) else {
            return Ok(false);
        };
        let mut config: LookupConfig = read_config(&current, credential)?;
        let now = self.now();
        if !recovery::consume(&mut config, current.id.as_bytes(), code, now) {
            return Ok(false);
        }
        let config = to_config(&config)?;
        if let Some(credential) = current.credentials.get_mut(&CredentialType::LookupSecret) {
            credential.config = config;
            credential.updated_at = now;
        }
        self.save_identity(&current).await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use lanyard_domain::Aal;
    use serde_json::json;

    use super::*;
    use crate::test_fixture::{fixture, Fixture};
    use crate::IdentityWrite;

    async fn identity(service: &Lanyard, email: &str) -> Identity {
        service
            .create_identity(IdentityWrite {
                traits: json!({ "email": email }),
                ..Default::default()
            })
            .await
            .unwrap()
    }

    fn now_seconds(f: &Fixture) -> i64 {
        unix_seconds(f.service.now())
    }

    #[tokio::test]
    async fn sessions_looked_up_by_token_carry_credential_types_but_no_secrets() {
        let f = fixture().await;
        let bob = identity(&f.service, "bob@example.org").await;
        f.service.enrol_totp(bob.id, None).await.unwrap();
        let key = f.service.create_api_key("tests", vec![]).await.unwrap();
        let factor = |method, aal| crate::FactorInput {
            method,
            aal: Some(aal),
            completed_at: None,
            provider: None,
            organization: None,
        };
        let issued = f
            .service
            .issue_session(
                &crate::Principal::ApiKey(key.key),
                crate::IssueSession {
                    identity_id: bob.id,
                    factors: vec![
                        factor(lanyard_domain::Method::Password, Aal::Aal1),
                        factor(lanyard_domain::Method::Totp, Aal::Aal2),
                    ],
                    device: Default::default(),
                    lifespan: None,
                },
            )
            .await
            .unwrap();
        // Twice: the store read, then the cache hit.
        for _ in 0..2 {
            let view = f.service.whoami(issued.token.expose()).await.unwrap();
            let identity = view.identity.as_ref().unwrap();
            assert_eq!(identity.highest_available_aal(), Aal::Aal2, "the types stay");
            assert_eq!(
                identity.credentials[&CredentialType::Totp].config,
                serde_json::Value::Null
            );
        }
        // The identity itself, read for a check, still has its secret.
        let stored = f.service.identity(bob.id).await.unwrap();
        assert!(stored.credentials[&CredentialType::Totp].config["secret"].is_string());
    }

    #[test]
    fn otpauth_urls_encode_the_label() {
        assert_eq!(
            otpauth_url("ABC", "a b+c@example.org"),
            "otpauth://totp/Lanyard:a%20b%2Bc%40example.org?secret=ABC&issuer=Lanyard&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[tokio::test]
    async fn totp_enrolment_stores_the_secret_and_verifies_codes_once() {
        let f = fixture().await;
        let alice = identity(&f.service, "Alice@example.org").await;
        assert_eq!(alice.highest_available_aal(), Aal::Aal1);
        let enrolment = f.service.enrol_totp(alice.id, None).await.unwrap();
        assert_eq!(
            totp::decode_secret(&enrolment.secret).unwrap().len(),
            totp::SECRET_BYTES
        );
        assert_eq!(
            enrolment.otpauth_url,
            format!(
                "otpauth://totp/Lanyard:alice%40example.org?secret={}&issuer=Lanyard&algorithm=SHA1&digits=6&period=30",
                enrolment.secret
            )
        );

        let stored = f.service.identity(alice.id).await.unwrap();
        assert_eq!(stored.highest_available_aal(), Aal::Aal2);
        let credential = &stored.credentials[&CredentialType::Totp];
        assert_eq!(credential.identifiers, vec![alice.id.to_string()]);
        assert_eq!(
            credential.config,
            json!({ "secret": enrolment.secret, "last_step": null })
        );

        let code = totp_code_at(&enrolment.secret, now_seconds(&f)).unwrap();
        let wrong: String = code.bytes().map(|b| char::from(b'0' + (b - b'0' + 1) % 10)).collect();
        assert!(!f.service.verify_totp(&stored, &wrong).await.unwrap());
        assert!(f.service.verify_totp(&stored, &code).await.unwrap());
        let after = f.service.identity(alice.id).await.unwrap();
        assert_eq!(
            after.credentials[&CredentialType::Totp].config["last_step"],
            json!(totp::step_at(now_seconds(&f)))
        );
        // The replay is refused, even through the stale identity the caller still holds.
        assert!(!f.service.verify_totp(&stored, &code).await.unwrap());

        // The next step's code works; the skew allows a code one step old, but not an old step.
        f.clock.advance(time::Duration::seconds(30));
        let next = totp_code_at(&enrolment.secret, now_seconds(&f)).unwrap();
        assert!(f.service.verify_totp(&after, &next).await.unwrap());
        assert!(!f.service.verify_totp(&after, &code).await.unwrap());
    }

    #[tokio::test]
    async fn totp_skew_is_one_step() {
        let f = fixture().await;
        let bob = identity(&f.service, "bob@example.org").await;
        let secret = f.service.enrol_totp(bob.id, None).await.unwrap().secret;
        let t = now_seconds(&f);
        let late = totp_code_at(&secret, t - 30).unwrap();
        let too_late = totp_code_at(&secret, t - 60).unwrap();
        let early = totp_code_at(&secret, t + 30).unwrap();
        // Distinct codes almost surely; skip the check on a one-in-a-million collision.
        if too_late != late && too_late != early && too_late != totp_code_at(&secret, t).unwrap() {
            assert!(!f.service.verify_totp(&bob, &too_late).await.unwrap());
        }
        assert!(f.service.verify_totp(&bob, &late).await.unwrap());
        assert!(f.service.verify_totp(&bob, &early).await.unwrap());
        // Having accepted the step ahead, the current step is now in the past.
        assert!(!f
            .service
            .verify_totp(&bob, &totp_code_at(&secret, t).unwrap())
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn provided_totp_secrets_are_validated() {
        let f = fixture().await;
        let carol = identity(&f.service, "carol@example.org").await;
        let error = f.service.enrol_totp(carol.id, Some("short".into())).await.unwrap_err();
        assert!(
            matches!(error, ServiceError::Invalid(ref m) if m.contains("bytes")),
            "{error}"
        );
        let error = f.service.enrol_totp(carol.id, Some("!!!!".into())).await.unwrap_err();
        assert!(
            matches!(error, ServiceError::Invalid(ref m) if m.contains("base32")),
            "{error}"
        );
        assert!(f.service.identity(carol.id).await.unwrap().credentials.is_empty());

        let secret = "gezd gnbv gy3t qojq gezd gnbv gy3t qojq";
        let enrolment = f.service.enrol_totp(carol.id, Some(secret.into())).await.unwrap();
        assert_eq!(enrolment.secret, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        let missing = f.service.enrol_totp(Uuid::now_v7(), None).await.unwrap_err();
        assert!(matches!(missing, ServiceError::NotFound(Missing::Identity)));
    }

    #[tokio::test]
    async fn re_enrolling_the_same_secret_keeps_replay_protection() {
        let f = fixture().await;
        let dave = identity(&f.service, "dave@example.org").await;
        let secret = f.service.enrol_totp(dave.id, None).await.unwrap().secret;
        let code = totp_code_at(&secret, now_seconds(&f)).unwrap();
        assert!(f.service.verify_totp(&dave, &code).await.unwrap());
        f.service.enrol_totp(dave.id, Some(secret.clone())).await.unwrap();
        assert!(!f.service.verify_totp(&dave, &code).await.unwrap());
    }

    #[tokio::test]
    async fn identities_without_the_factor_verify_nothing() {
        let f = fixture().await;
        let erin = identity(&f.service, "erin@example.org").await;
        assert!(!f.service.verify_totp(&erin, "123456").await.unwrap());
        assert!(!f.service.consume_recovery_code(&erin, "abcde-fghjk").await.unwrap());
    }

    #[tokio::test]
    async fn recovery_codes_are_single_use_and_replaced_by_a_new_set() {
        let f = fixture().await;
        let frank = identity(&f.service, "frank@example.org").await;
        let codes = f.service.generate_recovery_codes(frank.id).await.unwrap();
        assert_eq!(codes.len(), 12);

        let stored = f.service.identity(frank.id).await.unwrap();
        assert_eq!(stored.highest_available_aal(), Aal::Aal2);
        let credential = &stored.credentials[&CredentialType::LookupSecret];
        assert_eq!(credential.identifiers, vec![frank.id.to_string()]);
        let text = credential.config.to_string();
        for code in &codes {
            assert!(!text.contains(code.as_str()) && !text.contains(&recovery::normalize(code)));
        }

        assert!(f
            .service
            .consume_recovery_code(&stored, &codes[0].to_uppercase())
            .await
            .unwrap());
        assert!(!f.service.consume_recovery_code(&stored, &codes[0]).await.unwrap());
        let used = f.service.identity(frank.id).await.unwrap();
        let entries = used.credentials[&CredentialType::LookupSecret].config["codes"].clone();
        let used_count = entries
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["used_at"] == json!(f.service.now().0))
            .count();
        assert_eq!(used_count, 1);

        let fresh = f.service.generate_recovery_codes(frank.id).await.unwrap();
        assert!(
            !f.service.consume_recovery_code(&stored, &codes[1]).await.unwrap(),
            "old set is gone"
        );
        assert!(f.service.consume_recovery_code(&stored, &fresh[1]).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_uses_of_one_code_succeed_once() {
        let f = fixture().await;
        let gina = identity(&f.service, "gina@example.org").await;
        let secret = f.service.enrol_totp(gina.id, None).await.unwrap().secret;
        let codes = f.service.generate_recovery_codes(gina.id).await.unwrap();
        let code = totp_code_at(&secret, now_seconds(&f)).unwrap();
        let mut attempts = tokio::task::JoinSet::new();
        for i in 0..16 {
            let (service, gina, code, recovery) = (f.service.clone(), gina.clone(), code.clone(), codes[0].clone());
            attempts.spawn(async move {
                if i % 2 == 0 {
                    ("totp", service.verify_totp(&gina, &code).await.unwrap())
                } else {
                    (
                        "recovery",
                        service.consume_recovery_code(&gina, &recovery).await.unwrap(),
                    )
                }
            });
        }
        let results = attempts.join_all().await;
        for kind in ["totp", "recovery"] {
            let accepted = results.iter().filter(|(k, ok)| *k == kind && *ok).count();
            assert_eq!(accepted, 1, "{kind}");
        }
    }
}
