//! Drives Lanyard with ZITADEL's official TypeScript client (`tests/contract/zitadel-ts`):
//! `@zitadel/client` and `@zitadel/proto` over connect-es, exactly as ZITADEL's Login v2 builds
//! its clients (gRPC over h2c from `createServerTransport`), plus gRPC over TLS, Connect
//! (protobuf and JSON, HTTP/1.1 and HTTP/2) and gRPC-Web.
//!
//! The npm packages are installed on first use with `npm ci` from the suite's
//! `package-lock.json` (skipped while `node_modules` already holds exactly that lock). The test
//! fails, never skips, when Node, npm or the packages are unavailable: a contract run that tests
//! nothing must not look green.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

use crate::harness::TestApp;
use crate::python::workspace_root;
use crate::tls::{start_tls, TestCertificate};

const SUITE: &str = "tests/contract/zitadel-ts";

/// Tests the suite runs (7 transports × 16 steps); fewer means a transport or step went missing.
const MIN_TESTS: u64 = 133;

/// How long one run of the suite may take (it needs a few seconds).
const SUITE_TIMEOUT: Duration = Duration::from_secs(300);

/// The `packages` of an npm lockfile without the root project entry (`""`), which the hidden
/// lockfile `node_modules/.package-lock.json` does not have.
fn locked_packages(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut lock: Value = serde_json::from_str(&text).ok()?;
    let packages = lock.get_mut("packages")?.as_object_mut()?;
    packages.remove("");
    Some(Value::Object(packages.clone()))
}

/// Installs (once per test process) the suite's npm packages and returns the suite directory.
/// Tests run in parallel in this one binary, and two `npm ci`s into one `node_modules` break
/// each other, so installation is serialised.
fn npm_suite() -> PathBuf {
    static INSTALLING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = INSTALLING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let dir = workspace_root().join(SUITE);
    let wanted = locked_packages(&dir.join("package-lock.json"))
        .unwrap_or_else(|| panic!("{SUITE}/package-lock.json is missing or not an npm lockfile"));
    let installed = locked_packages(&dir.join("node_modules").join(".package-lock.json"));
    if installed.as_ref() != Some(&wanted) {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .env("npm_config_update_notifier", "false")
            .status()
            .unwrap_or_else(|e| panic!("npm ci: cannot start npm ({e}); this test needs Node.js and npm"));
        assert!(status.success(), "npm ci in {SUITE} failed with {status}");
        assert_eq!(
            locked_packages(&dir.join("node_modules").join(".package-lock.json")).as_ref(),
            Some(&wanted),
            "npm ci did not install exactly {SUITE}/package-lock.json"
        );
    }
    dir
}

/// A number from the spec reporter's summary, e.g. `ℹ pass 112`.
fn summary(stdout: &str, key: &str) -> Option<u64> {
    stdout.lines().find_map(|line| {
        let rest = line.trim().strip_prefix('ℹ')?.trim();
        rest.strip_prefix(key)?.trim().parse().ok()
    })
}

/// Runs the suite against `app` (cleartext) and a second Lanyard that serves TLS on both ports.
async fn run_typescript_suite(app: TestApp) {
    let dir = tokio::task::spawn_blocking(npm_suite).await.expect("npm install");

    // The TLS Lanyard (SQLite, its own database): its own API key, created through its service.
    let certificate = TestCertificate::new();
    // Its relying party comes from the configuration, as in production.
    let webauthn = format!(
        "[webauthn]\nrp_id = \"{}\"\nallowed_origins = [\"{}\"]",
        crate::harness::WEBAUTHN_RP_ID,
        crate::harness::WEBAUTHN_ORIGIN
    );
    let tls = start_tls(&certificate, &webauthn).await;
    let tls_key = tls
        .server
        .service
        .create_api_key("typescript contract", vec![])
        .await
        .expect("an API key on the TLS Lanyard")
        .secret
        .into_string();

    let mut node = tokio::process::Command::new("node");
    node.args(["--test", "--test-reporter=spec"])
        .current_dir(&dir)
        .env("NO_COLOR", "1")
        .env_remove("FORCE_COLOR")
        .env_remove("NODE_OPTIONS")
        .env("LANYARD_PUBLIC_URL", &app.public)
        .env("LANYARD_ADMIN_URL", &app.admin)
        .env("LANYARD_ADMIN_KEY", &app.key)
        .env("LANYARD_TLS_PUBLIC_URL", tls.server.public_url())
        .env("LANYARD_TLS_ADMIN_URL", tls.server.admin_url())
        .env("LANYARD_TLS_ADMIN_KEY", &tls_key)
        .env("LANYARD_TLS_CA", &tls.cert_file)
        .kill_on_drop(true);
    let output = tokio::time::timeout(SUITE_TIMEOUT, node.output())
        .await
        .unwrap_or_else(|_| panic!("the TypeScript suite ran longer than {SUITE_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("node --test: cannot start node ({e}); this test needs Node.js"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the ZITADEL TypeScript client contract suite failed:\n{stdout}\n{stderr}"
    );
    let count = |key: &str| {
        summary(&stdout, key).unwrap_or_else(|| panic!("no `ℹ {key} N` in the test report:\n{stdout}\n{stderr}"))
    };
    let (tests, pass) = (count("tests"), count("pass"));
    assert!(
        tests >= MIN_TESTS && pass == tests,
        "expected at least {MIN_TESTS} tests, all passing; got {pass} of {tests}:\n{stdout}"
    );
    for key in ["fail", "skipped", "todo", "cancelled"] {
        assert_eq!(count(key), 0, "the suite must run every test ({key}):\n{stdout}");
    }
    println!("zitadel-ts contract suite: {pass} of {tests} tests passed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_zitadel_typescript_client_works_against_lanyard() {
    run_typescript_suite(TestApp::start_on_system_clock().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_zitadel_typescript_client_works_against_lanyard_on_postgres() {
    run_typescript_suite(TestApp::start_on_postgres().await).await;
}
