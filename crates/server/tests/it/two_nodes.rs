//! Two real `lanyard serve` processes on one database: a change on node A reaches node B's
//! token cache within the configured bound, over LISTEN/NOTIFY on PostgreSQL and through the
//! change feed alone on a shared SQLite file, and an unchanged token stays cached.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sqlx::{Connection, Executor, PgConnection};

/// The worst-case staleness configured for both nodes (`cache.ttl`).
const BOUND: Duration = Duration::from_secs(5);

fn base_url() -> String {
    std::env::var("LANYARD_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}

/// A database of its own, dropped at the end.
struct ScratchDatabase {
    name: String,
}

impl ScratchDatabase {
    async fn new() -> Self {
        let name = format!("lanyard_two_nodes_{}", uuid::Uuid::now_v7().simple());
        let mut admin = PgConnection::connect(&base_url()).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is unreachable at {} ({e}); this test never skips",
                base_url()
            )
        });
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create database");
        ScratchDatabase { name }
    }

    fn url(&self) -> String {
        let mut url = url::Url::parse(&base_url()).expect("URL");
        url.set_path(&self.name);
        url.to_string()
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let _ = Command::new("psql")
            .args([&base_url(), "-q", "-c", &sql])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

struct Node {
    child: Child,
    public: String,
    admin: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lanyard(database_url: &str) -> Command {
    lanyard_with_ttl(database_url, BOUND)
}

fn lanyard_with_ttl(database_url: &str, ttl: Duration) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lanyard"));
    command
        .env("LANYARD_DATABASE__URL", database_url)
        .env("LANYARD_LOG__LEVEL", "warn")
        .env("LANYARD_CACHE__TTL", format!("{}ms", ttl.as_millis()))
        .env("LANYARD_SECRETS", "two-nodes-shared-page-token-secret")
        .env_remove("LANYARD_CONFIG")
        .stdin(Stdio::null());
    command
}

fn start(database_url: &str) -> Node {
    start_with(lanyard(database_url))
}

fn start_with(mut command: Command) -> Node {
    let (public, admin) = (free_port(), free_port());
    let child = command
        .args([
            "serve",
            "--public-listen",
            &format!("127.0.0.1:{public}"),
            "--admin-listen",
            &format!("127.0.0.1:{admin}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start lanyard");
    Node {
        child,
        public: format!("http://127.0.0.1:{public}"),
        admin: format!("http://127.0.0.1:{admin}"),
    }
}

async fn ready(node: &Node) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(r) = reqwest::get(format!("{}/health/ready", node.public)).await {
            if r.status() == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("node {} did not become ready", node.public);
}

async fn whoami(http: &reqwest::Client, node: &Node, token: &str) -> u16 {
    http.get(format!("{}/sessions/whoami", node.public))
        .header("X-Session-Token", token)
        .send()
        .await
        .expect("whoami")
        .status()
        .as_u16()
}

/// Polls node B until whoami answers `expected`; returns how long that took.
async fn until(http: &reqwest::Client, node: &Node, token: &str, expected: u16) -> Duration {
    let started = Instant::now();
    while started.elapsed() < BOUND * 2 {
        if whoami(http, node, token).await == expected {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("node B still answers otherwise than {expected} after {:?}", BOUND * 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_extend_and_rotation_on_node_a_reach_node_b_within_the_bound() {
    let database = ScratchDatabase::new().await;
    let url = database.url();
    // Both nodes start (and migrate) at once: the lease row keeps them from racing.
    let (a, b) = (start(&url), start(&url));
    ready(&a).await;
    ready(&b).await;
    let key = lanyard(&url)
        .args(["keys", "create", "--name", "two-nodes"])
        .stderr(Stdio::null())
        .output()
        .expect("keys");
    assert!(key.status.success());
    let key = String::from_utf8(key.stdout).expect("utf-8").trim().to_owned();
    let http = reqwest::Client::new();
    let identity: Value = http
        .post(format!("{}/admin/identities", a.admin))
        .bearer_auth(&key)
        .json(&json!({"schema_id": "default", "traits": {"email": "two@example.org"},
            "credentials": {"password": {"config": {"password": "correct horse battery staple"}}}}))
        .send()
        .await
        .expect("identity")
        .json()
        .await
        .expect("JSON");
    let identity_id = identity["id"].as_str().expect("id").to_owned();
    let issue = |lifespan: &'static str| {
        let http = http.clone();
        let (admin, key, identity_id) = (a.admin.clone(), key.clone(), identity_id.clone());
        async move {
            let body: Value = http
                .post(format!("{admin}/admin/lanyard/sessions"))
                .bearer_auth(&key)
                .json(&json!({"identity_id": identity_id, "methods": [{"method": "password"}], "lifespan": lifespan}))
                .send()
                .await
                .expect("issue")
                .json()
                .await
                .expect("JSON");
            (
                body["session"]["id"].as_str().expect("id").to_owned(),
                body["session_token"].as_str().expect("token").to_owned(),
            )
        }
    };

    // Revoke on A.
    let (id, token) = issue("1h").await;
    assert_eq!(whoami(&http, &b, &token).await, 200, "B caches the token");
    assert_eq!(whoami(&http, &b, &token).await, 200);
    let r = http
        .delete(format!("{}/admin/sessions/{id}", a.admin))
        .bearer_auth(&key)
        .send()
        .await
        .expect("revoke");
    assert_eq!(r.status(), 204);
    let revoke_latency = until(&http, &b, &token, 401).await;

    // Extend on A revives an expired session on B.
    let (id, token) = issue("1s").await;
    assert_eq!(whoami(&http, &b, &token).await, 200);
    until(&http, &b, &token, 401).await; // expired, and B's cached entry says so
    let r = http
        .patch(format!("{}/admin/sessions/{id}/extend", a.admin))
        .bearer_auth(&key)
        .send()
        .await
        .expect("extend");
    assert_eq!(r.status(), 200);
    let extend_latency = until(&http, &b, &token, 200).await;

    // Rotation on A (ZITADEL SetSession) ends the old token on B.
    let created: Value = http
        .post(format!("{}/zitadel.session.v2.SessionService/CreateSession", a.public))
        .bearer_auth(&key)
        .json(&json!({"checks": {"user": {"userId": identity_id}, "password": {"password": "correct horse battery staple"}}}))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("JSON");
    let old = created["sessionToken"].as_str().expect("token").to_owned();
    assert_eq!(whoami(&http, &b, &old).await, 200);
    let set: Value = http
        .post(format!("{}/zitadel.session.v2.SessionService/SetSession", a.public))
        .bearer_auth(&key)
        .json(&json!({"sessionId": created["sessionId"], "metadata": {"step": "dXA="}}))
        .send()
        .await
        .expect("set")
        .json()
        .await
        .expect("JSON");
    let new = set["sessionToken"].as_str().expect("rotated token").to_owned();
    let rotation_latency = until(&http, &b, &old, 401).await;
    assert_eq!(whoami(&http, &b, &new).await, 200);

    for (what, latency) in [
        ("revoke", revoke_latency),
        ("extend", extend_latency),
        ("rotation", rotation_latency),
    ] {
        assert!(
            latency < BOUND,
            "{what} reached node B after {latency:?}, beyond the {BOUND:?} bound"
        );
        println!("{what} reached node B after {latency:?}");
    }
}

/// Reads a counter from a node's `/metrics`.
async fn metric(http: &reqwest::Client, node: &Node, name: &str) -> u64 {
    let text = http
        .get(format!("{}/metrics", node.admin))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from {text}"))
}

/// Two processes on one SQLite file: no notifications at all. With `cache.ttl = 1s`, node B
/// answers a token it cached from memory for three times the ttl (its polls of the change
/// feed confirm it), and a revocation on node A reaches it within the ttl.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_shared_sqlite_file_the_change_feed_alone_keeps_node_b_exact_and_cached() {
    const TTL: Duration = Duration::from_secs(1);
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("lanyard.db").display());
    let a = start_with(lanyard_with_ttl(&url, TTL));
    ready(&a).await;
    let b = start_with(lanyard_with_ttl(&url, TTL));
    ready(&b).await;
    let key = lanyard(&url)
        .args(["keys", "create", "--name", "sqlite-nodes"])
        .stderr(Stdio::null())
        .output()
        .expect("keys");
    assert!(key.status.success());
    let key = String::from_utf8(key.stdout).expect("utf-8").trim().to_owned();
    let http = reqwest::Client::new();
    let identity: Value = http
        .post(format!("{}/admin/identities", a.admin))
        .bearer_auth(&key)
        .json(&json!({"schema_id": "default", "traits": {"email": "sqlite@example.org"}}))
        .send()
        .await
        .expect("identity")
        .json()
        .await
        .expect("JSON");
    let body: Value = http
        .post(format!("{}/admin/lanyard/sessions", a.admin))
        .bearer_auth(&key)
        .json(&json!({"identity_id": identity["id"], "methods": [{"method": "password"}]}))
        .send()
        .await
        .expect("issue")
        .json()
        .await
        .expect("JSON");
    let (id, token) = (
        body["session"]["id"].as_str().expect("id").to_owned(),
        body["session_token"].as_str().expect("token").to_owned(),
    );

    let misses = metric(&http, &b, "lanyard_token_cache_misses_total").await;
    let started = Instant::now();
    while started.elapsed() < TTL * 3 {
        assert_eq!(whoami(&http, &b, &token).await, 200);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        metric(&http, &b, "lanyard_token_cache_misses_total").await,
        misses + 1,
        "read from the store once, then confirmed by the polls"
    );

    let r = http
        .delete(format!("{}/admin/sessions/{id}", a.admin))
        .bearer_auth(&key)
        .send()
        .await
        .expect("revoke");
    assert_eq!(r.status(), 204);
    let latency = until(&http, &b, &token, 401).await;
    assert!(
        latency < TTL,
        "the revocation reached node B after {latency:?}, beyond {TTL:?}"
    );
    println!("revoke reached node B after {latency:?} through the change feed");
}
