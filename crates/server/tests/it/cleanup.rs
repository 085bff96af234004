//! Expired-session cleanup: the service use case on a manual clock, the lease that lets only
//! one run delete at a time, the background job, and the `lanyard cleanup` command.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use lanyard::config::{CleanupConfig, HumanDuration};
use lanyard_domain::{Micros, Session, TokenDigest};
use lanyard_service::{CleanupOptions, CleanupOutcome, CleanupReport, Clock, CLEANUP_LEASE};
use lanyard_store::{SqliteOptions, SqliteStore, Store};
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use crate::harness::{session_id, TestApp};

const HOUR: time::Duration = time::Duration::HOUR;

/// Issues a session (password method) over the admin API, on the app's clock; returns its id
/// and token.
async fn issue(app: &TestApp, identity: Uuid, lifespan: time::Duration) -> (Uuid, String) {
    let (session, token) = app
        .issue(identity, json!({"lifespan": format!("{}s", lifespan.whole_seconds())}))
        .await;
    (session_id(&session), token)
}

async fn revoke(app: &TestApp, id: Uuid) {
    let response = app
        .admin(Method::DELETE, &format!("/admin/sessions/{id}"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 204, "revoke {id}");
}

async fn status_of(app: &TestApp, id: Uuid) -> u16 {
    app.admin(Method::GET, &format!("/admin/sessions/{id}"))
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

async fn assert_gone(app: &TestApp, ids: &[Uuid], why: &str) {
    for id in ids {
        assert_eq!(status_of(app, *id).await, 404, "{why}: session {id} should be deleted");
    }
}

async fn assert_kept(app: &TestApp, ids: &[Uuid], why: &str) {
    for id in ids {
        assert_eq!(status_of(app, *id).await, 200, "{why}: session {id} should be kept");
    }
}

fn options(keep_last: time::Duration, batch_size: u32) -> CleanupOptions {
    CleanupOptions {
        keep_last,
        batch_size,
        max_batches: None,
    }
}

fn ran(deleted: u64, batches: u32, complete: bool) -> CleanupOutcome {
    CleanupOutcome::Ran(CleanupReport {
        deleted,
        batches,
        complete,
    })
}

#[tokio::test]
async fn cleanup_deletes_exactly_the_sessions_past_retention() {
    let app = TestApp::start().await;
    let identity = app.create_identity_id().await;

    // t0: 25 sessions that expire an hour later, 2 revoked at once, one active for two days.
    let mut old_expired = Vec::new();
    for _ in 0..25 {
        old_expired.push(issue(&app, identity, HOUR).await);
    }
    let mut old_revoked = Vec::new();
    for _ in 0..2 {
        let (id, token) = issue(&app, identity, 48 * HOUR).await;
        revoke(&app, id).await;
        old_revoked.push((id, token));
    }
    let (active, active_token) = issue(&app, identity, 48 * HOUR).await;
    assert_eq!(app.whoami_status(&active_token).await, 200);

    // t0+5h: one that expires half an hour later, one revoked at once.
    app.advance(5 * HOUR);
    let (recent_expired, _) = issue(&app, identity, HOUR / 2).await;
    let (recent_revoked, _) = issue(&app, identity, 48 * HOUR).await;
    revoke(&app, recent_revoked).await;

    // t0+6h, keeping 2 hours: the cutoff is t0+4h.
    app.advance(HOUR);
    let old: Vec<Uuid> = old_expired.iter().chain(&old_revoked).map(|(id, _)| *id).collect();
    let young = [active, recent_expired, recent_revoked];
    assert_kept(&app, &old, "before cleanup").await;

    // A batch limit stops early and says so.
    let mut limited = options(2 * HOUR, 10);
    limited.max_batches = Some(1);
    let outcome = app.service.cleanup_sessions(limited, |_| {}).await.unwrap();
    assert_eq!(outcome, ran(10, 1, false));

    // The rest goes in batches of 10, with progress after each.
    let mut progress = Vec::new();
    let outcome = app
        .service
        .cleanup_sessions(options(2 * HOUR, 10), |deleted| progress.push(deleted))
        .await
        .unwrap();
    assert_eq!(outcome, ran(17, 2, true));
    assert_eq!(progress, [10, 17]);
    assert_gone(&app, &old, "expired or revoked before the cutoff").await;
    assert_kept(&app, &young, "active, or expired/revoked within the retention").await;
    assert_eq!(app.whoami_status(&active_token).await, 200);
    assert_eq!(app.whoami_status(&old_expired[0].1).await, 401);
    assert_eq!(app.whoami_status(&old_revoked[0].1).await, 401);

    // Nothing more is due: one empty batch.
    let outcome = app
        .service
        .cleanup_sessions(options(2 * HOUR, 10), |_| {})
        .await
        .unwrap();
    assert_eq!(outcome, ran(0, 1, true));

    // Two hours on, the recent ones are past the retention too; the active one stays.
    app.advance(2 * HOUR);
    let outcome = app
        .service
        .cleanup_sessions(options(2 * HOUR, 10), |_| {})
        .await
        .unwrap();
    assert_eq!(outcome, ran(2, 1, true));
    assert_gone(&app, &[recent_expired, recent_revoked], "past the retention now").await;
    assert_kept(&app, &[active], "still active").await;
    assert_eq!(app.whoami_status(&active_token).await, 200);

    // Zero retention deletes the moment a session expires; the active one is never touched.
    let (short, _) = issue(&app, identity, time::Duration::minutes(1)).await;
    app.advance(time::Duration::minutes(1) + time::Duration::microseconds(1));
    let outcome = app
        .service
        .cleanup_sessions(options(time::Duration::ZERO, 10), |_| {})
        .await
        .unwrap();
    assert_eq!(outcome, ran(1, 1, true));
    assert_gone(&app, &[short], "expired, no retention").await;
    assert_kept(&app, &[active], "still active").await;

    // Nonsense options are refused before anything happens.
    assert!(app.service.cleanup_sessions(options(-HOUR, 10), |_| {}).await.is_err());
    assert!(app.service.cleanup_sessions(options(HOUR, 0), |_| {}).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_cleanup_is_refused_while_another_holds_the_lease() {
    let app = TestApp::start().await;
    let identity = app.create_identity_id().await;
    let store = app.store.clone();

    let mut expired = Vec::new();
    for _ in 0..3 {
        expired.push(issue(&app, identity, HOUR).await.0);
    }
    app.advance(2 * HOUR);
    let clock_now = Micros::from_datetime(app.clock.as_ref().expect("manual clock").now());

    // Another node holds the lease: this run deletes nothing.
    assert!(store
        .try_acquire_lease(CLEANUP_LEASE, "another-node", time::Duration::seconds(60), clock_now)
        .await
        .unwrap());
    let outcome = app
        .service
        .cleanup_sessions(options(time::Duration::ZERO, 100), |_| {})
        .await
        .unwrap();
    assert_eq!(outcome, CleanupOutcome::Busy);
    assert_kept(&app, &expired, "the lease was held elsewhere").await;

    // That node died: once its lease runs out, cleanup runs again.
    app.advance(time::Duration::seconds(60));
    let outcome = app
        .service
        .cleanup_sessions(options(time::Duration::ZERO, 100), |_| {})
        .await
        .unwrap();
    assert_eq!(outcome, ran(3, 1, true));
    assert_gone(&app, &expired, "the lease had run out").await;
    // A finished run releases its lease: the other node gets it at once.
    let clock_now = Micros::from_datetime(app.clock.as_ref().expect("manual clock").now());
    assert!(store
        .try_acquire_lease(CLEANUP_LEASE, "another-node", time::Duration::seconds(60), clock_now)
        .await
        .unwrap());
    assert!(store.release_lease(CLEANUP_LEASE, "another-node").await.unwrap());

    // Two runs at once in this process: the first holds the lease while it works (here: while
    // its progress callback waits for the second run to answer), so the second is refused.
    let mut expired = Vec::new();
    for _ in 0..3 {
        expired.push(issue(&app, identity, HOUR).await.0);
    }
    app.advance(2 * HOUR);
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let (answered_tx, answered_rx) = std::sync::mpsc::channel::<()>();
    let service = app.service.clone();
    let first = tokio::spawn(async move {
        let mut started = Some(started_tx);
        service
            .cleanup_sessions(options(time::Duration::ZERO, 1), move |_| {
                if let Some(started) = started.take() {
                    let _ = started.send(());
                    tokio::task::block_in_place(|| answered_rx.recv_timeout(Duration::from_secs(30)))
                        .expect("the second run answers");
                }
            })
            .await
    });
    started_rx.await.expect("the first run deleted its first batch");
    let second = app
        .service
        .cleanup_sessions(options(time::Duration::ZERO, 1), |_| {})
        .await
        .unwrap();
    assert_eq!(second, CleanupOutcome::Busy, "two cleanups ran at once");
    answered_tx.send(()).unwrap();
    let first = first.await.unwrap().unwrap();
    assert_eq!(first, ran(3, 4, true), "the first run finished the job");
    assert_gone(&app, &expired, "deleted by the first run").await;
}

#[tokio::test]
async fn the_background_job_cleans_up_every_interval() {
    let app = TestApp::start().await;
    let identity = app.create_identity_id().await;
    let (expired, _) = issue(&app, identity, HOUR).await;
    let (active, _) = issue(&app, identity, 48 * HOUR).await;
    app.advance(3 * HOUR);

    let config = CleanupConfig {
        enabled: true,
        interval: HumanDuration(Duration::from_millis(50)),
        keep_last: HumanDuration(Duration::from_secs(3600)),
        batch_size: 10,
    };
    let job = lanyard::cleanup::spawn_background_job(app.service.clone(), &config);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while status_of(&app, expired).await != 404 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the job did not delete the expired session"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Later rounds keep going and never touch the active session.
    let (later, _) = issue(&app, identity, HOUR).await;
    app.advance(3 * HOUR);
    while status_of(&app, later).await != 404 {
        assert!(tokio::time::Instant::now() < deadline, "a later round did not run");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    job.abort();
    assert_kept(&app, &[active], "active").await;
}

/// A session with no user (as ZITADEL allows), written straight into the store.
fn stored_session(created: Micros, expires: Option<Micros>, revoked: Option<Micros>) -> Session {
    Session {
        id: Uuid::now_v7(),
        identity_id: None,
        created_at: created,
        changed_at: created,
        authenticated_at: created,
        expires_at: expires,
        revoked_at: revoked,
        user_checked_at: None,
        factors: Vec::new(),
        devices: Vec::new(),
        metadata: BTreeMap::new(),
        creator: None,
        sequence: 0,
    }
}

fn lanyard(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lanyard"))
        .env("LANYARD_DATABASE__URL", format!("sqlite://{}", db.display()))
        .env("LANYARD_LOG__LEVEL", "warn")
        .env_remove("LANYARD_CONFIG")
        .env_remove("LANYARD_CLEANUP__KEEP_LAST")
        .env_remove("LANYARD_CLEANUP__BATCH_SIZE")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run lanyard")
}

fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn the_cleanup_command_deletes_in_batches_and_reports_progress() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("cleanup.db");
    let day = 24 * 3600 * 1_000_000_i64;
    let now = Micros::from_datetime(time::OffsetDateTime::now_utc());
    let ago = |micros: i64| Micros(now.0 - micros);

    let store = SqliteStore::open_and_migrate(&SqliteOptions::new(&db))
        .await
        .expect("open SQLite");
    let mut due = Vec::new();
    for n in 0..5 {
        due.push(stored_session(ago(4 * day), Some(ago(3 * day - n)), None));
    }
    due.push(stored_session(
        ago(4 * day),
        Some(Micros(now.0 + day)),
        Some(ago(2 * day)),
    ));
    let recently_expired = stored_session(ago(day), Some(ago(day / 24)), None);
    let kept = [
        recently_expired.clone(),
        stored_session(ago(day), Some(Micros(now.0 + day)), None),
        stored_session(ago(day), None, None),
    ];
    for session in due.iter().chain(&kept) {
        store
            .insert_session(session, &TokenDigest::of(&session.id.to_string()))
            .await
            .expect("insert");
    }
    store.close().await;

    let output = lanyard(&db, &["cleanup", "--keep-last", "24h", "--batch-size", "2"]);
    let stderr = stderr_of(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("more than 1day ago, 2 per batch"), "{stderr}");
    assert!(
        stderr.contains("deleted 2 so far (") && stderr.contains("sessions/s)"),
        "progress: {stderr}"
    );
    assert!(
        stderr.contains("Deleted 6 session(s) in 4 batch(es)"),
        "summary: {stderr}"
    );
    assert!(output.stdout.is_empty());

    let store = SqliteStore::open(&SqliteOptions::new(&db)).await.expect("open");
    for session in &due {
        assert!(
            store.session(session.id).await.unwrap().is_none(),
            "due {:?}",
            session.id
        );
    }
    for session in &kept {
        assert!(
            store.session(session.id).await.unwrap().is_some(),
            "kept {:?}",
            session.id
        );
    }

    // Someone else holds the lease: exit 0, say so, delete nothing.
    let system_now = Micros::from_datetime(time::OffsetDateTime::now_utc());
    assert!(store
        .try_acquire_lease(CLEANUP_LEASE, "another-node", time::Duration::minutes(5), system_now)
        .await
        .unwrap());
    let output = lanyard(&db, &["cleanup", "--keep-last", "0s"]);
    let stderr = stderr_of(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("Another cleanup is running"), "{stderr}");
    assert!(store.session(recently_expired.id).await.unwrap().is_some());
    assert!(store.release_lease(CLEANUP_LEASE, "another-node").await.unwrap());

    // Without retention, the recently expired one goes too.
    let output = lanyard(&db, &["cleanup", "--keep-last", "0s"]);
    let stderr = stderr_of(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("Deleted 1 session(s) in 1 batch(es)"), "{stderr}");
    assert!(store.session(recently_expired.id).await.unwrap().is_none());
    assert!(store.session(kept[1].id).await.unwrap().is_some());
    assert!(store.session(kept[2].id).await.unwrap().is_some());
    store.close().await;

    // Bad flags are refused with a message.
    let output = lanyard(&db, &["cleanup", "--batch-size", "0"]);
    assert!(!output.status.success());
    assert!(stderr_of(&output).contains("--batch-size"), "{}", stderr_of(&output));
    let output = lanyard(&db, &["cleanup", "--keep-last", "soon"]);
    assert!(!output.status.success());
    assert!(
        stderr_of(&output).contains("invalid duration"),
        "{}",
        stderr_of(&output)
    );
}
