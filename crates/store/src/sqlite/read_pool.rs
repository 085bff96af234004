//! SQLite's read path: a fixed set of read-only rusqlite connections, each owned by its own
//! thread, taking whole read jobs from one queue.
//!
//! sqlx-sqlite runs each connection on a worker thread too, but hands every row across to the
//! async side one by one (a channel send and a task wake-up per row): a page of 250 sessions
//! cost about 3 ms of CPU, most of it in thread switches. Here a job (a closure that runs
//! every statement of one read, decodes the rows and returns the result) crosses threads
//! twice, whatever its size. Writes stay on sqlx's single writer connection.

use std::path::Path;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;

use crate::{StoreError, StoreResult};

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// Prepared statements each connection keeps: the point reads, and the list and search
/// statements, whose text varies with the filter's shape.
const STATEMENT_CACHE: usize = 128;

pub(super) struct ReadPool {
    jobs: std::sync::Mutex<Option<crossbeam_channel::Sender<Job>>>,
    threads: std::sync::Mutex<Vec<JoinHandle<()>>>,
}

pub(super) struct ReadOptions<'a> {
    pub path: &'a Path,
    pub connections: u32,
    pub cache_kib: i64,
    pub mmap_bytes: i64,
    pub busy_timeout: Duration,
}

impl ReadPool {
    /// Opens `connections` read-only connections (the file must exist: the writer creates it).
    pub(super) fn open(options: &ReadOptions<'_>) -> StoreResult<Self> {
        let (sender, receiver) = crossbeam_channel::unbounded::<Job>();
        let mut threads = Vec::new();
        for n in 0..options.connections.max(1) {
            let (connection, mapped) = open_connection(options)?;
            if n == 0 && mapped < options.mmap_bytes {
                // A build without .cargo/config.toml's SQLITE_MAX_MMAP_SIZE (e.g. another
                // workspace depending on this crate): correct, but larger files read slower.
                tracing::warn!(
                    requested = options.mmap_bytes,
                    mapped,
                    "SQLite maps less of the file than asked (built with a lower SQLITE_MAX_MMAP_SIZE); \
                     reads beyond it use pread"
                );
            }
            let receiver = receiver.clone();
            let thread = std::thread::Builder::new()
                .name(format!("sqlite-read-{n}"))
                .spawn(move || serve(connection, &receiver))
                .map_err(|e| StoreError::Unavailable(format!("cannot start a SQLite reader thread: {e}")))?;
            threads.push(thread);
        }
        Ok(ReadPool {
            jobs: std::sync::Mutex::new(Some(sender)),
            threads: std::sync::Mutex::new(threads),
        })
    }

    /// Runs `read` on a free connection and returns what it returns.
    pub(super) async fn read<T, F>(&self, read: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move |connection| {
            // The asker may have gone (its request was cancelled): nobody to tell.
            let _ = answer.send(read(connection));
        });
        let sent = match self.jobs.lock() {
            Ok(jobs) => jobs.as_ref().map(|jobs| jobs.send(job).is_ok()).unwrap_or(false),
            Err(_) => false,
        };
        if !sent {
            return Err(closed());
        }
        answered.await.map_err(|_| closed())?
    }

    /// Lets the threads finish the queued reads, then closes every connection.
    pub(super) fn close(&self) {
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
        let threads = match self.threads.lock() {
            Ok(mut threads) => std::mem::take(&mut *threads),
            Err(_) => return,
        };
        for thread in threads {
            let _ = thread.join();
        }
    }
}

fn closed() -> StoreError {
    StoreError::Unavailable("the SQLite read pool is closed".into())
}

fn serve(mut connection: Connection, jobs: &crossbeam_channel::Receiver<Job>) {
    while let Ok(job) = jobs.recv() {
        job(&mut connection);
    }
}

/// A read-only connection, and how many bytes of the file it may map (`mmap_size` in effect).
fn open_connection(options: &ReadOptions<'_>) -> StoreResult<(Connection, i64)> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let connection = Connection::open_with_flags(options.path, flags)?;
    connection.busy_timeout(options.busy_timeout)?;
    connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    connection.pragma_update(None, "cache_size", options.cache_kib)?;
    // Setting it answers the size in effect (capped by the build), so `_and_check`.
    let mapped =
        connection.pragma_update_and_check(None, "mmap_size", options.mmap_bytes, |row| row.get::<_, i64>(0))?;
    connection.pragma_update(None, "temp_store", "memory")?;
    Ok((connection, mapped))
}

#[cfg(test)]
mod tests {
    use crate::sqlite::{SqliteOptions, SqliteStore, READER_MMAP_BYTES};

    async fn readers_mmap_size(memory_map: bool) -> i64 {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut options = SqliteOptions::new(dir.path().join("db.sqlite"));
        options.memory_map = memory_map;
        let store = SqliteStore::open_and_migrate(&options).await.expect("open and migrate");
        let mapped = store
            .reader
            .read(|connection| Ok(connection.query_row("PRAGMA mmap_size", [], |row| row.get::<_, i64>(0))?))
            .await
            .expect("read the reader's mmap_size");
        store.close().await;
        mapped
    }

    /// A build without `.cargo/config.toml`'s `SQLITE_MAX_MMAP_SIZE` would silently cap the
    /// mapping at 2 GiB, and a 10M-session file would be read with `pread` again.
    #[tokio::test]
    async fn readers_map_the_whole_file_beyond_two_gibibytes() {
        let mapped = readers_mmap_size(true).await;
        assert_eq!(mapped, READER_MMAP_BYTES);
        assert!(mapped > 1 << 31);
    }

    #[tokio::test]
    async fn readers_read_with_system_calls_when_mapping_is_off() {
        assert_eq!(readers_mmap_size(false).await, 0);
    }
}
