//! Kratos JSON shapes, produced from domain values.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use lanyard_domain::{CredentialType, Device, Factor, Identity, Micros};
use lanyard_service::SessionView;
use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

fn at(micros: Micros) -> OffsetDateTime {
    micros.to_datetime()
}

/// A Kratos session (`session` in the Kratos API).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = KratosSession)]
pub struct SessionJson {
    pub id: Uuid,
    pub active: bool,
    #[serde(with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub authenticated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    pub authenticator_assurance_level: &'static str,
    pub authentication_methods: Vec<MethodJson>,
    pub identity: Option<IdentityJson>,
    pub devices: Option<Vec<DeviceJson>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = KratosAuthenticationMethod)]
pub struct MethodJson {
    pub method: &'static str,
    pub aal: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    pub completed_at: OffsetDateTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = KratosDevice)]
pub struct DeviceJson {
    pub id: Uuid,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub location: Option<String>,
}

/// A Kratos identity; `credentials` only on admin identity endpoints, secrets stripped.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = KratosIdentity)]
pub struct IdentityJson {
    pub id: Uuid,
    pub schema_id: String,
    pub schema_url: String,
    pub state: &'static str,
    #[serde(with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub state_changed_at: Option<OffsetDateTime>,
    pub traits: Value,
    pub metadata_public: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata_admin: Option<Value>,
    pub organization_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub credentials: Option<Map<String, Value>>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// Who is looking at an identity decides which of its fields are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The identity itself (whoami, my sessions): no admin metadata, no credentials.
    Owner,
    /// Admin session endpoints: admin metadata, no credentials.
    AdminSession,
    /// Admin identity endpoints: admin metadata and credentials (secrets stripped).
    AdminIdentity,
}

/// How a list shows unexpanded devices: Kratos uses `null` on lists and `[]` on single gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HiddenDevices {
    Null,
    Empty,
}

pub fn schema_url(public_base_url: &str, schema_id: &str) -> String {
    format!("{public_base_url}schemas/{}", URL_SAFE_NO_PAD.encode(schema_id))
}

fn method_json(factor: &Factor) -> MethodJson {
    MethodJson {
        method: factor.method.kratos_name(),
        aal: factor.aal.as_str(),
        completed_at: at(factor.completed_at),
        provider: factor.provider.clone(),
        organization: factor.organization.clone(),
    }
}

fn device_json(device: &Device) -> DeviceJson {
    DeviceJson {
        id: device.id,
        ip_address: device.ip_address.clone(),
        user_agent: device.user_agent.clone(),
        location: device.location.clone(),
    }
}

/// What an admin sees of a credential's config. Hashes and secrets never leave the service; the
/// `code` credential holds only the addresses codes go to, and of passkeys and security keys
/// the id, name, date and kind of each key show (not its public key or counter), as in Kratos.
fn shown_config(kind: CredentialType, config: &serde_json::Value) -> serde_json::Value {
    match kind {
        CredentialType::Code => config.clone(),
        CredentialType::Webauthn | CredentialType::Passkey => {
            let keys = config["credentials"].as_array().map(|keys| {
                keys.iter()
                    .map(|key| {
                        let mut shown = serde_json::Map::new();
                        for field in ["id", "display_name", "added_at", "is_passwordless"] {
                            if let Some(value) = key.get(field) {
                                shown.insert(field.to_owned(), value.clone());
                            }
                        }
                        serde_json::Value::Object(shown)
                    })
                    .collect::<Vec<_>>()
            });
            serde_json::json!({ "credentials": keys.unwrap_or_default() })
        }
        _ => serde_json::json!({}),
    }
}

pub fn identity_json(identity: &Identity, audience: Audience, public_base_url: &str) -> IdentityJson {
    let credentials = (audience == Audience::AdminIdentity).then(|| {
        identity
            .credentials
            .values()
            .map(|c| {
                let value = serde_json::json!({
                    "type": c.kind.as_str(),
                    "identifiers": c.identifiers,
                    "config": shown_config(c.kind, &c.config),
                    "version": c.version,
                    "created_at": at(c.created_at).format(&time::format_description::well_known::Rfc3339).ok(),
                    "updated_at": at(c.updated_at).format(&time::format_description::well_known::Rfc3339).ok(),
                });
                (c.kind.as_str().to_owned(), value)
            })
            .collect()
    });
    IdentityJson {
        id: identity.id,
        schema_id: identity.schema_id.clone(),
        schema_url: schema_url(public_base_url, &identity.schema_id),
        state: identity.state.as_str(),
        state_changed_at: identity.state_changed_at.map(at),
        traits: identity.traits.clone(),
        metadata_public: identity.metadata_public.clone(),
        metadata_admin: if audience == Audience::Owner {
            None
        } else {
            identity.metadata_admin.clone()
        },
        organization_id: identity.organization_id,
        external_id: identity.external_id.clone(),
        credentials,
        created_at: at(identity.created_at),
        updated_at: at(identity.updated_at),
    }
}

pub struct SessionOptions<'a> {
    pub audience: Audience,
    pub expand_identity: bool,
    pub expand_devices: bool,
    pub hidden_devices: HiddenDevices,
    pub public_base_url: &'a str,
}

pub fn session_json(view: &SessionView, options: &SessionOptions<'_>) -> SessionJson {
    let session = &view.session;
    let identity = if options.expand_identity {
        view.identity
            .as_ref()
            .map(|i| identity_json(i, options.audience, options.public_base_url))
    } else {
        None
    };
    let devices = if options.expand_devices {
        Some(session.devices.iter().map(device_json).collect())
    } else {
        match options.hidden_devices {
            HiddenDevices::Null => None,
            HiddenDevices::Empty => Some(Vec::new()),
        }
    };
    SessionJson {
        id: session.id,
        active: view.active,
        expires_at: session.expires_at.map(at),
        authenticated_at: at(session.authenticated_at),
        issued_at: at(session.created_at),
        authenticator_assurance_level: session.aal().as_str(),
        authentication_methods: session.factors.iter().map(method_json).collect(),
        identity,
        devices,
    }
}
