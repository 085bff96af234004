//! Validated tokens, kept in memory so whoami does not touch the store.
//!
//! Correctness rests on three rules:
//! - every change that affects a session's validity invalidates it here at once, and is
//!   broadcast to the other nodes (see `Lanyard::invalidate`);
//! - an entry lives at most `ttl`, the documented worst-case staleness if a broadcast is lost
//!   (or the store has no broadcast channel);
//! - a store read that raced with an invalidation is not cached (generation check).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lanyard_domain::TokenDigest;
use moka::sync::Cache;
use uuid::Uuid;

use crate::SessionView;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub entries: u64,
    pub invalidations: u64,
}

pub struct TokenCache {
    by_digest: Cache<[u8; 32], Arc<SessionView>>,
    digest_of_session: Cache<Uuid, [u8; 32]>,
    generation: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    invalidations: AtomicU64,
}

impl TokenCache {
    pub fn new(capacity: u64, ttl: Duration) -> Self {
        TokenCache {
            by_digest: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .support_invalidation_closures()
                .build(),
            digest_of_session: Cache::builder().max_capacity(capacity).time_to_live(ttl).build(),
            generation: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            invalidations: AtomicU64::new(0),
        }
    }

    pub fn get(&self, digest: &TokenDigest) -> Option<Arc<SessionView>> {
        let found = self.by_digest.get(&digest.0);
        let counter = if found.is_some() { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Call before reading the store; pass the value to [`TokenCache::insert`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Caches `view` unless an invalidation happened since `generation` was taken.
    pub fn insert(&self, digest: &TokenDigest, view: Arc<SessionView>, generation: u64) {
        let session_id = view.session.id;
        self.by_digest.insert(digest.0, view);
        self.digest_of_session.insert(session_id, digest.0);
        // Checked after inserting: an invalidation that ran in between has bumped the
        // generation, and then we undo our own insert.
        if self.generation.load(Ordering::Acquire) != generation {
            self.by_digest.invalidate(&digest.0);
        }
    }

    fn bump(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.invalidations.fetch_add(1, Ordering::Relaxed);
    }

    pub fn invalidate_session(&self, id: Uuid) {
        self.bump();
        if let Some(digest) = self.digest_of_session.remove(&id) {
            self.by_digest.invalidate(&digest);
        }
    }

    pub fn invalidate_identity(&self, id: Uuid) {
        self.bump();
        // Identity changes are rare; a predicate scan is fine for them.
        let _ = self
            .by_digest
            .invalidate_entries_if(move |_, view| view.session.identity_id == Some(id));
    }

    pub fn clear(&self) {
        self.bump();
        self.by_digest.invalidate_all();
        self.digest_of_session.invalidate_all();
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries: self.by_digest.entry_count(),
            invalidations: self.invalidations.load(Ordering::Relaxed),
        }
    }
}
