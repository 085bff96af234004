//! PostgreSQL, for deployments with several stateless nodes sharing one database.
//!
//! One pool serves reads and writes; PostgreSQL's row locks order the writers. The SQL stays
//! within what CockroachDB and YugabyteDB accept (see docs/STORAGE.md): no advisory locks, no
//! sequences, no LISTEN in the store methods. Nodes coordinate through lease rows
//! ([`Store::try_acquire_lease`]); migrations run under the `migrations` lease, so
//! two nodes starting at once do not race.

mod notify;
mod reads;
mod session_writer;
mod store_impl;
mod write;

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lanyard_domain::Micros;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use uuid::Uuid;

use crate::sql::{leases, Dialect};
use crate::{Store, StoreError, StoreResult};

/// The lease that serialises migrations across nodes.
pub const MIGRATION_LEASE: &str = "migrations";

/// How long a migration lease lasts without renewal; the migrating node renews it every third
/// of this while it works, so a node that dies mid-migration blocks the others for at most this.
const MIGRATION_LEASE_TTL: Duration = Duration::from_secs(30);

/// Creates the lease table before anything else, so that the migration lease can be taken on
/// an empty database. Kept identical to the definition in `0001_initial.sql`.
const CREATE_LEASES: &str = "CREATE TABLE IF NOT EXISTS lanyard_leases (\
     name TEXT NOT NULL, holder TEXT NOT NULL, expires_us BIGINT NOT NULL, \
     CONSTRAINT lanyard_leases_pkey PRIMARY KEY (name))";

fn migrator() -> Migrator {
    let mut migrator = sqlx::migrate!("./migrations/postgres");
    // sqlx would take a session advisory lock, which CockroachDB only stubs; the lease row
    // replaces it.
    migrator.set_locking(false);
    migrator
}

#[derive(Clone)]
pub struct PostgresOptions {
    /// `postgres://user:password@host:port/database?sslmode=...`; every parameter sqlx reads
    /// from a URL is honoured.
    pub url: String,
    /// Upper bound of the pool (default 16). Each node holds at most this many connections.
    pub max_connections: u32,
    /// Connections kept open even when idle (default 0).
    pub min_connections: u32,
    /// How long a query waits for a free connection, including connecting (default 5 s).
    /// When it passes, the store reports itself unavailable.
    pub acquire_timeout: Duration,
    /// Server-side `statement_timeout` for every connection; `None` keeps the server's setting.
    pub statement_timeout: Option<Duration>,
    /// Idle connections above `min_connections` are closed after this (default 10 min).
    pub idle_timeout: Option<Duration>,
    /// A schema (lower-case letters, digits, `_`) to keep every table in, instead of the
    /// server's default `search_path`. Migrations create it when missing.
    pub schema: Option<String>,
    /// How long [`PostgresStore::migrate`] waits for another node's migration lease (default 60 s).
    pub migration_lease_wait: Duration,
}

impl PostgresOptions {
    pub fn new(url: impl Into<String>) -> Self {
        PostgresOptions {
            url: url.into(),
            max_connections: 16,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: None,
            idle_timeout: Some(Duration::from_secs(600)),
            schema: None,
            migration_lease_wait: Duration::from_secs(60),
        }
    }
}

impl fmt::Debug for PostgresOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresOptions")
            .field("url", &redact_url(&self.url))
            .field("max_connections", &self.max_connections)
            .field("min_connections", &self.min_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("schema", &self.schema)
            .field("migration_lease_wait", &self.migration_lease_wait)
            .finish()
    }
}

/// The URL with its password replaced by `***`, for logs and errors.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
        None => url.to_owned(),
    }
}

/// Whether `schema` is a plain lower-case identifier, which needs no quoting anywhere
/// (neither in SQL nor in the `search_path` startup option).
pub fn is_valid_schema_name(schema: &str) -> bool {
    let mut chars = schema.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && schema.len() <= 63
}

fn configuration_error(message: String) -> StoreError {
    StoreError::Database(sqlx::Error::Configuration(message.into()))
}

#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    schema: Option<String>,
    migration_lease_wait: Duration,
    /// Group commit for new sessions (see [`session_writer`]); borrows from `pool`.
    session_writer: crate::session_batch::SessionWriter,
}

impl PostgresStore {
    /// Connects (failing when the server cannot be reached within `acquire_timeout`).
    /// Does not migrate.
    pub async fn connect(options: &PostgresOptions) -> StoreResult<Self> {
        let mut connect = PgConnectOptions::from_str(&options.url)?;
        if connect.get_application_name().is_none() {
            connect = connect.application_name("lanyard");
        }
        if let Some(schema) = &options.schema {
            if !is_valid_schema_name(schema) {
                return Err(configuration_error(format!(
                    "invalid PostgreSQL schema name {schema:?}: use lower-case letters, digits and _, \
                     starting with a letter or _"
                )));
            }
            connect = connect.options([("search_path", schema.as_str())]);
        }
        if let Some(timeout) = options.statement_timeout {
            connect = connect.options([("statement_timeout", format!("{}ms", timeout.as_millis().max(1)))]);
        }
        // No JIT compilation unless the URL asks for it. PostgreSQL compiles any statement whose
        // estimated cost passes `jit_above_cost`, and the counter reads' estimates are far off
        // (one column `a` holds days, hours and minutes: a range of days was estimated at
        // 51,443 rows and read 2): compiling took 4-20 ms of a 0.1 ms count at 10M sessions.
        // Every statement here is a short index read or write; none gains from JIT.
        if !connect.get_options().is_some_and(|o| o.contains("jit")) {
            connect = connect.options([("jit", "off")]);
        }
        if options.max_connections == 0 || options.min_connections > options.max_connections {
            return Err(configuration_error(format!(
                "the pool needs 1 ≤ max_connections and min_connections ≤ max_connections (got {} and {})",
                options.max_connections, options.min_connections
            )));
        }
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .min_connections(options.min_connections)
            .acquire_timeout(options.acquire_timeout)
            .idle_timeout(options.idle_timeout)
            .connect_with(connect)
            .await?;
        let session_writer = session_writer::spawn(pool.clone());
        Ok(PostgresStore {
            pool,
            schema: options.schema.clone(),
            migration_lease_wait: options.migration_lease_wait,
            session_writer,
        })
    }

    /// Connects and applies pending migrations.
    pub async fn open_and_migrate(options: &PostgresOptions) -> StoreResult<Self> {
        let store = Self::connect(options).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// The pool, for tools and benchmarks that need raw access.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The configured schema, if any.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// Applies pending migrations under the [`MIGRATION_LEASE`]: creates the schema and the
    /// lease table if needed, waits (with backoff, up to `migration_lease_wait`) while another
    /// node holds the lease, renews it while migrating and releases it afterwards.
    ///
    /// A database that already has every migration this build knows (same checksums) is left
    /// alone without taking the lease, even when a newer build has applied more: during a
    /// rolling upgrade the older nodes keep starting.
    pub async fn migrate(&self) -> StoreResult<()> {
        let migrator = migrator();
        if self.is_up_to_date(&migrator).await? {
            return Ok(());
        }
        self.bootstrap().await?;
        let holder = format!("migrate pid {} {}", std::process::id(), Uuid::new_v4().simple());
        self.wait_for_lease(MIGRATION_LEASE, &holder, MIGRATION_LEASE_TTL, self.migration_lease_wait)
            .await?;

        let renewer = {
            let store = self.clone();
            let holder = holder.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(MIGRATION_LEASE_TTL / 3).await;
                    let ttl = time::Duration::try_from(MIGRATION_LEASE_TTL).unwrap_or(time::Duration::MAX);
                    match store
                        .try_acquire_lease(MIGRATION_LEASE, &holder, ttl, system_now())
                        .await
                    {
                        Ok(true) => {}
                        Ok(false) => tracing::warn!("the migration lease was taken over while migrating"),
                        Err(error) => tracing::warn!(%error, "cannot renew the migration lease"),
                    }
                }
            })
        };
        // The node that held the lease before may have done the work already.
        let result = match self.is_up_to_date(&migrator).await {
            Ok(true) => Ok(()),
            _ => migrator.run(&self.pool).await.map_err(StoreError::from),
        };
        renewer.abort();
        let released = self.release_lease(MIGRATION_LEASE, &holder).await;
        result?;
        released?;
        Ok(())
    }

    /// Whether every migration of this build is applied, with the same checksum.
    async fn is_up_to_date(&self, migrator: &Migrator) -> StoreResult<bool> {
        if !self.has_table("_sqlx_migrations").await? {
            return Ok(false);
        }
        let applied: Vec<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT version, checksum FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
                .await?;
        Ok(migrator
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .all(|m| applied.iter().any(|(v, c)| *v == m.version && c[..] == m.checksum[..])))
    }

    /// Whether the schema the connections use has this table.
    async fn has_table(&self, table: &str) -> StoreResult<bool> {
        let found: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1",
        )
        .bind(table)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    /// Migrations recorded as applied: version and description, in order.
    pub async fn applied_migrations(&self) -> StoreResult<Vec<(i64, String)>> {
        if !self.has_table("_sqlx_migrations").await? {
            return Ok(Vec::new());
        }
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT version, description FROM _sqlx_migrations WHERE success ORDER BY version")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows)
    }

    /// Creates the schema (when one is configured) and the lease table. Two nodes doing this
    /// at once can collide in the catalog even with IF NOT EXISTS; the loser retries.
    async fn bootstrap(&self) -> StoreResult<()> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = async {
                // Checked first only to keep "already exists" notices out of the logs.
                if let Some(schema) = &self.schema {
                    let exists: Option<i32> =
                        sqlx::query_scalar("SELECT 1 FROM information_schema.schemata WHERE schema_name = $1")
                            .bind(schema)
                            .fetch_optional(&self.pool)
                            .await?;
                    if exists.is_none() {
                        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                            .execute(&self.pool)
                            .await?;
                    }
                }
                let leases: Option<i32> = sqlx::query_scalar(
                    "SELECT 1 FROM information_schema.tables \
                     WHERE table_schema = current_schema() AND table_name = 'lanyard_leases'",
                )
                .fetch_optional(&self.pool)
                .await?;
                if leases.is_none() {
                    sqlx::query(CREATE_LEASES).execute(&self.pool).await?;
                }
                Ok::<(), sqlx::Error>(())
            }
            .await;
            match result {
                Ok(()) => return Ok(()),
                Err(error) if attempt < 5 && is_catalog_race(&error) => {
                    tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
                }
                Err(error) => return Err(StoreError::Database(error)),
            }
        }
    }

    /// Takes the lease `name` for `holder`, retrying with backoff while someone else holds it.
    async fn wait_for_lease(&self, name: &str, holder: &str, ttl: Duration, wait: Duration) -> StoreResult<()> {
        let started = tokio::time::Instant::now();
        let ttl = time::Duration::try_from(ttl).unwrap_or(time::Duration::MAX);
        let mut backoff = Duration::from_millis(50);
        loop {
            if self.try_acquire_lease(name, holder, ttl, system_now()).await? {
                return Ok(());
            }
            let waited = started.elapsed();
            if waited >= wait {
                let current: Option<(String, i64)> = sqlx::query_as(leases::holder(Dialect::Postgres))
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?;
                return Err(StoreError::LeaseBusy {
                    name: name.to_owned(),
                    holder: current.map(|(holder, _)| holder).unwrap_or_default(),
                    waited,
                });
            }
            tracing::info!(lease = name, "another node holds the lease; waiting");
            tokio::time::sleep(backoff.min(wait.saturating_sub(waited))).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// `CREATE ... IF NOT EXISTS` racing another session: a unique violation in the catalog, or
/// the object appearing between the check and the create.
fn is_catalog_race(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|db| db.code())
        .is_some_and(|code| matches!(&*code, "23505" | "42P06" | "42P07" | "42710" | "40001"))
}

fn system_now() -> Micros {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    Micros(i64::try_from(micros).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:secret@db:5432/x?sslmode=require"),
            "postgres://u:***@db:5432/x?sslmode=require"
        );
        assert_eq!(redact_url("postgres://u@db/x"), "postgres://u@db/x");
        assert_eq!(redact_url("postgres://db/x"), "postgres://db/x");
        assert_eq!(redact_url("postgres://u:p%40ss@db"), "postgres://u:***@db");
        assert!(!format!("{:?}", PostgresOptions::new("postgres://u:hunter2@db/x")).contains("hunter2"));
    }

    #[test]
    fn schema_names_are_plain_identifiers() {
        for good in ["lanyard", "_x", "lanyard_test_0123abcd"] {
            assert!(is_valid_schema_name(good), "{good}");
        }
        for bad in ["", "Lanyard", "1x", "a-b", "a b", "a;drop", "\"x\"", &"x".repeat(64)] {
            assert!(!is_valid_schema_name(bad), "{bad}");
        }
    }
}
