use std::sync::Arc;

use lanyard_domain::token::API_KEY_PREFIX;
use lanyard_domain::{ApiKey, Scope, SessionToken, TokenDigest};
use uuid::Uuid;

use crate::secrets::new_token;
use crate::{Lanyard, Missing, ServiceError, ServiceResult};

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Principal {
    ApiKey(ApiKey),
    /// An identity presenting one of its own session tokens.
    Session {
        session_id: Uuid,
        identity_id: Uuid,
        fingerprint_id: Option<String>,
    },
}

impl Principal {
    /// The id recorded as a session's creator.
    pub fn creator_id(&self) -> String {
        match self {
            Principal::ApiKey(key) => key.id.to_string(),
            Principal::Session { identity_id, .. } => identity_id.to_string(),
        }
    }

    /// Whose list and search work this caller's requests count against: the key, or the
    /// identity (however many of its session tokens are used).
    pub fn limit_key(&self) -> crate::LimitKey {
        match self {
            Principal::ApiKey(key) => crate::LimitKey::ApiKey(key.id),
            Principal::Session { identity_id, .. } => crate::LimitKey::Identity(*identity_id),
        }
    }

    pub fn has_scope(&self, scope: Scope) -> bool {
        matches!(self, Principal::ApiKey(key) if key.allows(scope))
    }
}

/// A key as just created: the secret is shown once, then only its digest exists.
pub struct NewApiKey {
    pub key: ApiKey,
    pub secret: SessionToken,
}

impl Lanyard {
    pub async fn create_api_key(&self, name: &str, scopes: Vec<Scope>) -> ServiceResult<NewApiKey> {
        let name = name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(ServiceError::Invalid(
                "an API key needs a name of 1 to 200 characters".into(),
            ));
        }
        let mut scopes = if scopes.is_empty() { Scope::ALL.to_vec() } else { scopes };
        scopes.sort();
        scopes.dedup();
        let secret = new_token(API_KEY_PREFIX);
        let key = ApiKey {
            id: Uuid::now_v7(),
            name: name.to_owned(),
            digest: secret.digest(),
            scopes,
            created_at: self.now(),
            revoked_at: None,
        };
        self.store.insert_api_key(&key).await?;
        Ok(NewApiKey { key, secret })
    }

    pub async fn list_api_keys(&self) -> ServiceResult<Vec<ApiKey>> {
        Ok(self.store.list_api_keys().await?)
    }

    pub async fn revoke_api_key(&self, id: Uuid) -> ServiceResult<()> {
        if !self.store.revoke_api_key(id, self.now()).await? {
            return Err(ServiceError::NotFound(Missing::ApiKey));
        }
        // Key revocations are rare: flushing everything, here and on the other nodes, is
        // simpler than a message kind of their own.
        self.invalidate(lanyard_store::Invalidation::All).await;
        Ok(())
    }

    /// Resolves a presented admin key. The lookup is by digest, so no secret is compared byte
    /// by byte; the final digest comparison is constant-time regardless.
    pub async fn authenticate_api_key(&self, presented: &str) -> ServiceResult<ApiKey> {
        let digest = TokenDigest::of_presented(presented).ok_or(ServiceError::Unauthenticated("missing API key"))?;
        let cached = self
            .api_key_cache
            .as_ref()
            .map(|cache| (cache.get(&digest), cache.generation()));
        let key = match cached {
            Some((Some(key), _)) => key,
            _ => match self.store.api_key_by_digest(&digest).await? {
                Some(key) => {
                    let key = Arc::new(key);
                    if let (Some(cache), Some((_, generation))) = (&self.api_key_cache, cached) {
                        cache.insert(key.clone(), generation);
                    }
                    key
                }
                None => return Err(ServiceError::Unauthenticated("the API key is unknown or revoked")),
            },
        };
        if key.digest.ct_eq(&digest) && key.revoked_at.is_none() {
            Ok(ApiKey::clone(&key))
        } else {
            Err(ServiceError::Unauthenticated("the API key is unknown or revoked"))
        }
    }
}
