//! `kill -9` during a write load loses no acknowledged write, and the database stays intact.
//!
//! Runs the real `lanyard serve` binary on a SQLite file, kills it with SIGKILL at random
//! moments while clients create, extend and revoke sessions, restarts it, and checks every
//! write that was answered with a success.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

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

pub(crate) fn lanyard(db: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lanyard"));
    command
        .env("LANYARD_DATABASE__URL", format!("sqlite://{}", db.display()))
        .env("LANYARD_LOG__LEVEL", "warn")
        .env_remove("LANYARD_CONFIG")
        .stdin(Stdio::null());
    command
}

pub(crate) async fn start(db: &Path) -> Server {
    let (public_port, admin_port) = (free_port(), free_port());
    let child = lanyard(db)
        .args(["serve", "--public-listen", &format!("127.0.0.1:{public_port}")])
        .args(["--admin-listen", &format!("127.0.0.1:{admin_port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start lanyard serve");
    let server = Server {
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
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("lanyard did not become ready");
}

#[derive(Default)]
struct Acked {
    /// Session id → expires_at after its last acknowledged write.
    sessions: HashMap<String, String>,
    revoked: Vec<String>,
}

async fn write_load(admin: String, key: String, identity: String, acked: Arc<Mutex<Acked>>, stop: Instant) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let mut n = 0u64;
    while Instant::now() < stop {
        n += 1;
        let created = http
            .post(format!("{admin}/admin/lanyard/sessions"))
            .bearer_auth(&key)
            .json(&json!({"identity_id": identity, "methods": [{"method": "password"}]}))
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
        let expires = body["session"]["expires_at"].as_str().unwrap_or_default().to_owned();
        acked.lock().unwrap().sessions.insert(id.clone(), expires);
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
                        acked.lock().unwrap().sessions.insert(id.clone(), expires);
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
                Ok(r) if r.status() == 204 => acked.lock().unwrap().revoked.push(id),
                _ => break,
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_writes_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("crash.db");
    let key = lanyard(&db)
        .args(["keys", "create", "--name", "crash"])
        .stderr(Stdio::null())
        .output()
        .expect("keys create");
    assert!(key.status.success());
    let key = String::from_utf8(key.stdout).expect("utf-8").trim().to_owned();

    let acked = Arc::new(Mutex::new(Acked::default()));
    let mut identity = String::new();
    let mut rng_state = 0x9e37_79b9_7f4a_7c15_u64;
    for cycle in 0..4 {
        let mut server = start(&db).await;
        if identity.is_empty() {
            let body: Value = reqwest::Client::new()
                .post(format!("{}/admin/identities", server.admin))
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
            .map(|_| {
                tokio::spawn(write_load(
                    server.admin.clone(),
                    key.clone(),
                    identity.clone(),
                    acked.clone(),
                    stop,
                ))
            })
            .collect();
        tokio::time::sleep(kill_after).await;
        server.child.kill().expect("SIGKILL");
        server.child.wait().expect("reap");
        for writer in writers {
            writer.await.expect("writer task");
        }
        assert!(
            !acked.lock().unwrap().sessions.is_empty(),
            "cycle {cycle}: the load acknowledged nothing"
        );
    }

    // Restart once more and check every acknowledged write.
    let mut server = start(&db).await;
    let http = reqwest::Client::new();
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    for (id, expires) in &acked.sessions {
        let r = http
            .get(format!("{}/admin/sessions/{id}", server.admin))
            .bearer_auth(&key)
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), 200, "acknowledged session {id} is gone after SIGKILL");
        let body: Value = r.json().await.expect("JSON");
        let parse = |v: &str| time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339).ok();
        let stored = parse(body["expires_at"].as_str().unwrap_or_default());
        assert!(stored >= parse(expires), "acknowledged extend of {id} lost");
    }
    for id in &acked.revoked {
        let body: Value = http
            .get(format!("{}/admin/sessions/{id}", server.admin))
            .bearer_auth(&key)
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("JSON");
        assert_eq!(body["active"], false, "acknowledged revocation of {id} lost");
    }
    server.child.kill().expect("stop");
    server.child.wait().expect("reap");

    let store = lanyard_store::SqliteStore::open(&lanyard_store::SqliteOptions::new(&db))
        .await
        .expect("open");
    assert_eq!(store.integrity_check().await.expect("integrity_check"), "ok");
    println!(
        "{} sessions and {} revocations survived 4 SIGKILLs",
        acked.sessions.len(),
        acked.revoked.len()
    );
}
