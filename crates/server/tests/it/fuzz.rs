//! Fuzzes the HTTP API with schemathesis (`tests/fuzz/run.py`): the Kratos v26.2.0 spec
//! restricted to the operations Lanyard implements, and Lanyard's own OpenAPI documents, with
//! the checks "no 5xx" and "every response matches its documented schema".
//!
//! The virtualenv is created under `target/fuzz-venv` on first use, from
//! `tests/fuzz/requirements.txt`. The test fails, never skips, when Python or the packages are
//! unavailable. `LANYARD_FUZZ_MAX_EXAMPLES` (default 10, the CI run), `LANYARD_FUZZ_SEED`
//! (default fixed; `random` for a fresh seed) and `FUZZ_RUNS` (some of `kratos-admin`,
//! `kratos-public`, `lanyard-admin`, `lanyard-public`) tune it; docs/FUZZING.md has the longer run.

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

/// Creates (once) the virtualenv with schemathesis; returns its python.
fn fuzz_python() -> PathBuf {
    let root = workspace_root();
    let venv = root.join("target").join("fuzz-venv");
    let python = venv.join("bin").join("python");
    let requirements = root.join("tests/fuzz/requirements.txt");
    let stamp = venv.join(".requirements");
    let wanted = std::fs::read_to_string(&requirements).expect("read tests/fuzz/requirements.txt");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        run(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            "python3 -m venv",
        );
        run(
            Command::new(&python)
                .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"])
                .arg(&requirements),
            "pip install -r tests/fuzz/requirements.txt",
        );
        std::fs::write(&stamp, wanted).expect("write venv stamp");
    }
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    let python = tokio::task::spawn_blocking(fuzz_python).await.expect("venv setup");
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
