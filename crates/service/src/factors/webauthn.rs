//! WebAuthn as the relying party: passkeys (ZITADEL's passwordless tokens, Kratos's `passkey`
//! credential) and security keys (ZITADEL's U2F tokens, Kratos's `webauthn` credential).
//! kanidm's webauthn-rs does the protocol (CBOR, attestation, signatures, origins, counters);
//! this module keeps its state where Lanyard keeps state: a registration waits in
//! `pending_enrolments`, a session's challenge in `webauthn_challenges`, and enrolled keys in the
//! identity's credentials. Each registration and each challenge is used once: webauthn-rs does
//! not remember them, so the tables' single-use reads are what stops replays.

use lanyard_domain::{
    CredentialType, EnrolmentKind, Factor, Identity, Method, Micros, PendingEnrolment, WebauthnChallenge,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;
use uuid::Uuid;
use webauthn_rs::prelude::{
    Credential, Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    SecurityKey, SecurityKeyAuthentication, SecurityKeyRegistration, Webauthn, WebauthnBuilder,
};

use super::{factor_credential, lock, read_config, to_config, totp_account};
use crate::{Lanyard, Missing, ServiceError, ServiceResult};

/// How long a registration waits for its verification, and a challenge for its assertion:
/// webauthn-rs asks the browser to finish within five minutes.
const REGISTRATION_LIFETIME: time::Duration = time::Duration::minutes(10);
const CHALLENGE_LIFETIME: time::Duration = time::Duration::minutes(5);
/// The longest name a passkey or security key may have (ZITADEL's limit).
const MAX_NAME: usize = 200;

/// The relying party Lanyard acts as: its id (a domain name) and the origins it accepts.
pub struct RelyingParty {
    id: String,
    webauthn: Webauthn,
}

#[derive(Debug, thiserror::Error)]
#[error("webauthn: {0}")]
pub struct RelyingPartyError(String);

impl RelyingParty {
    /// `id` is a domain name (not an IP address); every origin must be on it or below it.
    pub fn new(id: &str, name: &str, origins: &[Url]) -> Result<RelyingParty, RelyingPartyError> {
        let (first, rest) = origins
            .split_first()
            .ok_or_else(|| RelyingPartyError("at least one allowed origin is needed".into()))?;
        let mut builder = WebauthnBuilder::new(id, first)
            .map_err(|e| RelyingPartyError(format!("relying party {id:?} with origin {first}: {e}")))?
            .rp_name(name);
        for origin in rest {
            builder = builder.append_allowed_origin(origin);
        }
        let webauthn = builder
            .build()
            .map_err(|e| RelyingPartyError(format!("relying party {id:?}: {e}")))?;
        Ok(RelyingParty {
            id: id.to_owned(),
            webauthn,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Which kind of authenticator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthenticatorKind {
    /// Passwordless, user-verified: a first factor on its own.
    Passkey,
    /// A second factor (U2F and FIDO2 keys used for presence).
    SecurityKey,
}

impl AuthenticatorKind {
    fn credential_type(self) -> CredentialType {
        match self {
            AuthenticatorKind::Passkey => CredentialType::Passkey,
            AuthenticatorKind::SecurityKey => CredentialType::Webauthn,
        }
    }

    fn enrolment(self) -> EnrolmentKind {
        match self {
            AuthenticatorKind::Passkey => EnrolmentKind::Passkey,
            AuthenticatorKind::SecurityKey => EnrolmentKind::U2f,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            AuthenticatorKind::Passkey => "passkey",
            AuthenticatorKind::SecurityKey => "security key",
        }
    }
}

/// A started registration: its id (ZITADEL's `passkeyId` / `u2fId`) and the
/// `PublicKeyCredentialCreationOptions` for the browser, as `{"publicKey": {...}}`.
#[derive(Debug, Clone)]
pub struct WebauthnRegistration {
    pub id: Uuid,
    pub options: Value,
}

/// An enrolled key, or one registered and not yet verified (`ready: false`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebauthnKey {
    pub id: Uuid,
    pub name: String,
    pub ready: bool,
}

/// ZITADEL's `UserVerificationRequirement`: `Required` allows only passkeys; otherwise any key,
/// and a passkey still verifies its user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserVerification {
    Required,
    #[default]
    Preferred,
    Discouraged,
}

/// `challenges.webAuthN`.
#[derive(Debug, Clone, Default)]
pub struct WebauthnChallengeRequest {
    /// The relying party the login page runs under; empty means this server's.
    pub domain: String,
    pub user_verification: UserVerification,
}

/// An identity's keys of one kind, as its credential's config keeps them.
#[derive(Debug, Default, Serialize, Deserialize)]
struct KeysConfig {
    credentials: Vec<StoredKey>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredKey {
    /// Lanyard's id of the key (ZITADEL's `passkeyId` / `u2fId`).
    id: Uuid,
    display_name: String,
    added_at: Micros,
    is_passwordless: bool,
    /// The credential as webauthn-rs keeps it: id, public key, sign counter, flags.
    key: Credential,
}

#[derive(Serialize, Deserialize)]
enum RegistrationState {
    Passkey(PasskeyRegistration),
    SecurityKey(SecurityKeyRegistration),
}

#[derive(Serialize, Deserialize)]
enum ChallengeState {
    Passkey(PasskeyAuthentication),
    SecurityKey(SecurityKeyAuthentication),
}

fn internal(what: &str, error: impl std::fmt::Display) -> ServiceError {
    ServiceError::Internal(format!("{what}: {error}"))
}

fn to_json(value: &impl Serialize) -> ServiceResult<String> {
    serde_json::to_string(value).map_err(|e| internal("WebAuthn state has no JSON form", e))
}

fn keys(identity: &Identity, kind: AuthenticatorKind) -> ServiceResult<KeysConfig> {
    match identity.credentials.get(&kind.credential_type()) {
        Some(credential) => read_config(identity, credential),
        None => Ok(KeysConfig::default()),
    }
}

fn every_key(identity: &Identity) -> ServiceResult<Vec<(AuthenticatorKind, StoredKey)>> {
    let mut out = Vec::new();
    for kind in [AuthenticatorKind::Passkey, AuthenticatorKind::SecurityKey] {
        out.extend(keys(identity, kind)?.credentials.into_iter().map(|key| (kind, key)));
    }
    Ok(out)
}

impl Lanyard {
    /// The relying party, if the caller's `domain` is it (or names none).
    fn relying_party(&self, domain: &str) -> ServiceResult<&RelyingParty> {
        let rp = self.relying_party.as_deref().ok_or_else(|| {
            ServiceError::PreconditionFailed(
                "passkeys and security keys need a relying party: set webauthn.rp_id (a domain name) \
                 or give serve.public.base_url a host name"
                    .into(),
            )
        })?;
        let domain = domain.trim();
        if !domain.is_empty() && domain != rp.id {
            return Err(ServiceError::Invalid(format!(
                "domain {domain:?} is not this server's relying party {:?} (webauthn.rp_id)",
                rp.id
            )));
        }
        Ok(rp)
    }

    /// Starts registering a passkey or security key (ZITADEL's RegisterPasskey / RegisterU2F),
    /// replacing a registration of the same kind still waiting.
    pub async fn register_webauthn(
        &self,
        identity_id: Uuid,
        kind: AuthenticatorKind,
        domain: &str,
    ) -> ServiceResult<WebauthnRegistration> {
        let rp = self.relying_party(domain)?;
        let identity = self.identity(identity_id).await?;
        let exclude = every_key(&identity)?
            .into_iter()
            .map(|(_, key)| key.key.cred_id.clone())
            .collect::<Vec<_>>();
        let name = totp_account(&identity);
        let started = match kind {
            AuthenticatorKind::Passkey => rp
                .webauthn
                .start_passkey_registration(identity.id, &name, &name, Some(exclude))
                .map(|(options, state)| (serde_json::to_value(options), RegistrationState::Passkey(state))),
            AuthenticatorKind::SecurityKey => rp
                .webauthn
                .start_securitykey_registration(identity.id, &name, &name, Some(exclude), None, None)
                .map(|(options, state)| (serde_json::to_value(options), RegistrationState::SecurityKey(state))),
        };
        let (options, state) = started.map_err(|e| internal("could not start a WebAuthn registration", e))?;
        let options = options.map_err(|e| internal("WebAuthn options have no JSON form", e))?;
        let now = self.now();
        let pending = PendingEnrolment {
            id: Uuid::now_v7(),
            identity_id,
            kind: kind.enrolment(),
            state: to_json(&state)?,
            created_at: now,
            expires_at: now.plus(REGISTRATION_LIFETIME),
        };
        self.store.put_pending_enrolment(&pending, now).await?;
        Ok(WebauthnRegistration {
            id: pending.id,
            options,
        })
    }

    /// Completes a registration with the browser's `PublicKeyCredential` (ZITADEL's
    /// VerifyPasskeyRegistration / VerifyU2FRegistration): the key becomes a credential named
    /// `name`. The registration is used up, so a replayed response is refused.
    pub async fn verify_webauthn_registration(
        &self,
        identity_id: Uuid,
        kind: AuthenticatorKind,
        id: Uuid,
        credential: Value,
        name: &str,
    ) -> ServiceResult<()> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME {
            return Err(ServiceError::Invalid(format!(
                "the {} needs a name of 1 to {MAX_NAME} characters",
                kind.noun()
            )));
        }
        let rp = self.relying_party("")?;
        self.identity(identity_id).await?;
        let now = self.now();
        let pending = self
            .store
            .pending_enrolment(identity_id, kind.enrolment())
            .await?
            .filter(|pending| pending.id == id && pending.is_usable_at(now))
            .ok_or(ServiceError::NotFound(Missing::Credential))?;
        let response: RegisterPublicKeyCredential = serde_json::from_value(credential).map_err(|e| {
            ServiceError::Invalid(format!(
                "publicKeyCredential is not a WebAuthn registration response (PublicKeyCredential with an attestation): {e}"
            ))
        })?;
        let state: RegistrationState =
            serde_json::from_str(&pending.state).map_err(|e| internal("a WebAuthn registration is unreadable", e))?;
        let verified = match &state {
            RegistrationState::Passkey(state) => rp
                .webauthn
                .finish_passkey_registration(&response, state)
                .map(Credential::from),
            RegistrationState::SecurityKey(state) => rp
                .webauthn
                .finish_securitykey_registration(&response, state)
                .map(Credential::from),
        };
        let key = verified
            .map_err(|e| ServiceError::Invalid(format!("the {} registration does not verify: {e}", kind.noun())))?;
        if !self.store.consume_pending_enrolment(pending.id).await? {
            return Err(ServiceError::NotFound(Missing::Credential));
        }
        let _guard = lock(identity_id).await;
        let mut identity = self.identity(identity_id).await?;
        if every_key(&identity)?
            .iter()
            .any(|(_, known)| known.key.cred_id == key.cred_id)
        {
            return Err(ServiceError::Conflict(
                "this authenticator is already registered for the user".into(),
            ));
        }
        let mut config = keys(&identity, kind)?;
        config.credentials.push(StoredKey {
            id,
            display_name: name.to_owned(),
            added_at: now,
            is_passwordless: kind == AuthenticatorKind::Passkey,
            key,
        });
        self.store_keys(&mut identity, kind, &config, now)?;
        self.save_identity(&identity).await?;
        tracing::info!(%identity_id, key_id = %id, kind = kind.noun(), "WebAuthn key registered");
        Ok(())
    }

    fn store_keys(
        &self,
        identity: &mut Identity,
        kind: AuthenticatorKind,
        config: &KeysConfig,
        now: Micros,
    ) -> ServiceResult<()> {
        let credential_type = kind.credential_type();
        if config.credentials.is_empty() {
            identity.credentials.remove(&credential_type);
        } else {
            let config = to_config(config)?;
            let credential = match identity.credentials.remove(&credential_type) {
                Some(mut existing) => {
                    existing.config = config;
                    existing.updated_at = now;
                    existing
                }
                None => factor_credential(identity, credential_type, config, now),
            };
            identity.credentials.insert(credential_type, credential);
        }
        identity.updated_at = now;
        Ok(())
    }

    /// The identity's keys of `kind`, enrolled ones first, then one still waiting for its
    /// verification (ZITADEL's `AUTH_FACTOR_STATE_NOT_READY`).
    pub async fn list_webauthn(&self, identity_id: Uuid, kind: AuthenticatorKind) -> ServiceResult<Vec<WebauthnKey>> {
        let identity = self.identity(identity_id).await?;
        let mut out: Vec<WebauthnKey> = keys(&identity, kind)?
            .credentials
            .into_iter()
            .map(|key| WebauthnKey {
                id: key.id,
                name: key.display_name,
                ready: true,
            })
            .collect();
        let now = self.now();
        if let Some(pending) = self
            .store
            .pending_enrolment(identity_id, kind.enrolment())
            .await?
            .filter(|pending| pending.is_usable_at(now))
        {
            out.push(WebauthnKey {
                id: pending.id,
                name: String::new(),
                ready: false,
            });
        }
        Ok(out)
    }

    /// Removes a key, or a registration still waiting (ZITADEL's RemovePasskey / RemoveU2F).
    pub async fn remove_webauthn(&self, identity_id: Uuid, kind: AuthenticatorKind, id: Uuid) -> ServiceResult<()> {
        let _guard = lock(identity_id).await;
        let mut identity = self.identity(identity_id).await?;
        let mut config = keys(&identity, kind)?;
        let before = config.credentials.len();
        config.credentials.retain(|key| key.id != id);
        if config.credentials.len() < before {
            self.store_keys(&mut identity, kind, &config, self.now())?;
            return self.save_identity(&identity).await;
        }
        let waiting = self.store.pending_enrolment(identity_id, kind.enrolment()).await?;
        match waiting {
            Some(pending) if pending.id == id && self.store.consume_pending_enrolment(id).await? => Ok(()),
            _ => Err(ServiceError::NotFound(Missing::Credential)),
        }
    }

    /// Issues a session's WebAuthn challenge (ZITADEL `challenges.webAuthN`), replacing the one
    /// it had: `PublicKeyCredentialRequestOptions` for the user's keys, as `{"publicKey": {...}}`.
    pub(crate) async fn issue_webauthn_challenge(
        &self,
        session_id: Uuid,
        identity: Option<&Identity>,
        request: &WebauthnChallengeRequest,
        now: Micros,
    ) -> ServiceResult<Value> {
        let rp = self.relying_party(&request.domain)?;
        let identity = identity.ok_or_else(|| {
            ServiceError::PreconditionFailed(
                "a WebAuthN challenge needs a user in the session: check the user first".into(),
            )
        })?;
        let keys = every_key(identity)?;
        let started = if request.user_verification == UserVerification::Required {
            let passkeys: Vec<Passkey> = keys
                .into_iter()
                .filter(|(kind, _)| *kind == AuthenticatorKind::Passkey)
                .map(|(_, key)| Passkey::from(key.key))
                .collect();
            if passkeys.is_empty() {
                return Err(ServiceError::PreconditionFailed(
                    "the user has no passkey (a challenge requiring user verification allows only passkeys)".into(),
                ));
            }
            rp.webauthn
                .start_passkey_authentication(&passkeys)
                .map(|(options, state)| (serde_json::to_value(options), ChallengeState::Passkey(state)))
        } else {
            let every: Vec<SecurityKey> = keys.into_iter().map(|(_, key)| SecurityKey::from(key.key)).collect();
            if every.is_empty() {
                return Err(ServiceError::PreconditionFailed(
                    "the user has no passkey or security key".into(),
                ));
            }
            rp.webauthn
                .start_securitykey_authentication(&every)
                .map(|(options, state)| (serde_json::to_value(options), ChallengeState::SecurityKey(state)))
        };
        let (options, state) = started.map_err(|e| internal("could not start a WebAuthn challenge", e))?;
        let options = options.map_err(|e| internal("WebAuthn options have no JSON form", e))?;
        let challenge = WebauthnChallenge {
            session_id,
            state: to_json(&state)?,
            expires_at: now.plus(CHALLENGE_LIFETIME),
        };
        self.store.put_webauthn_challenge(&challenge, now).await?;
        Ok(options)
    }

    /// Checks an assertion against the session's challenge, using the challenge up whatever
    /// the outcome. The factor it earns, or `None` when it does not verify.
    pub(crate) async fn check_webauthn(
        &self,
        user: &Identity,
        session_id: Uuid,
        assertion: Value,
        now: Micros,
    ) -> ServiceResult<Option<Factor>> {
        let rp = self.relying_party("")?;
        let assertion: PublicKeyCredential = serde_json::from_value(assertion).map_err(|e| {
            ServiceError::Invalid(format!(
                "checks.webAuthN.credentialAssertionData is not a WebAuthn assertion (PublicKeyCredential): {e}"
            ))
        })?;
        let Some(challenge) = self.store.take_webauthn_challenge(session_id).await? else {
            return Ok(None);
        };
        if now >= challenge.expires_at {
            return Ok(None);
        }
        let state: ChallengeState =
            serde_json::from_str(&challenge.state).map_err(|e| internal("a WebAuthn challenge is unreadable", e))?;
        let verified = match &state {
            ChallengeState::Passkey(state) => rp.webauthn.finish_passkey_authentication(&assertion, state),
            ChallengeState::SecurityKey(state) => rp.webauthn.finish_securitykey_authentication(&assertion, state),
        };
        let result = match verified {
            Ok(result) => result,
            Err(error) => {
                tracing::info!(identity_id = %user.id, %error, "WebAuthn assertion refused");
                return Ok(None);
            }
        };
        let _guard = lock(user.id).await;
        let mut identity = self.identity(user.id).await?;
        for kind in [AuthenticatorKind::Passkey, AuthenticatorKind::SecurityKey] {
            let mut config = keys(&identity, kind)?;
            let Some(stored) = config
                .credentials
                .iter_mut()
                .find(|key| &key.key.cred_id == result.cred_id())
            else {
                continue;
            };
            // The sign counter (clone detection) and the backup flags move forward.
            let mut passkey = Passkey::from(stored.key.clone());
            if passkey.update_credential(&result) == Some(true) {
                stored.key = Credential::from(passkey);
            }
            let passwordless = stored.is_passwordless;
            self.store_keys(&mut identity, kind, &config, now)?;
            self.save_identity(&identity).await?;
            let method = if passwordless && result.user_verified() {
                Method::Passkey
            } else {
                Method::Webauthn
            };
            let mut factor = Factor::new(method, now);
            factor.user_verified = result.user_verified();
            return Ok(Some(factor));
        }
        // The key was removed after the challenge was issued.
        Ok(None)
    }
}
