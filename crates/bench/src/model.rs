//! The shape of the seeded data, as pure functions of a session's or identity's number, so that
//! the seeder, the wrk Lua scripts and the in-process lookup all agree without sharing state.
//!
//! The Lua scripts in `bench/wrk/` repeat [`is_active`], [`token`] and [`identity_id`]: change
//! them together. `lanyard-bench search` predicts every shape's count from these functions, so
//! the seeder must write exactly what they say.

use uuid::Uuid;

/// Session `n` has the token `bench_st_<n>` (any opaque string up to 200 characters is a valid
/// token; the store keeps its SHA-256 digest).
pub const TOKEN_PREFIX: &str = "bench_st_";

/// The password of the identities that have one (identities `0..password_identities`).
pub const PASSWORD: &str = "bench password 0123456789";

pub const SECOND_US: i64 = 1_000_000;
pub const DAY_US: i64 = 86_400 * SECOND_US;
/// Sessions are created over the 90 days before the seed.
pub const SPREAD_US: i64 = 90 * DAY_US;

pub fn token(n: u64) -> String {
    format!("{TOKEN_PREFIX}{n}")
}

/// Identity `i` (0-based): `00000000-0000-0000-0000-<i+1 in hex>`.
pub fn identity_id(i: u64) -> Uuid {
    Uuid::from_u128(u128::from(i) + 1)
}

pub fn email(i: u64) -> String {
    format!("user{i}@bench.example")
}

/// Every tenth session has expired.
pub fn is_expired(n: u64) -> bool {
    n.is_multiple_of(10)
}

/// One in twenty has been revoked (none of them also expired).
pub fn is_revoked(n: u64) -> bool {
    n % 20 == 5
}

/// Every 50th identity (`i % 50 == 7`: 2 %) has been deactivated, as banned or closed
/// accounts are, so that the reads that test an identity's state meet some.
pub const INACTIVE_IDENTITY_EVERY: u64 = 50;
const INACTIVE_IDENTITY_SLOT: u64 = 7;

pub fn identity_is_active(i: u64) -> bool {
    i % INACTIVE_IDENTITY_EVERY != INACTIVE_IDENTITY_SLOT
}

/// Whether session `n`'s identity is active. The seeder makes the identity count a multiple
/// of [`INACTIVE_IDENTITY_EVERY`], so `identity_of(n) % 50 == n % 50` and this needs no count
/// (the wrk scripts repeat it).
pub fn has_active_identity(n: u64) -> bool {
    identity_is_active(n % INACTIVE_IDENTITY_EVERY)
}

/// Neither expired nor revoked.
pub fn is_live(n: u64) -> bool {
    !is_expired(n) && !is_revoked(n)
}

/// Active as Kratos and whoami see it: live, and its identity active.
pub fn is_active(n: u64) -> bool {
    is_live(n) && has_active_identity(n)
}

/// How long a seed stays valid: every session that is not expired at the seed time expires
/// later than this after it (or never), so `is_active` holds for that long and a reused seed
/// measures what it says. `seed::ensure` reseeds older ones.
pub const SEED_VALIDITY_US: i64 = 2 * DAY_US;
/// The longest lifetime a seeded session has left at the seed time.
pub const MAX_REMAINING_US: i64 = 30 * DAY_US;

// Salts, so that the fields hashed from `n` do not move together.
const SALT_LIFETIME: u64 = 0x11fe_7143;
const SALT_CREATOR: u64 = 0xc4ea_7042;
const SALT_FINGERPRINT: u64 = 0xf1_9e4f;

/// One in twenty live sessions has no expiration date (ZITADEL sessions created without a
/// lifetime).
pub fn never_expires(n: u64) -> bool {
    is_live(n) && mix(n ^ SALT_LIFETIME).is_multiple_of(20)
}

/// When session `n` expires, given the seed time (`None`: never). Expired sessions expired at
/// some point between their creation and the seed; the others (active or revoked) expire between
/// [`SEED_VALIDITY_US`] and [`MAX_REMAINING_US`] after it, the remaining lifetime a login of the
/// last few weeks has left, so expiration-date ranges split the table as they would in production.
pub fn expires_us(n: u64, now_us: i64) -> Option<i64> {
    let hash = mix(n ^ SALT_LIFETIME) >> 8;
    if is_expired(n) {
        let created = created_us(n, now_us);
        let lived = (now_us - SECOND_US - created).max(1) as u64;
        Some(created + 1 + (hash % lived) as i64)
    } else if never_expires(n) {
        None
    } else {
        Some(now_us + SEED_VALIDITY_US + (hash % (MAX_REMAINING_US - SEED_VALIDITY_US) as u64) as i64)
    }
}

/// When a revoked session was revoked: halfway between its creation and the seed.
pub fn revoked_us(n: u64, now_us: i64) -> Option<i64> {
    is_revoked(n).then(|| {
        let created = created_us(n, now_us);
        created + (now_us - created) / 2
    })
}

/// The API keys that created the seeded sessions: key 0 is the login UI (most sessions), keys
/// 1 to 4 are smaller integrations.
pub const CREATOR_KEYS: u64 = 5;

/// Creator key `k`: `00000000-0000-0000-c000-<k+1 in hex>` (apart from the identities' ids).
pub fn creator_key_id(k: u64) -> Uuid {
    Uuid::from_u128((0xc000u128 << 48) | (u128::from(k) + 1))
}

/// Who created a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Creator {
    /// An API key, [`creator_key_id`].
    Key(u64),
    /// The session's own identity (a session-token caller creating a session for itself).
    Identity(u64),
}

/// 70 % of the sessions come from the login UI (key 0), 5 % from each of keys 1 to 4, and 10 %
/// from their own identity.
pub fn creator(n: u64, identities: u64) -> Creator {
    match mix(n ^ SALT_CREATOR) % 100 {
        r if r < 70 => Creator::Key(0),
        r if r < 90 => Creator::Key(1 + r % 4),
        _ => Creator::Identity(identity_of(n, identities)),
    }
}

/// The `creator` column: the key's or the identity's id.
pub fn creator_id(creator: Creator) -> String {
    match creator {
        Creator::Key(k) => creator_key_id(k).to_string(),
        Creator::Identity(i) => identity_id(i).to_string(),
    }
}

/// Each identity uses up to three devices: session `n` carries fingerprint
/// `bench_fp_<identity>_<0..3>`.
pub fn fingerprint_slot(n: u64) -> u64 {
    mix(n ^ SALT_FINGERPRINT) % 3
}

pub fn fingerprint(n: u64, identities: u64) -> String {
    format!("bench_fp_{}_{}", identity_of(n, identities), fingerprint_slot(n))
}

/// Session `n`'s id: a UUIDv7 of its creation time.
pub fn session_id(n: u64, now_us: i64) -> Uuid {
    v7(created_us(n, now_us), 0x51, n)
}

/// The identity a session belongs to: about three sessions per identity.
pub fn identity_of(n: u64, identities: u64) -> u64 {
    n % identities
}

/// The pattern of active sessions repeats every 100 (expiry every 10th, revocation every 20th,
/// deactivated identities every 50th); [`ACTIVE_PER_CYCLE`] of each 100 are active.
const ACTIVE_CYCLE: u64 = 100;
pub const ACTIVE_PER_CYCLE: u64 = 83;

/// How many of `sessions` seeded sessions are active, at most.
pub fn active_sessions(sessions: u64) -> u64 {
    sessions * ACTIVE_PER_CYCLE / ACTIVE_CYCLE
}

/// The `k`-th active session number (0-based).
pub fn nth_active(k: u64) -> u64 {
    let mut remaining = k % ACTIVE_PER_CYCLE;
    let mut n = (k / ACTIVE_PER_CYCLE) * ACTIVE_CYCLE;
    loop {
        if is_active(n) {
            if remaining == 0 {
                return n;
            }
            remaining -= 1;
        }
        n += 1;
    }
}

/// SplitMix64: a cheap, well-mixed hash of a number, for deterministic "random" fields.
pub fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A UUIDv7 for creation time `created_us`, unique per (`kind`, `n`).
pub fn v7(created_us: i64, kind: u8, n: u64) -> Uuid {
    let mut tail = [0u8; 10];
    tail[0] = kind;
    tail[1] = (mix(n) & 0xff) as u8;
    tail[2..].copy_from_slice(&n.to_be_bytes());
    uuid::Builder::from_unix_timestamp_millis((created_us / 1000).max(0) as u64, &tail).into_uuid()
}

/// When session `n` was created, given the seed time.
pub fn created_us(n: u64, now_us: i64) -> i64 {
    now_us - SECOND_US - (mix(n) % SPREAD_US as u64) as i64
}

/// A small, fast pseudo-random generator for the load loops (xorshift64*).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(mix(seed) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound.max(1)
    }

    /// A random active session below `sessions`.
    pub fn active_session(&mut self, sessions: u64) -> u64 {
        let mut n = self.below(sessions);
        while !is_active(n) {
            n = (n + 1) % sessions;
        }
        n
    }
}

/// `us` as RFC 3339, as the ZITADEL API reads it.
#[allow(clippy::expect_used, reason = "the seed's instants are all within years 1970..9999")]
pub fn rfc3339(us: i64) -> String {
    lanyard_domain::Micros(us)
        .to_datetime()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("timestamps format")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_share_of_inactive_sessions_is_as_documented() {
        let expired = (0..1000).filter(|n| is_expired(*n)).count();
        let revoked = (0..1000).filter(|n| is_revoked(*n)).count();
        assert_eq!((expired, revoked), (100, 50));
        assert!((0..1000).all(|n| !(is_expired(n) && is_revoked(n))));
    }

    #[test]
    fn the_active_pattern_repeats_every_cycle() {
        assert_eq!(
            (0..ACTIVE_CYCLE).filter(|n| is_active(*n)).count() as u64,
            ACTIVE_PER_CYCLE
        );
        assert!((0..1000).all(|n| is_active(n) == is_active(n + ACTIVE_CYCLE)));
    }

    #[test]
    fn a_sessions_identity_state_follows_from_its_number_when_identities_are_a_multiple_of_50() {
        for identities in [50, 1_000, 330_000] {
            for n in 0..5_000 {
                assert_eq!(has_active_identity(n), identity_is_active(identity_of(n, identities)));
            }
        }
        let inactive = (0..10_000).filter(|i| !identity_is_active(*i)).count();
        assert_eq!(inactive, 200, "2 % of identities are deactivated");
    }

    #[test]
    fn nth_active_enumerates_the_active_sessions_in_order() {
        let expected: Vec<u64> = (0..200).filter(|n| is_active(*n)).collect();
        let got: Vec<u64> = (0..expected.len() as u64).map(nth_active).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn ids_are_unique_and_time_ordered_by_millisecond() {
        let a = v7(1_700_000_000_000_000, 1, 1);
        let b = v7(1_700_000_000_000_000, 1, 2);
        let c = v7(1_700_000_000_001_000, 1, 0);
        assert_ne!(a, b);
        assert!(a < c && b < c);
        assert_eq!(a.get_version_num(), 7);
        assert_eq!(identity_id(0).to_string(), "00000000-0000-0000-0000-000000000001");
    }

    #[test]
    fn lifetimes_keep_active_sessions_active_while_the_seed_is_valid() {
        let now = 1_800_000_000_000_000;
        for n in 0..20_000 {
            let created = created_us(n, now);
            match expires_us(n, now) {
                Some(at) if is_expired(n) => assert!(at > created && at < now, "{n}"),
                Some(at) => assert!(at > now + SEED_VALIDITY_US && at <= now + MAX_REMAINING_US, "{n}"),
                None => assert!(is_live(n), "{n}"),
            }
        }
        let never = (0..20_000).filter(|n| never_expires(*n)).count();
        assert!(
            (700..1000).contains(&never),
            "{never} of 17,000 active sessions never expire"
        );
    }

    #[test]
    fn creators_are_mostly_the_login_ui() {
        let mut counts = std::collections::HashMap::new();
        for n in 0..100_000 {
            *counts.entry(creator(n, 33_000)).or_insert(0u32) += 1;
        }
        assert!((69_000..71_000).contains(&counts[&Creator::Key(0)]));
        for k in 1..CREATOR_KEYS {
            assert!((4_500..5_500).contains(&counts[&Creator::Key(k)]), "key {k}");
        }
        let own = counts
            .iter()
            .filter(|(c, _)| matches!(c, Creator::Identity(_)))
            .map(|(_, v)| *v)
            .sum::<u32>();
        assert!((9_500..10_500).contains(&own));
        assert_eq!(creator_key_id(0).to_string(), "00000000-0000-0000-c000-000000000001");
        assert!(matches!(creator(7, 5), Creator::Key(_)) || creator(7, 5) == Creator::Identity(2));
    }

    #[test]
    fn random_active_sessions_are_active() {
        let mut rng = Rng::new(7);
        for _ in 0..1000 {
            let n = rng.active_session(1000);
            assert!(is_active(n) && n < 1000);
        }
    }
}
