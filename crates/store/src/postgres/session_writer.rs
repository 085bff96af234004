//! Group commit for session creation on PostgreSQL: the SQL of [`crate::session_batch`].
//!
//! A batch is one transaction of three statements whatever its size: the counter update that
//! reserves its sequence numbers (and locks the counter row until the commit, exactly as one
//! create did, so numbers are still handed out in commit order across nodes), one `INSERT ...
//! SELECT FROM UNNEST` of the sessions and one of their devices, each column bound as an array.
//! The isolation level is the connection's default (READ COMMITTED), as for every other write.
//!
//! The writer task takes a connection from the shared pool per batch, so each node batches on
//! its own and the counter row orders the nodes' batches.

use sqlx::{PgConnection, PgPool, Postgres};
use uuid::Uuid;

use crate::session_batch::{batch_len, GroupCommit, NewSession, SessionWriter};
use crate::StoreResult;

const INSERT_SESSIONS: &str = "INSERT INTO sessions (id, token_digest, identity_id, created_us, changed_us, \
     authenticated_us, expires_us, revoked_us, user_checked_us, factors, metadata, creator, fingerprint_id, sequence) \
     SELECT * FROM UNNEST($1::UUID[], $2::BYTEA[], $3::UUID[], $4::BIGINT[], $5::BIGINT[], $6::BIGINT[], \
     $7::BIGINT[], $8::BIGINT[], $9::BIGINT[], $10::TEXT[], $11::TEXT[], $12::TEXT[], $13::TEXT[], $14::BIGINT[])";

const INSERT_DEVICES: &str = "INSERT INTO session_devices (id, session_id, ip_address, user_agent, location, \
     fingerprint_id, headers, created_us) \
     SELECT * FROM UNNEST($1::UUID[], $2::UUID[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::TEXT[], \
     $8::BIGINT[])";

/// Starts the writer task; it borrows connections from `pool` one batch at a time.
pub(super) fn spawn(pool: PgPool) -> SessionWriter {
    SessionWriter::spawn(PgGroupCommit { pool })
}

struct PgGroupCommit {
    pool: PgPool,
}

#[async_trait::async_trait]
impl GroupCommit for PgGroupCommit {
    type Db = Postgres;

    fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn insert_group(&self, tx: &mut PgConnection, sessions: &[&NewSession]) -> StoreResult<i64> {
        insert_group(tx, sessions).await
    }
}

async fn insert_group(tx: &mut PgConnection, sessions: &[&NewSession]) -> StoreResult<i64> {
    let count = batch_len(sessions)?;
    let last: i64 = sqlx::query_scalar(
        "UPDATE lanyard_counters SET value = value + $1 WHERE name = 'session_sequence' RETURNING value",
    )
    .bind(count)
    .fetch_one(&mut *tx)
    .await?;
    let first = last - count + 1;

    let sequences: Vec<i64> = (first..=last).collect();
    sqlx::query(INSERT_SESSIONS)
        .bind(sessions.iter().map(|s| s.id).collect::<Vec<Uuid>>())
        .bind(sessions.iter().map(|s| &s.digest[..]).collect::<Vec<&[u8]>>())
        .bind(sessions.iter().map(|s| s.identity_id).collect::<Vec<Option<Uuid>>>())
        .bind(sessions.iter().map(|s| s.created_us).collect::<Vec<i64>>())
        .bind(sessions.iter().map(|s| s.changed_us).collect::<Vec<i64>>())
        .bind(sessions.iter().map(|s| s.authenticated_us).collect::<Vec<i64>>())
        .bind(sessions.iter().map(|s| s.expires_us).collect::<Vec<Option<i64>>>())
        .bind(sessions.iter().map(|s| s.revoked_us).collect::<Vec<Option<i64>>>())
        .bind(sessions.iter().map(|s| s.user_checked_us).collect::<Vec<Option<i64>>>())
        .bind(sessions.iter().map(|s| s.factors.as_str()).collect::<Vec<&str>>())
        .bind(sessions.iter().map(|s| s.metadata.as_str()).collect::<Vec<&str>>())
        .bind(
            sessions
                .iter()
                .map(|s| s.creator.as_deref())
                .collect::<Vec<Option<&str>>>(),
        )
        .bind(
            sessions
                .iter()
                .map(|s| s.fingerprint_id.as_deref())
                .collect::<Vec<Option<&str>>>(),
        )
        .bind(sequences)
        .execute(&mut *tx)
        .await?;

    let devices: Vec<(Uuid, &crate::session_batch::NewDevice)> = sessions
        .iter()
        .flat_map(|session| session.devices.iter().map(|device| (session.id, device)))
        .collect();
    if !devices.is_empty() {
        sqlx::query(INSERT_DEVICES)
            .bind(devices.iter().map(|(_, d)| d.id).collect::<Vec<Uuid>>())
            .bind(devices.iter().map(|(session_id, _)| *session_id).collect::<Vec<Uuid>>())
            .bind(
                devices
                    .iter()
                    .map(|(_, d)| d.ip_address.as_deref())
                    .collect::<Vec<Option<&str>>>(),
            )
            .bind(
                devices
                    .iter()
                    .map(|(_, d)| d.user_agent.as_deref())
                    .collect::<Vec<Option<&str>>>(),
            )
            .bind(
                devices
                    .iter()
                    .map(|(_, d)| d.location.as_deref())
                    .collect::<Vec<Option<&str>>>(),
            )
            .bind(
                devices
                    .iter()
                    .map(|(_, d)| d.fingerprint_id.as_deref())
                    .collect::<Vec<Option<&str>>>(),
            )
            .bind(devices.iter().map(|(_, d)| d.headers.as_str()).collect::<Vec<&str>>())
            .bind(devices.iter().map(|(_, d)| d.created_us).collect::<Vec<i64>>())
            .execute(&mut *tx)
            .await?;
    }
    Ok(first)
}
