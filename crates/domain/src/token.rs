//! Bearer secrets: session tokens and API keys.
//!
//! A token is `prefix` + 43 base64url characters encoding 256 random bits. The randomness is
//! handed in by the caller (the service reads the OS CSPRNG), which keeps this module pure.
//! Stores only ever see the SHA-256 digest.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub const SESSION_TOKEN_PREFIX: &str = "lanyard_st_";
pub const API_KEY_PREFIX: &str = "lanyard_ak_";
/// The token of an IdP intent (`POST /admin/lanyard/idp-intents`).
pub const IDP_INTENT_TOKEN_PREFIX: &str = "lanyard_it_";
/// Longest token accepted on lookup; longer input is rejected without hashing.
pub const MAX_TOKEN_LEN: usize = 200;

/// A freshly minted secret. Deliberately not `Debug`/`Display`, so it cannot slip into logs.
pub struct SessionToken(String);

impl SessionToken {
    pub fn from_random(prefix: &str, random: [u8; 32]) -> Self {
        SessionToken(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(random)))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    pub fn digest(&self) -> TokenDigest {
        TokenDigest::of(&self.0)
    }
}

/// SHA-256 of a token's exact bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenDigest(pub [u8; 32]);

impl TokenDigest {
    pub fn of(token: &str) -> Self {
        TokenDigest(Sha256::digest(token.as_bytes()).into())
    }

    /// Accepts any opaque token up to [`MAX_TOKEN_LEN`] characters, so tokens imported from
    /// other systems keep working; anything else cannot be a token.
    pub fn of_presented(token: &str) -> Option<Self> {
        let token = token.trim();
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return None;
        }
        Some(TokenDigest::of(token))
    }

    /// Constant-time comparison, for the places a digest is compared outside an index lookup.
    pub fn ct_eq(&self, other: &TokenDigest) -> bool {
        self.0.ct_eq(&other.0).into()
    }

    /// The first bytes in hex: enough to correlate log lines, useless to an attacker.
    pub fn log_prefix(&self) -> String {
        self.0[..4].iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl std::fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenDigest({}…)", self.log_prefix())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_tokens_carry_the_prefix_and_256_bits() {
        let token = SessionToken::from_random(SESSION_TOKEN_PREFIX, [7; 32]);
        let body = token.expose().strip_prefix(SESSION_TOKEN_PREFIX).unwrap();
        assert_eq!(body.len(), 43);
        assert_eq!(URL_SAFE_NO_PAD.decode(body).unwrap(), vec![7; 32]);
    }

    #[test]
    fn presented_tokens_are_bounded() {
        assert!(TokenDigest::of_presented("").is_none());
        assert!(TokenDigest::of_presented(&"a".repeat(201)).is_none());
        assert_eq!(
            TokenDigest::of_presented("ory_st_abc"),
            Some(TokenDigest::of("ory_st_abc"))
        );
    }

    #[test]
    fn digests_compare_in_constant_time_correctly() {
        assert!(TokenDigest::of("a").ct_eq(&TokenDigest::of("a")));
        assert!(!TokenDigest::of("a").ct_eq(&TokenDigest::of("b")));
    }
}
