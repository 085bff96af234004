//! Keeps the token cache exact without reloading it: polls of the store's change feed.
//!
//! Every write that can change a whoami answer records the session or identity it changed in
//! the store's change feed, numbered in commit order. Every `cache.ttl / 2` each node reads
//! the changes after the last one it saw (one primary-key range read), drops exactly the
//! sessions and identities they name, and confirms every other entry as of the poll's start:
//! those stay trusted for another `cache.ttl` without touching the store. Broadcasts
//! (LISTEN/NOTIFY) still drop entries at once; the polls bound the staleness when one is lost
//! or the store has none (SQLite). When the polls fail, nothing is confirmed, and entries stop
//! being trusted `cache.ttl` after their last confirmation: the bound holds either way.

use std::sync::Arc;
use std::time::Duration;

use lanyard_domain::Micros;
use lanyard_store::Invalidation;
use uuid::Uuid;

use crate::{Lanyard, ServiceResult};

/// Changes read per query; a longer backlog takes several.
const PAGE: u32 = 1_000;

/// How long the store keeps changes. A node that has not polled successfully for half of it
/// may have missed changes pruned meanwhile: it empties its cache instead of trusting it.
/// Pruning goes by the database's clock and this check by the node's, so they may disagree by
/// up to half of it.
pub const CHANGES_RETENTION: time::Duration = time::Duration::hours(1);

/// How often a node prunes the feed and tidies its cache's index.
const UPKEEP_EVERY: time::Duration = time::Duration::minutes(1);

/// The shortest pause between polls, whatever `cache.ttl` says.
const MIN_INTERVAL: Duration = Duration::from_millis(10);

#[derive(Default)]
pub(crate) struct CacheRefresh {
    state: tokio::sync::Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The number of the last change applied; `None` before the first poll.
    cursor: Option<i64>,
    /// When the last successful poll started.
    last_success: Option<Micros>,
    last_upkeep: Option<Micros>,
}

/// What one poll of the change feed did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheRefreshed {
    /// Changes read from the feed.
    pub changes: usize,
    /// The cache was emptied rather than confirmed: the first poll, or the last successful one
    /// was too long ago.
    pub flushed: bool,
}

impl Lanyard {
    /// One poll of the change feed (what the task of [`Lanyard::spawn_token_cache_refresher`]
    /// runs every `cache.ttl / 2`): drops the entries of the sessions and identities changed
    /// since the last poll and confirms the others as of this poll's start.
    pub async fn refresh_token_cache(&self) -> ServiceResult<CacheRefreshed> {
        let Some(cache) = &self.token_cache else {
            return Ok(CacheRefreshed::default());
        };
        let mut state = self.cache_refresh.state.lock().await;
        // Taken before reading: whatever committed before this instant is in what we read.
        let started = self.now();
        let mut outcome = CacheRefreshed::default();
        let mut cursor = match state.cursor {
            Some(cursor) => cursor,
            // The first poll starts at the counter, and empties the cache *after* reading it,
            // so that every entry left was read after every change up to the counter.
            None => self.store.current_sequence().await?,
        };
        state.cursor = Some(cursor);
        let lapsed = state.last_success.is_none_or(|at| {
            let half = CHANGES_RETENTION.whole_microseconds() as i64 / 2;
            started.0 < at.0 || started.0 - at.0 >= half
        });
        if lapsed {
            cache.clear();
            outcome.flushed = true;
        }
        loop {
            let changes = self.store.changes_since(cursor, PAGE).await?;
            let Some(last) = changes.last() else { break };
            cursor = last.sequence;
            outcome.changes += changes.len();
            if changes.iter().any(|c| c.invalidation == Invalidation::All) {
                cache.clear();
            } else {
                let ids: Vec<Uuid> = changes
                    .iter()
                    .filter_map(|c| match c.invalidation {
                        Invalidation::Session(id) | Invalidation::Identity(id) => Some(id),
                        Invalidation::All => None,
                    })
                    .collect();
                cache.invalidate(&ids);
            }
            state.cursor = Some(cursor);
            if changes.len() < PAGE as usize {
                break;
            }
        }
        cache.confirm(started);
        state.last_success = Some(started);
        if state
            .last_upkeep
            .is_none_or(|at| started.0 - at.0 >= UPKEEP_EVERY.whole_microseconds() as i64)
        {
            state.last_upkeep = Some(started);
            cache.forget_departed();
            if let Err(error) = self.store.prune_changes(CHANGES_RETENTION).await {
                tracing::warn!(%error, "could not prune the change feed; retrying in a minute");
            }
        }
        Ok(outcome)
    }

    /// Polls the change feed every `cache.ttl / 2` for as long as the service lives (see
    /// [`Lanyard::refresh_token_cache`]); `None` when the cache is off.
    pub fn spawn_token_cache_refresher(self: &Arc<Self>) -> Option<tokio::task::JoinHandle<()>> {
        self.token_cache.as_ref()?;
        let every = (self.settings.token_cache_ttl.unsigned_abs() / 2).max(MIN_INTERVAL);
        let service = Arc::downgrade(self);
        Some(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing = false;
            loop {
                ticks.tick().await;
                let Some(service) = service.upgrade() else { break };
                match service.refresh_token_cache().await {
                    Ok(_) if failing => {
                        failing = false;
                        tracing::info!("the change feed answers again; cached tokens are confirmed again");
                    }
                    Ok(_) => {}
                    Err(error) if !failing => {
                        failing = true;
                        tracing::warn!(%error, "cannot read the change feed; cached tokens are read again once they are cache.ttl old");
                    }
                    Err(_) => {}
                }
            }
        }))
    }
}
