//! Group commit for session creation on SQLite: the SQL of [`crate::session_batch`].
//!
//! Every SQLite statement is a round trip to sqlx's connection thread and every commit a WAL
//! write, so one create per transaction tops out at about 1,500 per second. The writer task
//! (see [`crate::session_batch`]) writes what is queued in one transaction: one counter update
//! that reserves the batch's sequence numbers, multi-row inserts for the sessions and for
//! their devices (split into a few fixed sizes), one commit.
//!
//! The task takes the single writer connection per batch and gives it back after, so updates,
//! revocations and identity writes, which use the writer pool directly, interleave with batches.

use sqlx::{Sqlite, SqliteConnection, SqlitePool};
use uuid::Uuid;

use crate::session_batch::{batch_len, GroupCommit, NewDevice, NewSession, SessionWriter};
use crate::sql::{sessions as sql, Dialect};
use crate::StoreResult;

/// Rows per `INSERT` statement, largest first: a batch is split into these sizes, so the
/// connection's statement cache holds a handful of statements instead of one per batch size.
/// 64 rows of 14 parameters stay below SQLite's smallest bound-parameter limit (999).
const CHUNK_ROWS: [usize; 7] = [64, 32, 16, 8, 4, 2, 1];
const _: () = assert!(CHUNK_ROWS[0] * sql::SESSION_VALUES <= 999);

/// Starts the writer task for `writer`, the single-connection writer pool.
pub(super) fn spawn(writer: SqlitePool) -> SessionWriter {
    SessionWriter::spawn(SqliteGroupCommit {
        writer,
        statements: Statements::new(),
    })
}

struct SqliteGroupCommit {
    writer: SqlitePool,
    statements: Statements,
}

#[async_trait::async_trait]
impl GroupCommit for SqliteGroupCommit {
    type Db = Sqlite;

    fn pool(&self) -> &SqlitePool {
        &self.writer
    }

    async fn insert_group(&self, tx: &mut SqliteConnection, sessions: &[&NewSession]) -> StoreResult<i64> {
        insert_group(tx, &self.statements, sessions).await
    }
}

async fn insert_group(
    tx: &mut SqliteConnection,
    statements: &Statements,
    sessions: &[&NewSession],
) -> StoreResult<i64> {
    let count = batch_len(sessions)?;
    let last: i64 = sqlx::query_scalar(sql::take_sequences(Dialect::Sqlite))
        .bind(count)
        .fetch_one(&mut *tx)
        .await?;
    let first = last - count + 1;

    let mut rest = sessions;
    let mut sequence = first;
    while !rest.is_empty() {
        let (rows, sql) = statements.sessions_for(rest.len());
        let (chunk, tail) = rest.split_at(rows);
        let mut query = sqlx::query(sql);
        for session in chunk {
            query = query
                .bind(session.id)
                .bind(&session.digest[..])
                .bind(session.identity_id)
                .bind(session.created_us)
                .bind(session.changed_us)
                .bind(session.authenticated_us)
                .bind(session.expires_us)
                .bind(session.revoked_us)
                .bind(session.user_checked_us)
                .bind(session.factors.as_str())
                .bind(session.metadata.as_str())
                .bind(session.creator.as_deref())
                .bind(session.fingerprint_id.as_deref())
                .bind(sequence);
            sequence += 1;
        }
        query.execute(&mut *tx).await?;
        rest = tail;
    }

    let devices: Vec<(Uuid, &NewDevice)> = sessions
        .iter()
        .flat_map(|session| session.devices.iter().map(|device| (session.id, device)))
        .collect();
    let mut rest = &devices[..];
    while !rest.is_empty() {
        let (rows, sql) = statements.devices_for(rest.len());
        let (chunk, tail) = rest.split_at(rows);
        let mut query = sqlx::query(sql);
        for (session_id, device) in chunk {
            query = query
                .bind(device.id)
                .bind(*session_id)
                .bind(device.ip_address.as_deref())
                .bind(device.user_agent.as_deref())
                .bind(device.location.as_deref())
                .bind(device.fingerprint_id.as_deref())
                .bind(device.headers.as_str())
                .bind(device.created_us);
        }
        query.execute(&mut *tx).await?;
        rest = tail;
    }
    Ok(first)
}

/// The multi-row `INSERT`s, one per size in [`CHUNK_ROWS`].
struct Statements {
    sessions: [String; CHUNK_ROWS.len()],
    devices: [String; CHUNK_ROWS.len()],
}

impl Statements {
    fn new() -> Self {
        Statements {
            sessions: CHUNK_ROWS.map(|rows| sql::insert_sessions(Dialect::Sqlite, rows)),
            devices: CHUNK_ROWS.map(|rows| sql::insert_devices(Dialect::Sqlite, rows)),
        }
    }

    /// The statement for the most rows, at most `remaining` (> 0), and its row count.
    fn sessions_for(&self, remaining: usize) -> (usize, &str) {
        let at = largest_chunk(remaining);
        (CHUNK_ROWS[at], &self.sessions[at])
    }

    fn devices_for(&self, remaining: usize) -> (usize, &str) {
        let at = largest_chunk(remaining);
        (CHUNK_ROWS[at], &self.devices[at])
    }
}

/// The index in [`CHUNK_ROWS`] of the largest size not above `remaining`; the last (one row)
/// when `remaining` is 0.
fn largest_chunk(remaining: usize) -> usize {
    CHUNK_ROWS
        .iter()
        .position(|&rows| rows <= remaining)
        .unwrap_or(CHUNK_ROWS.len() - 1)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashSet};
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use lanyard_domain::{Device, Micros, Session, TokenDigest};

    use super::*;
    use crate::sqlite::{SqliteOptions, SqliteStore};
    use crate::{ConflictOn, Store, StoreError, StoreResult};

    async fn store() -> (SqliteStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = SqliteStore::open_and_migrate(&SqliteOptions::new(dir.path().join("db.sqlite")))
            .await
            .expect("open and migrate");
        (store, dir)
    }

    fn new_session(n: i64, devices: i64) -> Session {
        let at = Micros(1_700_000_000_000_000 + n);
        Session {
            id: Uuid::now_v7(),
            identity_id: None,
            created_at: at,
            changed_at: at,
            authenticated_at: at,
            expires_at: None,
            revoked_at: None,
            user_checked_at: None,
            factors: Vec::new(),
            devices: (0..devices)
                .map(|d| Device {
                    id: Uuid::now_v7(),
                    ip_address: Some(format!("192.0.2.{d}")),
                    user_agent: None,
                    location: None,
                    fingerprint_id: Some(format!("fp{n}")),
                    headers: BTreeMap::new(),
                    created_at: Micros(at.0 + d),
                })
                .collect(),
            metadata: BTreeMap::new(),
            creator: Some("test".into()),
            sequence: 0,
        }
    }

    fn digest(session: &Session) -> TokenDigest {
        TokenDigest::of(&session.id.to_string())
    }

    /// Starts `sessions` inserts while the test holds the writer connection, lets them all
    /// queue, then lets the writer go; returns each session with its insert's result.
    async fn insert_while_writer_busy(
        store: &SqliteStore,
        sessions: Vec<(Session, TokenDigest)>,
    ) -> Vec<(Session, StoreResult<i64>)> {
        let held = store.writer.acquire().await.expect("writer connection");
        let tasks: Vec<_> = sessions
            .into_iter()
            .map(|(session, digest)| {
                let store = store.clone();
                tokio::spawn(async move {
                    let result = store.insert_session(&session, &digest).await;
                    (session, result)
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(300)).await;
        drop(held);
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.expect("insert task"));
        }
        results
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_creates_are_committed_in_a_few_transactions() {
        let (store, _dir) = store().await;
        let sessions = (0..300).map(|n| new_session(n, n % 3)).map(|s| {
            let d = digest(&s);
            (s, d)
        });
        let results = insert_while_writer_busy(&store, sessions.collect()).await;

        let stats = store.session_writer.stats();
        assert_eq!(stats.sessions.load(Ordering::Relaxed), 300);
        // The first batch took what was queued when the writer was free, then blocked on the
        // connection while the rest queued: at most two more batches of up to 256.
        let batches = stats.batches.load(Ordering::Relaxed);
        assert!(batches <= 4, "300 queued creates took {batches} transactions");
        assert_eq!(stats.fallbacks.load(Ordering::Relaxed), 0);

        let mut sequences = HashSet::new();
        for (mut session, result) in results {
            session.sequence = result.expect("insert");
            assert!(
                sequences.insert(session.sequence),
                "sequence {} given twice",
                session.sequence
            );
            let row = store.session(session.id).await.expect("read").expect("stored");
            assert_eq!(row.session, session);
        }
        assert_eq!(sequences.iter().min(), Some(&1));
        assert_eq!(sequences.iter().max(), Some(&300));
        assert_eq!(store.current_sequence().await.expect("counter"), 300);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_bad_create_in_a_batch_fails_alone() {
        let (store, _dir) = store().await;
        let existing = new_session(-1, 1);
        let first = store
            .insert_session(&existing, &digest(&existing))
            .await
            .expect("insert");
        assert_eq!(first, 1);

        let mut sessions: Vec<(Session, TokenDigest)> = Vec::new();
        for n in 0..50 {
            let mut session = new_session(n, 1);
            let mut token = digest(&session);
            match n {
                // An identity that does not exist (e.g. deleted meanwhile): foreign key.
                10 => session.identity_id = Some(Uuid::now_v7()),
                20 => token = digest(&existing),
                30 => session.id = existing.id,
                // A device id already stored. (Not one of this batch: the tasks queue in no
                // fixed order, so which of two duplicates failed would vary.)
                40 => session.devices[0].id = existing.devices[0].id,
                _ => {}
            }
            sessions.push((session, token));
        }
        let results = insert_while_writer_busy(&store, sessions).await;

        let mut sequences = Vec::new();
        for (n, (mut session, result)) in results.into_iter().enumerate() {
            match (n, result) {
                (10, Err(StoreError::Database(_))) | (40, Err(StoreError::Conflict(ConflictOn::Id))) => {
                    // Nothing of it stays, not even the session row before its device.
                    assert_eq!(store.session(session.id).await.expect("read"), None)
                }
                (20, Err(StoreError::Conflict(ConflictOn::TokenDigest))) => {
                    assert_eq!(store.session(session.id).await.expect("read"), None)
                }
                (30, Err(StoreError::Conflict(ConflictOn::Id))) => {}
                (10 | 20 | 30 | 40, other) => panic!("insert {n} should have failed, got {other:?}"),
                (_, result) => {
                    session.sequence = result.expect("insert");
                    sequences.push(session.sequence);
                    let row = store.session(session.id).await.expect("read").expect("stored");
                    assert_eq!(row.session, session);
                }
            }
        }
        sequences.sort();
        assert_eq!(sequences, (2..=47).collect::<Vec<_>>());
        assert_eq!(store.current_sequence().await.expect("counter"), 47);
        let stats = store.session_writer.stats();
        assert_eq!(stats.sessions.load(Ordering::Relaxed), 47);
        assert!(
            stats.fallbacks.load(Ordering::Relaxed) >= 1,
            "the failures were not in a batch"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn callers_that_go_away_disturb_nobody() {
        let (store, _dir) = store().await;
        let held = store.writer.acquire().await.expect("writer connection");
        let mut kept = Vec::new();
        let mut abandoned = Vec::new();
        for n in 0..40 {
            let session = new_session(n, 1);
            let store = store.clone();
            let task = tokio::spawn(async move {
                let result = store.insert_session(&session, &digest(&session)).await;
                (session, result)
            });
            if n % 2 == 0 {
                kept.push(task);
            } else {
                abandoned.push(task);
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        for task in &abandoned {
            task.abort();
        }
        drop(held);
        for task in kept {
            let (session, result) = task.await.expect("insert task");
            result.expect("insert");
            assert!(store.session(session.id).await.expect("read").is_some());
        }
        for task in abandoned {
            assert!(task.await.is_err_and(|e| e.is_cancelled()));
        }
        // The writer carries on.
        let later = new_session(100, 0);
        let sequence = store.insert_session(&later, &digest(&later)).await.expect("insert");
        assert_eq!(sequence, store.current_sequence().await.expect("counter"));
    }
}
