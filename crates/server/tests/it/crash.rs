//! `kill -9` during a write load loses no acknowledged write, and the database stays intact.
//!
//! Runs the real `lanyard serve` binary, on a SQLite file and on PostgreSQL, kills it with
//! SIGKILL at random moments while clients create, extend and revoke sessions, restarts it,
//! and checks every write that was answered with a success, then the rows themselves.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sqlx::{Connection, PgConnection, SqliteConnection};
use tempfile::TempDir;
use uuid::Uuid;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub(crate) struct Server {
    pub child: Child,
    pub public: String,
    pub admin: String,
}

/// `lanyard` on the SQLite file `db`.
pub(crate) fn lanyard(db: &Path) -> Command {
    lanyard_on(&sqlite_url(db))
}

/// `lanyard serve` on the SQLite file `db`, once it is ready.
pub(crate) async fn start(db: &Path) -> Server {
    start_on(&sqlite_url(db)).await
}

fn sqlite_url(db: &Path) -> String {
    format!("sqlite://{}", db.display())
}

fn lanyard_on(database_url: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lanyard"));
    command
        .env("LANYARD_DATABASE__URL", database_url)
        .env("LANYARD_LOG__LEVEL", "warn")
        .env_remove("LANYARD_CONFIG")
        .stdin(Stdio::null());
    command
}

async fn start_on(database_url: &str) -> Server {
    let (public_port, admin_port) = (free_port(), free_port());
    let child = lanyard_on(database_url)
        .args(["serve", "--public-listen", &format!("127.0.0.1:{public_port}")])
        .args(["--admin-listen", &format!("127.0.0.1:{admin_port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start lanyard serve");
    let mut server = Server {
        child,
        public: format!("http://127.0.0.1:{public_port}"),
        admin: format!("http://127.0.0.1:{admin_port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = reqwest::get(format!("{}/health/ready", server.public)).await {
            if r.status() == 200 {
                return server;
            }
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!("lanyard serve exited before it became ready: {status}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = server.child.kill();
    let _ = server.child.wait();
    panic!("lanyard did not become ready");
}

/// A server that is killed when dropped, so that a failing test leaves no process behind
/// (one that would keep writing to the database, or keep a scratch schema busy).
struct Running(Server);

impl Running {
    async fn start(database: &Database) -> Self {
        Running(start_on(&database.url()).await)
    }

    fn sigkill(&mut self) {
        self.0.child.kill().expect("SIGKILL");
        self.0.child.wait().expect("reap");
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.child.kill();
        let _ = self.0.child.wait();
    }
}

/// The database a crash scenario runs on.
enum Database {
    Sqlite { path: PathBuf, _dir: TempDir },
    Postgres(ScratchSchema),
}

impl Database {
    fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Database::Sqlite {
            path: dir.path().join("crash.db"),
            _dir: dir,
        }
    }

    async fn postgres() -> Self {
        Database::Postgres(ScratchSchema::create().await)
    }

    fn name(&self) -> &'static str {
        match self {
            Database::Sqlite { .. } => "SQLite",
            Database::Postgres(_) => "PostgreSQL",
        }
    }

    /// `database.url` for the server.
    fn url(&self) -> String {
        match self {
            Database::Sqlite { path, .. } => sqlite_url(path),
            Database::Postgres(schema) => schema.url(),
        }
    }

    /// A direct connection, for the row-level checks (with every server stopped).
    async fn connect(&self) -> Probe {
        match self {
            Database::Sqlite { path, .. } => {
                let store = lanyard_store::SqliteStore::open(&lanyard_store::SqliteOptions::new(path))
                    .await
                    .expect("open");
                assert_eq!(store.integrity_check().await.expect("integrity_check"), "ok");
                store.close().await;
                Probe::Sqlite(SqliteConnection::connect(&self.url()).await.expect("connect to SQLite"))
            }
            Database::Postgres(schema) => Probe::Postgres(
                PgConnection::connect(&schema.url())
                    .await
                    .expect("connect to PostgreSQL"),
            ),
        }
    }
}

fn postgres_url() -> String {
    std::env::var("LANYARD_TEST_POSTGRES_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A PostgreSQL schema of its own, `lanyard_test_<UUIDv7>`, dropped with everything in it when
/// the guard goes away (also when the test panics). The server is pointed at it through the
/// `search_path` startup option in its URL; a schema left behind by a killed run is removed by
/// the store conformance suite's sweep of stale `lanyard_test_*` schemas.
struct ScratchSchema {
    name: String,
}

impl ScratchSchema {
    async fn create() -> Self {
        let base = postgres_url();
        let unreachable = |error: &dyn std::fmt::Display| -> ! {
            panic!(
                "PostgreSQL is unreachable at {} ({error}); this test never skips: start PostgreSQL \
                 or set LANYARD_TEST_POSTGRES_URL",
                lanyard_store::postgres::redact_url(&base)
            )
        };
        let mut admin = match tokio::time::timeout(Duration::from_secs(10), PgConnection::connect(&base)).await {
            Ok(Ok(connection)) => connection,
            Ok(Err(error)) => unreachable(&error),
            Err(_) => unreachable(&"no answer within 10 s"),
        };
        let name = format!("lanyard_test_{}", Uuid::now_v7().simple());
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&mut admin)
            .await
            .expect("create schema");
        let _ = admin.close().await;
        ScratchSchema { name }
    }

    fn url(&self) -> String {
        let base = postgres_url();
        let separator = if base.contains('?') { '&' } else { '?' };
        format!("{base}{separator}options[search_path]={}", self.name)
    }
}

impl Drop for ScratchSchema {
    fn drop(&mut self) {
        // The test's runtime may be gone (or panicking); a thread with a runtime of its own
        // drops the schema either way.
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
            if let Ok(runtime) = runtime {
                runtime.block_on(async {
                    if let Ok(mut connection) = PgConnection::connect(&postgres_url()).await {
                        let _ = sqlx::query("SET lock_timeout = '10s'").execute(&mut connection).await;
                        let _ = sqlx::query(&sql).execute(&mut connection).await;
                        let _ = connection.close().await;
                    }
                });
            }
        })
        .join();
    }
}

/// A direct connection to the stopped server's database.
enum Probe {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

impl Probe {
    async fn count(&mut self, sql: &str) -> i64 {
        let result = match self {
            Probe::Sqlite(connection) => sqlx::query_scalar(sql).fetch_one(connection).await,
            Probe::Postgres(connection) => sqlx::query_scalar(sql).fetch_one(connection).await,
        };
        result.unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    async fn close(self) {
        let _ = match self {
            Probe::Sqlite(connection) => connection.close().await,
            Probe::Postgres(connection) => connection.close().await,
        };
    }
}

/// Row-level checks, the same SQL on both engines: each must count zero.
const ROW_CHECKS: &[(&str, &str)] = &[
    (
        "sessions sharing a sequence number",
        "SELECT COUNT(*) - COUNT(DISTINCT sequence) FROM sessions",
    ),
    (
        "sessions with a sequence number the counter has not handed out yet",
        "SELECT COUNT(*) FROM sessions \
         WHERE sequence > (SELECT value FROM lanyard_counters WHERE name = 'session_sequence')",
    ),
    (
        "sessions without a device",
        "SELECT COUNT(*) FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM session_devices d WHERE d.session_id = s.id)",
    ),
    (
        "devices without a session",
        "SELECT COUNT(*) FROM session_devices d WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = d.session_id)",
    ),
];

/// What the server acknowledged about one session.
struct AckedSession {
    /// `expires_at` after its last acknowledged write.
    expires_at: String,
    /// The device it was created with.
    user_agent: String,
    revoked: bool,
}

type Acked = Arc<Mutex<HashMap<String, AckedSession>>>;

/// Creates sessions (each with a device of its own), extends every third and revokes every
/// fourth, until `stop` or the first failure (the server was killed).
async fn write_load(admin: String, key: String, identity: String, writer: String, acked: Acked, stop: Instant) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let mut n = 0u64;
    while Instant::now() < stop {
        n += 1;
        let user_agent = format!("crash-test/{writer}.{n}");
        let created = http
            .post(format!("{admin}/admin/lanyard/sessions"))
            .bearer_auth(&key)
            .json(&json!({"identity_id": identity, "methods": [{"method": "password"}],
                "device": {"ip_address": "203.0.113.7", "user_agent": user_agent}}))
            .send()
            .await;
        let Ok(response) = created else { break };
        if response.status() != 201 {
            break;
        }
        let Ok(body) = response.json::<Value>().await else {
            break;
        };
        let id = body["session"]["id"].as_str().unwrap_or_default().to_owned();
        let expires_at = body["session"]["expires_at"].as_str().unwrap_or_default().to_owned();
        acked.lock().unwrap().insert(
            id.clone(),
            AckedSession {
                expires_at,
                user_agent,
                revoked: false,
            },
        );
        if n.is_multiple_of(3) {
            let r = http
                .patch(format!("{admin}/admin/sessions/{id}/extend"))
                .bearer_auth(&key)
                .send()
                .await;
            match r {
                Ok(r) if r.status() == 200 => {
                    if let Ok(body) = r.json::<Value>().await {
                        let expires = body["expires_at"].as_str().unwrap_or_default().to_owned();
                        if let Some(session) = acked.lock().unwrap().get_mut(&id) {
                            session.expires_at = expires;
                        }
                    }
                }
                _ => break,
            }
        }
        if n.is_multiple_of(4) {
            match http
                .delete(format!("{admin}/admin/sessions/{id}"))
                .bearer_auth(&key)
                .send()
                .await
            {
                Ok(r) if r.status() == 204 => {
                    if let Some(session) = acked.lock().unwrap().get_mut(&id) {
                        session.revoked = true;
                    }
                }
                _ => break,
            }
        }
    }
}

fn rfc3339(value: &Value) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(value.as_str()?, &time::format_description::well_known::Rfc3339).ok()
}

/// Four rounds of load on `database`, each ended by a SIGKILL at a random moment; then a restart
/// that must show every acknowledged write, and row-level checks on the database itself.
async fn sigkill_during_writes(database: Database) {
    let key = lanyard_on(&database.url())
        .args(["keys", "create", "--name", "crash"])
        .stderr(Stdio::null())
        .output()
        .expect("keys create");
    assert!(key.status.success(), "lanyard keys create failed: {key:?}");
    let key = String::from_utf8(key.stdout).expect("utf-8").trim().to_owned();

    let acked = Acked::default();
    let mut identity = String::new();
    let mut rng_state = 0x9e37_79b9_7f4a_7c15_u64;
    for cycle in 0..4 {
        let mut server = Running::start(&database).await;
        if identity.is_empty() {
            let body: Value = reqwest::Client::new()
                .post(format!("{}/admin/identities", server.0.admin))
                .bearer_auth(&key)
                .json(&json!({"schema_id": "default", "traits": {"email": "crash@example.org"}}))
                .send()
                .await
                .expect("create identity")
                .json()
                .await
                .expect("identity JSON");
            identity = body["id"].as_str().expect("id").to_owned();
        }
        // A kill somewhere between 150 and 650 ms into a load of four concurrent writers.
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        let kill_after = Duration::from_millis(150 + rng_state % 500);
        let stop = Instant::now() + Duration::from_secs(5);
        let writers: Vec<_> = (0..4)
            .map(|writer| {
                tokio::spawn(write_load(
                    server.0.admin.clone(),
                    key.clone(),
                    identity.clone(),
                    format!("{cycle}.{writer}"),
                    acked.clone(),
                    stop,
                ))
            })
            .collect();
        tokio::time::sleep(kill_after).await;
        server.sigkill();
        for writer in writers {
            writer.await.expect("writer task");
        }
        assert!(
            !acked.lock().unwrap().is_empty(),
            "cycle {cycle}: the load acknowledged nothing"
        );
    }

    // Restart once more and check every acknowledged write.
    let mut server = Running::start(&database).await;
    let http = reqwest::Client::new();
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    for (id, session) in &acked {
        let r = http
            .get(format!("{}/admin/sessions/{id}?expand=devices", server.0.admin))
            .bearer_auth(&key)
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), 200, "acknowledged session {id} is gone after SIGKILL");
        let body: Value = r.json().await.expect("JSON");
        assert!(
            rfc3339(&body["expires_at"]) >= rfc3339(&json!(session.expires_at)),
            "acknowledged extend of {id} lost: {body}"
        );
        if session.revoked {
            assert_eq!(body["active"], false, "acknowledged revocation of {id} lost: {body}");
        }
        let agents: Vec<_> = body["devices"]
            .as_array()
            .map(|devices| devices.iter().map(|d| d["user_agent"].clone()).collect())
            .unwrap_or_default();
        assert_eq!(
            agents,
            [json!(session.user_agent)],
            "session {id} lost the device it was created with: {body}"
        );
    }
    server.sigkill();
    drop(server);

    let mut probe = database.connect().await;
    let rows = probe.count("SELECT COUNT(*) FROM sessions").await;
    assert!(
        rows >= acked.len() as i64,
        "{rows} session rows for {} acknowledged sessions",
        acked.len()
    );
    for (what, sql) in ROW_CHECKS {
        assert_eq!(probe.count(sql).await, 0, "{what}");
    }
    probe.close().await;
    println!(
        "{}: {} sessions ({} of them revoked) survived 4 SIGKILLs",
        database.name(),
        acked.len(),
        acked.values().filter(|s| s.revoked).count()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_writes_loses_no_acknowledged_write_on_sqlite() {
    sigkill_during_writes(Database::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_writes_loses_no_acknowledged_write_on_postgres() {
    sigkill_during_writes(Database::postgres().await).await;
}
