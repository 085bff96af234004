//! Group commit for session creation, shared by the backends.
//!
//! One create per transaction is bounded by round trips and commits (about 1,500 per second on
//! SQLite, 1,200 on PostgreSQL). Instead, `insert_session` queues the new session to one writer
//! task per store, which takes everything queued at that moment (at most [`MAX_BATCH`], no
//! waiting for more: a lone create goes out at once) and writes it in one transaction: one
//! counter update that reserves the batch's sequence numbers (consecutive, in queue order),
//! bulk inserts for the sessions and for their devices, one commit. Each caller is answered
//! after the commit, so an acknowledged create is durable exactly as before.
//!
//! When the batch fails (a duplicate id or digest, an identity deleted meanwhile), it is rolled
//! back and its sessions are written again one transaction each (a connection from the pool
//! for each), so each caller gets its own result and one bad session never fails the others.
//!
//! The task takes a connection from the backend's pool per batch and gives it back after, so
//! the other writes, which use the pool directly, interleave with batches. What is specific to
//! a backend (the SQL and its binding) is a [`GroupCommit`]; the queue, the batch loop and the
//! fallback policy are here.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use lanyard_domain::{Session, TokenDigest};
use sqlx::pool::PoolConnection;
use sqlx::{Connection, Database, Pool};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::{StoreError, StoreResult};

/// The most sessions written in one transaction.
pub(crate) const MAX_BATCH: usize = 256;
/// Sessions that may wait for the writer task before callers wait to queue.
const QUEUE_CAPACITY: usize = 4 * MAX_BATCH;

/// A session to insert, with everything bound already encoded (by the caller, off the writer).
pub(crate) struct NewSession {
    pub(crate) id: Uuid,
    pub(crate) digest: [u8; 32],
    pub(crate) identity_id: Option<Uuid>,
    pub(crate) created_us: i64,
    pub(crate) changed_us: i64,
    pub(crate) authenticated_us: i64,
    pub(crate) expires_us: Option<i64>,
    pub(crate) revoked_us: Option<i64>,
    pub(crate) user_checked_us: Option<i64>,
    pub(crate) factors: String,
    pub(crate) metadata: String,
    pub(crate) creator: Option<String>,
    /// The first device's fingerprint, denormalised for the fingerprint filter.
    pub(crate) fingerprint_id: Option<String>,
    pub(crate) devices: Vec<NewDevice>,
}

pub(crate) struct NewDevice {
    pub(crate) id: Uuid,
    pub(crate) ip_address: Option<String>,
    pub(crate) user_agent: Option<String>,
    pub(crate) location: Option<String>,
    pub(crate) fingerprint_id: Option<String>,
    pub(crate) headers: String,
    pub(crate) created_us: i64,
}

impl NewSession {
    pub(crate) fn encode(session: &Session, digest: &TokenDigest) -> StoreResult<Self> {
        let devices = session
            .devices
            .iter()
            .map(|device| {
                Ok(NewDevice {
                    id: device.id,
                    ip_address: device.ip_address.clone(),
                    user_agent: device.user_agent.clone(),
                    location: device.location.clone(),
                    fingerprint_id: device.fingerprint_id.clone(),
                    headers: serde_json::to_string(&device.headers)?,
                    created_us: device.created_at.0,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(NewSession {
            id: session.id,
            digest: digest.0,
            identity_id: session.identity_id,
            created_us: session.created_at.0,
            changed_us: session.changed_at.0,
            authenticated_us: session.authenticated_at.0,
            expires_us: session.stored_expiry().map(|m| m.0),
            revoked_us: session.revoked_at.map(|m| m.0),
            user_checked_us: session.user_checked_at.map(|m| m.0),
            factors: serde_json::to_string(&session.factors)?,
            metadata: serde_json::to_string(&session.metadata)?,
            creator: session.creator.clone(),
            fingerprint_id: session.devices.iter().find_map(|d| d.fingerprint_id.clone()),
            devices,
        })
    }
}

/// The backend's part: the pool to borrow a connection from per batch, and the statements of
/// one group inside the transaction that [`commit_group`] opens around them.
#[async_trait::async_trait]
pub(crate) trait GroupCommit: Send + Sync + 'static {
    type Db: Database;

    fn pool(&self) -> &Pool<Self::Db>;

    /// Reserves `sessions.len()` consecutive sequence numbers and inserts the sessions (in
    /// order, numbered from the first) with their devices. Returns the first number.
    async fn insert_group(
        &self,
        tx: &mut <Self::Db as Database>::Connection,
        sessions: &[&NewSession],
    ) -> StoreResult<i64>;
}

/// One transaction for `sessions` on `connection`: [`GroupCommit::insert_group`], then commit;
/// rolled back on failure. Returns the first sequence number.
async fn commit_group<B: GroupCommit>(
    backend: &B,
    connection: &mut <B::Db as Database>::Connection,
    sessions: &[&NewSession],
) -> StoreResult<i64> {
    let mut tx = Connection::begin(connection).await?;
    match backend.insert_group(&mut tx, sessions).await {
        Ok(first) => {
            tx.commit().await?;
            Ok(first)
        }
        Err(error) => {
            // The insert's error is the one to report; a failed rollback is also undone by
            // sqlx before the connection's next use.
            let _ = tx.rollback().await;
            Err(error)
        }
    }
}

struct Pending {
    session: NewSession,
    reply: oneshot::Sender<StoreResult<i64>>,
}

/// What the writer task has done, for tests and diagnostics.
#[derive(Debug, Default)]
pub(crate) struct WriterStats {
    /// Transactions that committed a whole batch (fallback transactions not counted).
    pub(crate) batches: AtomicU64,
    /// Sessions committed, by batches and by fallbacks.
    pub(crate) sessions: AtomicU64,
    /// Batches that failed and were written again one session at a time.
    pub(crate) fallbacks: AtomicU64,
}

/// The handle to the writer task; cloned with the store. The task ends when the last handle
/// is dropped.
#[derive(Clone)]
pub(crate) struct SessionWriter {
    queue: mpsc::Sender<Pending>,
    #[cfg_attr(not(test), allow(dead_code))]
    stats: Arc<WriterStats>,
}

impl SessionWriter {
    /// Starts the writer task on the current Tokio runtime.
    pub(crate) fn spawn<B: GroupCommit>(backend: B) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let stats = Arc::new(WriterStats::default());
        tokio::spawn(run(backend, receiver, stats.clone()));
        SessionWriter { queue, stats }
    }

    #[cfg(test)]
    pub(crate) fn stats(&self) -> &WriterStats {
        &self.stats
    }

    /// Queues the session and waits for its transaction. Dropping the future before the
    /// answer is harmless: a session whose caller is gone when the writer takes it from the
    /// queue is skipped; one taken before is written with its batch, unacknowledged.
    pub(crate) async fn insert(&self, session: &Session, digest: &TokenDigest) -> StoreResult<i64> {
        let session = NewSession::encode(session, digest)?;
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending { session, reply })
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::WorkerCrashed))?;
        answer
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::WorkerCrashed))?
    }
}

async fn run<B: GroupCommit>(backend: B, mut receiver: mpsc::Receiver<Pending>, stats: Arc<WriterStats>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // A caller that went away before its session was written gets nothing written.
        batch.retain(|pending: &Pending| !pending.reply.is_closed());
        if batch.is_empty() {
            continue;
        }
        write(&backend, &stats, &mut batch).await;
        batch.clear();
    }
}

/// Writes one batch and answers every caller in it.
async fn write<B: GroupCommit>(backend: &B, stats: &WriterStats, batch: &mut Vec<Pending>) {
    let mut connection: PoolConnection<B::Db> = match backend.pool().acquire().await {
        Ok(connection) => connection,
        Err(error) => {
            for pending in batch.drain(..) {
                let _ = pending.reply.send(Err(StoreError::Database(same_error(&error))));
            }
            return;
        }
    };
    let result = {
        let sessions: Vec<&NewSession> = batch.iter().map(|pending| &pending.session).collect();
        commit_group(backend, &mut connection, &sessions).await
    };
    match result {
        Ok(first) => {
            stats.batches.fetch_add(1, Ordering::Relaxed);
            stats.sessions.fetch_add(batch.len() as u64, Ordering::Relaxed);
            for (sequence, pending) in (first..).zip(batch.drain(..)) {
                let _ = pending.reply.send(Ok(sequence));
            }
        }
        Err(error) if batch.len() == 1 => {
            if let Some(pending) = batch.pop() {
                let _ = pending.reply.send(Err(error));
            }
        }
        Err(error) => {
            tracing::debug!(%error, sessions = batch.len(), "session batch failed; writing its sessions one by one");
            stats.fallbacks.fetch_add(1, Ordering::Relaxed);
            // Back to the pool first, and a connection per session: a transaction whose COMMIT
            // failed can leave the connection unusable (sqlx's transaction count out of step
            // with SQLite's), and the pool's release check is what finds and closes it.
            drop(connection);
            for pending in batch.drain(..) {
                if pending.reply.is_closed() {
                    continue;
                }
                let result = match backend.pool().acquire().await {
                    Ok(mut connection) => commit_group(backend, &mut connection, &[&pending.session]).await,
                    Err(error) => Err(StoreError::Database(error)),
                };
                if result.is_ok() {
                    stats.sessions.fetch_add(1, Ordering::Relaxed);
                }
                let _ = pending.reply.send(result);
            }
        }
    }
}

/// The batch's count as a bound parameter.
pub(crate) fn batch_len(sessions: &[&NewSession]) -> StoreResult<i64> {
    i64::try_from(sessions.len()).map_err(|_| StoreError::Corrupt("batch too large".into()))
}

/// A copy of a pool error for each caller of a batch that could not get a connection (sqlx
/// errors cannot be cloned). A database error becomes text, so it keeps what callers decide on:
/// an error that says "retry later" stays one, anything else stays a fault.
fn same_error(error: &sqlx::Error) -> sqlx::Error {
    match error {
        sqlx::Error::PoolTimedOut => sqlx::Error::PoolTimedOut,
        sqlx::Error::PoolClosed => sqlx::Error::PoolClosed,
        sqlx::Error::WorkerCrashed => sqlx::Error::WorkerCrashed,
        sqlx::Error::Io(io) => sqlx::Error::Io(std::io::Error::new(io.kind(), io.to_string())),
        other if crate::error::is_unavailable(other) || crate::error::is_timeout(other) => {
            sqlx::Error::Io(std::io::Error::other(other.to_string()))
        }
        other => sqlx::Error::Protocol(other.to_string()),
    }
}
