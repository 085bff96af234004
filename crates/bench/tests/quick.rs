//! The benchmark's quick mode, end to end, so that the benchmark itself cannot rot: it seeds
//! 50,000 sessions, starts the server (the `lanyard` command line built into lanyard-bench, so
//! no other binary has to be built first), drives every step over HTTP with the built-in load
//! loop (`--builtin-load`: the same requests as the wrk scripts, so that `cargo test` needs no
//! wrk) and measures the in-process lookup. It checks that every step produced numbers and no
//! error responses; it asserts no timings (those are for docs/BENCHMARKS.md, from a release
//! build with wrk).

use std::process::Command;

const STEPS: [&str; 25] = [
    "health",
    "whoami_warm",
    "admin_list_first",
    "admin_list_first_1c",
    "admin_list_deep",
    "admin_list_deep_1c",
    "zitadel_search",
    "zitadel_search_1c",
    // The same ZITADEL calls over Connect JSON, Connect protobuf and gRPC.
    "zitadel_get_connect_json",
    "zitadel_get_connect_proto",
    "zitadel_get_grpc",
    "zitadel_list_connect_json",
    "zitadel_list_connect_proto",
    "zitadel_list_grpc",
    // --quick pages at offsets 0, 1% and 10% of its 50,000 sessions.
    "offset_0",
    "offset_500",
    "offset_5000",
    // Whoami before and during one caller's search flood, with and without list limits (the
    // flooder's own rows count its 429s as errors, by design).
    "search_flood_idle",
    "search_flood",
    "create",
    "password",
    "search_flood_unlimited_idle",
    "search_flood_unlimited",
    "whoami_cold",
    "direct",
];

#[test]
fn the_quick_benchmark_runs_every_step_and_prints_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("results.json");
    // A debug build serves slowly: fewer connections than the real run keep every step's
    // requests well inside the step's two seconds.
    let output = Command::new(env!("CARGO_BIN_EXE_lanyard-bench"))
        .args([
            "run",
            "--quick",
            "--server-bin",
            "embedded",
            "--duration",
            "2s",
            "--builtin-load",
        ])
        .args(["--connections", "8", "--dir"])
        .arg(dir.path())
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "lanyard-bench run --quick failed ({}):\n{stdout}\n{stderr}",
        output.status
    );

    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let steps = report["steps"].as_array().unwrap();
    for key in STEPS {
        let step = steps
            .iter()
            .find(|s| s["key"] == key)
            .unwrap_or_else(|| panic!("no result for step {key}:\n{stdout}"));
        let m = &step["measurement"];
        assert!(m["requests"].as_u64().unwrap() > 0, "{key} completed no request");
        assert_eq!(m["status_errors"].as_u64(), Some(0), "{key} got error responses");
        assert!(m["rps"].as_f64().unwrap() > 0.0, "{key}");
        assert!(m["p50_ms"].as_f64().unwrap() > 0.0, "{key}");
        assert!(m["p99_ms"].as_f64().unwrap() >= m["p50_ms"].as_f64().unwrap(), "{key}");
    }
    // Every bar (DESIGN.md and issue 11) was evaluated (pass or miss is not this test's business).
    assert_eq!(report["bars"].as_array().unwrap().len(), 12, "{stdout}");
    assert!(report["peak_rss_mib"].as_f64().unwrap() > 0.0);
    assert!(report["warm_cache_hit_ratio"].as_f64().unwrap() > 0.0);

    // The one table, with every step and the memory row.
    for label in [
        "static /health/alive",
        "whoami, cached",
        "whoami, cache off",
        "admin list, page 1 (250)",
    ] {
        assert!(stdout.contains(label), "{label} missing from:\n{stdout}");
    }
    assert!(stdout.contains("server peak RSS"), "{stdout}");
}

/// `lanyard-bench search` on a small seed: every shape of both APIs answers 200 with exactly the
/// rows and count the seed model predicts (the binary fails otherwise). No timings are asserted.
#[test]
fn the_search_mode_answers_every_shape_as_the_seed_model_predicts() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("search.json");
    let output = Command::new(env!("CARGO_BIN_EXE_lanyard-bench"))
        .args(["search", "--quick", "--sessions", "3000", "--password-identities", "1"])
        .args([
            "--server-bin",
            "embedded",
            "--iterations",
            "1",
            "--warmup",
            "0",
            "--split",
        ])
        .arg("--dir")
        .arg(dir.path())
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "lanyard-bench search --quick failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let shapes = report["shapes"].as_array().unwrap();
    assert!(shapes.len() >= 50, "{} shapes", shapes.len());
    for shape in shapes {
        assert_eq!(shape["correct"], true, "{shape}");
        assert!(shape["samples"].as_u64().unwrap() >= 1, "{shape}");
    }
    // Every API and paging style is among them, and the filters are real: some shapes match
    // most of the table and some almost none.
    for key in [
        "z_all",
        "z_fingerprint",
        "z_creator_login_ui",
        "z_own",
        "k_admin_deep",
        "k_identity_legacy",
        "k_mine",
    ] {
        assert!(shapes.iter().any(|s| s["key"] == key), "{key} missing");
    }
    let count = |key: &str| {
        shapes.iter().find(|s| s["key"] == key).unwrap()["count"]
            .as_u64()
            .unwrap()
    };
    assert!(count("z_created_gte_broad") > 2_500 && count("z_fingerprint") < 10);
    assert!(stdout.contains("| API | shape | p50 ms |"), "{stdout}");
    // --split timed every ZITADEL shape's count and page in-process.
    for shape in shapes.iter().filter(|s| s["api"] == "ZITADEL") {
        assert!(shape["count_ms"].is_number() && shape["page_ms"].is_number(), "{shape}");
    }

    // `compare` renders the report next to itself.
    let output = Command::new(env!("CARGO_BIN_EXE_lanyard-bench"))
        .arg("compare")
        .args([&json, &json])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{table}");
    assert!(
        table.contains("| SQLite 3k p50 |") && table.contains("SQLite 3k count / page"),
        "{table}"
    );
    let rows = table
        .lines()
        .filter(|l| l.starts_with("| ZITADEL") || l.starts_with("| Kratos"));
    assert_eq!(rows.count(), shapes.len());
}
