//! TOTP (RFC 6238) over HOTP (RFC 4226): HMAC-SHA1, 6 digits, 30-second steps, one step of
//! clock skew either way. Pure functions: the time is always a parameter.
//!
//! The credential config is `{"secret": "<BASE32, no padding>", "last_step": <i64 or null>}`.
//! `last_step` is the time step of the last accepted code; a code for that step or an earlier
//! one is refused, so an observed code cannot be replayed, not even within its own window.

use std::sync::LazyLock;

use data_encoding::{Encoding, BASE32_NOPAD};
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Seconds per time step.
pub const PERIOD: i64 = 30;
/// Steps of clock skew accepted either side of the current one.
pub const SKEW: i64 = 1;
/// Bytes of a generated secret (160 bits, the HMAC-SHA1 block-friendly size RFC 4226 recommends).
pub const SECRET_BYTES: usize = 20;
/// Fewest bytes a provided secret must decode to (RFC 4226 requires at least 128 bits).
pub const MIN_SECRET_BYTES: usize = 16;
/// Most bytes a provided secret may decode to; longer keys add nothing for HMAC-SHA1.
pub const MAX_SECRET_BYTES: usize = 64;

/// Base32 without padding that ignores non-zero bits after the last byte, as authenticator
/// apps do; secrets are stored re-encoded canonically.
#[allow(clippy::expect_used, reason = "a constant specification, checked by the tests")]
static LENIENT_BASE32: LazyLock<Encoding> = LazyLock::new(|| {
    let mut spec = BASE32_NOPAD.specification();
    spec.check_trailing_bits = false;
    spec.encoding().expect("a valid base32 specification")
});

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TotpConfig {
    pub secret: String,
    pub last_step: Option<i64>,
}

/// A new random secret, base32 without padding.
pub(crate) fn generate_secret() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    OsRng.fill_bytes(&mut bytes);
    BASE32_NOPAD.encode(&bytes)
}

/// Decodes a base32 secret as people paste it: case-insensitive, spaces and `=` padding
/// ignored. Says what is wrong when it is not usable.
pub(crate) fn decode_secret(secret: &str) -> Result<Vec<u8>, String> {
    let cleaned: String = secret
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect::<String>()
        .trim_end_matches('=')
        .to_ascii_uppercase();
    if cleaned.is_empty() {
        return Err("the TOTP secret is empty".into());
    }
    if cleaned.len() > MAX_SECRET_BYTES * 2 {
        return Err(format!(
            "the TOTP secret is too long; it must decode to at most {MAX_SECRET_BYTES} bytes"
        ));
    }
    let bytes = LENIENT_BASE32
        .decode(cleaned.as_bytes())
        .map_err(|e| format!("the TOTP secret is not valid base32 (RFC 4648, letters A-Z and digits 2-7): {e}"))?;
    if bytes.len() < MIN_SECRET_BYTES {
        return Err(format!(
            "the TOTP secret decodes to {} bytes; it must be at least {MIN_SECRET_BYTES} bytes (128 bits)",
            bytes.len()
        ));
    }
    if bytes.len() > MAX_SECRET_BYTES {
        return Err(format!(
            "the TOTP secret decodes to {} bytes; it must be at most {MAX_SECRET_BYTES} bytes",
            bytes.len()
        ));
    }
    Ok(bytes)
}

/// The canonical form of a secret: base32, upper case, no padding.
pub(crate) fn canonical_secret(secret: &str) -> Result<String, String> {
    decode_secret(secret).map(|bytes| BASE32_NOPAD.encode(&bytes))
}

/// RFC 4226 HOTP: HMAC-SHA1 of the counter, dynamically truncated to `digits` decimal digits.
pub fn hotp(key: &[u8], counter: u64, digits: u32) -> u32 {
    #[allow(clippy::expect_used, reason = "HMAC takes keys of any length: this cannot fail")]
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = usize::from(hash[19] & 0x0f);
    let binary = u32::from_be_bytes([
        hash[offset] & 0x7f,
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ]);
    binary % 10u32.pow(digits.min(9))
}

/// The time step that `unix_seconds` falls into.
pub fn step_at(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(PERIOD)
}

fn code_for_step(key: &[u8], step: i64) -> Option<String> {
    let counter = u64::try_from(step).ok()?;
    Some(format!(
        "{:0width$}",
        hotp(key, counter, DIGITS),
        width = DIGITS as usize
    ))
}

/// The 6-digit code of a base32 secret at a moment, as an authenticator app shows it.
pub(crate) fn code_at(secret: &str, unix_seconds: i64) -> Result<String, String> {
    let key = decode_secret(secret)?;
    code_for_step(&key, step_at(unix_seconds)).ok_or_else(|| "the time is before 1970".to_owned())
}

/// Checks `code` against the steps around `unix_seconds`, skipping every step at or before
/// `last_step`. Returns the step it matched. Every candidate is compared in constant time and
/// without an early exit, so timing says nothing about which step (if any) matched.
pub(crate) fn verify(key: &[u8], code: &str, unix_seconds: i64, last_step: Option<i64>) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = step_at(unix_seconds);
    let mut accepted = None;
    for step in (current - SKEW)..=(current + SKEW) {
        let Some(expected) = code_for_step(key, step) else {
            continue;
        };
        let fresh = last_step.is_none_or(|last| step > last);
        let matches: bool = expected.as_bytes().ct_eq(code.as_bytes()).into();
        if matches && fresh {
            accepted = Some(step);
        }
    }
    accepted
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_KEY: &[u8] = b"12345678901234567890";

    fn rfc_secret() -> String {
        BASE32_NOPAD.encode(RFC_KEY)
    }

    #[test]
    fn rfc_6238_sha1_vectors() {
        // RFC 6238 appendix B, SHA1 column (8 digits), and the same truncated to 6 digits.
        let vectors = [
            (59, 94287082),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ];
        for (t, expected) in vectors {
            let counter = step_at(t) as u64;
            assert_eq!(hotp(RFC_KEY, counter, 8), expected, "T={t}");
            assert_eq!(hotp(RFC_KEY, counter, 6), expected % 1_000_000, "T={t}");
        }
        assert_eq!(code_at(&rfc_secret(), 59).unwrap(), "287082");
        assert_eq!(code_at(&rfc_secret(), 1111111109).unwrap(), "081804");
    }

    #[test]
    fn rfc_4226_hotp_vectors() {
        let expected = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (counter, code) in expected.into_iter().enumerate() {
            assert_eq!(hotp(RFC_KEY, counter as u64, 6), code);
        }
    }

    #[test]
    fn one_step_of_skew_is_accepted_either_way() {
        let t = 1_700_000_000;
        let code = code_at(&rfc_secret(), t).unwrap();
        let step = step_at(t);
        assert_eq!(verify(RFC_KEY, &code, t, None), Some(step));
        assert_eq!(verify(RFC_KEY, &code, t + PERIOD, None), Some(step));
        assert_eq!(verify(RFC_KEY, &code, t - PERIOD, None), Some(step));
        assert_eq!(
            verify(RFC_KEY, &format!(" {} {} ", &code[..3], &code[3..]), t, None),
            Some(step)
        );
    }

    #[test]
    fn codes_outside_the_skew_are_refused() {
        let t = 1_700_000_000;
        let code = code_at(&rfc_secret(), t).unwrap();
        assert_eq!(verify(RFC_KEY, &code, t + 2 * PERIOD, None), None);
        assert_eq!(verify(RFC_KEY, &code, t - 2 * PERIOD, None), None);
    }

    #[test]
    fn replays_and_older_steps_are_refused() {
        let t = 1_700_000_000;
        let step = step_at(t);
        let code = code_at(&rfc_secret(), t).unwrap();
        assert_eq!(verify(RFC_KEY, &code, t, Some(step)), None, "same step");
        assert_eq!(
            verify(RFC_KEY, &code, t, Some(step + 1)),
            None,
            "later step already used"
        );
        assert_eq!(verify(RFC_KEY, &code, t, Some(step - 1)), Some(step));
        let previous = code_at(&rfc_secret(), t - PERIOD).unwrap();
        assert_eq!(
            verify(RFC_KEY, &previous, t, Some(step)),
            None,
            "older step after a newer one"
        );
    }

    #[test]
    fn malformed_codes_are_refused() {
        let t = 1_700_000_000;
        for code in ["", "12345", "1234567", "abcdef", "12345a", "１２３４５６"] {
            assert_eq!(verify(RFC_KEY, code, t, None), None, "{code:?}");
        }
    }

    #[test]
    fn secrets_are_20_random_bytes_in_unpadded_base32() {
        let a = generate_secret();
        let b = generate_secret();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(!a.contains('='));
        assert_eq!(decode_secret(&a).unwrap().len(), SECRET_BYTES);
    }

    #[test]
    fn provided_secrets_are_normalised_and_checked() {
        let secret = rfc_secret();
        let messy = format!("{} {}==", secret[..8].to_lowercase(), &secret[8..]);
        assert_eq!(canonical_secret(&messy).unwrap(), secret);
        assert!(decode_secret("").unwrap_err().contains("empty"));
        assert!(decode_secret("not base32!").unwrap_err().contains("base32"));
        // 10 bytes: too short.
        assert!(decode_secret(&BASE32_NOPAD.encode(&[7u8; 10]))
            .unwrap_err()
            .contains("at least 16"));
        assert!(decode_secret(&BASE32_NOPAD.encode(&[7u8; 16])).is_ok());
        assert!(decode_secret(&BASE32_NOPAD.encode(&[7u8; 65])).is_err());
        // 17 bytes leave 4 unused bits in the last character; set bits there are ignored.
        let canonical = BASE32_NOPAD.encode(&[0u8; 17]);
        assert!(canonical.ends_with('A'));
        let sloppy = format!("{}P", &canonical[..canonical.len() - 1]);
        assert_eq!(canonical_secret(&sloppy).unwrap(), canonical);
    }
}
