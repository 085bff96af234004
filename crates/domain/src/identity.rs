use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::Micros;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityState {
    Active,
    Inactive,
}

impl IdentityState {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityState::Active => "active",
            IdentityState::Inactive => "inactive",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "active" => Some(IdentityState::Active),
            "inactive" => Some(IdentityState::Inactive),
            _ => None,
        }
    }
}

/// The credential types Kratos knows. Lanyard stores all of them; it verifies `password`,
/// `totp` and `lookup_secret` itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialType {
    Password,
    Oidc,
    Totp,
    LookupSecret,
    Webauthn,
    Passkey,
    Code,
    Saml,
}

impl CredentialType {
    pub const ALL: [CredentialType; 8] = [
        CredentialType::Password,
        CredentialType::Oidc,
        CredentialType::Totp,
        CredentialType::LookupSecret,
        CredentialType::Webauthn,
        CredentialType::Passkey,
        CredentialType::Code,
        CredentialType::Saml,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CredentialType::Password => "password",
            CredentialType::Oidc => "oidc",
            CredentialType::Totp => "totp",
            CredentialType::LookupSecret => "lookup_secret",
            CredentialType::Webauthn => "webauthn",
            CredentialType::Passkey => "passkey",
            CredentialType::Code => "code",
            CredentialType::Saml => "saml",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        CredentialType::ALL.into_iter().find(|t| t.as_str() == value)
    }

    /// Whether holding this credential makes AAL2 available to the identity.
    pub fn is_second_factor(self) -> bool {
        matches!(
            self,
            CredentialType::Totp | CredentialType::LookupSecret | CredentialType::Webauthn | CredentialType::Code
        )
    }
}

/// A stored credential. `config` holds type-specific secrets (a password hash, a TOTP secret)
/// and is never serialised to a client as is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Credential {
    pub kind: CredentialType,
    pub identifiers: Vec<String>,
    pub config: Value,
    pub version: i32,
    pub created_at: Micros,
    pub updated_at: Micros,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub id: Uuid,
    pub schema_id: String,
    pub traits: Value,
    pub state: IdentityState,
    pub state_changed_at: Option<Micros>,
    pub metadata_public: Option<Value>,
    pub metadata_admin: Option<Value>,
    pub organization_id: Option<Uuid>,
    pub external_id: Option<String>,
    /// Login identifiers taken from the traits the schema marks as identifiers, lower-cased.
    /// Unique across all identities.
    pub identifiers: Vec<String>,
    pub credentials: BTreeMap<CredentialType, Credential>,
    pub created_at: Micros,
    pub updated_at: Micros,
}

impl Identity {
    pub fn is_active(&self) -> bool {
        self.state == IdentityState::Active
    }

    /// The highest level this identity could reach with the credentials it holds.
    pub fn highest_available_aal(&self) -> crate::Aal {
        if self.credentials.keys().any(|kind| kind.is_second_factor()) {
            crate::Aal::Aal2
        } else {
            crate::Aal::Aal1
        }
    }

    /// The login identifiers of this identity, lower-cased and de-duplicated.
    pub fn login_identifiers(&self) -> Vec<String> {
        let mut all: Vec<String> = self.identifiers.iter().map(|i| i.to_lowercase()).collect();
        all.sort();
        all.dedup();
        all
    }
}
