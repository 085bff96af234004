//! The PostgreSQL backend of the suite: a fresh schema per test on a real server, and the
//! tests only PostgreSQL needs (several nodes migrating one database, leases around migrations).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lanyard_domain::Micros;
use lanyard_store::postgres::MIGRATION_LEASE;
use lanyard_store::{PostgresOptions, PostgresStore, Store, StoreError};
use sqlx::{Connection, PgConnection};
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::common::*;
use crate::Backend;

/// Names the server the suite runs against.
pub const URL_ENV: &str = "LANYARD_TEST_POSTGRES_URL";
pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const SCHEMA_PREFIX: &str = "lanyard_test_";
/// Schemas left behind by killed runs are dropped once they are this old.
const STALE_AFTER: Duration = Duration::from_secs(3600);

pub fn url() -> String {
    std::env::var(URL_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_URL.to_owned())
}

fn unreachable(error: impl std::fmt::Display) -> ! {
    panic!(
        "PostgreSQL is unreachable at {} ({error}). The store conformance suite runs every test \
         against a real PostgreSQL server and never skips it: start PostgreSQL (127.0.0.1:5432, \
         user postgres, database test) or set {URL_ENV} to a server where this user may create schemas.",
        lanyard_store::postgres::redact_url(&url())
    )
}

/// A schema of its own for one test: `lanyard_test_<UUIDv7>`, so that concurrent runs on the
/// same server never meet, and dropped (with everything in it) when the guard is dropped.
pub struct ScratchSchema {
    pub name: String,
}

impl ScratchSchema {
    pub async fn new() -> Self {
        sweep_stale_schemas().await;
        ScratchSchema {
            name: format!("{SCHEMA_PREFIX}{}", Uuid::now_v7().simple()),
        }
    }

    pub fn options(&self) -> PostgresOptions {
        let mut options = PostgresOptions::new(url());
        options.schema = Some(self.name.clone());
        // Many tests run at once, next to other runs on the same server: keep pools small.
        options.max_connections = 4;
        options.acquire_timeout = Duration::from_secs(20);
        options
    }
}

impl Drop for ScratchSchema {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which may be shutting down; a thread with a
        // runtime of its own finishes the job either way. Best effort: a failure only leaves a
        // schema that the next run's sweep removes.
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
            if let Ok(runtime) = runtime {
                runtime.block_on(drop_schema(&name));
            }
        })
        .join();
    }
}

async fn drop_schema(name: &str) {
    if let Ok(mut connection) = PgConnection::connect(&url()).await {
        let _ = sqlx::query("SET lock_timeout = '10s'").execute(&mut connection).await;
        let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
            .execute(&mut connection)
            .await;
        let _ = connection.close().await;
    }
}

/// Once per test process: drops `lanyard_test_*` schemas whose UUIDv7 says they are older
/// than [`STALE_AFTER`] (left behind by a killed run). Fails the test if the server is down.
async fn sweep_stale_schemas() {
    static SWEPT: OnceCell<()> = OnceCell::const_new();
    SWEPT
        .get_or_init(|| async {
            let mut connection =
                match tokio::time::timeout(Duration::from_secs(10), PgConnection::connect(&url())).await {
                    Ok(Ok(connection)) => connection,
                    Ok(Err(error)) => unreachable(error),
                    Err(_) => unreachable("no answer within 10 s"),
                };
            let schemas: Vec<String> =
                sqlx::query_scalar("SELECT nspname::TEXT FROM pg_namespace WHERE nspname LIKE 'lanyard\\_test\\_%'")
                    .fetch_all(&mut connection)
                    .await
                    .unwrap_or_default();
            let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
            for schema in schemas {
                let Some(created) = schema
                    .strip_prefix(SCHEMA_PREFIX)
                    .and_then(|id| Uuid::try_parse(id).ok())
                    .and_then(|id| id.get_timestamp())
                    .map(|ts| Duration::from_secs(ts.to_unix().0))
                else {
                    continue;
                };
                if now.saturating_sub(created) > STALE_AFTER {
                    let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                        .execute(&mut connection)
                        .await;
                }
            }
            let _ = connection.close().await;
        })
        .await;
}

/// A migrated, empty PostgreSQL store in a schema of its own.
pub async fn postgres_store() -> Backend {
    let schema = ScratchSchema::new().await;
    let store = match PostgresStore::open_and_migrate(&schema.options()).await {
        Ok(store) => store,
        Err(error) if error.is_unavailable() => unreachable(error),
        Err(error) => panic!("cannot migrate PostgreSQL schema {}: {error}", schema.name),
    };
    Backend::new(Arc::new(store), schema)
}

fn system_now() -> Micros {
    let micros = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros();
    Micros(micros as i64)
}

/// The versions in `migrations/postgres`, in order: what a fully migrated database records.
fn every_migration() -> Vec<i64> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres");
    let mut versions: Vec<i64> = std::fs::read_dir(dir)
        .expect("the migrations folder")
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.ends_with(".sql").then(|| name.split('_').next()?.parse().ok())?
        })
        .collect();
    versions.sort_unstable();
    assert!(!versions.is_empty());
    versions
}

async fn all_migrations(store: &PostgresStore) -> Vec<i64> {
    store
        .applied_migrations()
        .await
        .unwrap()
        .into_iter()
        .map(|(version, _)| version)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_migrating_one_fresh_schema_at_once_both_succeed() {
    let schema = ScratchSchema::new().await;
    let options = schema.options();
    let (a, b, c) = tokio::join!(
        PostgresStore::open_and_migrate(&options),
        PostgresStore::open_and_migrate(&options),
        PostgresStore::open_and_migrate(&options),
    );
    let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
    assert_eq!(all_migrations(&a).await, every_migration());

    // They share one database: what one node writes, the others read.
    let written = insert_identity(&a, identity(&["shared@example.com"])).await;
    for store in [&b, &c] {
        assert_eq!(
            store.identity_by_identifier("shared@example.com").await.unwrap(),
            Some(written.clone())
        );
    }
    let first = insert(&b, session(Some(written.id), NOW)).await;
    let second = insert(&c, session(Some(written.id), at(SECOND))).await;
    assert!(second.sequence > first.sequence);
    assert_eq!(a.current_sequence().await.unwrap(), second.sequence);

    // Migrating again changes nothing, and the lease is free afterwards.
    b.migrate().await.unwrap();
    assert_eq!(all_migrations(&b).await, every_migration());
    let ttl = time::Duration::seconds(5);
    assert!(a
        .try_acquire_lease(MIGRATION_LEASE, "probe", ttl, system_now())
        .await
        .unwrap());
    assert!(a.release_lease(MIGRATION_LEASE, "probe").await.unwrap());
}

/// An empty schema with nothing but the lease table, as a node finds it while another node
/// that took the migration lease is still creating the rest.
async fn schema_with_only_the_lease_table(schema: &ScratchSchema) -> PostgresStore {
    let store = PostgresStore::connect(&schema.options()).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {}", schema.name))
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query(
        "CREATE TABLE lanyard_leases (name TEXT NOT NULL, holder TEXT NOT NULL, expires_us BIGINT NOT NULL, \
         CONSTRAINT lanyard_leases_pkey PRIMARY KEY (name))",
    )
    .execute(store.pool())
    .await
    .unwrap();
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_wait_for_the_lease_and_give_up_clearly() {
    let schema = ScratchSchema::new().await;
    let other_node = schema_with_only_the_lease_table(&schema).await;
    let held = time::Duration::hours(1);
    assert!(other_node
        .try_acquire_lease(MIGRATION_LEASE, "node elsewhere", held, system_now())
        .await
        .unwrap());

    // A node that will not wait long gives up, naming the lease and its holder.
    let mut impatient = schema.options();
    impatient.migration_lease_wait = Duration::from_millis(700);
    let started = std::time::Instant::now();
    match PostgresStore::open_and_migrate(&impatient).await {
        Err(StoreError::LeaseBusy { name, holder, waited }) => {
            assert_eq!(name, MIGRATION_LEASE);
            assert_eq!(holder, "node elsewhere");
            assert!(waited >= Duration::from_millis(700), "{waited:?}");
        }
        Err(other) => panic!("expected LeaseBusy, got {other}"),
        Ok(_) => panic!("migrated while another node held the lease"),
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(!other_node.release_lease(MIGRATION_LEASE, "impatient").await.unwrap());

    // A patient node waits, and proceeds as soon as the holder lets go.
    let mut patient = schema.options();
    patient.migration_lease_wait = Duration::from_secs(30);
    let waiting = tokio::spawn(async move { PostgresStore::open_and_migrate(&patient).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "migrated while another node held the lease");
    assert!(other_node
        .release_lease(MIGRATION_LEASE, "node elsewhere")
        .await
        .unwrap());
    let migrated = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the waiting node proceeds once the lease is released")
        .unwrap()
        .unwrap();
    assert_eq!(all_migrations(&migrated).await, every_migration());

    // Once everything is applied, starting needs no lease at all.
    assert!(other_node
        .try_acquire_lease(MIGRATION_LEASE, "node elsewhere", held, system_now())
        .await
        .unwrap());
    tokio::time::timeout(Duration::from_secs(5), migrated.migrate())
        .await
        .expect("an up-to-date database does not wait for the lease")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_left_by_a_crashed_node_blocks_only_until_it_expires() {
    let schema = ScratchSchema::new().await;
    let crashed = schema_with_only_the_lease_table(&schema).await;
    let ten_seconds_ago = Micros(system_now().0 - 10_000_000);
    assert!(crashed
        .try_acquire_lease(
            MIGRATION_LEASE,
            "crashed node",
            time::Duration::seconds(1),
            ten_seconds_ago
        )
        .await
        .unwrap());
    let mut options = schema.options();
    options.migration_lease_wait = Duration::from_secs(1);
    let store = PostgresStore::open_and_migrate(&options).await.unwrap();
    assert_eq!(all_migrations(&store).await, every_migration());
    // Released after migrating.
    assert!(crashed
        .try_acquire_lease(MIGRATION_LEASE, "probe", time::Duration::seconds(1), system_now())
        .await
        .unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemas_keep_concurrent_runs_apart() {
    let (one, two) = (ScratchSchema::new().await, ScratchSchema::new().await);
    let a = PostgresStore::open_and_migrate(&one.options()).await.unwrap();
    let b = PostgresStore::open_and_migrate(&two.options()).await.unwrap();
    assert_eq!(a.schema(), Some(one.name.as_str()));
    insert_identity(&a, identity(&["only-in-a@example.com"])).await;
    assert_eq!(b.identity_by_identifier("only-in-a@example.com").await.unwrap(), None);
    assert_eq!(b.setting_or_insert("x", "b").await.unwrap(), "b");
    assert_eq!(a.setting_or_insert("x", "a").await.unwrap(), "a");
}

#[tokio::test]
async fn an_unreachable_server_is_reported_as_unavailable() {
    let mut options = PostgresOptions::new("postgres://postgres@127.0.0.1:1/test");
    options.acquire_timeout = Duration::from_secs(2);
    let error = PostgresStore::connect(&options)
        .await
        .err()
        .expect("nothing listens on port 1");
    assert!(error.is_unavailable(), "{error:?}");
}

#[tokio::test]
async fn invalid_options_are_refused() {
    let mut options = PostgresOptions::new(url());
    options.schema = Some("Robert'); DROP TABLE students;--".into());
    let error = PostgresStore::connect(&options).await.err().unwrap().to_string();
    assert!(error.contains("schema name"), "{error}");

    let mut options = PostgresOptions::new(url());
    options.max_connections = 0;
    assert!(PostgresStore::connect(&options).await.is_err());
}

#[tokio::test]
async fn statements_are_not_jit_compiled_unless_the_url_asks_for_it() {
    let jit = |store: PostgresStore| async move {
        let value: String = sqlx::query_scalar("SHOW jit")
            .fetch_one(store.pool())
            .await
            .expect("SHOW jit");
        store.close().await;
        value
    };
    let schema = ScratchSchema::new().await;
    let store = PostgresStore::connect(&schema.options()).await.expect("connect");
    assert_eq!(jit(store).await, "off");

    let mut options = schema.options();
    let separator = if options.url.contains('?') { '&' } else { '?' };
    options.url = format!("{}{separator}options=-c%20jit%3Don", options.url);
    let store = PostgresStore::connect(&options).await.expect("connect");
    assert_eq!(jit(store).await, "on");
}

#[tokio::test]
async fn invalidations_reach_the_other_nodes_on_the_same_schema_only() {
    use lanyard_store::{Invalidation, InvalidationEvent};
    let schema = ScratchSchema::new().await;
    let a = PostgresStore::open_and_migrate(&schema.options())
        .await
        .unwrap_or_else(|e| unreachable(e));
    let b = PostgresStore::connect(&schema.options())
        .await
        .unwrap_or_else(|e| unreachable(e));
    let other = ScratchSchema::new().await;
    let elsewhere = PostgresStore::open_and_migrate(&other.options())
        .await
        .unwrap_or_else(|e| unreachable(e));

    let mut events = b.subscribe_invalidations().expect("PostgreSQL has LISTEN/NOTIFY");
    assert_eq!(
        next_event(&mut events).await,
        Some(InvalidationEvent::Reconnected),
        "listening starts with a flush"
    );
    let id = Uuid::now_v7();
    elsewhere.notify_invalidation(Invalidation::All).await.unwrap();
    a.notify_invalidation(Invalidation::Session(id)).await.unwrap();
    assert_eq!(
        next_event(&mut events).await,
        Some(InvalidationEvent::Invalidate(Invalidation::Session(id)))
    );
    a.notify_invalidation(Invalidation::Identity(id)).await.unwrap();
    assert_eq!(
        next_event(&mut events).await,
        Some(InvalidationEvent::Invalidate(Invalidation::Identity(id)))
    );
}

async fn next_event(
    events: &mut tokio::sync::mpsc::Receiver<lanyard_store::InvalidationEvent>,
) -> Option<lanyard_store::InvalidationEvent> {
    tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("an event in time")
}

/// Concurrent creates are group-committed: 300 of them, queued on two nodes sharing one
/// schema, take far fewer than 300 transactions (told apart by `xmin`, the inserting
/// transaction's id), each transaction's sequence numbers are consecutive, and the two nodes'
/// batches never share or skip a number.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_are_committed_in_few_transactions() {
    let schema = ScratchSchema::new().await;
    let a = Arc::new(PostgresStore::open_and_migrate(&schema.options()).await.unwrap());
    let b = Arc::new(PostgresStore::connect(&schema.options()).await.unwrap());
    let owner = insert_identity(&*a, identity(&["batched@example.com"])).await;
    let before = a.current_sequence().await.unwrap();

    let mut tasks = Vec::new();
    for n in 0..300 {
        let store = if n % 2 == 0 { a.clone() } else { b.clone() };
        let mut new = session(if n % 3 == 0 { Some(owner.id) } else { None }, at(-n));
        new.devices = (0..n % 3)
            .map(|d| lanyard_domain::Device {
                id: Uuid::now_v7(),
                ip_address: Some(format!("192.0.2.{d}")),
                user_agent: None,
                location: Some("Berlin, DE".to_owned()),
                fingerprint_id: Some(format!("fp{n}")),
                headers: Default::default(),
                created_at: at(-n + d),
            })
            .collect();
        tasks.push(tokio::spawn(async move { insert(&*store, new).await }));
    }
    let mut created = Vec::new();
    for task in tasks {
        created.push(task.await.unwrap());
    }
    let mut sequences: Vec<i64> = created.iter().map(|s| s.sequence).collect();
    sequences.sort_unstable();
    assert_eq!(sequences, (before + 1..=before + 300).collect::<Vec<_>>());
    for s in &created {
        assert_eq!(get(&*b, s.id).await.unwrap().session, *s);
    }

    let groups: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT count(*), min(sequence), max(sequence) FROM sessions WHERE sequence > $1 GROUP BY xmin::TEXT",
    )
    .bind(before)
    .fetch_all(a.pool())
    .await
    .unwrap();
    assert!(
        groups.len() <= 40,
        "300 concurrent creates took {} transactions",
        groups.len()
    );
    for (count, first, last) in groups {
        assert_eq!(
            last - first + 1,
            count,
            "a transaction's sequence numbers are consecutive"
        );
    }
    let devices: i64 = sqlx::query_scalar("SELECT count(*) FROM session_devices")
        .fetch_one(a.pool())
        .await
        .unwrap();
    assert_eq!(devices, 300);
}

/// `url()` with another database name.
fn url_for_database(database: &str) -> String {
    let url = url();
    let (base, query) = url.split_once('?').map_or((url.as_str(), None), |(b, q)| (b, Some(q)));
    let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}

/// The errors a real server sends when it refuses service are "unavailable" (503, retried),
/// and those that mean a bad statement are not, whether they come from a query or from the
/// pool opening a connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_refusing_service_is_unavailable_and_a_bad_statement_is_not() {
    let mut admin = PgConnection::connect(&url()).await.unwrap_or_else(|e| unreachable(e));
    let store_error = |e: sqlx::Error| StoreError::from(e);

    // A database that refuses connections: SQLSTATE 55000 when the pool connects, at once.
    let database = format!("lanyard_test_noconn_{}", Uuid::now_v7().simple());
    sqlx::query(&format!("CREATE DATABASE {database} ALLOW_CONNECTIONS false"))
        .execute(&mut admin)
        .await
        .unwrap();
    let mut options = PostgresOptions::new(url_for_database(&database));
    options.acquire_timeout = Duration::from_secs(10);
    let started = std::time::Instant::now();
    let refused = PostgresStore::connect(&options).await.err();
    let took = started.elapsed();
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {database}"))
        .execute(&mut admin)
        .await;
    let refused = refused.expect("the database refuses connections");
    let code = match &refused {
        StoreError::Database(sqlx::Error::Database(db)) => db.code().map(|c| c.into_owned()),
        _ => None,
    };
    assert_eq!(code.as_deref(), Some("55000"), "{refused:?}");
    assert!(refused.is_unavailable(), "{refused:?}");
    assert!(took < Duration::from_secs(5), "refused at once, not retried: {took:?}");

    // A read-only transaction, as on a hot standby: 25006.
    let mut connection = PgConnection::connect(&url()).await.unwrap();
    sqlx::query("SET default_transaction_read_only = on")
        .execute(&mut connection)
        .await
        .unwrap();
    let read_only = store_error(
        sqlx::query("CREATE TEMP SEQUENCE lanyard_read_only_probe")
            .execute(&mut connection)
            .await
            .expect_err("read-only"),
    );
    assert!(read_only.is_unavailable(), "{read_only:?}");

    // A statement cut off by statement_timeout: a timeout (also answered 503), not unavailable.
    sqlx::query("SET statement_timeout = '10ms'")
        .execute(&mut connection)
        .await
        .unwrap();
    let slow = store_error(
        sqlx::query("SELECT pg_sleep(1)")
            .execute(&mut connection)
            .await
            .expect_err("timeout"),
    );
    assert!(slow.is_timeout() && !slow.is_unavailable(), "{slow:?}");

    // Bad statements are faults.
    let missing = store_error(
        sqlx::query("SELECT * FROM lanyard_no_such_table")
            .execute(&mut connection)
            .await
            .expect_err("no such table"),
    );
    assert!(!missing.is_unavailable() && !missing.is_timeout(), "{missing:?}");

    // The connection is ended by an operator (or a failover): 57P01 or a broken socket.
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .execute(&mut admin)
        .await
        .unwrap();
    let ended = store_error(
        sqlx::query("SELECT 1")
            .execute(&mut connection)
            .await
            .expect_err("terminated"),
    );
    assert!(ended.is_unavailable(), "{ended:?}");
}

/// A reader follows the change feed (continuing after the last number it saw, as every node's
/// token cache does) while two nodes revoke 200 sessions concurrently: it misses none, because
/// the counter row hands numbers out in commit order, so no number becomes visible while a
/// smaller one is still to come.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reader_following_the_change_feed_during_concurrent_writes_misses_nothing() {
    use std::sync::atomic::{AtomicBool, Ordering};

    use lanyard_store::{Invalidation, RevokeTarget};

    let schema = ScratchSchema::new().await;
    let a = Arc::new(PostgresStore::open_and_migrate(&schema.options()).await.unwrap());
    let b = Arc::new(PostgresStore::connect(&schema.options()).await.unwrap());
    let owner = insert_identity(&*a, identity(&["follow@example.com"])).await;
    let mut sessions = Vec::new();
    for n in 0..200 {
        sessions.push(insert(&*a, session(Some(owner.id), at(-n))).await.id);
    }
    let start = a.current_sequence().await.unwrap();
    let writes_done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (store, writes_done) = (b.clone(), writes_done.clone());
        tokio::spawn(async move {
            let (mut cursor, mut seen) = (start, Vec::new());
            loop {
                let last_round = writes_done.load(Ordering::SeqCst);
                let page = store.changes_since(cursor, 50).await.unwrap();
                if let Some(last) = page.last() {
                    cursor = last.sequence;
                }
                seen.extend(page.iter().map(|c| c.invalidation));
                if last_round && page.is_empty() {
                    return seen;
                }
            }
        })
    };
    let mut writers = Vec::new();
    for (n, id) in sessions.iter().copied().enumerate() {
        let store = if n % 2 == 0 { a.clone() } else { b.clone() };
        writers.push(tokio::spawn(async move {
            store.revoke_sessions(RevokeTarget::Session(id), NOW).await.unwrap()
        }));
    }
    for writer in writers {
        assert_eq!(writer.await.unwrap().len(), 1);
    }
    writes_done.store(true, Ordering::SeqCst);
    let mut seen: Vec<Uuid> = reader
        .await
        .unwrap()
        .into_iter()
        .map(|change| match change {
            Invalidation::Session(id) => id,
            other => panic!("unexpected change {other:?}"),
        })
        .collect();
    seen.sort();
    sessions.sort();
    assert_eq!(seen, sessions);
}

/// Cleanup waits behind a session writer instead of deadlocking with it. A writer holds the
/// session write lock (the sequence row, which every sequenced write takes first) and the
/// counter cell of one hour, then touches another hour's cell; cleanup deletes one session of
/// each hour in between. Before cleanup took the same lock first, it held the second hour's
/// cell while it waited for the first one's, and PostgreSQL aborted one of the two
/// ("deadlock detected", found by `counts_stay_exact_under_concurrent_writers` in CI).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_waits_behind_a_session_writer_instead_of_deadlocking_with_it() {
    let schema = ScratchSchema::new().await;
    let store = Arc::new(PostgresStore::open_and_migrate(&schema.options()).await.unwrap());
    let hour_of = |at: Micros| at.0 / HOUR;
    let expired_session = |created: Micros| {
        let mut s = session(None, created);
        s.expires_at = Some(Micros(created.0 + MINUTE));
        s
    };
    // Inserted in this order, so the first has the smaller id and is deleted first.
    let first = insert(&*store, expired_session(Micros(NOW.0 - 5 * HOUR))).await;
    let second = insert(&*store, expired_session(Micros(NOW.0 - 3 * HOUR))).await;

    let connect = || async {
        let mut connection = PgConnection::connect(&url()).await.unwrap();
        sqlx::query(&format!("SET search_path TO {}", schema.name))
            .execute(&mut connection)
            .await
            .unwrap();
        connection
    };
    let touch_cell = |hour: i64| {
        sqlx::query("UPDATE session_counts_grid SET n = n WHERE creator = '*' AND level = 6 AND a = $1 AND b = 0")
            .bind(hour)
    };
    let mut writer = connect().await;
    let writer_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut writer)
        .await
        .unwrap();
    sqlx::query("BEGIN").execute(&mut writer).await.unwrap();
    sqlx::query("UPDATE lanyard_counters SET value = value + 1 WHERE name = 'session_sequence'")
        .execute(&mut writer)
        .await
        .unwrap();
    touch_cell(hour_of(second.created_at))
        .execute(&mut writer)
        .await
        .unwrap();

    let cleanup = {
        let store = store.clone();
        tokio::spawn(async move {
            let cutoff = Micros(NOW.0 - HOUR);
            store.delete_expired_sessions(cutoff, cutoff, 10).await
        })
    };
    // Wait until the cleanup is blocked by the writer.
    let mut observer = connect().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let blocked: i64 =
            sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))")
                .bind(writer_pid)
                .fetch_one(&mut observer)
                .await
                .unwrap();
        if blocked > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the cleanup never waited for the writer"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    touch_cell(hour_of(first.created_at))
        .execute(&mut writer)
        .await
        .expect("the writer goes on while the cleanup waits");
    sqlx::query("COMMIT").execute(&mut writer).await.unwrap();
    let deleted = cleanup
        .await
        .unwrap()
        .expect("the cleanup runs once the writer is done");
    assert_eq!(deleted, 2);
}
