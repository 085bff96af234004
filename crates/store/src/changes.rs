//! The change feed: what each write changed, numbered, so that every node can keep its token
//! cache exact by reading only what changed since it last looked (see `lanyard_service`'s
//! token cache and docs/STORAGE.md, "Change feed"). The SQL is in [`crate::sql::changes`].

use sqlx::Pool;
use uuid::Uuid;

use crate::sql::changes::{IDENTITY, SESSION};
use crate::write::{self, Backend};
use crate::{sql, Invalidation, StoreResult};

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

/// Adds `invalidation` to the feed inside `tx`, under `sequence`, which `tx` must have taken
/// from the counter (so the row commits in number order).
pub(crate) async fn record<DB: Backend>(
    tx: &mut DB::Connection,
    sequence: i64,
    invalidation: Invalidation,
) -> StoreResult<()> {
    let Some((kind, target)) = kind_and_target(invalidation) else {
        return Ok(());
    };
    let values = [sequence.into(), kind.into(), target.into()];
    DB::execute(tx, sql::changes::record(DB::DIALECT), &values).await?;
    Ok(())
}

/// Deletes the changes recorded `older_than` or longer ago by the database's clock.
pub(crate) async fn prune<DB: Backend>(pool: &Pool<DB>, older_than: time::Duration) -> StoreResult<u64> {
    let micros = i64::try_from(older_than.whole_microseconds())
        .unwrap_or(i64::MAX)
        .max(0);
    write::execute(pool, sql::changes::prune(DB::DIALECT), &[micros.into()]).await
}
