//! Recovery codes (Kratos `lookup_secret`): 12 single-use codes, shown once as `xxxxx-xxxxx`
//! and stored only as SHA-256 digests of the identity id and their normalised form, so a
//! stolen database must be brute-forced identity by identity.
//!
//! The credential config is `{"codes": [{"digest": "<hex>", "used_at": <micros or null>}]}`.

use lanyard_domain::Micros;
use rand::rngs::OsRng;
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Codes per set.
pub const CODE_COUNT: usize = 12;
/// Characters per code (without the dash).
pub const CODE_LENGTH: usize = 10;
/// Lower-case letters and digits without the look-alikes 0/o, 1/l/i: 31 symbols, so a code
/// carries 10 × log2(31) ≈ 49.5 bits.
pub const ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LookupConfig {
    pub codes: Vec<StoredCode>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredCode {
    pub digest: String,
    pub used_at: Option<i64>,
}

/// A code as it is compared: dashes and whitespace removed, lower case.
pub fn normalize(code: &str) -> String {
    code.chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The hex SHA-256 of the salt (the identity id) and a normalised code.
pub(crate) fn digest(salt: &[u8], normalized: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt);
    hasher.update(normalized.as_bytes());
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn generate_code() -> String {
    let mut rng = OsRng;
    let chars: String = (0..CODE_LENGTH)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect();
    format!("{}-{}", &chars[..CODE_LENGTH / 2], &chars[CODE_LENGTH / 2..])
}

/// A fresh set: the codes to show once, and the config that keeps only their digests.
pub(crate) fn generate(salt: &[u8]) -> (Vec<String>, LookupConfig) {
    let mut codes: Vec<String> = Vec::with_capacity(CODE_COUNT);
    while codes.len() < CODE_COUNT {
        let code = generate_code();
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    let config = LookupConfig {
        codes: codes
            .iter()
            .map(|c| StoredCode {
                digest: digest(salt, &normalize(c)),
                used_at: None,
            })
            .collect(),
    };
    (codes, config)
}

/// Marks the unused code that matches `code` as used at `now`. Every stored digest is compared
/// in constant time, without an early exit.
pub(crate) fn consume(config: &mut LookupConfig, salt: &[u8], code: &str, now: Micros) -> bool {
    let normalized = normalize(code);
    if normalized.len() != CODE_LENGTH {
        return false;
    }
    let presented = digest(salt, &normalized);
    let mut matched = None;
    for (index, stored) in config.codes.iter().enumerate() {
        let equal: bool = stored.digest.as_bytes().ct_eq(presented.as_bytes()).into();
        if equal && stored.used_at.is_none() {
            matched = Some(index);
        }
    }
    match matched {
        Some(index) => {
            config.codes[index].used_at = Some(now.0);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_distinct_codes_in_the_display_format() {
        let (codes, config) = generate(b"salt");
        assert_eq!(codes.len(), CODE_COUNT);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), CODE_COUNT);
        for code in &codes {
            assert_eq!(code.len(), CODE_LENGTH + 1);
            assert_eq!(code.as_bytes()[5], b'-');
            assert!(
                code.bytes().filter(|b| *b != b'-').all(|b| ALPHABET.contains(&b)),
                "{code}"
            );
        }
        assert_eq!(config.codes.len(), CODE_COUNT);
    }

    #[test]
    fn only_digests_are_stored() {
        let (codes, config) = generate(b"salt");
        let stored = serde_json::to_string(&config).unwrap();
        for code in &codes {
            assert!(!stored.contains(code.as_str()));
            assert!(!stored.contains(&normalize(code)));
        }
        for stored in &config.codes {
            assert_eq!(stored.digest.len(), 64);
            assert!(stored
                .digest
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
            assert_eq!(stored.used_at, None);
        }
        let json: serde_json::Value = serde_json::from_str(&stored).unwrap();
        assert!(
            json["codes"][0]["used_at"].is_null(),
            "used_at is written as null: {json}"
        );
    }

    #[test]
    fn normalisation_strips_dashes_and_spaces_and_lowercases() {
        assert_eq!(normalize("AbCdE-fGhJk"), "abcdefghjk");
        assert_eq!(normalize(" abcde fghjk \n"), "abcdefghjk");
        assert_eq!(normalize("ab-cd-ef-gh-jk"), "abcdefghjk");
    }

    #[test]
    fn a_code_works_once_in_any_spelling() {
        let (codes, mut config) = generate(b"salt");
        let code = &codes[3];
        let shouted = format!(" {} ", code.replace('-', " ").to_uppercase());
        assert!(consume(&mut config, b"salt", &shouted, Micros(1_000)));
        assert_eq!(config.codes[3].used_at, Some(1_000));
        assert!(!consume(&mut config, b"salt", code, Micros(2_000)), "single use");
        assert_eq!(config.codes[3].used_at, Some(1_000));
        assert!(
            consume(&mut config, b"salt", &codes[4], Micros(3_000)),
            "other codes still work"
        );
        assert_eq!(config.codes.iter().filter(|c| c.used_at.is_some()).count(), 2);
    }

    #[test]
    fn wrong_codes_are_refused() {
        let (codes, mut config) = generate(b"salt");
        // '0' is not in the alphabet, so no generated code can be this one.
        assert!(!consume(&mut config, b"salt", "00000-00000", Micros(1)));
        assert!(!consume(&mut config, b"salt", "", Micros(1)));
        assert!(!consume(&mut config, b"salt", &codes[0][..5], Micros(1)));
        assert!(!consume(&mut config, b"salt", &format!("{}x", codes[0]), Micros(1)));
        assert!(config.codes.iter().all(|c| c.used_at.is_none()));
    }
}
