use std::collections::BTreeMap;

use lanyard_domain::{Credential, CredentialType, Identity, IdentityState};
use lanyard_store::{IdentityFilter, Invalidation};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::passwords::check_importable_hash;
use crate::{Lanyard, Missing, ServiceError, ServiceResult};

/// A password as an admin hands it in: to hash, or already hashed elsewhere.
#[derive(Debug, Clone)]
pub enum PasswordInput {
    Cleartext(String),
    /// An argon2 PHC string or a bcrypt hash, imported as is.
    Hashed(String),
}

/// The writable fields of an identity, for create (POST) and replace (PUT).
#[derive(Debug, Clone, Default)]
pub struct IdentityWrite {
    pub schema_id: Option<String>,
    pub traits: Value,
    pub state: Option<IdentityState>,
    pub metadata_public: Option<Value>,
    pub metadata_admin: Option<Value>,
    pub organization_id: Option<Uuid>,
    pub external_id: Option<String>,
    pub password: Option<PasswordInput>,
}

#[derive(Debug, Clone)]
pub struct IdentityListRequest {
    pub filter: IdentityFilter,
    pub after: Option<Uuid>,
    pub page_size: u32,
}

#[derive(Debug, Clone)]
pub struct IdentityList {
    pub identities: Vec<Identity>,
    /// The last id of this page, when another page exists.
    pub next_after: Option<Uuid>,
}

const MAX_PASSWORD_BYTES: usize = 4096;

fn nonempty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

impl Lanyard {
    async fn password_credential(
        &self,
        input: PasswordInput,
        identifiers: &[String],
        existing: Option<&Credential>,
    ) -> ServiceResult<Credential> {
        let hashed = match input {
            PasswordInput::Cleartext(password) => {
                if password.is_empty() || password.len() > MAX_PASSWORD_BYTES {
                    return Err(ServiceError::Invalid(format!(
                        "the password must be between 1 and {MAX_PASSWORD_BYTES} bytes long"
                    )));
                }
                self.passwords.hash(password).await?
            }
            PasswordInput::Hashed(hash) => {
                check_importable_hash(&hash).map_err(ServiceError::Invalid)?;
                hash
            }
        };
        let now = self.now();
        Ok(Credential {
            kind: CredentialType::Password,
            identifiers: identifiers.to_vec(),
            config: json!({ "hashed_password": hashed }),
            version: 0,
            created_at: existing.map_or(now, |c| c.created_at),
            updated_at: now,
        })
    }

    /// Validates the traits and fills an identity from the writable fields.
    async fn apply_write(&self, identity: &mut Identity, input: IdentityWrite) -> ServiceResult<()> {
        let schema_id = nonempty(input.schema_id).unwrap_or_else(|| self.schemas.default_id().to_owned());
        if !input.traits.is_object() {
            return Err(ServiceError::Invalid("traits must be a JSON object".into()));
        }
        let identifiers = self.schemas.require(&schema_id)?.validate(&input.traits)?;
        for (name, value) in [
            ("metadata_public", &input.metadata_public),
            ("metadata_admin", &input.metadata_admin),
        ] {
            if value.as_ref().is_some_and(|v| !v.is_object() && !v.is_null()) {
                return Err(ServiceError::Invalid(format!("{name} must be a JSON object or null")));
            }
        }
        let now = self.now();
        let state = input.state.unwrap_or(IdentityState::Active);
        if state != identity.state {
            identity.state_changed_at = Some(now);
        }
        identity.state = state;
        identity.schema_id = schema_id;
        identity.traits = input.traits;
        identity.metadata_public = input.metadata_public.filter(|v| !v.is_null());
        identity.metadata_admin = input.metadata_admin.filter(|v| !v.is_null());
        identity.organization_id = input.organization_id;
        identity.external_id = nonempty(input.external_id);
        identity.identifiers = identifiers.clone();
        identity.updated_at = now;
        if let Some(password) = input.password {
            let existing = identity.credentials.get(&CredentialType::Password).cloned();
            let credential = self
                .password_credential(password, &identifiers, existing.as_ref())
                .await?;
            identity.credentials.insert(CredentialType::Password, credential);
        } else if let Some(password) = identity.credentials.get_mut(&CredentialType::Password) {
            password.identifiers = identifiers;
        }
        Ok(())
    }

    pub async fn create_identity(&self, input: IdentityWrite) -> ServiceResult<Identity> {
        let now = self.now();
        let mut identity = Identity {
            id: Uuid::now_v7(),
            schema_id: String::new(),
            traits: Value::Null,
            state: input.state.unwrap_or(IdentityState::Active),
            state_changed_at: Some(now),
            metadata_public: None,
            metadata_admin: None,
            organization_id: None,
            external_id: None,
            identifiers: Vec::new(),
            credentials: BTreeMap::new(),
            created_at: now,
            updated_at: now,
        };
        self.apply_write(&mut identity, input).await?;
        self.store.insert_identity(&identity).await?;
        Ok(identity)
    }

    pub async fn identity(&self, id: Uuid) -> ServiceResult<Identity> {
        self.store
            .identity(id)
            .await?
            .ok_or(ServiceError::NotFound(Missing::Identity))
    }

    pub async fn identity_by_external_id(&self, external_id: &str) -> ServiceResult<Identity> {
        self.store
            .identity_by_external_id(external_id)
            .await?
            .ok_or(ServiceError::NotFound(Missing::Identity))
    }

    pub async fn list_identities(
        &self,
        caller: &crate::Principal,
        request: IdentityListRequest,
    ) -> ServiceResult<crate::Limited<IdentityList>> {
        if let IdentityFilter::Ids(ids) = &request.filter {
            if ids.len() > self.settings.max_ids_per_filter {
                return Err(ServiceError::Invalid(format!(
                    "at most {} ids may be given",
                    self.settings.max_ids_per_filter
                )));
            }
        }
        let size = request.page_size.max(1);
        let slot = self.list_slot(caller.limit_key()).await?;
        let mut identities = self
            .store
            .list_identities(&request.filter, request.after, size + 1)
            .await?;
        let more = identities.len() > size as usize;
        identities.truncate(size as usize);
        let next_after = if more { identities.last().map(|i| i.id) } else { None };
        Ok(crate::Limited::new(IdentityList { identities, next_after }, slot))
    }

    /// PUT: replaces every writable field. Credentials are kept unless a password is given.
    pub async fn replace_identity(&self, id: Uuid, input: IdentityWrite) -> ServiceResult<Identity> {
        let mut identity = self.identity(id).await?;
        self.apply_write(&mut identity, input).await?;
        if !self.store.update_identity(&identity).await? {
            return Err(ServiceError::NotFound(Missing::Identity));
        }
        self.invalidate(Invalidation::Identity(id)).await;
        Ok(identity)
    }

    /// PATCH: an RFC 6902 JSON Patch over the writable fields, in their Kratos JSON names.
    pub async fn patch_identity(&self, id: Uuid, patch: json_patch::Patch) -> ServiceResult<Identity> {
        let identity = self.identity(id).await?;
        let mut document = json!({
            "schema_id": identity.schema_id,
            "traits": identity.traits,
            "state": identity.state.as_str(),
            "metadata_public": identity.metadata_public,
            "metadata_admin": identity.metadata_admin,
            "organization_id": identity.organization_id,
            "external_id": identity.external_id,
        });
        json_patch::patch(&mut document, &patch).map_err(|e| {
            ServiceError::Invalid(format!(
                "the JSON Patch cannot be applied: {e}; patchable paths are /schema_id, /traits, /state, \
                 /metadata_public, /metadata_admin, /organization_id and /external_id"
            ))
        })?;
        let input = write_from_document(document)?;
        self.replace_identity(id, input).await
    }

    pub async fn delete_identity(&self, id: Uuid) -> ServiceResult<()> {
        if !self.store.delete_identity(id).await? {
            return Err(ServiceError::NotFound(Missing::Identity));
        }
        self.invalidate(Invalidation::Identity(id)).await;
        Ok(())
    }

    pub async fn delete_identity_credential(&self, id: Uuid, kind: CredentialType) -> ServiceResult<()> {
        let mut identity = self.identity(id).await?;
        if identity.credentials.remove(&kind).is_none() {
            return Err(ServiceError::NotFound(Missing::Credential));
        }
        identity.updated_at = self.now();
        if !self.store.update_identity(&identity).await? {
            return Err(ServiceError::NotFound(Missing::Identity));
        }
        self.invalidate(Invalidation::Identity(id)).await;
        Ok(())
    }
}

fn write_from_document(document: Value) -> ServiceResult<IdentityWrite> {
    let text = |name: &str| -> ServiceResult<Option<String>> {
        match &document[name] {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            other => Err(ServiceError::Invalid(format!("{name} must be a string, not {other}"))),
        }
    };
    let state = match text("state")? {
        None => None,
        Some(s) => Some(
            IdentityState::parse(&s)
                .ok_or_else(|| ServiceError::Invalid(format!("state must be \"active\" or \"inactive\", not {s:?}")))?,
        ),
    };
    let organization_id = match text("organization_id")? {
        None => None,
        Some(s) => Some(Uuid::parse_str(&s).map_err(|e| ServiceError::Invalid(format!("organization_id: {e}")))?),
    };
    Ok(IdentityWrite {
        schema_id: text("schema_id")?,
        traits: document["traits"].clone(),
        state,
        metadata_public: Some(document["metadata_public"].clone()),
        metadata_admin: Some(document["metadata_admin"].clone()),
        organization_id,
        external_id: text("external_id")?,
        password: None,
    })
}
