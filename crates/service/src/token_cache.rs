//! Validated tokens, kept in memory so whoami does not touch the store.
//!
//! Correctness rests on four rules:
//! - every change that affects a session's validity invalidates it here at once, and is
//!   broadcast to the other nodes (see `Lanyard::invalidate`);
//! - an entry is answered from here only within `ttl` of its last *confirmation*: the store
//!   read that loaded it, or a poll of the store's change feed that started later and did not
//!   name it ([`TokenCache::confirm`], see `cache_refresh`). Past that it is read again. Since
//!   every write records what it changed in the feed, a change reaches this node within `ttl`
//!   even when its broadcast is lost, the store has none (SQLite), or the polls fail;
//! - a store read that raced with an invalidation is not cached (generation check);
//! - every cached token can be found by its session's and its identity's id (`owners`), so an
//!   invalidation by id always reaches it.
//!
//! Entries stay in memory up to [`MAX_AGE`] (or until the capacity evicts them), however often
//! they are confirmed: so a valid token is read from the store about once per `MAX_AGE`, not
//! once per `ttl`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use lanyard_domain::{Micros, TokenDigest};
use moka::sync::Cache;
use uuid::Uuid;

use crate::SessionView;

/// The longest an entry stays in memory, confirmed or not. It bounds what the change feed
/// cannot see: rows edited in the database behind Lanyard's back, or by a node of an older
/// version that records no changes.
pub const MAX_AGE: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    /// Lookups that read the store, `stale` included.
    pub misses: u64,
    /// Lookups that found the token cached but no longer trusted (not confirmed within `ttl`),
    /// so read it again: the polls of the change feed are failing or late.
    pub stale: u64,
    pub entries: u64,
    pub invalidations: u64,
}

#[derive(Clone)]
struct Entry {
    view: Arc<SessionView>,
    /// When the store read that produced it started, by the service's clock.
    loaded_us: i64,
}

pub struct TokenCache {
    by_digest: Cache<[u8; 32], Entry>,
    /// Session and identity ids (UUIDs of either kind never collide) → the digests cached for
    /// them. May name digests that have left `by_digest` (pruned by
    /// [`TokenCache::forget_departed`]), never misses one that is in it: entries are added
    /// to both under this lock.
    owners: Mutex<HashMap<Uuid, Vec<[u8; 32]>>>,
    ttl_us: i64,
    /// Start of the last poll of the change feed whose changes have been applied: every entry
    /// cached then and not dropped was unchanged at that instant.
    confirmed_us: AtomicI64,
    generation: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    stale: AtomicU64,
    invalidations: AtomicU64,
}

impl TokenCache {
    pub fn new(capacity: u64, ttl: time::Duration) -> Self {
        TokenCache {
            by_digest: Cache::builder().max_capacity(capacity).time_to_live(MAX_AGE).build(),
            owners: Mutex::new(HashMap::new()),
            ttl_us: i64::try_from(ttl.whole_microseconds()).unwrap_or(i64::MAX).max(0),
            confirmed_us: AtomicI64::new(i64::MIN),
            generation: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            stale: AtomicU64::new(0),
            invalidations: AtomicU64::new(0),
        }
    }

    /// The cached session for `digest`, if it is trusted at `now`.
    pub fn get(&self, digest: &TokenDigest, now: Micros) -> Option<Arc<SessionView>> {
        let found = self.by_digest.get(&digest.0).and_then(|entry| {
            if self.trusted(entry.loaded_us, now) {
                Some(entry.view)
            } else {
                self.stale.fetch_add(1, Ordering::Relaxed);
                None
            }
        });
        let counter = if found.is_some() { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Whether an entry loaded at `loaded_us` was confirmed within the last `ttl`. A clock
    /// that went back (`now` before the confirmation) trusts nothing until the next poll
    /// confirms at the new time: reading again is the safe side.
    fn trusted(&self, loaded_us: i64, now: Micros) -> bool {
        let confirmed = loaded_us.max(self.confirmed_us.load(Ordering::Acquire));
        now.0
            .checked_sub(confirmed)
            .is_some_and(|age| (0..self.ttl_us).contains(&age))
    }

    /// Call before reading the store; pass the value to [`TokenCache::insert`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Caches `view`, read from the store by a read that started at `loaded`, unless an
    /// invalidation happened since `generation` was taken.
    pub fn insert(&self, digest: &TokenDigest, view: Arc<SessionView>, loaded: Micros, generation: u64) {
        let owners_of = [Some(view.session.id), view.session.identity_id];
        {
            let mut owners = self.owners();
            for owner in owners_of.into_iter().flatten() {
                let digests = owners.entry(owner).or_default();
                if !digests.contains(&digest.0) {
                    digests.push(digest.0);
                }
            }
            self.by_digest.insert(
                digest.0,
                Entry {
                    view,
                    loaded_us: loaded.0,
                },
            );
        }
        // Checked after inserting: an invalidation that ran in between has bumped the
        // generation, and then we undo our own insert.
        if self.generation.load(Ordering::Acquire) != generation {
            self.by_digest.invalidate(&digest.0);
        }
    }

    fn owners(&self) -> MutexGuard<'_, HashMap<Uuid, Vec<[u8; 32]>>> {
        self.owners.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn bump(&self, invalidations: u64) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.invalidations.fetch_add(invalidations, Ordering::Relaxed);
    }

    /// Drops everything cached for these sessions and identities.
    pub fn invalidate(&self, ids: &[Uuid]) {
        if ids.is_empty() {
            return;
        }
        self.bump(ids.len() as u64);
        let mut owners = self.owners();
        for id in ids {
            for digest in owners.remove(id).unwrap_or_default() {
                self.by_digest.invalidate(&digest);
            }
        }
    }

    pub fn clear(&self) {
        self.bump(1);
        let mut owners = self.owners();
        owners.clear();
        self.by_digest.invalidate_all();
    }

    /// Every entry cached now and not invalidated since was unchanged at `at` (the start of a
    /// poll of the change feed whose changes have all been applied): trust it until `at + ttl`.
    pub fn confirm(&self, at: Micros) {
        self.confirmed_us.store(at.0, Ordering::Release);
    }

    /// Forgets the digests of entries that left the cache (evicted, or older than
    /// [`MAX_AGE`]), so that `owners` stays as large as the cache.
    pub fn forget_departed(&self) {
        let mut owners = self.owners();
        owners.retain(|_, digests| {
            digests.retain(|digest| self.by_digest.contains_key(digest));
            !digests.is_empty()
        });
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            stale: self.stale.load(Ordering::Relaxed),
            entries: self.by_digest.entry_count(),
            invalidations: self.invalidations.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use lanyard_domain::Session;

    use super::*;

    const TTL: time::Duration = time::Duration::seconds(5);
    const T0: Micros = Micros(1_700_000_000_000_000);

    fn at(seconds: f64) -> Micros {
        Micros(T0.0 + (seconds * 1_000_000.0) as i64)
    }

    fn view(identity_id: Option<Uuid>) -> Arc<SessionView> {
        Arc::new(SessionView {
            session: Session {
                id: Uuid::now_v7(),
                identity_id,
                created_at: T0,
                changed_at: T0,
                authenticated_at: T0,
                expires_at: None,
                revoked_at: None,
                user_checked_at: None,
                factors: Vec::new(),
                devices: Vec::new(),
                metadata: BTreeMap::new(),
                creator: None,
                sequence: 1,
            },
            active: true,
            identity: None,
            memo: crate::ViewMemo::default(),
        })
    }

    fn cached(cache: &TokenCache, token: &str, view: &Arc<SessionView>, loaded: Micros) -> TokenDigest {
        let digest = TokenDigest::of(token);
        cache.insert(&digest, view.clone(), loaded, cache.generation());
        digest
    }

    #[test]
    fn an_entry_is_trusted_for_ttl_after_its_load_or_its_last_confirmation() {
        let cache = TokenCache::new(100, TTL);
        let digest = cached(&cache, "a", &view(None), at(0.0));
        assert!(cache.get(&digest, at(4.999)).is_some());
        assert!(cache.get(&digest, at(5.0)).is_none(), "ttl after its load");
        cache.confirm(at(4.0));
        assert!(cache.get(&digest, at(8.999)).is_some(), "confirmed by a poll");
        assert!(cache.get(&digest, at(9.0)).is_none());
        assert!(
            cache.get(&digest, at(3.0)).is_none(),
            "a clock that went back trusts nothing"
        );
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.stale), (2, 3, 3));
    }

    #[test]
    fn an_entry_loaded_after_the_last_confirmation_counts_from_its_load() {
        let cache = TokenCache::new(100, TTL);
        cache.confirm(at(0.0));
        let digest = cached(&cache, "a", &view(None), at(3.0));
        assert!(cache.get(&digest, at(7.0)).is_some());
        assert!(cache.get(&digest, at(8.0)).is_none());
    }

    #[test]
    fn invalidations_by_session_or_identity_drop_exactly_their_tokens() {
        let cache = TokenCache::new(100, TTL);
        let identity = Uuid::now_v7();
        let (one, two, other) = (view(Some(identity)), view(Some(identity)), view(Some(Uuid::now_v7())));
        let one_digest = cached(&cache, "one", &one, at(0.0));
        let two_digest = cached(&cache, "two", &two, at(0.0));
        let other_digest = cached(&cache, "other", &other, at(0.0));

        cache.invalidate(&[one.session.id]);
        assert!(cache.get(&one_digest, at(1.0)).is_none());
        assert!(cache.get(&two_digest, at(1.0)).is_some());

        cached(&cache, "one", &one, at(1.0));
        cache.invalidate(&[identity]);
        assert!(
            cache.get(&one_digest, at(2.0)).is_none(),
            "cached again, then dropped with its identity"
        );
        assert!(cache.get(&two_digest, at(2.0)).is_none());
        assert!(cache.get(&other_digest, at(2.0)).is_some());
        assert_eq!(cache.stats().invalidations, 2);
    }

    #[test]
    fn a_read_that_raced_with_an_invalidation_is_not_cached() {
        let cache = TokenCache::new(100, TTL);
        let view = view(None);
        let generation = cache.generation();
        cache.invalidate(&[view.session.id]);
        let digest = TokenDigest::of("raced");
        cache.insert(&digest, view, at(0.0), generation);
        assert!(cache.get(&digest, at(0.0)).is_none());
    }

    #[test]
    fn the_index_forgets_tokens_that_left_the_cache() {
        let cache = TokenCache::new(100, TTL);
        let identity = Uuid::now_v7();
        let (one, two) = (view(Some(identity)), view(Some(identity)));
        cached(&cache, "one", &one, at(0.0));
        let two_digest = cached(&cache, "two", &two, at(0.0));
        cache.invalidate(&[one.session.id]);
        cache.by_digest.run_pending_tasks();
        cache.forget_departed();
        assert_eq!(cache.owners().get(&identity), Some(&vec![two_digest.0]));
        assert_eq!(cache.owners().len(), 2, "two's session and the identity");
        cache.clear();
        assert!(cache.owners().is_empty());
    }
}
