use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Micros, TokenDigest};

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scope {
    #[serde(rename = "session.read")]
    SessionRead,
    #[serde(rename = "session.write")]
    SessionWrite,
    #[serde(rename = "session.delete")]
    SessionDelete,
    #[serde(rename = "identity.read")]
    IdentityRead,
    #[serde(rename = "identity.write")]
    IdentityWrite,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::SessionRead,
        Scope::SessionWrite,
        Scope::SessionDelete,
        Scope::IdentityRead,
        Scope::IdentityWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::SessionRead => "session.read",
            Scope::SessionWrite => "session.write",
            Scope::SessionDelete => "session.delete",
            Scope::IdentityRead => "identity.read",
            Scope::IdentityWrite => "identity.write",
        }
    }

    pub fn parse(value: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == value)
    }
}

/// An admin credential. Only the digest of the secret is ever kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: Uuid,
    pub name: String,
    pub digest: TokenDigest,
    pub scopes: Vec<Scope>,
    pub created_at: Micros,
    pub revoked_at: Option<Micros>,
}

impl ApiKey {
    pub fn allows(&self, scope: Scope) -> bool {
        self.revoked_at.is_none() && self.scopes.contains(&scope)
    }
}
