//! An IdP intent: a sign-in at an external identity provider that a trusted caller (a login
//! UI, an IdP bridge) has completed and vouches for. Lanyard does not talk to identity
//! providers itself; it records the outcome and lets one session check use it up.

use uuid::Uuid;

use crate::{Micros, TokenDigest};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpIntent {
    pub id: Uuid,
    /// The SHA-256 digest of the intent's token; the token itself is never stored.
    pub digest: TokenDigest,
    /// The identity the sign-in was for.
    pub identity_id: Uuid,
    /// The identity provider, as the caller names it.
    pub idp_id: String,
    /// The user's id at that provider.
    pub idp_user_id: String,
    pub created_at: Micros,
    pub expires_at: Micros,
}

impl IdpIntent {
    /// Whether a check at `now` may still use it.
    pub fn is_usable_at(&self, now: Micros) -> bool {
        now < self.expires_at
    }
}
