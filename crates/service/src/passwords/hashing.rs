//! The hashing itself: argon2id for new passwords (OWASP parameters) into a reusable memory
//! block, and verification of stored argon2 (any variant and parameters) and bcrypt hashes,
//! refusing costs that would let an imported hash exhaust the server.

use argon2::password_hash::{Output, ParamsString, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::rngs::OsRng;
use subtle::ConstantTimeEq;

/// OWASP's first recommended argon2id configuration for new hashes: m=19 MiB, t=2, p=1.
const NEW_M_COST: u32 = 19 * 1024;
const NEW_T_COST: u32 = 2;
const NEW_P_COST: u32 = 1;
/// Blocks (1 KiB each) that a new hash needs, and so the size of each thread's reused memory.
const NEW_BLOCK_COUNT: usize = NEW_M_COST as usize;

/// The most argon2 memory one verification may use (256 MiB): a stored (imported) hash asking for
/// more is refused rather than making the server allocate gigabytes.
const MAX_VERIFY_BLOCKS: usize = 256 * 1024;
/// The most argon2 work (blocks × passes, i.e. 1 GiB of block fills) one verification may do, so
/// that an imported hash with an absurd `t` cannot pin a pool thread for minutes.
const MAX_VERIFY_WORK: u64 = 4 * MAX_VERIFY_BLOCKS as u64;
/// The highest bcrypt cost verified (2^16 rounds, seconds of CPU); bcrypt allows up to 31.
const MAX_BCRYPT_COST: u32 = 16;

/// glibc's upper bound for its dynamic mmap threshold on 64-bit targets (`DEFAULT_MMAP_THRESHOLD_MAX`,
/// 32 MiB), in blocks, plus one. A freed mmapped chunk no larger than this raises the process-wide
/// threshold to its size, after which allocations below it come from (and stay in) malloc arenas.
/// Reserving more than this for argon2 memory keeps every such allocation mmapped and returned to
/// the OS when freed, without touching the threshold. The reserved tail is never written, so it
/// costs address space only, not RSS.
const UNTRACKED_MMAP_BLOCKS: usize = 32 * 1024 + 1;

/// Why an imported hash is refused.
pub(crate) fn check_importable_hash(hash: &str) -> Result<(), String> {
    if hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$") {
        let parts = hash
            .parse::<bcrypt::HashParts>()
            .map_err(|e| format!("invalid bcrypt hash: {e}"))?;
        return check_bcrypt_cost(parts.get_cost());
    }
    let parsed = PasswordHash::new(hash).map_err(|e| format!("invalid password hash: {e}"))?;
    match parsed.algorithm.as_str() {
        "argon2id" | "argon2i" | "argon2d" => {
            let params = Params::try_from(&parsed).map_err(|e| format!("invalid argon2 parameters: {e}"))?;
            check_argon2_cost(&params)
        }
        other => Err(format!(
            "unsupported password hash algorithm {other:?}; use argon2 or bcrypt"
        )),
    }
}

fn check_argon2_cost(params: &Params) -> Result<(), String> {
    let blocks = params.block_count();
    if blocks > MAX_VERIFY_BLOCKS {
        return Err(format!(
            "argon2 memory of {blocks} KiB is more than the {MAX_VERIFY_BLOCKS} KiB allowed"
        ));
    }
    if (blocks as u64).saturating_mul(u64::from(params.t_cost())) > MAX_VERIFY_WORK {
        return Err(format!(
            "argon2 cost m={} KiB × t={} is more than the {MAX_VERIFY_WORK} KiB-passes allowed",
            params.m_cost(),
            params.t_cost()
        ));
    }
    Ok(())
}

fn check_bcrypt_cost(cost: u32) -> Result<(), String> {
    if cost > MAX_BCRYPT_COST {
        return Err(format!("bcrypt cost {cost} is more than the {MAX_BCRYPT_COST} allowed"));
    }
    Ok(())
}

/// A pool thread's argon2 memory: `NEW_BLOCK_COUNT` blocks, allocated at the first job and reused.
#[derive(Default)]
pub(super) struct Memory {
    reused: Vec<Block>,
}

impl Memory {
    /// Runs `f` on at least `block_count` blocks: the reused ones when they suffice, else ones
    /// allocated for this call only.
    fn with_blocks<R>(&mut self, block_count: usize, f: impl FnOnce(&mut [Block]) -> R) -> R {
        if block_count <= NEW_BLOCK_COUNT {
            if self.reused.len() < NEW_BLOCK_COUNT {
                self.reused = allocate_blocks(NEW_BLOCK_COUNT);
            }
            f(&mut self.reused)
        } else {
            f(&mut allocate_blocks(block_count))
        }
    }
}

fn allocate_blocks(count: usize) -> Vec<Block> {
    let mut blocks = Vec::with_capacity(count.max(UNTRACKED_MMAP_BLOCKS));
    blocks.resize(count, Block::new());
    blocks
}

/// A new argon2id PHC string for the password, with a random salt.
pub(super) fn hash_new(password: &[u8], memory: &mut Memory) -> Result<String, String> {
    hash_new_with_salt(password, &SaltString::generate(&mut OsRng), memory)
}

pub(super) fn hash_new_with_salt(password: &[u8], salt: &SaltString, memory: &mut Memory) -> Result<String, String> {
    let params = Params::new(NEW_M_COST, NEW_T_COST, NEW_P_COST, None).map_err(|e| e.to_string())?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut salt_bytes = [0u8; Salt::MAX_LENGTH];
    let salt_bytes = salt.decode_b64(&mut salt_bytes).map_err(|e| e.to_string())?;
    let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
    memory
        .with_blocks(argon2.params().block_count(), |blocks| {
            argon2.hash_password_into_with_memory(password, salt_bytes, &mut output, blocks)
        })
        .map_err(|e| e.to_string())?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params()).map_err(|e| e.to_string())?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&output).map_err(|e| e.to_string())?),
    };
    Ok(phc.to_string())
}

pub(super) fn verify_stored(password: &[u8], stored: &str, memory: &mut Memory) -> bool {
    if stored.starts_with("$2") {
        return verify_bcrypt(password, stored);
    }
    match PasswordHash::new(stored) {
        Ok(parsed) => verify_argon2(password, &parsed, memory),
        Err(_) => false,
    }
}

fn verify_bcrypt(password: &[u8], stored: &str) -> bool {
    let Ok(parts) = stored.parse::<bcrypt::HashParts>() else {
        return false;
    };
    if let Err(reason) = check_bcrypt_cost(parts.get_cost()) {
        tracing::warn!(%reason, "refusing to verify a password against a stored bcrypt hash");
        return false;
    }
    // bcrypt compares in constant time itself.
    bcrypt::verify(password, stored).unwrap_or(false)
}

fn verify_argon2(password: &[u8], stored: &PasswordHash<'_>, memory: &mut Memory) -> bool {
    let (Some(salt), Some(expected)) = (stored.salt, stored.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(stored.algorithm) else {
        return false;
    };
    // As the argon2 crate does: a hash without `v=` is version 0x13.
    let version = match stored.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(stored) else {
        return false;
    };
    if let Err(reason) = check_argon2_cost(&params) {
        tracing::warn!(%reason, "refusing to verify a password against a stored argon2 hash");
        return false;
    }
    let mut salt_bytes = [0u8; Salt::MAX_LENGTH];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut computed = [0u8; Output::MAX_LENGTH];
    let Some(computed) = computed.get_mut(..expected.len()) else {
        return false;
    };
    let argon2 = Argon2::new(algorithm, version, params);
    let hashed = memory.with_blocks(argon2.params().block_count(), |blocks| {
        argon2.hash_password_into_with_memory(password, salt_bytes, computed, blocks)
    });
    hashed.is_ok() && bool::from(computed.ct_eq(expected.as_bytes()))
}
