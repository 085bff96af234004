//! The change feed: what each write changed, numbered, so that every node can keep its token
//! cache exact by reading only what changed since it last looked (see `lanyard_service`'s
//! token cache and docs/STORAGE.md, "Change feed"). The SQL is in [`crate::sql::changes`].

use uuid::Uuid;

use crate::sql::changes::{IDENTITY, SESSION};
use crate::Invalidation;

/// One entry of the feed: a session or an identity that a write changed, under the sequence
/// its transaction took from the `session_sequence` counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub sequence: i64,
    /// [`Invalidation::Session`] or [`Invalidation::Identity`]; a row this build cannot read
    /// (a kind from a newer build) is [`Invalidation::All`], the safe answer.
    pub invalidation: Invalidation,
}

impl Change {
    pub(crate) fn decode(sequence: i64, kind: &str, target: Uuid) -> Change {
        let invalidation = match kind {
            SESSION => Invalidation::Session(target),
            IDENTITY => Invalidation::Identity(target),
            _ => Invalidation::All,
        };
        Change { sequence, invalidation }
    }
}

/// The feed's `kind` and `target_id` for an invalidation the stores record; `All` is never
/// recorded (no write changes everything).
pub(crate) fn kind_and_target(invalidation: Invalidation) -> Option<(&'static str, Uuid)> {
    match invalidation {
        Invalidation::Session(id) => Some((SESSION, id)),
        Invalidation::Identity(id) => Some((IDENTITY, id)),
        Invalidation::All => None,
    }
}

/// The change-feed methods of a backend whose SQL differs only by dialect:
/// `impl_changes!(SqliteStore, Dialect::Sqlite, sqlx::Sqlite, writer)` names the store type,
/// its dialect, its sqlx database, and the pool that writes. Each backend reads the feed its
/// own way, with [`crate::sql::changes::since`].
macro_rules! impl_changes {
    ($store:ty, $dialect:expr, $db:ty, $write:ident) => {
        impl $store {
            /// Adds `invalidation` to the feed inside `tx`, under `sequence`, which `tx` must
            /// have taken from the counter (so the row commits in number order).
            async fn record_change(
                tx: &mut sqlx::Transaction<'_, $db>,
                sequence: i64,
                invalidation: $crate::Invalidation,
            ) -> $crate::StoreResult<()> {
                let Some((kind, target)) = $crate::changes::kind_and_target(invalidation) else {
                    return Ok(());
                };
                sqlx::query($crate::sql::changes::record($dialect))
                    .bind(sequence)
                    .bind(kind)
                    .bind(target)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            async fn prune_changes_impl(&self, older_than: time::Duration) -> $crate::StoreResult<u64> {
                let micros = i64::try_from(older_than.whole_microseconds())
                    .unwrap_or(i64::MAX)
                    .max(0);
                let done = sqlx::query($crate::sql::changes::prune($dialect))
                    .bind(micros)
                    .execute(&self.$write)
                    .await?;
                Ok(done.rows_affected())
            }
        }
    };
}
pub(crate) use impl_changes;
