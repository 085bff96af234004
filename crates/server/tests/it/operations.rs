//! The running binary as an operator sees it: metrics, graceful shutdown.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};

use crate::crash::{lanyard, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_per_route_on_the_admin_port_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("ops.db");
    let mut server = start(&db).await;
    let http = reqwest::Client::new();
    for _ in 0..3 {
        http.get(format!("{}/sessions/whoami", server.public))
            .header("X-Session-Token", "nope")
            .send()
            .await
            .expect("whoami");
    }
    // Whoami answers every method; invented ones must not each become a series of their own.
    for method in ["BREW", "WHEN"] {
        http.request(
            reqwest::Method::from_bytes(method.as_bytes()).expect("method"),
            format!("{}/sessions/whoami", server.public),
        )
        .send()
        .await
        .expect("whoami");
    }
    let metrics = http
        .get(format!("{}/metrics", server.admin))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains(r#"lanyard_http_requests_total{method="GET",route="/sessions/whoami",status="401"} 3"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"lanyard_http_requests_total{method="OTHER",route="/sessions/whoami",status="401"} 2"#),
        "{metrics}"
    );
    assert!(!metrics.contains("BREW"), "{metrics}");
    assert!(
        metrics.contains("lanyard_http_request_duration_seconds_bucket"),
        "{metrics}"
    );
    assert!(metrics.contains("lanyard_token_cache_misses_total 3"), "{metrics}");
    let public = http
        .get(format!("{}/metrics", server.public))
        .send()
        .await
        .expect("public metrics");
    assert_eq!(public.status(), 404, "metrics stay on the admin port");
    server.child.kill().expect("stop");
    server.child.wait().expect("reap");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_requests_before_exiting() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("term.db");
    let key = lanyard(&db)
        .args(["keys", "create", "--name", "term"])
        .stderr(Stdio::null())
        .output()
        .expect("keys");
    let key = String::from_utf8(key.stdout).expect("utf-8").trim().to_owned();
    let mut server = start(&db).await;
    let http = reqwest::Client::new();
    // Identity creation hashes a password with argon2id: slow enough to still be running
    // when SIGTERM arrives.
    let requests: Vec<_> = (0..4)
        .map(|n| {
            let request = http
                .post(format!("{}/admin/identities", server.admin))
                .bearer_auth(&key)
                .json(
                    &json!({"schema_id": "default", "traits": {"email": format!("t{n}@example.org")},
                    "credentials": {"password": {"config": {"password": "correct horse battery staple"}}}}),
                )
                .send();
            tokio::spawn(request)
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(30)).await;
    let pid = server.child.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    for request in requests {
        let response = request
            .await
            .expect("task")
            .expect("an in-flight request is answered, not cut off");
        assert_eq!(response.status(), 201);
        let _: Value = response.json().await.expect("JSON");
    }
    let exit = tokio::task::spawn_blocking(move || server.child.wait())
        .await
        .expect("join")
        .expect("wait");
    assert!(exit.success(), "lanyard exits cleanly on SIGTERM: {exit:?}");
}
