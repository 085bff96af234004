//! Fuzzes the HTTP API with schemathesis (`tests/fuzz/run.py`): the Kratos v26.2.0 spec
//! restricted to the operations Lanyard implements, and Lanyard's own OpenAPI documents, with
//! the checks "no 5xx" and "every response matches its documented schema".
//!
//! The virtualenv is created under `target/fuzz-venv` on first use, from
//! `tests/fuzz/requirements.txt`. The test fails, never skips, when Python or the packages are
//! unavailable. `LANYARD_FUZZ_MAX_EXAMPLES` (default 10, the CI run), `LANYARD_FUZZ_SEED`
//! (default fixed; `random` for a fresh seed) and `FUZZ_RUNS` (some of `kratos-admin`,
//! `kratos-public`, `lanyard-admin`, `lanyard-public`) tune it; docs/FUZZING.md has the longer run.

use crate::harness::TestApp;
use crate::python::{venv_python, workspace_root};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    let python = tokio::task::spawn_blocking(|| venv_python("fuzz-venv", "tests/fuzz/requirements.txt"))
        .await
        .expect("venv setup");
    let app = TestApp::start_on_system_clock().await;
    let root = workspace_root();
    let work = root.join("target").join("fuzz-work");
    let max_examples = std::env::var("LANYARD_FUZZ_MAX_EXAMPLES").unwrap_or_else(|_| "10".into());
    let mut command = tokio::process::Command::new(python);
    command
        .arg("tests/fuzz/run.py")
        .current_dir(&root)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("LANYARD_PUBLIC_URL", &app.public)
        .env("LANYARD_ADMIN_URL", &app.admin)
        .env("LANYARD_ADMIN_KEY", &app.key)
        .env("FUZZ_MAX_EXAMPLES", &max_examples)
        .env("FUZZ_WORK_DIR", &work);
    if let Ok(seed) = std::env::var("LANYARD_FUZZ_SEED") {
        command.env("FUZZ_SEED", seed);
    }
    let output = command.output().await.expect("run tests/fuzz/run.py");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "schemathesis found failures:\n{stdout}\n{stderr}"
    );
    let summary = stdout.lines().last().unwrap_or_default();
    // FUZZ_RUNS (inherited) may pick some of the four runs by hand; by default all must run.
    let expected = match std::env::var("FUZZ_RUNS") {
        Ok(runs) => format!("fuzz: {} passed, 0 failed", runs.split(',').count()),
        Err(_) => "fuzz: 4 passed, 0 failed".to_owned(),
    };
    assert!(
        summary.starts_with(&expected),
        "every schemathesis run must have run:\n{stdout}\n{stderr}"
    );
    // Shown with --nocapture: every run's summary, test cases and seed.
    println!("{stdout}");
}
