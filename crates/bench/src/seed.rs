//! Seeds a database with identities and sessions, fast: the schema comes from Lanyard's own
//! migrations (through `lanyard_store`), the rows go in as multi-row INSERTs in large
//! transactions on one connection (SQLite with `synchronous=OFF` while seeding).
//!
//! A marker row in `lanyard_settings` (`bench_seed`) records what was seeded and when, so
//! `run` reuses a database that matches and reseeds one that does not.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use lanyard_domain::{ApiKey, Credential, CredentialType, Factor, Method, Micros, Scope, TokenDigest};
use lanyard_store::{PostgresOptions, PostgresStore, SqliteOptions, SqliteStore, Store};
use serde::{Deserialize, Serialize};
use sqlx::{Connection, QueryBuilder};
use uuid::Uuid;

use crate::model::{self, DAY_US, SECOND_US};

/// The settings row that marks a seeded database.
pub const MARKER: &str = "bench_seed";
/// Bumped whenever the seeded data changes shape (2: fingerprints, five creator keys and
/// identities as creators, varied lifetimes; 3: every 50th identity deactivated; 4: sessions
/// written in creation order).
const MARKER_VERSION: u32 = 4;
/// A seed older than this is redone: its "active" sessions would start to expire.
const MAX_SEED_AGE_US: i64 = model::SEED_VALIDITY_US;

/// Where the data lives.
#[derive(Debug, Clone)]
pub enum Target {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Target {
    /// `sqlite:///abs.db`, `sqlite://rel.db`, a plain path, or `postgres://…`.
    pub fn parse(value: &str) -> anyhow::Result<Target> {
        if value.starts_with("postgres://") || value.starts_with("postgresql://") {
            return Ok(Target::Postgres(value.to_owned()));
        }
        let path = value
            .strip_prefix("sqlite://")
            .or_else(|| value.strip_prefix("sqlite:"))
            .unwrap_or(value);
        if path.is_empty() {
            bail!("no database path in {value:?}");
        }
        let path = PathBuf::from(path);
        let path = if path.is_absolute() {
            path
        } else {
            std::env::current_dir()?.join(path)
        };
        Ok(Target::Sqlite(path))
    }

    /// The URL for Lanyard's `database.url`.
    pub fn url(&self) -> String {
        match self {
            Target::Sqlite(path) => format!("sqlite://{}", path.display()),
            Target::Postgres(url) => url.clone(),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Target::Sqlite(_) => "SQLite",
            Target::Postgres(_) => "PostgreSQL",
        }
    }

    /// The same store Lanyard opens, with the server's default pool size (SQLite: 8 readers;
    /// PostgreSQL: 16 connections).
    pub async fn open_store(&self) -> anyhow::Result<Box<dyn Store>> {
        Ok(match self {
            Target::Sqlite(path) => Box::new(SqliteStore::open(&SqliteOptions::new(path)).await?),
            Target::Postgres(url) => Box::new(PostgresStore::connect(&PostgresOptions::new(url.clone())).await?),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedSpec {
    pub sessions: u64,
    pub identities: u64,
    pub password_identities: u64,
}

/// What the marker row says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seeded {
    pub version: u32,
    pub spec: SeedSpec,
    /// The seed time: creation dates lie in the 90 days before it.
    pub now_us: i64,
}

pub fn now_us() -> i64 {
    Micros::from_datetime(time::OffsetDateTime::now_utc()).0
}

/// Reuses a matching seed, or seeds anew.
pub async fn ensure(target: &Target, spec: SeedSpec, force: bool) -> anyhow::Result<Seeded> {
    if !force {
        if let Some(seeded) = read_marker(target).await? {
            let fresh = now_us() - seeded.now_us < MAX_SEED_AGE_US;
            if seeded.spec == spec && seeded.version == MARKER_VERSION && fresh {
                eprintln!(
                    "lanyard-bench: reusing the seeded {} database {} ({} sessions, {} identities)",
                    target.kind(),
                    target.url(),
                    spec.sessions,
                    spec.identities
                );
                remove_sessions_of_earlier_runs(target, spec).await?;
                return Ok(seeded);
            }
            eprintln!("lanyard-bench: the database holds a different or stale seed; seeding again");
        }
    }
    seed(target, spec).await
}

/// Deletes the sessions that earlier runs' create and password steps added (seeded session *n*
/// has sequence *n* + 1, so they are the ones above the seed's count): left in place, every run
/// would measure a bigger database than the one it reports.
async fn remove_sessions_of_earlier_runs(target: &Target, spec: SeedSpec) -> anyhow::Result<()> {
    const BATCH: i64 = 20_000;
    let seeded = i64::try_from(spec.sessions)?;
    let removed = match target {
        Target::Sqlite(path) => {
            let mut conn = sqlite_seed_connection(path).await?;
            let extra: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE sequence > ?1")
                .bind(seeded)
                .fetch_one(&mut conn)
                .await?;
            let mut removed = 0;
            while removed < extra {
                // Newest rows last: scanning from the end finds them without reading the seed.
                let ids = "SELECT id FROM sessions WHERE sequence > ?1 ORDER BY rowid DESC LIMIT ?2";
                sqlx::query(&format!("DELETE FROM session_devices WHERE session_id IN ({ids})"))
                    .bind(seeded)
                    .bind(BATCH)
                    .execute(&mut conn)
                    .await?;
                let done = sqlx::query(&format!("DELETE FROM sessions WHERE id IN ({ids})"))
                    .bind(seeded)
                    .bind(BATCH)
                    .execute(&mut conn)
                    .await?
                    .rows_affected();
                if done == 0 {
                    break;
                }
                removed += i64::try_from(done)?;
                eprint!("\r  removing sessions of earlier runs: {removed} / {extra}");
            }
            removed
        }
        Target::Postgres(url) => {
            let mut conn = sqlx::PgConnection::connect(url).await?;
            i64::try_from(
                sqlx::query("DELETE FROM sessions WHERE sequence > $1")
                    .bind(seeded)
                    .execute(&mut conn)
                    .await?
                    .rows_affected(),
            )?
        }
    };
    if removed > 0 {
        eprintln!("\nlanyard-bench: removed {removed} sessions that earlier runs created");
    }
    Ok(())
}

pub async fn read_marker(target: &Target) -> anyhow::Result<Option<Seeded>> {
    let value: Option<String> = match target {
        Target::Sqlite(path) => {
            if !path.exists() {
                return Ok(None);
            }
            let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path).read_only(true);
            let mut conn = sqlx::SqliteConnection::connect_with(&options).await?;
            sqlx::query_scalar("SELECT value FROM lanyard_settings WHERE name = ?1")
                .bind(MARKER)
                .fetch_optional(&mut conn)
                .await
                .unwrap_or(None)
        }
        Target::Postgres(url) => {
            let mut conn = sqlx::PgConnection::connect(url)
                .await
                .with_context(|| format!("cannot connect to {}", lanyard_store::postgres::redact_url(url)))?;
            sqlx::query_scalar("SELECT value FROM lanyard_settings WHERE name = $1")
                .bind(MARKER)
                .fetch_optional(&mut conn)
                .await
                .unwrap_or(None)
        }
    };
    Ok(value.and_then(|v| serde_json::from_str(&v).ok()))
}

/// Seeds from scratch: an SQLite file is recreated; a PostgreSQL database is emptied, but
/// only if it is empty or was seeded by this tool.
pub async fn seed(target: &Target, spec: SeedSpec) -> anyhow::Result<Seeded> {
    if spec.sessions == 0 || spec.identities == 0 {
        bail!("need at least one session and one identity");
    }
    if spec.password_identities > spec.identities {
        bail!("--password-identities cannot exceed --identities");
    }
    if !spec.identities.is_multiple_of(model::INACTIVE_IDENTITY_EVERY) {
        bail!(
            "--identities must be a multiple of {} (every {}th identity is deactivated, and the load \
             scripts tell a session's identity state from the session's number)",
            model::INACTIVE_IDENTITY_EVERY,
            model::INACTIVE_IDENTITY_EVERY
        );
    }
    let started = Instant::now();
    let seeded = Seeded {
        version: MARKER_VERSION,
        spec,
        now_us: now_us(),
    };
    eprintln!(
        "lanyard-bench: seeding {} sessions over {} identities ({} with a password) into {} {}",
        spec.sessions,
        spec.identities,
        spec.password_identities,
        target.kind(),
        target.url()
    );
    let password_hash = lanyard_service::PasswordHasher::new(1)
        .hash(model::PASSWORD.to_owned())
        .await
        .map_err(|e| anyhow!("hashing the bench password: {e}"))?;
    match target {
        Target::Sqlite(path) => {
            for suffix in ["", "-wal", "-shm"] {
                let file = PathBuf::from(format!("{}{suffix}", path.display()));
                if file.exists() {
                    std::fs::remove_file(&file).with_context(|| format!("removing {}", file.display()))?;
                }
            }
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let store = SqliteStore::open_and_migrate(&SqliteOptions::new(path)).await?;
            insert_creator_keys(&store, seeded.now_us).await?;
            store.close().await;
            let mut conn = sqlite_seed_connection(path).await?;
            write_sqlite(&mut conn, &seeded, &password_hash).await?;
            eprintln!("lanyard-bench: analysing and checkpointing");
            sqlx::query("PRAGMA analysis_limit = 1000").execute(&mut conn).await?;
            sqlx::query("PRAGMA optimize = 0x10002").execute(&mut conn).await?;
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&mut conn)
                .await?;
            conn.close().await?;
        }
        Target::Postgres(url) => {
            let store = PostgresStore::connect(&PostgresOptions::new(url.clone())).await?;
            store.migrate().await?;
            let mut conn = sqlx::PgConnection::connect(url).await?;
            empty_postgres(&mut conn).await?;
            insert_creator_keys(&store, seeded.now_us).await?;
            store.close().await;
            sqlx::query("SET synchronous_commit TO off").execute(&mut conn).await?;
            write_postgres(&mut conn, &seeded, &password_hash).await?;
            // The state autovacuum keeps the tables in once it has caught up with a bulk load:
            // the counter rows were rewritten by every inserted session.
            eprintln!("lanyard-bench: vacuuming and analysing");
            sqlx::query("VACUUM (ANALYZE)").execute(&mut conn).await?;
            conn.close().await?;
        }
    }
    eprintln!("lanyard-bench: seeded in {:.1} s", started.elapsed().as_secs_f64());
    Ok(seeded)
}

/// The API keys recorded as creators of the seeded sessions ([`model::creator_key_id`]; their
/// secrets are thrown away).
async fn insert_creator_keys(store: &dyn Store, now_us: i64) -> anyhow::Result<()> {
    for k in 0..model::CREATOR_KEYS {
        let key = ApiKey {
            id: model::creator_key_id(k),
            name: if k == 0 {
                "bench-login-ui".into()
            } else {
                format!("bench-integration-{k}")
            },
            digest: TokenDigest::of(&format!("lanyard_ak_{}", Uuid::new_v4().simple())),
            scopes: Scope::ALL.to_vec(),
            created_at: Micros(now_us - model::SPREAD_US - DAY_US),
            revoked_at: None,
        };
        store.insert_api_key(&key).await?;
    }
    Ok(())
}

async fn sqlite_seed_connection(path: &Path) -> anyhow::Result<sqlx::SqliteConnection> {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
    let options = SqliteConnectOptions::from_str("sqlite://")?
        .filename(path)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Off)
        .foreign_keys(false)
        .pragma("cache_size", "-400000")
        .pragma("temp_store", "memory");
    Ok(sqlx::SqliteConnection::connect_with(&options).await?)
}

/// Refuses to empty a PostgreSQL database that holds sessions this tool did not seed.
async fn empty_postgres(conn: &mut sqlx::PgConnection) -> anyhow::Result<()> {
    let marker: Option<String> = sqlx::query_scalar("SELECT value FROM lanyard_settings WHERE name = $1")
        .bind(MARKER)
        .fetch_optional(&mut *conn)
        .await?;
    let sessions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM (SELECT 1 FROM sessions LIMIT 1) s")
        .fetch_one(&mut *conn)
        .await?;
    if marker.is_none() && sessions > 0 {
        bail!(
            "the PostgreSQL database holds sessions that lanyard-bench did not seed; \
             point --database-url at a scratch database (e.g. createdb lanyard_bench)"
        );
    }
    // CASCADE: tables that later migrations hang off these (e.g. check_attempts) go too; the
    // database was just checked to hold only a seed.
    sqlx::query("TRUNCATE session_devices, sessions, identity_identifiers, identities, api_keys CASCADE")
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM lanyard_settings WHERE name = $1")
        .bind(MARKER)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Progress on stderr: rows per second and an ETA, in place on a terminal, every few seconds
/// otherwise.
struct Progress {
    total: u64,
    done: u64,
    started: Instant,
    last: Instant,
    tty: bool,
}

impl Progress {
    fn new(total: u64) -> Self {
        Progress {
            total,
            done: 0,
            started: Instant::now(),
            last: Instant::now(),
            tty: std::io::stderr().is_terminal(),
        }
    }

    fn add(&mut self, rows: u64, what: &str) {
        self.done += rows;
        let every = if self.tty {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(5)
        };
        if self.last.elapsed() < every && self.done < self.total {
            return;
        }
        self.last = Instant::now();
        let elapsed = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = self.done as f64 / elapsed;
        let eta = (self.total - self.done.min(self.total)) as f64 / rate.max(1.0);
        let line = format!(
            "  {what:<10} {:>5.1}%  {:>9} / {} rows  {:>8.0} rows/s  ETA {:>4.0} s",
            100.0 * self.done as f64 / self.total.max(1) as f64,
            self.done,
            self.total,
            rate,
            eta
        );
        let mut err = std::io::stderr();
        if self.tty {
            let _ = write!(err, "\r{line}");
            if self.done >= self.total {
                let _ = writeln!(err);
            }
        } else {
            let _ = writeln!(err, "{line}");
        }
    }
}

/// One session's columns.
struct SessionValues {
    id: Uuid,
    digest: Vec<u8>,
    identity_id: Uuid,
    created_us: i64,
    changed_us: i64,
    expires_us: Option<i64>,
    revoked_us: Option<i64>,
    factors: String,
    creator: String,
    fingerprint: String,
    device_id: Uuid,
    ip: String,
    user_agent: &'static str,
    location: Option<&'static str>,
}

const USER_AGENTS: [&str; 4] = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "okhttp/4.12.0",
];
const LOCATIONS: [Option<&str>; 4] = [Some("Berlin, DE"), Some("Lisbon, PT"), None, Some("Austin, US")];

fn session_values(n: u64, seeded: &Seeded) -> anyhow::Result<SessionValues> {
    let now = seeded.now_us;
    let created = model::created_us(n, now);
    let hash = model::mix(n ^ 0x5eed);
    let identities = seeded.spec.identities;
    let revoked = model::revoked_us(n, now);
    let factors = serde_json::to_string(&[Factor::new(Method::Password, Micros(created))])?;
    Ok(SessionValues {
        id: model::session_id(n, now),
        digest: TokenDigest::of(&model::token(n)).0.to_vec(),
        identity_id: model::identity_id(model::identity_of(n, identities)),
        created_us: created,
        changed_us: revoked.unwrap_or(created),
        expires_us: model::expires_us(n, now),
        revoked_us: revoked,
        factors,
        creator: model::creator_id(model::creator(n, identities)),
        fingerprint: model::fingerprint(n, identities),
        device_id: model::v7(created, 0xde, n),
        ip: format!("10.{}.{}.{}", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff),
        user_agent: USER_AGENTS[(hash % 4) as usize],
        location: LOCATIONS[((hash >> 8) % 4) as usize],
    })
}

struct IdentityValues {
    id: Uuid,
    traits: String,
    identifiers: String,
    credentials: String,
    created_us: i64,
    email: String,
    state: &'static str,
    state_changed_us: Option<i64>,
}

fn identity_values(i: u64, seeded: &Seeded, password_hash: &str) -> anyhow::Result<IdentityValues> {
    let email = model::email(i);
    let created = seeded.now_us - model::SPREAD_US - DAY_US + (i as i64 % 1000) * SECOND_US;
    let credentials: Vec<Credential> = if i < seeded.spec.password_identities {
        vec![Credential {
            kind: CredentialType::Password,
            identifiers: vec![email.clone()],
            config: serde_json::json!({ "hashed_password": password_hash }),
            version: 0,
            created_at: Micros(created),
            updated_at: Micros(created),
        }]
    } else {
        Vec::new()
    };
    Ok(IdentityValues {
        id: model::identity_id(i),
        traits: serde_json::json!({ "email": email }).to_string(),
        identifiers: serde_json::to_string(&[&email])?,
        credentials: serde_json::to_string(&credentials)?,
        created_us: created,
        email,
        state: if model::identity_is_active(i) {
            "active"
        } else {
            "inactive"
        },
        state_changed_us: (!model::identity_is_active(i)).then_some(created),
    })
}

/// Rows per INSERT statement (sessions have 14 columns: 14,000 parameters, below every
/// driver's limit) and statements per transaction.
const ROWS_PER_STATEMENT: u64 = 1000;
const STATEMENTS_PER_TRANSACTION: u64 = 50;

/// The seeded sessions' numbers in the order a live system writes them: by creation time. A
/// table then holds the newest sessions together at its end, as it does in production, so a
/// page of the newest sessions reads a few pages of it rather than one page per row (the
/// seeds before marker version 4 wrote them in number order, creation times at random).
fn creation_order(seeded: &Seeded) -> Vec<u64> {
    let mut order: Vec<u64> = (0..seeded.spec.sessions).collect();
    order.sort_by_key(|&n| (model::created_us(n, seeded.now_us), n));
    order
}

/// The writer, once per backend (the query builder's types differ, the SQL does not).
macro_rules! define_writer {
    ($name:ident, $db:ty, $conn:ty, $identifier:expr) => {
        async fn $name(conn: &mut $conn, seeded: &Seeded, password_hash: &str) -> anyhow::Result<()> {
            let spec = seeded.spec;
            let mut progress = Progress::new(spec.identities);
            let mut start = 0;
            while start < spec.identities {
                let mut tx = conn.begin().await?;
                for _ in 0..STATEMENTS_PER_TRANSACTION {
                    if start >= spec.identities {
                        break;
                    }
                    let end = (start + ROWS_PER_STATEMENT).min(spec.identities);
                    let rows = (start..end)
                        .map(|i| identity_values(i, seeded, password_hash))
                        .collect::<anyhow::Result<Vec<_>>>()?;
                    let mut insert = QueryBuilder::<$db>::new(
                        "INSERT INTO identities (id, schema_id, traits, state, state_changed_us, metadata_public, \
                         metadata_admin, organization_id, external_id, identifiers, credentials, created_us, updated_us) ",
                    );
                    insert.push_values(&rows, |mut b, row| {
                        b.push_bind(row.id)
                            .push_bind("default")
                            .push_bind(row.traits.clone())
                            .push_bind(row.state)
                            .push_bind(row.state_changed_us)
                            .push_bind(None::<String>)
                            .push_bind(None::<String>)
                            .push_bind(None::<Uuid>)
                            .push_bind(None::<String>)
                            .push_bind(row.identifiers.clone())
                            .push_bind(row.credentials.clone())
                            .push_bind(row.created_us)
                            .push_bind(row.created_us);
                    });
                    insert.build().execute(&mut *tx).await?;
                    let mut identifiers =
                        QueryBuilder::<$db>::new("INSERT INTO identity_identifiers (identifier, identity_id) ");
                    identifiers.push_values(&rows, |mut b, row| {
                        b.push_bind($identifier(&row.email)).push_bind(row.id);
                    });
                    identifiers.build().execute(&mut *tx).await?;
                    progress.add(end - start, "identities");
                    start = end;
                }
                tx.commit().await?;
            }

            let order = creation_order(seeded);
            let mut progress = Progress::new(spec.sessions);
            let mut start = 0;
            while start < spec.sessions {
                let mut tx = conn.begin().await?;
                for _ in 0..STATEMENTS_PER_TRANSACTION {
                    if start >= spec.sessions {
                        break;
                    }
                    let end = (start + ROWS_PER_STATEMENT).min(spec.sessions);
                    let numbers = &order[start as usize..end as usize];
                    let rows = numbers
                        .iter()
                        .map(|&n| session_values(n, seeded))
                        .collect::<anyhow::Result<Vec<_>>>()?;
                    let mut sessions = QueryBuilder::<$db>::new(
                        "INSERT INTO sessions (id, token_digest, identity_id, created_us, changed_us, authenticated_us, \
                         expires_us, revoked_us, user_checked_us, factors, metadata, creator, fingerprint_id, sequence) ",
                    );
                    sessions.push_values(rows.iter().zip(numbers), |mut b, (row, &n)| {
                        b.push_bind(row.id)
                            .push_bind(row.digest.clone())
                            .push_bind(row.identity_id)
                            .push_bind(row.created_us)
                            .push_bind(row.changed_us)
                            .push_bind(row.created_us)
                            .push_bind(row.expires_us)
                            .push_bind(row.revoked_us)
                            .push_bind(Some(row.created_us))
                            .push_bind(row.factors.clone())
                            .push_bind("{}")
                            .push_bind(Some(row.creator.clone()))
                            .push_bind(Some(row.fingerprint.clone()))
                            .push_bind(n as i64 + 1);
                    });
                    sessions.build().execute(&mut *tx).await?;
                    let mut devices = QueryBuilder::<$db>::new(
                        "INSERT INTO session_devices (id, session_id, ip_address, user_agent, location, fingerprint_id, \
                         headers, created_us) ",
                    );
                    devices.push_values(&rows, |mut b, row| {
                        b.push_bind(row.device_id)
                            .push_bind(row.id)
                            .push_bind(Some(row.ip.clone()))
                            .push_bind(Some(row.user_agent))
                            .push_bind(row.location)
                            .push_bind(Some(row.fingerprint.clone()))
                            .push_bind("{}")
                            .push_bind(row.created_us);
                    });
                    devices.build().execute(&mut *tx).await?;
                    progress.add(end - start, "sessions");
                    start = end;
                }
                tx.commit().await?;
            }

            let mut counter = QueryBuilder::<$db>::new("UPDATE lanyard_counters SET value = ");
            counter
                .push_bind(spec.sessions as i64)
                .push(" WHERE name = 'session_sequence'");
            counter.build().execute(&mut *conn).await?;
            let mut marker = QueryBuilder::<$db>::new("INSERT INTO lanyard_settings (name, value) VALUES (");
            marker
                .push_bind(MARKER)
                .push(", ")
                .push_bind(serde_json::to_string(seeded)?)
                .push(")");
            marker.build().execute(&mut *conn).await?;
            Ok(())
        }
    };
}

// Login identifiers are TEXT on SQLite and their UTF-8 bytes (BYTEA) on PostgreSQL.
define_writer!(write_sqlite, sqlx::Sqlite, sqlx::SqliteConnection, |email: &str| email
    .to_owned());
define_writer!(write_postgres, sqlx::Postgres, sqlx::PgConnection, |email: &str| email
    .as_bytes()
    .to_vec());
