use lanyard_domain::{Identity, Micros, Session, SessionFilter, SessionQuery, TokenDigest};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{bind_all, PostgresStore};
use crate::rows::{attach_devices, decode_device, decode_session, decode_session_view};
use crate::sql::{self, Dialect};
use crate::{Invalidation, RevokeTarget, SessionRow, StoreResult};

/// Takes the next session sequence. The counter row stays locked until the transaction ends,
/// so sequences are handed out in commit order and a rollback returns the number.
pub(super) async fn next_sequence(tx: &mut Transaction<'_, Postgres>) -> StoreResult<i64> {
    let value: i64 = sqlx::query_scalar(
        "UPDATE lanyard_counters SET value = value + 1 WHERE name = 'session_sequence' RETURNING value",
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(value)
}

impl PostgresStore {
    /// Queued to the group-commit writer ([`super::session_writer`]), which writes concurrent
    /// creates in one transaction.
    pub(super) async fn insert_session_impl(&self, session: &Session, digest: &TokenDigest) -> StoreResult<i64> {
        self.session_writer.insert(session, digest).await
    }

    pub(super) async fn session_by_digest_impl(&self, digest: &TokenDigest) -> StoreResult<Option<SessionRow>> {
        let row = sqlx::query(sql::reads::session_by_digest(Dialect::Postgres))
            .bind(&digest.0[..])
            .fetch_optional(&self.pool)
            .await?;
        self.with_devices(row.as_ref().map(decode_session).transpose()?.into_iter().collect())
            .await
            .map(|mut rows| rows.pop())
    }

    pub(super) async fn session_and_identity_by_digest_impl(
        &self,
        digest: &TokenDigest,
    ) -> StoreResult<Option<(SessionRow, Option<Identity>)>> {
        let row = sqlx::query(sql::session_view_by_digest(Dialect::Postgres))
            .bind(&digest.0[..])
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(decode_session_view).transpose()
    }

    pub(super) async fn session_impl(&self, id: Uuid) -> StoreResult<Option<SessionRow>> {
        let row = sqlx::query(sql::reads::session_by_id(Dialect::Postgres))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        self.with_devices(row.as_ref().map(decode_session).transpose()?.into_iter().collect())
            .await
            .map(|mut rows| rows.pop())
    }

    pub(super) async fn list_sessions_impl(&self, query: &SessionQuery, now: Micros) -> StoreResult<Vec<SessionRow>> {
        let built = sql::list_sessions(Dialect::Postgres, query, now);
        let rows = bind_all(sqlx::query(&built.sql), &built.params)
            .fetch_all(&self.pool)
            .await?;
        let sessions = rows.iter().map(decode_session).collect::<StoreResult<Vec<_>>>()?;
        if !query.with_devices {
            return Ok(sessions);
        }
        self.with_devices(sessions).await
    }

    pub(super) async fn count_sessions_impl(&self, filter: &SessionFilter, now: Micros) -> StoreResult<u64> {
        let built = sql::count_sessions(Dialect::Postgres, filter, now);
        let count: i64 = bind_all(sqlx::query(&built.sql), &built.params)
            .fetch_one(&self.pool)
            .await
            .and_then(|row| sqlx::Row::try_get(&row, 0))?;
        Ok(count.max(0) as u64)
    }

    /// Loads the devices of a page of sessions with one query.
    async fn with_devices(&self, rows: Vec<SessionRow>) -> StoreResult<Vec<SessionRow>> {
        if rows.is_empty() {
            return Ok(rows);
        }
        let mut conn = self.pool.acquire().await?;
        devices_into(&mut conn, rows).await
    }

    pub(super) async fn update_session_impl(
        &self,
        session: &Session,
        expected_sequence: i64,
        new_digest: Option<&TokenDigest>,
    ) -> StoreResult<Option<i64>> {
        let mut tx = self.pool.begin().await?;
        let sequence = next_sequence(&mut tx).await?;
        let done = sqlx::query(
            "UPDATE sessions SET identity_id = $3, changed_us = $4, authenticated_us = $5, expires_us = $6, revoked_us = $7, \
             user_checked_us = $8, factors = $9, metadata = $10, sequence = $11, \
             token_digest = COALESCE($12, token_digest) WHERE id = $1 AND sequence = $2",
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
        let mut tx = self.pool.begin().await?;
        let sequence = next_sequence(&mut tx).await?;
        let ids: Vec<Uuid> = match target {
            RevokeTarget::Session(id) => {
                sqlx::query_scalar(
                    "UPDATE sessions SET revoked_us = $2, changed_us = $2, sequence = $3 \
                     WHERE id = $1 AND revoked_us IS NULL RETURNING id",
                )
                .bind(id)
                .bind(now.0)
                .bind(sequence)
                .fetch_all(&mut *tx)
                .await?
            }
            RevokeTarget::IdentityActive { identity_id, except } => {
                sqlx::query_scalar(
                    "UPDATE sessions SET revoked_us = $2, changed_us = $2, sequence = $3 \
                     WHERE identity_id = $1 AND revoked_us IS NULL AND (expires_us IS NULL OR expires_us > $2) \
                     AND id IS DISTINCT FROM $4 RETURNING id",
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

    /// Takes the counter first, as every write does: one lock order, so no deadlocks with
    /// revocations of the same sessions.
    pub(super) async fn delete_sessions_of_identity_impl(&self, identity_id: Uuid) -> StoreResult<Vec<Uuid>> {
        let mut tx = self.pool.begin().await?;
        let sequence = next_sequence(&mut tx).await?;
        let ids: Vec<Uuid> = sqlx::query_scalar("DELETE FROM sessions WHERE identity_id = $1 RETURNING id")
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

impl PostgresStore {
    /// Cleanup. The shape is chosen so that every plan, custom or generic (sqlx prepares the
    /// statement, and after five runs PostgreSQL may switch to a generic plan), stays on
    /// indexes: each condition is its own `ORDER BY ... LIMIT` range scan of `sessions_expires`
    /// or `sessions_revoked` (an `OR` gets a sequential scan in the generic plan), and the
    /// delete itself finds the picked ids through the primary key (`= ANY(ARRAY(...))`; an
    /// `IN (subquery)` gets a hash join over the whole table). The conditions are checked again
    /// on the rows being deleted, so a row changed meanwhile is left alone. Nothing here is
    /// PostgreSQL-only: CockroachDB and YugabyteDB accept the same statement (no
    /// `DELETE ... LIMIT`, no ctid).
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
            "DELETE FROM sessions WHERE id = ANY(ARRAY(SELECT id FROM (\
             (SELECT id FROM sessions WHERE expires_us < $1 ORDER BY expires_us LIMIT $3) \
             UNION \
             (SELECT id FROM sessions WHERE revoked_us < $2 ORDER BY revoked_us LIMIT $3)\
             ) AS due LIMIT $3)) \
             AND (expires_us < $1 OR revoked_us < $2)",
        )
        .bind(expired_before.0)
        .bind(revoked_before.0)
        .bind(i64::from(limit))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}

/// Loads the devices of a page of sessions on `conn` (inside a read transaction, when it has one).
pub(super) async fn devices_into(
    conn: &mut sqlx::PgConnection,
    mut rows: Vec<SessionRow>,
) -> StoreResult<Vec<SessionRow>> {
    if rows.is_empty() {
        return Ok(rows);
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.session.id).collect();
    let devices = sqlx::query(&sql::reads::devices_of_sessions(Dialect::Postgres, ids.len()))
        .bind(&ids)
        .fetch_all(&mut *conn)
        .await?;
    let devices = devices.iter().map(decode_device).collect::<StoreResult<Vec<_>>>()?;
    attach_devices(&mut rows, devices);
    Ok(rows)
}
