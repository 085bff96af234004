//! The embedded default: one SQLite file in WAL mode.
//!
//! Writes go through a pool of exactly one connection, so writers queue in Lanyard instead of
//! contending for SQLite's lock (no SQLITE_BUSY under load); reads use a separate pool of
//! read-only connections on threads of their own ([`read_pool`]) and never wait for writers,
//! which WAL allows.

mod identities;
mod keys;
mod read_pool;
mod reads;
mod session_writer;
mod sessions;
mod writer_pool;

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

#[derive(Debug, Clone)]
pub struct SqliteOptions {
    pub path: PathBuf,
    /// `FULL` survives power loss; `NORMAL` (default) survives process crashes.
    pub synchronous_full: bool,
    pub read_connections: u32,
    pub busy_timeout: Duration,
}

impl SqliteOptions {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SqliteOptions {
            path: path.into(),
            synchronous_full: false,
            read_connections: 4,
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

crate::check_attempts::impl_check_attempts!(SqliteStore, crate::sql::Dialect::Sqlite, writer);
crate::changes::impl_changes!(SqliteStore, crate::sql::Dialect::Sqlite, sqlx::Sqlite, writer);

#[async_trait::async_trait]
impl crate::Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.ping_reader().await
    }

    async fn insert_identity(&self, identity: &lanyard_domain::Identity) -> StoreResult<()> {
        self.insert_identity_impl(identity).await
    }
    async fn update_identity(&self, identity: &lanyard_domain::Identity) -> StoreResult<bool> {
        self.update_identity_impl(identity).await
    }
    async fn identity(&self, id: uuid::Uuid) -> StoreResult<Option<lanyard_domain::Identity>> {
        self.read_identity(id).await
    }
    async fn identities_by_ids(&self, ids: &[uuid::Uuid]) -> StoreResult<Vec<lanyard_domain::Identity>> {
        self.read_identities_by_ids(ids).await
    }
    async fn identity_by_identifier(&self, identifier: &str) -> StoreResult<Option<lanyard_domain::Identity>> {
        self.read_identity_by_identifier(identifier).await
    }
    async fn identity_by_external_id(&self, external_id: &str) -> StoreResult<Option<lanyard_domain::Identity>> {
        self.read_identity_by_external_id(external_id).await
    }
    async fn list_identities(
        &self,
        filter: &crate::IdentityFilter,
        after: Option<uuid::Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<lanyard_domain::Identity>> {
        self.read_identities(filter, after, limit).await
    }
    async fn delete_identity(&self, id: uuid::Uuid) -> StoreResult<bool> {
        self.delete_identity_impl(id).await
    }

    async fn insert_session(
        &self,
        session: &lanyard_domain::Session,
        digest: &lanyard_domain::TokenDigest,
    ) -> StoreResult<i64> {
        self.insert_session_impl(session, digest).await
    }
    async fn session_by_digest(&self, digest: &lanyard_domain::TokenDigest) -> StoreResult<Option<crate::SessionRow>> {
        self.read_session_by_digest(digest).await
    }
    async fn session_and_identity_by_digest(
        &self,
        digest: &lanyard_domain::TokenDigest,
    ) -> StoreResult<Option<(crate::SessionRow, Option<lanyard_domain::Identity>)>> {
        self.read_session_view(digest).await
    }
    async fn session(&self, id: uuid::Uuid) -> StoreResult<Option<crate::SessionRow>> {
        self.read_session(id).await
    }
    async fn list_sessions(
        &self,
        query: &lanyard_domain::SessionQuery,
        now: lanyard_domain::Micros,
    ) -> StoreResult<Vec<crate::SessionRow>> {
        self.read_sessions(query, now).await
    }
    async fn count_sessions(
        &self,
        filter: &lanyard_domain::SessionFilter,
        now: lanyard_domain::Micros,
    ) -> StoreResult<u64> {
        self.read_session_count(filter, now).await
    }
    async fn update_session(
        &self,
        session: &lanyard_domain::Session,
        expected_sequence: i64,
        new_digest: Option<&lanyard_domain::TokenDigest>,
    ) -> StoreResult<Option<i64>> {
        self.update_session_impl(session, expected_sequence, new_digest).await
    }
    async fn revoke_sessions(
        &self,
        target: crate::RevokeTarget,
        now: lanyard_domain::Micros,
    ) -> StoreResult<Vec<uuid::Uuid>> {
        self.revoke_sessions_impl(target, now).await
    }
    async fn delete_sessions_of_identity(&self, identity_id: uuid::Uuid) -> StoreResult<Vec<uuid::Uuid>> {
        self.delete_sessions_of_identity_impl(identity_id).await
    }
    async fn delete_expired_sessions(
        &self,
        expired_before: lanyard_domain::Micros,
        revoked_before: lanyard_domain::Micros,
        limit: u32,
    ) -> StoreResult<u64> {
        self.delete_expired_sessions_impl(expired_before, revoked_before, limit)
            .await
    }

    async fn search_sessions(
        &self,
        query: &lanyard_domain::SessionQuery,
        now: lanyard_domain::Micros,
    ) -> StoreResult<crate::SearchPage> {
        self.read_search(query, now).await
    }

    async fn current_sequence(&self) -> StoreResult<i64> {
        self.read_current_sequence().await
    }

    async fn changes_since(&self, after: i64, limit: u32) -> StoreResult<Vec<crate::Change>> {
        self.read_changes(after, limit).await
    }

    async fn prune_changes(&self, older_than: time::Duration) -> StoreResult<u64> {
        self.prune_changes_impl(older_than).await
    }

    async fn setting_or_insert(&self, name: &str, value: &str) -> StoreResult<String> {
        sqlx::query("INSERT INTO lanyard_settings (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(value)
            .execute(&self.writer)
            .await?;
        let stored: String = sqlx::query_scalar("SELECT value FROM lanyard_settings WHERE name = ?1")
            .bind(name)
            .fetch_one(&self.writer)
            .await?;
        Ok(stored)
    }

    async fn try_acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: time::Duration,
        now: lanyard_domain::Micros,
    ) -> StoreResult<bool> {
        let expires = now
            .0
            .saturating_add(i64::try_from(ttl.whole_microseconds()).unwrap_or(i64::MAX));
        let row: Option<String> = sqlx::query_scalar(
            "INSERT INTO lanyard_leases (name, holder, expires_us) VALUES (?1, ?2, ?3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_us = excluded.expires_us \
             WHERE lanyard_leases.holder = excluded.holder OR lanyard_leases.expires_us <= ?4 \
             RETURNING holder",
        )
        .bind(name)
        .bind(holder)
        .bind(expires)
        .bind(now.0)
        .fetch_optional(&self.writer)
        .await?;
        Ok(row.is_some())
    }

    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM lanyard_leases WHERE name = ?1 AND holder = ?2")
            .bind(name)
            .bind(holder)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn reserve_check_attempt(
        &self,
        identity_id: uuid::Uuid,
        password: bool,
        limits: crate::AttemptLimits,
        now: lanyard_domain::Micros,
    ) -> StoreResult<crate::AttemptReservation> {
        self.reserve_check_attempt_impl(identity_id, password, limits, now)
            .await
    }
    async fn settle_check_attempt(
        &self,
        identity_id: uuid::Uuid,
        window_start: lanyard_domain::Micros,
        outcome: crate::AttemptOutcome,
    ) -> StoreResult<()> {
        self.settle_check_attempt_impl(identity_id, window_start, outcome).await
    }
    async fn unlock_password_checks(&self, identity_id: uuid::Uuid) -> StoreResult<bool> {
        self.unlock_password_checks_impl(identity_id).await
    }

    async fn insert_api_key(&self, key: &lanyard_domain::ApiKey) -> StoreResult<()> {
        self.insert_api_key_impl(key).await
    }
    async fn api_key_by_digest(
        &self,
        digest: &lanyard_domain::TokenDigest,
    ) -> StoreResult<Option<lanyard_domain::ApiKey>> {
        self.read_api_key(digest).await
    }
    async fn list_api_keys(&self) -> StoreResult<Vec<lanyard_domain::ApiKey>> {
        self.read_api_keys().await
    }
    async fn revoke_api_key(&self, id: uuid::Uuid, now: lanyard_domain::Micros) -> StoreResult<bool> {
        self.revoke_api_key_impl(id, now).await
    }
}
