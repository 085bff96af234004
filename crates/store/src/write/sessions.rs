//! Session writes but creation, which goes through group commit ([`crate::session_batch`]).

use lanyard_domain::{Micros, Session, TokenDigest};
use sqlx::Pool;
use uuid::Uuid;

use super::{ids, Backend, Sequenced};
use crate::sql::sessions as sql;
use crate::{Invalidation, RevokeTarget, StoreResult};

/// Writes the session's mutable fields if its sequence is still `expected_sequence`; returns
/// the new sequence, `None` when the session is gone or changed concurrently.
pub(crate) async fn update<DB: Backend>(
    pool: &Pool<DB>,
    session: &Session,
    expected_sequence: i64,
    new_digest: Option<&TokenDigest>,
) -> StoreResult<Option<i64>> {
    let factors = serde_json::to_string(&session.factors)?;
    let metadata = serde_json::to_string(&session.metadata)?;
    let mut write = Sequenced::begin(pool).await?;
    let values = [
        session.id.into(),
        expected_sequence.into(),
        session.identity_id.into(),
        session.changed_at.0.into(),
        session.authenticated_at.0.into(),
        session.stored_expiry().map(|m| m.0).into(),
        session.revoked_at.map(|m| m.0).into(),
        session.user_checked_at.map(|m| m.0).into(),
        factors.into(),
        metadata.into(),
        write.sequence.into(),
        new_digest.map(|d| &d.0[..]).into(),
    ];
    if DB::execute(write.conn(), sql::update(DB::DIALECT), &values).await? == 0 {
        // Rolling back also returns the sequence number we took.
        return Ok(None);
    }
    let sequence = write.sequence;
    write.commit(Invalidation::Session(session.id)).await?;
    Ok(Some(sequence))
}

/// Marks sessions revoked; returns the ids that were not revoked before.
pub(crate) async fn revoke<DB: Backend>(pool: &Pool<DB>, target: RevokeTarget, now: Micros) -> StoreResult<Vec<Uuid>> {
    let mut write = Sequenced::begin(pool).await?;
    let sequence = write.sequence;
    let (rows, change) = match target {
        RevokeTarget::Session(id) => {
            let values = [id.into(), now.0.into(), sequence.into()];
            let rows = DB::fetch_all(write.conn(), sql::revoke(DB::DIALECT), &values).await?;
            (rows, Invalidation::Session(id))
        }
        RevokeTarget::IdentityActive { identity_id, except } => {
            let values = [identity_id.into(), now.0.into(), sequence.into(), except.into()];
            let rows = DB::fetch_all(write.conn(), sql::revoke_active_of_identity(DB::DIALECT), &values).await?;
            // Revoking an identity's sessions records the identity: one change per
            // transaction, which drops at most the one session kept (the caller's, read again
            // once).
            (rows, Invalidation::Identity(identity_id))
        }
    };
    let ids = ids(&rows)?;
    // Nothing changed: rolling back returns the sequence number and records nothing.
    if ids.is_empty() {
        return Ok(ids);
    }
    write.commit(change).await?;
    Ok(ids)
}

/// Hard-deletes every session of an identity; returns their ids.
pub(crate) async fn delete_of_identity<DB: Backend>(pool: &Pool<DB>, identity_id: Uuid) -> StoreResult<Vec<Uuid>> {
    let mut write = Sequenced::begin(pool).await?;
    let rows = DB::fetch_all(
        write.conn(),
        sql::delete_of_identity(DB::DIALECT),
        &[identity_id.into()],
    )
    .await?;
    let ids = ids(&rows)?;
    if ids.is_empty() {
        return Ok(ids);
    }
    write.commit(Invalidation::Identity(identity_id)).await?;
    Ok(ids)
}

/// Cleanup: one statement deleting up to `limit` sessions (see [`sql::delete_expired`]), behind
/// the session write lock ([`sql::lock_session_writes`]).
pub(crate) async fn delete_expired<DB: Backend>(
    pool: &Pool<DB>,
    expired_before: Micros,
    revoked_before: Micros,
    limit: u32,
) -> StoreResult<u64> {
    if limit == 0 {
        return Ok(0);
    }
    let values = [
        expired_before.0.into(),
        revoked_before.0.into(),
        i64::from(limit).into(),
    ];
    let mut tx = pool.begin().await?;
    if let Some(lock) = sql::lock_session_writes(DB::DIALECT) {
        DB::fetch_optional(&mut tx, lock, &[]).await?;
    }
    let deleted = DB::execute(&mut tx, sql::delete_expired(DB::DIALECT), &values).await?;
    tx.commit().await?;
    Ok(deleted)
}
