//! Expired-session cleanup: hard-deletes sessions some time after they expired or were
//! revoked, in batches, under a lease so that only one node of a deployment runs it at a time.

use uuid::Uuid;

use crate::{Lanyard, ServiceError, ServiceResult};

/// The lease that makes cleanup exclusive among the nodes sharing a database.
pub const CLEANUP_LEASE: &str = "cleanup";

/// How long the lease lasts without renewal. It is renewed before every batch, so a node that
/// dies while cleaning blocks the others for at most this long.
pub const CLEANUP_LEASE_TTL: time::Duration = time::Duration::seconds(60);

/// The largest batch accepted: one batch is one delete statement, and on SQLite it holds the
/// single writer for its whole duration.
pub const MAX_CLEANUP_BATCH_SIZE: u32 = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanupOptions {
    /// Retention: sessions that expired or were revoked within this long before now are kept
    /// (they still show as inactive in lists); older ones are deleted. Zero deletes every
    /// expired or revoked session.
    pub keep_last: time::Duration,
    /// Sessions deleted per statement (1 to [`MAX_CLEANUP_BATCH_SIZE`]).
    pub batch_size: u32,
    /// Stop after this many batches even if more sessions are due; `None` runs until none are.
    pub max_batches: Option<u32>,
}

impl Default for CleanupOptions {
    fn default() -> Self {
        CleanupOptions {
            keep_last: time::Duration::hours(24),
            batch_size: 1000,
            max_batches: None,
        }
    }
}

/// What a cleanup run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CleanupOutcome {
    Ran(CleanupReport),
    /// Another run (on this node or another) holds the cleanup lease; nothing was deleted.
    Busy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanupReport {
    /// Sessions deleted (their devices went with them).
    pub deleted: u64,
    /// Delete statements run.
    pub batches: u32,
    /// `false` when the run stopped before every due session was deleted: `max_batches` was
    /// reached, or the lease was lost (see the log). The next run continues.
    pub complete: bool,
}

impl Lanyard {
    /// Deletes the sessions that expired or were revoked more than `options.keep_last` ago, in
    /// batches of `options.batch_size`, calling `progress` with the running total after each
    /// batch that deleted something.
    ///
    /// Only one run at a time, across every node sharing the database: the run takes the
    /// [`CLEANUP_LEASE`] under a holder id of its own (so two runs in one process exclude each
    /// other too), renews it before every further batch and releases it at the end. When
    /// someone else holds it, the result is [`CleanupOutcome::Busy`] at once.
    ///
    /// No token cache needs invalidating, here or on other nodes: a deleted session had expired
    /// before the cutoff, which is at or before now, and a cached token's expiry is checked
    /// against the clock on every hit; or it had been revoked, and the revocation already
    /// invalidated it everywhere. So deleting it changes nothing any node would answer.
    pub async fn cleanup_sessions(
        &self,
        options: CleanupOptions,
        mut progress: impl FnMut(u64),
    ) -> ServiceResult<CleanupOutcome> {
        if options.keep_last.is_negative() {
            return Err(ServiceError::Invalid(
                "the cleanup retention (keep_last) must not be negative".into(),
            ));
        }
        if !(1..=MAX_CLEANUP_BATCH_SIZE).contains(&options.batch_size) {
            return Err(ServiceError::Invalid(format!(
                "the cleanup batch size must be between 1 and {MAX_CLEANUP_BATCH_SIZE} (got {})",
                options.batch_size
            )));
        }
        let holder = format!("cleanup pid {} run {}", std::process::id(), Uuid::new_v4().simple());
        if !self
            .store
            .try_acquire_lease(CLEANUP_LEASE, &holder, CLEANUP_LEASE_TTL, self.now())
            .await?
        {
            tracing::debug!(lease = CLEANUP_LEASE, "another run holds the cleanup lease; skipping");
            return Ok(CleanupOutcome::Busy);
        }
        let result = self.delete_in_batches(options, &holder, &mut progress).await;
        if let Err(error) = self.store.release_lease(CLEANUP_LEASE, &holder).await {
            // Harmless: the lease runs out by itself within CLEANUP_LEASE_TTL.
            tracing::warn!(%error, "could not release the cleanup lease");
        }
        result.map(CleanupOutcome::Ran)
    }

    async fn delete_in_batches(
        &self,
        options: CleanupOptions,
        holder: &str,
        progress: &mut impl FnMut(u64),
    ) -> ServiceResult<CleanupReport> {
        // One cutoff for the whole run, so that it ends even while sessions keep expiring.
        let cutoff = self.now().plus(-options.keep_last);
        let mut report = CleanupReport {
            deleted: 0,
            batches: 0,
            complete: false,
        };
        loop {
            if options.max_batches.is_some_and(|max| report.batches >= max) {
                return Ok(report);
            }
            // The first batch runs under the lease just taken; later ones renew it first.
            if report.batches > 0 {
                if !self
                    .store
                    .try_acquire_lease(CLEANUP_LEASE, holder, CLEANUP_LEASE_TTL, self.now())
                    .await?
                {
                    tracing::warn!(
                        deleted = report.deleted,
                        "the cleanup lease was taken over (a batch took longer than its lease); stopping"
                    );
                    return Ok(report);
                }
                // On SQLite every write shares one connection: let waiting requests in between.
                tokio::task::yield_now().await;
            }
            let deleted = self
                .store
                .delete_expired_sessions(cutoff, cutoff, options.batch_size)
                .await?;
            report.batches += 1;
            report.deleted += deleted;
            if deleted > 0 {
                progress(report.deleted);
            }
            if deleted < u64::from(options.batch_size) {
                report.complete = true;
                tracing::debug!(
                    deleted = report.deleted,
                    batches = report.batches,
                    "session cleanup finished"
                );
                return Ok(report);
            }
        }
    }
}
