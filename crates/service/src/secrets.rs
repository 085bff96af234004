use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use lanyard_domain::SessionToken;
use rand::rngs::OsRng;
use rand::RngCore;

/// 256 bits from the operating system's CSPRNG.
pub(crate) fn random_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

pub(crate) fn new_token(prefix: &str) -> SessionToken {
    SessionToken::from_random(prefix, random_bytes())
}

/// A printable 256-bit secret, e.g. for a generated page-token key.
pub fn random_secret() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes())
}
