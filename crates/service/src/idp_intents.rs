//! IdP intents: a trusted caller records a sign-in at an external identity provider, and one
//! ZITADEL `checks.idpIntent` uses it up as that identity's `intent` factor.

use lanyard_domain::{Identity, IdpIntent, TokenDigest, IDP_INTENT_TOKEN_PREFIX};
use uuid::Uuid;

use crate::secrets::new_token;
use crate::{Lanyard, ServiceError, ServiceResult};

/// How long a recorded intent can be used: long enough for a login UI to create or update the
/// session right after the provider's redirect, short enough that a leaked one soon is useless.
pub const IDP_INTENT_LIFETIME: time::Duration = time::Duration::minutes(10);

/// The longest `idp_id` or `idp_user_id`.
const MAX_IDP_NAME: usize = 200;

#[derive(Debug, Clone)]
pub struct RecordIdpIntent {
    pub identity_id: Uuid,
    pub idp_id: String,
    pub idp_user_id: String,
}

/// A recorded intent and its token, which is shown only here.
pub struct RecordedIdpIntent {
    pub intent: IdpIntent,
    pub token: lanyard_domain::SessionToken,
}

/// The `checks.idpIntent` of a request, as given.
#[derive(Debug, Clone)]
pub struct IdpIntentCheck {
    pub id: String,
    pub token: String,
}

impl Lanyard {
    pub async fn record_idp_intent(&self, request: RecordIdpIntent) -> ServiceResult<RecordedIdpIntent> {
        for (field, value) in [("idp_id", &request.idp_id), ("idp_user_id", &request.idp_user_id)] {
            if value.trim().is_empty() || value.chars().count() > MAX_IDP_NAME || value.chars().any(char::is_control) {
                return Err(ServiceError::Invalid(format!(
                    "{field} must be 1 to {MAX_IDP_NAME} printable characters"
                )));
            }
        }
        let identity = self.identity(request.identity_id).await?;
        if !identity.is_active() {
            return Err(ServiceError::IdentityDisabled);
        }
        let now = self.now();
        let token = new_token(IDP_INTENT_TOKEN_PREFIX);
        let intent = IdpIntent {
            id: Uuid::now_v7(),
            digest: token.digest(),
            identity_id: identity.id,
            idp_id: request.idp_id,
            idp_user_id: request.idp_user_id,
            created_at: now,
            expires_at: now.plus(IDP_INTENT_LIFETIME),
        };
        self.store.insert_idp_intent(&intent, now).await?;
        tracing::info!(intent = %intent.id, identity = %intent.identity_id, idp = %intent.idp_id, "IdP intent recorded");
        Ok(RecordedIdpIntent { intent, token })
    }

    /// Uses up the intent for `user`: the intent, once, when the id and token match an intent
    /// for this identity that has not expired; `None` otherwise, leaving the intent as it was
    /// (a wrong guess does not spend someone else's intent).
    pub(crate) async fn consume_idp_intent(
        &self,
        user: &Identity,
        check: &IdpIntentCheck,
    ) -> ServiceResult<Option<IdpIntent>> {
        let Ok(id) = Uuid::parse_str(&check.id) else {
            return Ok(None);
        };
        let Some(intent) = self.store.idp_intent(id).await? else {
            return Ok(None);
        };
        let presented = TokenDigest::of(&check.token);
        if !intent.digest.ct_eq(&presented) || intent.identity_id != user.id || !intent.is_usable_at(self.now()) {
            return Ok(None);
        }
        let used = self.store.consume_idp_intent(id, &intent.digest).await?;
        Ok(used.then_some(intent))
    }
}
