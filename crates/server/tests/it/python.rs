//! Virtualenvs for the Python-driven tests (the SDK contract suites, schemathesis), created
//! under `target/` on first use and reused while their requirements file is unchanged.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The workspace root (where `tests/` and `target/` are).
pub fn workspace_root() -> PathBuf {
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

/// Creates (once) `target/<name>` with the packages of `requirements` (relative to the
/// workspace root) and returns its python. Tests run in parallel in this one binary, and two
/// `pip install`s into one fresh virtualenv break each other, so creation is serialised.
pub fn venv_python(name: &str, requirements: &str) -> PathBuf {
    static CREATING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = CREATING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let root = workspace_root();
    let venv = root.join("target").join(name);
    let python = venv.join("bin").join("python");
    let requirements_path = root.join(requirements);
    let stamp = venv.join(".requirements");
    let wanted = std::fs::read_to_string(&requirements_path).unwrap_or_else(|e| panic!("read {requirements}: {e}"));
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        run(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            "python3 -m venv",
        );
        run(
            Command::new(&python)
                .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"])
                .arg(&requirements_path),
            &format!("pip install -r {requirements}"),
        );
        std::fs::write(&stamp, wanted).expect("write venv stamp");
    }
    python
}
