//! Keyset page tokens.
//!
//! Lanyard's own tokens are `base64url(version ‖ created_at µs ‖ id ‖ HMAC-SHA256[..16])`: opaque
//! to clients, exact to the microsecond, and tamper-evident. Tokens in the format Kratos emits
//! (`base64("id=<uuid>/created_at=<YYYY-MM-DD HH:MM:SS.fffff>")`) are still accepted, so clients
//! that stored one keep working; they carry no MAC, but only name a position in the list.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::macros::format_description;
use time::PrimitiveDateTime;
use uuid::Uuid;

use crate::{Micros, TokenDigest};

const VERSION: u8 = 1;
const MAC_LEN: usize = 16;
const BODY_LEN: usize = 1 + 8 + 16;

/// A position in a list sorted by (created_at, id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: Micros,
    pub id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageTokenError {
    #[error("the page token is not valid base64")]
    NotBase64,
    #[error("the page token has an unknown format")]
    UnknownFormat,
    #[error("the page token was not issued by this service or was modified")]
    BadSignature,
}

/// The MAC keys from the `secrets` setting: the first signs, every one verifies.
#[derive(Clone)]
pub struct PageTokenKeys {
    keys: Vec<Vec<u8>>,
}

impl std::fmt::Debug for PageTokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PageTokenKeys({} keys)", self.keys.len())
    }
}

impl PageTokenKeys {
    /// `keys` must not be empty; the service refuses to start without a secret.
    pub fn new(keys: Vec<Vec<u8>>) -> Option<Self> {
        if keys.is_empty() || keys.iter().any(Vec::is_empty) {
            return None;
        }
        Some(PageTokenKeys { keys })
    }

    fn mac(key: &[u8], body: &[u8]) -> Hmac<Sha256> {
        #[allow(clippy::expect_used, reason = "HMAC takes keys of any length: this cannot fail")]
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
        mac.update(body);
        mac
    }

    /// A digest of `data` keyed with the signing key, for a `purpose` other than page tokens
    /// (one-time codes): short secrets stored this way cannot be guessed back from a database
    /// copy without the server's secret. `purpose` keeps uses apart.
    pub fn keyed_digest(&self, purpose: &str, data: &[u8]) -> TokenDigest {
        let mut body = Vec::with_capacity(purpose.len() + 1 + data.len());
        body.extend_from_slice(purpose.as_bytes());
        body.push(0);
        body.extend_from_slice(data);
        TokenDigest(Self::mac(&self.keys[0], &body).finalize().into_bytes().into())
    }

    pub fn encode(&self, cursor: Cursor) -> String {
        let mut bytes = Vec::with_capacity(BODY_LEN + MAC_LEN);
        bytes.push(VERSION);
        bytes.extend_from_slice(&cursor.created_at.0.to_be_bytes());
        bytes.extend_from_slice(cursor.id.as_bytes());
        let tag = Self::mac(&self.keys[0], &bytes).finalize().into_bytes();
        bytes.extend_from_slice(&tag[..MAC_LEN]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    pub fn decode(&self, token: &str) -> Result<Cursor, PageTokenError> {
        let bytes = decode_base64_tolerantly(token).ok_or(PageTokenError::NotBase64)?;
        if bytes.len() == BODY_LEN + MAC_LEN && bytes[0] == VERSION {
            let (body, tag) = bytes.split_at(BODY_LEN);
            let verified = self
                .keys
                .iter()
                .any(|key| Self::mac(key, body).verify_truncated_left(tag).is_ok());
            if !verified {
                return Err(PageTokenError::BadSignature);
            }
            let created = i64::from_be_bytes(body[1..9].try_into().map_err(|_| PageTokenError::UnknownFormat)?);
            let id = Uuid::from_slice(&body[9..25]).map_err(|_| PageTokenError::UnknownFormat)?;
            return Ok(Cursor {
                created_at: Micros(created),
                id,
            });
        }
        parse_kratos_token(&bytes).ok_or(PageTokenError::UnknownFormat)
    }
}

/// Standard or URL-safe alphabet, padded or not; a space is read as the `+` that a double
/// URL-decoding turned it into.
fn decode_base64_tolerantly(token: &str) -> Option<Vec<u8>> {
    let token = token.trim().replace(' ', "+");
    if token.is_empty() || token.len() > 512 {
        return None;
    }
    [&URL_SAFE_NO_PAD, &URL_SAFE, &STANDARD_NO_PAD, &STANDARD]
        .iter()
        .find_map(|engine| engine.decode(&token).ok())
}

fn parse_kratos_token(bytes: &[u8]) -> Option<Cursor> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut id = None;
    let mut created = None;
    for pair in text.split('/') {
        let (key, value) = pair.split_once('=')?;
        match key {
            "id" => id = Some(Uuid::parse_str(value).ok()?),
            "created_at" => created = Some(parse_kratos_timestamp(value)?),
            _ => return None,
        }
    }
    Some(Cursor {
        created_at: created?,
        id: id?,
    })
}

fn parse_kratos_timestamp(value: &str) -> Option<Micros> {
    let with_fraction = format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond]");
    let without_fraction = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let parsed = PrimitiveDateTime::parse(value, with_fraction)
        .or_else(|_| PrimitiveDateTime::parse(value, without_fraction))
        .ok()?;
    Some(Micros::from_datetime(parsed.assume_utc()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn keys(secret: &str) -> PageTokenKeys {
        PageTokenKeys::new(vec![secret.as_bytes().to_vec()]).unwrap()
    }

    #[test]
    fn rejects_empty_key_lists() {
        assert!(PageTokenKeys::new(vec![]).is_none());
        assert!(PageTokenKeys::new(vec![vec![]]).is_none());
    }

    #[test]
    fn a_token_signed_with_a_retired_key_still_verifies_after_rotation() {
        let cursor = Cursor {
            created_at: Micros(1_700_000_000_123_456),
            id: Uuid::now_v7(),
        };
        let token = keys("old").encode(cursor);
        let rotated = PageTokenKeys::new(vec![b"new".to_vec(), b"old".to_vec()]).unwrap();
        assert_eq!(rotated.decode(&token), Ok(cursor));
        assert_eq!(keys("other").decode(&token), Err(PageTokenError::BadSignature));
    }

    #[test]
    fn accepts_the_kratos_first_page_token() {
        let token = STANDARD_NO_PAD.encode("id=00000000-0000-0000-0000-000000000000/created_at=2200-12-31 23:59:59");
        let cursor = keys("k").decode(&token).unwrap();
        assert_eq!(cursor.id, Uuid::nil());
        assert_eq!(cursor.created_at.to_datetime().year(), 2200);
    }

    #[test]
    fn accepts_kratos_tokens_whose_plus_became_a_space() {
        let raw = "id=3f0c6e5e-3a57-4b0e-9d5c-1f3a5f7d1e2b/created_at=2024-02-16 03:00:09.0006";
        let token = STANDARD_NO_PAD.encode(raw).replace('+', " ");
        assert!(keys("k").decode(&token).is_ok());
    }

    #[test]
    fn garbage_is_an_error_not_a_first_page() {
        let k = keys("k");
        assert_eq!(k.decode("!!!"), Err(PageTokenError::NotBase64));
        assert_eq!(
            k.decode(&URL_SAFE_NO_PAD.encode("id=nope/created_at=x")),
            Err(PageTokenError::UnknownFormat)
        );
        assert_eq!(
            k.decode(&URL_SAFE_NO_PAD.encode("hello")),
            Err(PageTokenError::UnknownFormat)
        );
    }

    proptest! {
        #[test]
        fn round_trips_every_cursor(created in any::<i64>(), id in any::<u128>()) {
            let cursor = Cursor { created_at: Micros(created), id: Uuid::from_u128(id) };
            prop_assert_eq!(keys("s").decode(&keys("s").encode(cursor)), Ok(cursor));
        }

        #[test]
        fn any_single_byte_change_is_detected(created in any::<i64>(), id in any::<u128>(), at in 0usize..41, flip in 1u8..=255) {
            let k = keys("s");
            let token = k.encode(Cursor { created_at: Micros(created), id: Uuid::from_u128(id) });
            let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
            bytes[at] ^= flip;
            prop_assert!(k.decode(&URL_SAFE_NO_PAD.encode(bytes)).is_err());
        }

        #[test]
        fn arbitrary_input_never_panics(input in ".{0,200}") {
            let _ = keys("s").decode(&input);
        }
    }
}
