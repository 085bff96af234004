//! The database `database.url` names: opened (a SQLite file, created if needed, or a
//! PostgreSQL pool) and migrated, with a report of what ran. The HTTP wiring is in `app`.

use std::sync::Arc;

use anyhow::{anyhow, Context};
use lanyard_domain::PageTokenKeys;
use lanyard_service::random_secret;
use lanyard_store::{PostgresOptions, PostgresStore, SqliteOptions, SqliteStore, Store};

use crate::config::{Config, DatabaseUrl, SqliteSynchronous};

/// The store setting that keeps the generated page-token secret when `secrets` is empty.
pub const PAGE_TOKEN_SECRET_SETTING: &str = "page_token_secret";

/// The database `database.url` names, opened: what the service uses through [`Store`], and
/// what differs between the backends (migrations, closing).
#[derive(Clone)]
pub enum AppStore {
    Sqlite(Arc<SqliteStore>),
    Postgres(Arc<PostgresStore>),
}

impl AppStore {
    /// The store, for the service.
    pub fn shared(&self) -> Arc<dyn Store> {
        match self {
            AppStore::Sqlite(store) => store.clone(),
            AppStore::Postgres(store) => store.clone(),
        }
    }

    /// Closes the connection pools, waiting for running queries.
    pub async fn close(&self) {
        match self {
            AppStore::Sqlite(store) => store.close().await,
            AppStore::Postgres(store) => store.close().await,
        }
    }
}

impl std::ops::Deref for AppStore {
    type Target = dyn Store;

    fn deref(&self) -> &Self::Target {
        match self {
            AppStore::Sqlite(store) => store.as_ref(),
            AppStore::Postgres(store) => store.as_ref(),
        }
    }
}

/// Opens the database `database.url` names: a SQLite file (created if needed) or a PostgreSQL
/// pool sized by `database.max_connections`. Does not migrate; see [`migrate`].
pub async fn open_store(config: &Config) -> anyhow::Result<AppStore> {
    let path = match &config.database.url {
        DatabaseUrl::Sqlite(path) => path,
        DatabaseUrl::Postgres(url) => {
            let database = &config.database;
            let mut options = PostgresOptions::new(url.clone());
            options.max_connections = database.max_connections;
            options.min_connections = database.min_connections;
            options.acquire_timeout = database.acquire_timeout.0;
            options.statement_timeout = database.statement_timeout.map(|t| t.0);
            let store = PostgresStore::connect(&options)
                .await
                .with_context(|| format!("cannot connect to the PostgreSQL database {}", database.url))?;
            return Ok(AppStore::Postgres(Arc::new(store)));
        }
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create the directory {} for the database", parent.display()))?;
    }
    let mut options = SqliteOptions::new(path);
    options.synchronous_full = config.database.sqlite_synchronous == SqliteSynchronous::Full;
    options.read_connections = config.database.read_connections;
    options.memory_map = config.database.sqlite_mmap;
    let store = SqliteStore::open(&options)
        .await
        .with_context(|| format!("cannot open the SQLite database {}", path.display()))?;
    Ok(AppStore::Sqlite(Arc::new(store)))
}

/// A migration applied to the database: version and description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedMigration {
    pub version: i64,
    pub description: String,
}

/// What [`migrate`] did.
#[derive(Debug, Clone, Default)]
pub struct MigrationReport {
    /// Applied by this run.
    pub applied: Vec<AppliedMigration>,
    /// Every migration the database has now.
    pub current: Vec<AppliedMigration>,
}

/// Applies pending migrations and reports which ones ran. On PostgreSQL they run under the
/// migration lease, so nodes starting together take turns.
pub async fn migrate(config: &Config, store: &AppStore) -> anyhow::Result<MigrationReport> {
    let url = &config.database.url;
    let applied = || async {
        let rows = match store {
            AppStore::Sqlite(store) => store.applied_migrations().await,
            AppStore::Postgres(store) => store.applied_migrations().await,
        }
        .with_context(|| format!("reading the migration table of {url}"))?;
        Ok::<_, anyhow::Error>(
            rows.into_iter()
                .map(|(version, description)| AppliedMigration { version, description })
                .collect::<Vec<_>>(),
        )
    };
    let before = applied().await?;
    match store {
        AppStore::Sqlite(store) => store.migrate().await,
        AppStore::Postgres(store) => store.migrate().await,
    }
    .with_context(|| format!("migrating the database {url}"))?;
    let current = applied().await?;
    let applied = current.iter().filter(|m| !before.contains(m)).cloned().collect();
    Ok(MigrationReport { applied, current })
}

/// The page-token MAC keys: the configured `secrets`, else one generated secret stored in the
/// database so that every node sharing it agrees.
pub async fn page_token_keys(config: &Config, store: &dyn Store) -> anyhow::Result<PageTokenKeys> {
    let secrets = if config.secrets.is_empty() {
        let stored = store
            .setting_or_insert(PAGE_TOKEN_SECRET_SETTING, &random_secret())
            .await
            .context("reading the generated page-token secret from the database")?;
        vec![stored]
    } else {
        config.secrets.0.clone()
    };
    PageTokenKeys::new(secrets.into_iter().map(String::into_bytes).collect())
        .ok_or_else(|| anyhow!("the page-token secrets must not be empty"))
}
