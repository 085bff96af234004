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

use crate::session_batch::{batch_len, GroupCommit, NewDevice, NewSession, SessionWriter};
use crate::sql::{sessions as sql, Dialect};
use crate::StoreResult;

/// Starts the writer task; it borrows connections from `pool` one batch at a time.
pub(super) fn spawn(pool: PgPool) -> SessionWriter {
    SessionWriter::spawn(PgGroupCommit {
        pool,
        insert_sessions: sql::insert_sessions(Dialect::Postgres, 0),
        insert_devices: sql::insert_devices(Dialect::Postgres, 0),
    })
}

struct PgGroupCommit {
    pool: PgPool,
    /// The two `INSERT ... SELECT FROM UNNEST`s, which take any number of rows.
    insert_sessions: String,
    insert_devices: String,
}

#[async_trait::async_trait]
impl GroupCommit for PgGroupCommit {
    type Db = Postgres;

    fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn insert_group(&self, tx: &mut PgConnection, sessions: &[&NewSession]) -> StoreResult<i64> {
        insert_group(tx, self, sessions).await
    }
}

async fn insert_group(tx: &mut PgConnection, writer: &PgGroupCommit, sessions: &[&NewSession]) -> StoreResult<i64> {
    let count = batch_len(sessions)?;
    let last: i64 = sqlx::query_scalar(sql::take_sequences(Dialect::Postgres))
        .bind(count)
        .fetch_one(&mut *tx)
        .await?;
    let first = last - count + 1;

    let sequences: Vec<i64> = (first..=last).collect();
    sqlx::query(&writer.insert_sessions)
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

    let devices: Vec<(Uuid, &NewDevice)> = sessions
        .iter()
        .flat_map(|session| session.devices.iter().map(|device| (session.id, device)))
        .collect();
    if !devices.is_empty() {
        sqlx::query(&writer.insert_devices)
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
