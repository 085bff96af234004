//! Drives Lanyard with the official Ory Python SDK (`tests/contract/kratos`).
//!
//! The virtualenv is created under `target/contract-venv` on first use, from
//! `tests/contract/requirements.txt`. The test fails, never skips, when Python or the
//! packages are unavailable: a contract run that tests nothing must not look green.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::TestApp;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("workspace root")
        .to_path_buf()
}

fn run(command: &mut Command, what: &str) {
    let status = command.status().unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    assert!(status.success(), "{what} failed with {status}");
}

/// Creates (once) the virtualenv with the SDK; returns its python.
fn contract_python() -> PathBuf {
    let root = workspace_root();
    let venv = root.join("target").join("contract-venv");
    let python = venv.join("bin").join("python");
    let requirements = root.join("tests/contract/requirements.txt");
    let stamp = venv.join(".requirements");
    let wanted = std::fs::read_to_string(&requirements).expect("read requirements.txt");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        run(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            "python3 -m venv",
        );
        run(
            Command::new(&python)
                .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"])
                .arg(&requirements),
            "pip install -r tests/contract/requirements.txt",
        );
        std::fs::write(&stamp, wanted).expect("write venv stamp");
    }
    python
}

/// Runs one pytest suite under `tests/contract/` against a fresh Lanyard on the system clock.
async fn run_contract_suite(suite: &str, app: TestApp) {
    let python = tokio::task::spawn_blocking(contract_python).await.expect("venv setup");
    let root = workspace_root();
    let output = tokio::process::Command::new(python)
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            &format!("tests/contract/{suite}"),
        ])
        .current_dir(&root)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("LANYARD_PUBLIC_URL", &app.public)
        .env("LANYARD_ADMIN_URL", &app.admin)
        .env("LANYARD_ADMIN_KEY", &app.key)
        .output()
        .await
        .expect("run pytest");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the {suite} SDK contract suite failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("passed") && !stdout.contains("skipped"),
        "the suite must run every test:\n{stdout}"
    );
    println!("{suite} contract suite: {}", stdout.lines().last().unwrap_or_default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_zitadel_python_sdk_works_against_lanyard() {
    run_contract_suite("zitadel", TestApp::start_on_system_clock().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_zitadel_python_sdk_works_against_lanyard_on_postgres() {
    run_contract_suite("zitadel", TestApp::start_on_postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_kratos_python_sdk_works_against_lanyard_on_postgres() {
    run_contract_suite("kratos", TestApp::start_on_postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_kratos_python_sdk_works_against_lanyard() {
    run_contract_suite("kratos", TestApp::start_on_system_clock().await).await;
}
