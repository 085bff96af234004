//! Drives Lanyard with the official Ory Python SDK (`tests/contract/kratos`).
//!
//! The virtualenv is created under `target/contract-venv` on first use, from
//! `tests/contract/requirements.txt`. The test fails, never skips, when Python or the
//! packages are unavailable: a contract run that tests nothing must not look green.

use crate::harness::TestApp;
use crate::python::{venv_python, workspace_root};

/// Runs one pytest suite under `tests/contract/` against a fresh Lanyard on the system clock.
async fn run_contract_suite(suite: &str, app: TestApp) {
    let python = tokio::task::spawn_blocking(|| venv_python("contract-venv", "tests/contract/requirements.txt"))
        .await
        .expect("venv setup");
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
        .env("LANYARD_WEBAUTHN_ORIGIN", crate::harness::WEBAUTHN_ORIGIN)
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
