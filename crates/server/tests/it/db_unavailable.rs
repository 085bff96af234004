//! A database that is there but refuses service: every request that needs it answers 503 with
//! `Retry-After`, in the error format of the API that was called, and the node recovers by
//! itself when the database serves again.
//!
//! PostgreSQL (the local server, a scratch database and role of this test's own, dropped at the
//! end whatever happens): connections refused (`ALLOW_CONNECTIONS false`, SQLSTATE 55000),
//! too many connections (a role `CONNECTION LIMIT 0`, 53300), a read-only database
//! (`default_transaction_read_only`, as on a hot standby: 25006), each with the open
//! connections terminated (57P01). SQLite (a real file): made read-only (`chattr +i`; the tests
//! run as root, which ignores permission bits), a full disk (a tiny tmpfs), and a lock held
//! beyond `busy_timeout`.
//!
//! They need the local PostgreSQL (`LANYARD_TEST_POSTGRES_URL`), `psql`, and root with
//! `chattr` and `mount` (CAP_SYS_ADMIN, CAP_LINUX_IMMUTABLE); without them they fail with a
//! message saying what is missing: they never skip.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use lanyard::app::RunningServer;
use lanyard_service::SystemClock;
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};
use sqlx::{Connection, Executor, PgConnection};
use uuid::Uuid;

/// The pool's `acquire_timeout` in these tests: how long a request may wait for a connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(1);

/// The error format of the API a request was sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Kratos,
    Rest,
    Connect,
}

/// One request of the probe set: what it is, its format, whether it writes, and what it answers
/// while the database serves.
struct Call {
    name: &'static str,
    format: Format,
    writes: bool,
    healthy: u16,
}

const CALLS: &[Call] = &[
    Call {
        name: "whoami (token not cached)",
        format: Format::Kratos,
        writes: false,
        healthy: 401,
    },
    Call {
        name: "GET /admin/sessions",
        format: Format::Kratos,
        writes: false,
        healthy: 200,
    },
    Call {
        name: "POST /admin/lanyard/sessions",
        format: Format::Kratos,
        writes: true,
        healthy: 201,
    },
    Call {
        name: "POST /v2/sessions/search",
        format: Format::Rest,
        writes: false,
        healthy: 200,
    },
    Call {
        name: "POST /v2/sessions",
        format: Format::Rest,
        writes: true,
        healthy: 201,
    },
    Call {
        name: "Connect ListSessions",
        format: Format::Connect,
        writes: false,
        healthy: 200,
    },
    Call {
        name: "Connect CreateSession",
        format: Format::Connect,
        writes: true,
        healthy: 200,
    },
];

/// A running Lanyard and what the probes need to call it.
pub struct Target {
    pub public: String,
    pub admin: String,
    pub key: String,
    pub identity: Value,
    pub http: reqwest::Client,
}

impl Target {
    /// Creates an identity (so that issuing has someone to issue for) on a running server.
    pub async fn new(public: String, admin: String, key: String) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("HTTP client");
        let mut target = Target {
            public,
            admin,
            key,
            identity: Value::Null,
            http,
        };
        let (status, identity, _) =
            answer(target.request(Method::POST, &target.admin, "/admin/identities").json(
                &json!({"schema_id": "default", "traits": {"email": format!("{}@example.org", Uuid::new_v4())}}),
            ))
            .await;
        assert_eq!(status, 201, "create identity: {identity}");
        target.identity = identity;
        target
    }

    fn request(&self, method: Method, base: &str, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", base.trim_end_matches('/')))
            .bearer_auth(&self.key)
    }

    fn call(&self, call: &Call) -> RequestBuilder {
        let (public, admin) = (&self.public, &self.admin);
        match call.name {
            "whoami (token not cached)" => self
                .http
                .get(format!("{}/sessions/whoami", public.trim_end_matches('/')))
                // A token never seen before: only the database can say it is unknown.
                .header("X-Session-Token", format!("lanyard_st_{}", Uuid::new_v4().simple())),
            "GET /admin/sessions" => self.request(Method::GET, admin, "/admin/sessions"),
            "POST /admin/lanyard/sessions" => self
                .request(Method::POST, admin, "/admin/lanyard/sessions")
                .json(&json!({"identity_id": self.identity["id"], "methods": [{"method": "password"}]})),
            "POST /v2/sessions/search" => self
                .request(Method::POST, public, "/v2/sessions/search")
                .json(&json!({})),
            "POST /v2/sessions" => self.request(Method::POST, public, "/v2/sessions").json(&json!({})),
            "Connect ListSessions" => self
                .request(Method::POST, public, "/zitadel.session.v2.SessionService/ListSessions")
                .json(&json!({})),
            "Connect CreateSession" => self
                .request(Method::POST, public, "/zitadel.session.v2.SessionService/CreateSession")
                .json(&json!({})),
            other => unreachable!("no request for {other}"),
        }
    }

    fn ready(&self) -> RequestBuilder {
        self.http
            .get(format!("{}/health/ready", self.public.trim_end_matches('/')))
    }

    /// Waits (at most 30 s) until `/health/ready` says 200.
    pub async fn wait_ready(&self, after: &str) -> Duration {
        let started = Instant::now();
        loop {
            let (status, body, _) = answer(self.ready()).await;
            if status == 200 {
                return started.elapsed();
            }
            assert_eq!(status, 503, "{after}: readiness while recovering: {body}");
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{after}: not ready 30 s later"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every probe answers as with a healthy database.
    pub async fn assert_healthy(&self, when: &str) {
        for call in CALLS {
            let (status, body, _) = answer(self.call(call)).await;
            assert_eq!(status, call.healthy, "{when}: {}: {body}", call.name);
        }
    }

    /// Every probe that `affected` selects answers 503 in its format with `Retry-After`; the
    /// others answer as with a healthy database. Returns the slowest 503's time.
    pub async fn assert_unavailable(&self, when: &str, affected: impl Fn(bool) -> bool, within: Duration) -> Duration {
        let mut slowest = Duration::ZERO;
        for call in CALLS {
            let response = self.call(call).send().await;
            let response = response.unwrap_or_else(|e| panic!("{when}: {}: no answer: {e}", call.name));
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let text = response.text().await.unwrap_or_default();
            let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
            if !affected(call.writes) {
                assert_eq!(status, call.healthy, "{when}: {} is not affected: {body}", call.name);
                continue;
            }
            assert_503(
                &format!("{when}: {}", call.name),
                call.format,
                status,
                retry_after.as_deref(),
                &body,
            );
        }
        // Timed separately, one request at a time, so that the figure is per request.
        for call in CALLS.iter().filter(|c| affected(c.writes)) {
            let (status, _, took) = answer(self.call(call)).await;
            assert_eq!(status, 503, "{when}: {}", call.name);
            assert!(
                took <= within,
                "{when}: {} took {took:?}, more than {within:?}",
                call.name
            );
            slowest = slowest.max(took);
        }
        // Readiness follows reads: a database that still serves them (read-only, full) keeps
        // the node in its load balancer, as every node shares that database anyway.
        let response = self.ready().send().await.expect("readiness answers");
        if affected(false) {
            assert_eq!(response.status(), 503, "{when}: /health/ready");
            let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok());
            assert_retry_after(&format!("{when}: /health/ready"), retry_after);
        } else {
            assert_eq!(response.status(), 200, "{when}: /health/ready");
        }
        slowest
    }
}

/// Status, JSON body and time taken.
async fn answer(request: RequestBuilder) -> (u16, Value, Duration) {
    let started = Instant::now();
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body, started.elapsed())
}

fn assert_retry_after(what: &str, retry_after: Option<&str>) -> u64 {
    let seconds = retry_after
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("{what}: Retry-After must be a number of seconds, got {retry_after:?}"));
    assert!((1..=60).contains(&seconds), "{what}: Retry-After {seconds}");
    seconds
}

/// A 503 in the API's own error format, with `Retry-After` as that protocol carries it.
pub fn assert_503(what: &str, format: Format, status: u16, retry_after: Option<&str>, body: &Value) {
    assert_eq!(status, 503, "{what}: {body}");
    let seconds = assert_retry_after(what, retry_after);
    match format {
        Format::Kratos => {
            assert_eq!(body["error"]["code"], 503, "{what}: {body}");
            assert_eq!(body["error"]["status"], "Service Unavailable", "{what}: {body}");
            assert!(
                body["error"]["reason"].as_str().is_some_and(|r| r.contains("retry")),
                "{what}: the reason says to retry: {body}"
            );
        }
        Format::Rest => {
            assert_eq!(body["code"], 14, "{what}: gRPC UNAVAILABLE: {body}");
            let details = body["details"].as_array().cloned().unwrap_or_default();
            let retry = details
                .iter()
                .find(|d| d["@type"] == "type.googleapis.com/google.rpc.RetryInfo")
                .unwrap_or_else(|| panic!("{what}: a google.rpc.RetryInfo detail: {body}"));
            assert_eq!(retry["retryDelay"], format!("{seconds}s"), "{what}: {body}");
        }
        Format::Connect => {
            assert_eq!(body["code"], "unavailable", "{what}: {body}");
            let details = body["details"].as_array().cloned().unwrap_or_default();
            let retry = details
                .iter()
                .find(|d| d["type"] == "google.rpc.RetryInfo")
                .unwrap_or_else(|| panic!("{what}: a google.rpc.RetryInfo detail: {body}"));
            // RetryInfo { retry_delay (1): Duration { seconds (1): n } }, base64 without padding.
            let value = base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(retry["value"].as_str().unwrap_or_default())
                .unwrap_or_else(|e| panic!("{what}: RetryInfo value is base64: {e}: {body}"));
            assert_eq!(value, [0x0a, 2, 0x08, seconds as u8], "{what}: {body}");
        }
    }
}

fn postgres_url() -> String {
    std::env::var("LANYARD_TEST_POSTGRES_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A database and a login role of this test's own on the shared server, dropped when this goes
/// away (`WITH (FORCE)` ends whatever connections are left), whatever happened.
struct ScratchDatabase {
    admin_url: String,
    name: String,
}

impl ScratchDatabase {
    async fn create() -> (Self, PgConnection) {
        let admin_url = postgres_url();
        let mut admin = PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
            panic!("PostgreSQL must be reachable at {admin_url} (set LANYARD_TEST_POSTGRES_URL): {e}")
        });
        let name = format!("lanyard_allowconn_{}", Uuid::now_v7().simple());
        admin
            .execute(format!("CREATE ROLE {name} LOGIN").as_str())
            .await
            .expect("create role");
        let scratch = ScratchDatabase { admin_url, name };
        admin
            .execute(format!("CREATE DATABASE {0} OWNER {0}", scratch.name).as_str())
            .await
            .expect("create database");
        (scratch, admin)
    }

    /// The database, as its own (non-superuser) role: superusers are exempt from connection
    /// limits. Same host and port as the admin URL.
    fn url(&self) -> String {
        let after_scheme = self
            .admin_url
            .split_once("://")
            .map_or(self.admin_url.as_str(), |(_, rest)| rest);
        let authority = after_scheme.split(['/', '?']).next().unwrap_or_default();
        let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
        format!("postgres://{0}@{host}/{0}", self.name)
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        for sql in [
            format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            format!("DROP ROLE IF EXISTS {}", self.name),
        ] {
            let _ = Command::new("psql")
                .args([self.admin_url.as_str(), "-q", "-c", sql.as_str()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Ends every connection to the database but the caller's: what a failover, a restart or an
/// operator does to clients.
async fn terminate_connections(admin: &mut PgConnection, database: &str) {
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(database)
    .execute(&mut *admin)
    .await
    .expect("terminate connections");
}

async fn start(database_url: &str) -> (RunningServer, Target) {
    let config = lanyard::Config::from_toml_str(&format!(
        "[database]\nurl = \"{database_url}\"\nacquire_timeout = \"{}s\"\nmax_connections = 4\n\
         [serve.public]\nlisten = \"127.0.0.1:0\"\n[serve.admin]\nlisten = \"127.0.0.1:0\"\n",
        ACQUIRE_TIMEOUT.as_secs()
    ))
    .expect("config");
    let server = lanyard::start(&config, Arc::new(SystemClock))
        .await
        .expect("start lanyard");
    let key = server
        .service
        .create_api_key("db_unavailable", vec![])
        .await
        .expect("create API key")
        .secret
        .into_string();
    let target = Target::new(server.public_url(), server.admin_url(), key).await;
    (server, target)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_database_that_refuses_service_gives_503_and_the_node_recovers() {
    let (scratch, mut admin) = ScratchDatabase::create().await;
    let (server, target) = start(&scratch.url()).await;
    target.assert_healthy("at first").await;
    let name = scratch.name.clone();

    // 1. The database refuses every new connection (SQLSTATE 55000 on connect): this was a
    //    500 "internal" within milliseconds.
    admin
        .execute(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false").as_str())
        .await
        .expect("disallow connections");
    terminate_connections(&mut admin, &name).await;
    let slowest = target
        .assert_unavailable(
            "ALLOW_CONNECTIONS false",
            |_| true,
            ACQUIRE_TIMEOUT + Duration::from_secs(3),
        )
        .await;
    println!("ALLOW_CONNECTIONS false: slowest 503 in {slowest:?}");
    admin
        .execute(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true").as_str())
        .await
        .expect("allow connections");
    let back = target.wait_ready("connections allowed again").await;
    println!("ALLOW_CONNECTIONS true: ready after {back:?}");
    target.assert_healthy("connections allowed again").await;

    // 2. Too many connections (53300; sqlx retries it until acquire_timeout).
    admin
        .execute(format!("ALTER ROLE {name} CONNECTION LIMIT 0").as_str())
        .await
        .expect("limit connections");
    terminate_connections(&mut admin, &name).await;
    let slowest = target
        .assert_unavailable("CONNECTION LIMIT 0", |_| true, ACQUIRE_TIMEOUT + Duration::from_secs(3))
        .await;
    println!("CONNECTION LIMIT 0: slowest 503 in {slowest:?}");
    admin
        .execute(format!("ALTER ROLE {name} CONNECTION LIMIT -1").as_str())
        .await
        .expect("unlimit connections");
    target.wait_ready("connection limit lifted").await;
    target.assert_healthy("connection limit lifted").await;

    // 3. A read-only database, as a hot standby after a failover points clients at it (25006):
    //    reads go on, writes answer 503.
    admin
        .execute(format!("ALTER DATABASE {name} SET default_transaction_read_only = on").as_str())
        .await
        .expect("make read-only");
    terminate_connections(&mut admin, &name).await;
    target.wait_ready("read-only").await;
    let slowest = target
        .assert_unavailable("read-only", |writes| writes, ACQUIRE_TIMEOUT + Duration::from_secs(3))
        .await;
    println!("read-only: slowest 503 in {slowest:?}");
    admin
        .execute(format!("ALTER DATABASE {name} RESET default_transaction_read_only").as_str())
        .await
        .expect("make writable");
    terminate_connections(&mut admin, &name).await;
    target.wait_ready("writable again").await;
    target.assert_healthy("writable again").await;

    server.shutdown().await.expect("shutdown");
    drop(admin);
    drop(scratch);
}

/// Runs `program args…`, failing with what is missing when it cannot.
fn run(program: &str, args: &[&str]) {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("this test needs `{program}` ({e}); it never skips"));
    assert!(
        output.status.success(),
        "`{program} {}` failed ({}): {} — this test needs root (chattr +i and mount need \
         CAP_LINUX_IMMUTABLE and CAP_SYS_ADMIN) on a filesystem with immutable files (ext4, xfs, \
         btrfs); it never skips",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
}

/// Files made immutable (`chattr +i`): read-only even for root, and even through descriptors
/// opened before. Made writable again when dropped, so that the directory can be removed.
struct Immutable(Vec<PathBuf>);

impl Immutable {
    fn set(paths: Vec<PathBuf>) -> Self {
        let mut guard = Immutable(Vec::new());
        for path in paths {
            run("chattr", &["+i", path.to_str().expect("UTF-8 path")]);
            guard.0.push(path);
        }
        guard
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = Command::new("chattr").arg("-i").arg(path).status();
        }
    }
}

async fn start_sqlite(path: &Path) -> (RunningServer, Target) {
    start(&format!("sqlite://{}", path.display())).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_sqlite_file_gives_503_on_writes_and_the_node_recovers() {
    // The system temporary directory is on a real filesystem here; tmpfs has no immutable files
    // on older kernels.
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("lanyard.db");
    let (server, target) = start_sqlite(&db).await;
    target.assert_healthy("at first").await;

    // The database file and its write-ahead log (not the shared-memory index: SQLite maps it,
    // and an immutable mapping faults the process instead of failing a call).
    let wal = dir.path().join("lanyard.db-wal");
    assert!(wal.exists(), "WAL mode has a -wal file");
    let immutable = Immutable::set(vec![db.clone(), wal]);
    let slowest = target
        .assert_unavailable("read-only file", |writes| writes, Duration::from_secs(3))
        .await;
    println!("SQLite read-only: slowest 503 in {slowest:?}");
    drop(immutable);
    target.wait_ready("writable again").await;
    target.assert_healthy("writable again").await;
    server.shutdown().await.expect("shutdown");
}

/// A tmpfs of `size` mounted on a new temporary directory, unmounted when dropped.
struct TinyFilesystem {
    dir: tempfile::TempDir,
}

impl TinyFilesystem {
    fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        run(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "tmpfs",
                dir.path().to_str().expect("UTF-8 path"),
            ],
        );
        TinyFilesystem { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file until the filesystem is full.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let filler = self.path().join("filler");
        let mut file = std::fs::File::create(&filler).expect("create filler");
        let block = vec![0u8; 64 * 1024];
        loop {
            match file.write(&block) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                Err(e) => panic!("filling the filesystem: {e}"),
            }
        }
        let _ = file.flush();
        filler
    }
}

impl Drop for TinyFilesystem {
    fn drop(&mut self) {
        // Lazy: whatever still holds a file in it cannot keep the mount alive.
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_under_sqlite_gives_503_on_writes_and_the_node_recovers() {
    let filesystem = TinyFilesystem::mount("16m");
    let (server, target) = start_sqlite(&filesystem.path().join("lanyard.db")).await;
    target.assert_healthy("at first").await;

    let filler = filesystem.fill();
    let slowest = target
        .assert_unavailable("disk full", |writes| writes, Duration::from_secs(3))
        .await;
    println!("SQLite disk full: slowest 503 in {slowest:?}");
    std::fs::remove_file(&filler).expect("remove the filler");
    target.wait_ready("space again").await;
    target.assert_healthy("space again").await;
    server.shutdown().await.expect("shutdown");
    drop(filesystem);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_lock_held_beyond_busy_timeout_gives_503_and_then_writes_work() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("lanyard.db");
    let (server, target) = start_sqlite(&db).await;
    target.assert_healthy("at first").await;

    // Another process (a backup tool, `sqlite3` in a shell) holds the write lock.
    let mut other = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .expect("second connection");
    other.execute("BEGIN IMMEDIATE").await.expect("take the write lock");
    let issue = CALLS
        .iter()
        .find(|c| c.name == "POST /admin/lanyard/sessions")
        .expect("issue call");
    let create = CALLS
        .iter()
        .find(|c| c.name == "Connect CreateSession")
        .expect("create call");
    for call in [issue, create] {
        let response = target.call(call).send().await.expect("answer");
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_503(
            &format!("busy: {}", call.name),
            call.format,
            status,
            retry_after.as_deref(),
            &body,
        );
    }
    other.execute("ROLLBACK").await.expect("release the lock");
    target.assert_healthy("lock released").await;
    server.shutdown().await.expect("shutdown");
}
