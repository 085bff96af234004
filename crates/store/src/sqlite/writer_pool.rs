//! Keeping the writer connection able to write, so that a node recovers by itself once the
//! file is writable again, and never acknowledges a write that SQLite did not commit.
//!
//! Two ways a connection can go bad when the file stops taking writes (a full disk, a file or
//! filesystem made read-only), both found by `tests/it/db_unavailable.rs`:
//!
//! 1. **A failed COMMIT leaves sqlx out of step with SQLite.** SQLite has already rolled the
//!    transaction back (SQLITE_FULL, SQLITE_IOERR_WRITE), but sqlx 0.8.6 still counts it as
//!    open, and the ROLLBACK it sends when the transaction is dropped fails ("no transaction is
//!    active"), so the count stays at one. The next `begin` on that connection then issues a
//!    SAVEPOINT instead of BEGIN, and once a `ROLLBACK TO` has left that savepoint's
//!    transaction open, every later "commit" only releases a nested savepoint: the write is
//!    acknowledged and never reaches the file. Sessions created after two failed commits
//!    answered 200 and were gone after a restart.
//! 2. **A connection opened while the file is read-only stays read-only.** SQLite opens a
//!    write-protected file read-only instead of failing, and keeps it so after the file
//!    becomes writable: every write kept failing with SQLITE_READONLY until a restart.
//!
//! So a connection given back to the pool is closed (SQLite rolls back whatever it held; the
//! pool opens a fresh one) when sqlx still counts a transaction on it, and one opened read-only
//! is closed instead of being handed out. The writer pool has exactly one connection, so one
//! flag says which.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use sqlx::sqlite::SqlitePoolOptions;
use sqlx::{Connection, Executor, SqliteConnection};

/// `options` with the checks above, for the single-connection writer pool.
pub(super) fn options(options: SqlitePoolOptions) -> SqlitePoolOptions {
    let opened_read_only = Arc::new(AtomicBool::new(false));
    let on_connect = opened_read_only.clone();
    options
        .after_connect(move |connection, _| {
            let flag = on_connect.clone();
            Box::pin(async move {
                flag.store(is_read_only(connection).await, Ordering::Release);
                Ok(())
            })
        })
        // Checked when the connection is handed out, so that the first write after the file
        // became writable again already gets a fresh connection. While the file stays
        // read-only, each write reopens it (about a millisecond) and fails as it would anyway.
        .before_acquire(move |_, _| {
            let read_only = opened_read_only.load(Ordering::Acquire);
            Box::pin(async move {
                if read_only {
                    tracing::warn!("the SQLite writer connection was opened read-only; reopening it");
                }
                Ok(!read_only)
            })
        })
        .after_release(|connection, _| Box::pin(leaves_no_transaction_open(connection)))
}

/// Whether this connection cannot write: taking the write lock, or else a schema change
/// (rolled back at once), is refused as unavailable (SQLITE_READONLY; in WAL mode `BEGIN
/// IMMEDIATE` alone may succeed on a read-only connection). Busy beyond `busy_timeout` says
/// nothing, so nothing is assumed. Runs only when a connection is opened.
async fn is_read_only(connection: &mut SqliteConnection) -> bool {
    if let Err(error) = connection.execute("BEGIN IMMEDIATE").await {
        return crate::error::is_unavailable(&error);
    }
    let probe = connection
        .execute("CREATE TABLE main.lanyard_write_probe (x INTEGER)")
        .await;
    let _ = connection.execute("ROLLBACK").await;
    probe.is_err_and(|error| crate::error::is_unavailable(&error))
}

/// Whether sqlx counts no transaction left open on `connection`. Cheap when it counts none
/// (the usual case); otherwise the ping first lets the connection's worker run the ROLLBACK
/// that a dropped transaction queued, so that only a count that the rollback could not bring
/// back to zero closes the connection.
async fn leaves_no_transaction_open(connection: &mut SqliteConnection) -> Result<bool, sqlx::Error> {
    if !connection.is_in_transaction() {
        return Ok(true);
    }
    connection.ping().await?;
    let clean = !connection.is_in_transaction();
    if !clean {
        tracing::warn!("the SQLite writer connection was left inside a failed transaction; reopening it");
    }
    Ok(clean)
}
