//! Losing the database: the real `lanyard serve` binary on a PostgreSQL cluster that this test
//! starts itself, stops (`pg_ctl stop -m immediate`) and starts again on the same port.
//!
//! While the database is down, `/health/ready` and every request that needs the database
//! answer 503 with `Retry-After` and the API's error body (Kratos, ZITADEL REST and Connect),
//! within about `database.acquire_timeout`; never a 500, never a hang. When it is back, the node recovers by itself: no restart.
//!
//! The cluster needs the PostgreSQL server binaries (`/usr/lib/postgresql/<version>/bin/initdb`
//! and `pg_ctl`) and, when the test runs as root (which initdb refuses), `runuser` and the
//! `postgres` user. Without them the test fails with a message saying what is missing: it
//! never skips.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tempfile::TempDir;

use crate::db_unavailable::{assert_503, Format};

/// What the server is configured to wait for a connection before answering 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);
/// How much longer than the acquire timeout an answer may take while the database is down.
const SLACK: Duration = Duration::from_secs(6);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn missing(what: &str) -> ! {
    panic!(
        "db_recovery needs {what}. It starts a private PostgreSQL cluster and never skips: \
         install the PostgreSQL server package (e.g. `apt-get install postgresql`, which provides \
         /usr/lib/postgresql/<version>/bin/initdb and pg_ctl, and the postgres user) and util-linux \
         (runuser)."
    )
}

/// The newest `/usr/lib/postgresql/<version>/bin` that has initdb and pg_ctl.
fn postgres_bin_dir() -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .unwrap_or_else(|_| missing("the PostgreSQL server binaries under /usr/lib/postgresql (not found)"))
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .unwrap_or_else(|| missing("initdb and pg_ctl in /usr/lib/postgresql/<version>/bin (none found)"))
}

fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

fn id(args: &[&str]) -> Option<u32> {
    let output = Command::new("id").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    String::from_utf8(output.stdout).ok()?.trim().parse().ok()
}

/// A PostgreSQL cluster of this test's own, in a temporary directory: stopped and deleted when
/// dropped, whatever happened.
struct PrivatePostgres {
    dir: TempDir,
    bin: PathBuf,
    /// `runuser -u postgres --` when running as root, else nothing.
    as_postgres: Vec<String>,
    port: u16,
}

impl PrivatePostgres {
    fn init() -> Self {
        let bin = postgres_bin_dir();
        let dir = tempfile::tempdir().expect("temp dir");
        let mut as_postgres = Vec::new();
        if id(&["-u"]) == Some(0) {
            let runuser = find_in_path("runuser").unwrap_or_else(|| missing("runuser (initdb refuses root)"));
            let uid = id(&["-u", "postgres"]).unwrap_or_else(|| missing("a `postgres` user"));
            let gid = id(&["-g", "postgres"]).unwrap_or_else(|| missing("a `postgres` group"));
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown the cluster directory");
            as_postgres = vec![
                runuser.display().to_string(),
                "-u".into(),
                "postgres".into(),
                "--".into(),
            ];
        }
        let cluster = PrivatePostgres {
            dir,
            bin,
            as_postgres,
            port: free_port(),
        };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &[
                "-D",
                data.to_str().expect("UTF-8 path"),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "--encoding=UTF8",
                "--locale=C",
            ],
        );
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn command(&self, tool: &str) -> Command {
        let tool = self.bin.join(tool).display().to_string();
        let mut argv = self.as_postgres.clone();
        argv.push(tool);
        let mut command = Command::new(&argv[0]);
        command.args(&argv[1..]).stdin(Stdio::null());
        command
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let output = self
            .command(tool)
            .args(args)
            .output()
            .unwrap_or_else(|e| missing(&format!("{tool} to run ({e})")));
        assert!(
            output.status.success(),
            "{tool} {args:?} failed: {}\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=16MB",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("postgres.log");
        let data = self.data();
        self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().expect("UTF-8 path"),
                "-l",
                log.to_str().expect("UTF-8 path"),
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
    }

    /// Stops at once, as a crash or a network cut would look to the clients: no goodbye.
    fn stop(&self) {
        let data = self.data();
        self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().expect("UTF-8 path"),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.data();
        if data.join("postmaster.pid").exists() {
            let _ = self
                .command("pg_ctl")
                .args(["-D", data.to_str().unwrap_or_default(), "-m", "immediate", "-w", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        // The TempDir removes the directory after this.
    }
}

/// The `lanyard serve` process, killed when dropped.
struct Server {
    child: Child,
    public: String,
    admin: String,
    log: PathBuf,
}

impl Server {
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lanyard(database_url: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lanyard"));
    command
        .env("LANYARD_DATABASE__URL", database_url)
        .env(
            "LANYARD_DATABASE__ACQUIRE_TIMEOUT",
            format!("{}s", ACQUIRE_TIMEOUT.as_secs()),
        )
        .env("LANYARD_LOG__LEVEL", "warn")
        .env_remove("LANYARD_CONFIG")
        .stdin(Stdio::null());
    command
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(ACQUIRE_TIMEOUT + SLACK + Duration::from_secs(10))
        .build()
        .expect("HTTP client")
}

/// Status, JSON body and how long the answer took.
async fn call(request: reqwest::RequestBuilder) -> (u16, Value, Duration) {
    let started = Instant::now();
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body, started.elapsed())
}

/// Status, `Retry-After`, JSON body and how long the answer took.
async fn probe(request: reqwest::RequestBuilder) -> (u16, Option<String>, Value, Duration) {
    let started = Instant::now();
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, retry_after, body, started.elapsed())
}

/// Asserts a 503 in the API's error JSON, with `Retry-After`, in bounded time.
async fn assert_unavailable(what: &str, format: Format, request: reqwest::RequestBuilder, server: &Server) -> Duration {
    let (status, retry_after, body, took) = probe(request).await;
    assert_eq!(status, 503, "{what}: {body}\nserver log:\n{}", server.log_tail());
    assert_503(what, format, status, retry_after.as_deref(), &body);
    assert!(
        took <= ACQUIRE_TIMEOUT + SLACK,
        "{what}: took {took:?}, more than acquire_timeout + {SLACK:?}"
    );
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_database_gives_503_and_the_node_recovers_when_it_returns() {
    let postgres = PrivatePostgres::init();
    postgres.start();
    let url = postgres.url();
    let logs = tempfile::tempdir().expect("temp dir");

    // An admin key (this also migrates the database), then the server.
    let key = lanyard(&url)
        .args(["keys", "create", "--name", "recovery"])
        .output()
        .expect("lanyard keys create");
    assert!(
        key.status.success(),
        "keys create failed: {}",
        String::from_utf8_lossy(&key.stderr)
    );
    let key = String::from_utf8(key.stdout).expect("UTF-8").trim().to_owned();

    let (public_port, admin_port) = (free_port(), free_port());
    let log = logs.path().join("lanyard.log");
    let child = lanyard(&url)
        .args(["serve", "--public-listen", &format!("127.0.0.1:{public_port}")])
        .args(["--admin-listen", &format!("127.0.0.1:{admin_port}")])
        .stdout(Stdio::null())
        .stderr(File::create(&log).expect("log file"))
        .spawn()
        .expect("start lanyard serve");
    let server = Server {
        child,
        public: format!("http://127.0.0.1:{public_port}"),
        admin: format!("http://127.0.0.1:{admin_port}"),
        log,
    };
    let http = client();
    let ready = format!("{}/health/ready", server.public);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = http.get(&ready).send().await {
            if r.status() == 200 {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "lanyard never became ready:\n{}",
            server.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let admin = |method: reqwest::Method, path: &str| {
        http.request(method, format!("{}{path}", server.admin))
            .bearer_auth(&key)
    };
    let whoami = |token: &str| {
        http.get(format!("{}/sessions/whoami", server.public))
            .header("X-Session-Token", token.to_owned())
    };
    let (status, identity, _) = call(
        admin(reqwest::Method::POST, "/admin/identities")
            .json(&json!({"schema_id": "default", "traits": {"email": "recovery@example.org"}})),
    )
    .await;
    assert_eq!(status, 201, "{identity}");
    let issue = || {
        admin(reqwest::Method::POST, "/admin/lanyard/sessions")
            .json(&json!({"identity_id": identity["id"], "methods": [{"method": "password"}]}))
    };
    let (status, cached, _) = call(issue()).await;
    assert_eq!(status, 201, "{cached}");
    let cached = cached["session_token"].as_str().expect("token").to_owned();
    let (status, uncached, _) = call(issue()).await;
    assert_eq!(status, 201, "{uncached}");
    let uncached = uncached["session_token"].as_str().expect("token").to_owned();
    assert_eq!(call(whoami(&cached)).await.0, 200, "puts the token in the cache");
    assert_eq!(call(admin(reqwest::Method::GET, "/admin/sessions")).await.0, 200);

    // The database goes away.
    postgres.stop();

    let (status, body, took) = call(http.get(&ready)).await;
    assert_eq!(status, 503, "{body}\nserver log:\n{}", server.log_tail());
    assert!(
        body["errors"]["database"].as_str().is_some_and(|m| !m.is_empty()),
        "the readiness body names the database: {body}"
    );
    assert!(took <= ACQUIRE_TIMEOUT + SLACK, "readiness took {took:?}");

    let listed_took = assert_unavailable(
        "GET /admin/sessions",
        Format::Kratos,
        admin(reqwest::Method::GET, "/admin/sessions"),
        &server,
    )
    .await;
    assert_unavailable("POST /admin/lanyard/sessions", Format::Kratos, issue(), &server).await;
    let looked_up_took = assert_unavailable(
        "whoami with a token not in the cache",
        Format::Kratos,
        whoami(&uncached),
        &server,
    )
    .await;
    let zitadel = |path: &str| {
        http.post(format!("{}{path}", server.public))
            .bearer_auth(&key)
            .json(&json!({}))
    };
    assert_unavailable(
        "POST /v2/sessions/search",
        Format::Rest,
        zitadel("/v2/sessions/search"),
        &server,
    )
    .await;
    assert_unavailable("POST /v2/sessions", Format::Rest, zitadel("/v2/sessions"), &server).await;
    assert_unavailable(
        "Connect ListSessions",
        Format::Connect,
        zitadel("/zitadel.session.v2.SessionService/ListSessions"),
        &server,
    )
    .await;
    assert_unavailable(
        "Connect CreateSession",
        Format::Connect,
        zitadel("/zitadel.session.v2.SessionService/CreateSession"),
        &server,
    )
    .await;
    // A token validated moments ago may still be answered from the token cache (at most
    // cache.ttl after it was cached): by design, documented in the README. Either way, no 500.
    let (status, body, _) = call(whoami(&cached)).await;
    assert!(
        status == 200 || status == 503,
        "whoami with a cached token: {status} {body}"
    );
    println!(
        "database down: ready 503 in {took:?}, admin list 503 in {listed_took:?}, uncached whoami 503 \
         in {looked_up_took:?}, cached whoami {status}"
    );
    // The liveness check needs no database.
    assert_eq!(call(http.get(format!("{}/health/alive", server.public))).await.0, 200);

    // The database comes back on the same port: the node recovers without a restart.
    postgres.start();
    let restarted = Instant::now();
    let deadline = restarted + Duration::from_secs(30);
    loop {
        let (status, body, _) = call(http.get(&ready)).await;
        if status == 200 {
            break;
        }
        assert_eq!(status, 503, "while recovering: {body}");
        assert!(
            Instant::now() < deadline,
            "not ready 30 s after the database returned:\n{}",
            server.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("ready again {:?} after the database returned", restarted.elapsed());
    let (status, body, _) = call(admin(reqwest::Method::GET, "/admin/sessions")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.as_array().map(Vec::len), Some(2), "{body}");
    assert_eq!(call(whoami(&uncached)).await.0, 200);
    assert_eq!(call(whoami(&cached)).await.0, 200);
    let (status, body, _) = call(issue()).await;
    assert_eq!(status, 201, "writes work again: {body}");
}
