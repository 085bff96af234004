//! The embedded default: one SQLite file in WAL mode.
//!
//! Writes go through a pool of exactly one connection, so writers queue in Lanyard instead of
//! contending for SQLite's lock (no SQLITE_BUSY under load); reads use a separate pool of
//! read-only connections on threads of their own (`read_pool`) and never wait for writers,
//! which WAL allows.

mod read_pool;
mod reads;
mod session_writer;
mod store_impl;
mod write;
mod writer_pool;

#[cfg(test)]
mod migration_tests;

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use crate::StoreResult;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Page cache per connection, in KiB (SQLite's negative `cache_size`). Readers keep little:
/// there are several, the kernel's page cache already holds the file, and every commit
/// invalidates their caches anyway. The writer keeps the index pages that inserts touch.
const READER_CACHE_KIB: i64 = -4000;
const WRITER_CACHE_KIB: &str = "-16000";

/// How much of the file each reader maps into memory (SQLite's `mmap_size`): all of it, in
/// practice. A read of a page that the reader's own cache does not hold (at 10M sessions most
/// of the index pages a search touches, and every page after another connection commits,
/// which empties that cache) is then a memory access instead of a `pread` and a copy.
/// SQLite caps this at its compile-time `SQLITE_MAX_MMAP_SIZE`, which `.cargo/config.toml`
/// raises from the amalgamation's 2 GiB; a build without it maps the first 2 GiB and reads
/// the rest as before.
pub(crate) const READER_MMAP_BYTES: i64 = 1 << 40;

#[derive(Debug, Clone)]
pub struct SqliteOptions {
    pub path: PathBuf,
    /// `FULL` survives power loss; `NORMAL` (default) survives process crashes.
    pub synchronous_full: bool,
    pub read_connections: u32,
    /// Readers map the file into memory (`mmap_size`: docs/STORAGE.md, "Reading SQLite through
    /// a memory map").
    pub memory_map: bool,
    pub busy_timeout: Duration,
}

impl SqliteOptions {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SqliteOptions {
            path: path.into(),
            synchronous_full: false,
            read_connections: 4,
            memory_map: true,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Clone)]
pub struct SqliteStore {
    reader: std::sync::Arc<read_pool::ReadPool>,
    writer: SqlitePool,
    /// Group commit for new sessions (see [`session_writer`]); shares `writer`.
    session_writer: crate::session_batch::SessionWriter,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file. Does not migrate.
    pub async fn open(options: &SqliteOptions) -> StoreResult<Self> {
        let connect = SqliteConnectOptions::from_str("sqlite://")?
            .filename(&options.path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(if options.synchronous_full {
                SqliteSynchronous::Full
            } else {
                SqliteSynchronous::Normal
            })
            .foreign_keys(true)
            .busy_timeout(options.busy_timeout)
            .pragma("temp_store", "memory");
        // No ping before handing out a connection: a file cannot go away like a server, and
        // each ping is a round trip to the connection's thread (4–7 % of CPU under load).
        let writer = writer_pool::options(
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .acquire_timeout(Duration::from_secs(30))
                .test_before_acquire(false),
        )
        .connect_with(connect.clone().pragma("cache_size", WRITER_CACHE_KIB))
        .await?;
        // After the writer, which creates the file and switches it to WAL.
        let reader = std::sync::Arc::new(read_pool::ReadPool::open(&read_pool::ReadOptions {
            path: &options.path,
            connections: options.read_connections,
            cache_kib: READER_CACHE_KIB,
            mmap_bytes: if options.memory_map { READER_MMAP_BYTES } else { 0 },
            busy_timeout: options.busy_timeout,
        })?);
        let session_writer = session_writer::spawn(writer.clone());
        Ok(SqliteStore {
            reader,
            writer,
            session_writer,
        })
    }

    /// Opens and applies pending migrations.
    pub async fn open_and_migrate(options: &SqliteOptions) -> StoreResult<Self> {
        let store = Self::open(options).await?;
        store.migrate().await?;
        Ok(store)
    }

    pub async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR.run(&self.writer).await?;
        self.refresh_planner_statistics().await
    }

    /// Migrations recorded as applied: version and description, in order (as
    /// `PostgresStore::applied_migrations`).
    pub async fn applied_migrations(&self) -> StoreResult<Vec<(i64, String)>> {
        let table: Option<String> =
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'")
                .fetch_optional(&self.writer)
                .await?;
        if table.is_none() {
            return Ok(Vec::new());
        }
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT version, description FROM _sqlx_migrations WHERE success = 1 ORDER BY version")
                .fetch_all(&self.writer)
                .await?;
        Ok(rows)
    }

    /// Keeps `sqlite_stat1` current, so list queries stay on their indexes, and drops the
    /// `sqlite_stat4` value samples that `ANALYZE` also writes (libsqlite3-sys enables STAT4):
    /// with samples, SQLite re-prepares a statement whenever a value bound against an indexed
    /// column changes, which was 11–15 % of the CPU of every lookup by token digest or id.
    async fn refresh_planner_statistics(&self) -> StoreResult<()> {
        let mut connection = self.writer.acquire().await?;
        sqlx::query("PRAGMA analysis_limit = 1000")
            .execute(&mut *connection)
            .await?;
        sqlx::query("PRAGMA optimize = 0x10002")
            .execute(&mut *connection)
            .await?;
        let has_stat4: Option<String> =
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat4'")
                .fetch_optional(&mut *connection)
                .await?;
        if has_stat4.is_some() {
            sqlx::query("DELETE FROM sqlite_stat4")
                .execute(&mut *connection)
                .await?;
            // Reloads the statistics (now without samples) into this connection's planner.
            sqlx::query("ANALYZE sqlite_schema").execute(&mut *connection).await?;
        }
        Ok(())
    }

    /// `PRAGMA integrity_check`, for crash tests and operators.
    pub async fn integrity_check(&self) -> StoreResult<String> {
        let result: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&self.writer)
            .await?;
        Ok(result)
    }

    pub async fn close(&self) {
        self.writer.close().await;
        let reader = self.reader.clone();
        // Joins the reader threads, each finishing the read it runs.
        let _ = tokio::task::spawn_blocking(move || reader.close()).await;
    }
}
