use lanyard_domain::{Micros, Session, TokenDigest};
use sqlx::{Sqlite, Transaction};
use uuid::Uuid;

use super::SqliteStore;
use crate::{Invalidation, RevokeTarget, StoreResult};

pub(super) async fn next_sequence(tx: &mut Transaction<'_, Sqlite>) -> StoreResult<i64> {
    let value: i64 = sqlx::query_scalar(
        "UPDATE lanyard_counters SET value = value + 1 WHERE name = 'session_sequence' RETURNING value",
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(value)
}

impl SqliteStore {
    /// Queued to the group-commit writer ([`super::session_writer`]), which writes concurrent
    /// creates in one transaction and answers after its commit.
    pub(super) async fn insert_session_impl(&self, session: &Session, digest: &TokenDigest) -> StoreResult<i64> {
        self.session_writer.insert(session, digest).await
    }

    pub(super) async fn update_session_impl(
        &self,
        session: &Session,
        expected_sequence: i64,
        new_digest: Option<&TokenDigest>,
    ) -> StoreResult<Option<i64>> {
        let mut tx = self.writer.begin().await?;
        let sequence = next_sequence(&mut tx).await?;
        let done = sqlx::query(
            "UPDATE sessions SET identity_id = ?3, changed_us = ?4, authenticated_us = ?5, expires_us = ?6, revoked_us = ?7, \
             user_checked_us = ?8, factors = ?9, metadata = ?10, sequence = ?11, \
             token_digest = COALESCE(?12, token_digest) WHERE id = ?1 AND sequence = ?2",
        )
        .bind(session.id)
        .bind(expected_sequence)
        .bind(session.identity_id)
        .bind(session.changed_at.0)
        .bind(session.authenticated_at.0)
        .bind(session.expires_at.map(|m| m.0))
        .bind(session.revoked_at.map(|m| m.0))
        .bind(session.user_checked_at.map(|m| m.0))
        .bind(serde_json::to_string(&session.factors)?)
        .bind(serde_json::to_string(&session.metadata)?)
        .bind(sequence)
        .bind(new_digest.map(|d| d.0.to_vec()))
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            // Rolling back also returns the sequence number we took.
            return Ok(None);
        }
        Self::record_change(&mut tx, sequence, Invalidation::Session(session.id)).await?;
        tx.commit().await?;
        Ok(Some(sequence))
    }

    pub(super) async fn revoke_sessions_impl(&self, target: RevokeTarget, now: Micros) -> StoreResult<Vec<Uuid>> {
        let mut tx = self.writer.begin().await?;
        let sequence = next_sequence(&mut tx).await?;
        let ids: Vec<Uuid> = match target {
            RevokeTarget::Session(id) => {
                sqlx::query_scalar(
                    "UPDATE sessions SET revoked_us = ?2, changed_us = ?2, sequence = ?3 \
                     WHERE id = ?1 AND revoked_us IS NULL RETURNING id",
                )
                .bind(id)
                .bind(now.0)
                .bind(sequence)
                .fetch_all(&mut *tx)
                .await?
            }
            RevokeTarget::IdentityActive { identity_id, except } => {
                sqlx::query_scalar(
                    "UPDATE sessions SET revoked_us = ?2, changed_us = ?2, sequence = ?3 \
                     WHERE identity_id = ?1 AND revoked_us IS NULL AND (expires_us IS NULL OR expires_us > ?2) \
                     AND id IS NOT ?4 RETURNING id",
                )
                .bind(identity_id)
                .bind(now.0)
                .bind(sequence)
                .bind(except)
                .fetch_all(&mut *tx)
                .await?
            }
        };
        // Nothing changed: rolling back returns the sequence number and records nothing.
        if ids.is_empty() {
            return Ok(ids);
        }
        // Revoking an identity's sessions records the identity: one change per transaction,
        // which drops at most the one session kept (the caller's, read again once).
        let change = match target {
            RevokeTarget::Session(id) => Invalidation::Session(id),
            RevokeTarget::IdentityActive { identity_id, .. } => Invalidation::Identity(identity_id),
        };
        Self::record_change(&mut tx, sequence, change).await?;
        tx.commit().await?;
        Ok(ids)
    }

    pub(super) async fn delete_sessions_of_identity_impl(&self, identity_id: Uuid) -> StoreResult<Vec<Uuid>> {
        let mut tx = self.writer.begin().await?;
        let sequence = next_sequence(&mut tx).await?;
        let ids: Vec<Uuid> = sqlx::query_scalar("DELETE FROM sessions WHERE identity_id = ?1 RETURNING id")
            .bind(identity_id)
            .fetch_all(&mut *tx)
            .await?;
        if ids.is_empty() {
            return Ok(ids);
        }
        Self::record_change(&mut tx, sequence, Invalidation::Identity(identity_id)).await?;
        tx.commit().await?;
        Ok(ids)
    }
}

impl SqliteStore {
    /// Cleanup: both conditions are index range scans (`sessions_expires`, `sessions_revoked`),
    /// combined by SQLite's OR optimisation; the outer delete goes by primary key.
    pub(super) async fn delete_expired_sessions_impl(
        &self,
        expired_before: Micros,
        revoked_before: Micros,
        limit: u32,
    ) -> StoreResult<u64> {
        if limit == 0 {
            return Ok(0);
        }
        let done = sqlx::query(
            "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions \
             WHERE expires_us < ?1 OR revoked_us < ?2 LIMIT ?3)",
        )
        .bind(expired_before.0)
        .bind(revoked_before.0)
        .bind(i64::from(limit))
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }
}
