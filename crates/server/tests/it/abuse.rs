//! What an adversarial pass found (issue 11), each as the attack that worked before: password
//! guessing in bursts, one login UI address locking everyone out, addresses that dodge limits
//! by spelling, timestamps no client can read, and sizes outside the documented range.

use std::sync::Arc;

use lanyard_service::{ManualClock, Settings};
use reqwest::Method;
use serde_json::{json, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::harness::*;

const PASSWORD: &str = "correct horse battery staple";
const CREATE: &str = "/zitadel.session.v2.SessionService/CreateSession";

async fn app_with(settings: Settings) -> TestApp {
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    TestApp::start_with(clock.clone(), Some(clock), settings, Default::default()).await
}

/// A user with a password; returns (id, email).
async fn user(app: &TestApp) -> (Uuid, String) {
    let email = format!("{}@example.org", Uuid::new_v4());
    let (status, body) = exchange(
        app.admin(Method::POST, "/admin/identities")
            .json(&json!({"schema_id": "default", "traits": {"email": email},
                "credentials": {"password": {"config": {"password": PASSWORD}}}})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    (identity_id(&body), email)
}

fn password_check(email: &str, password: &str) -> Value {
    json!({"checks": {"user": {"loginName": email}, "password": {"password": password}}})
}

/// CreateSession over Connect with the app's API key: (status, Retry-After present, body).
async fn create(app: &TestApp, body: Value) -> (u16, bool, Value) {
    let response = app
        .public(Method::POST, CREATE)
        .bearer_auth(&app.key)
        .json(&body)
        .send()
        .await
        .expect("request");
    let retry_after = response.headers().contains_key("retry-after");
    let (status, body) = read(response).await;
    (status, retry_after, body)
}

/// Sends every body at once; the statuses, each 429 checked for Retry-After, and the
/// messages of the errors.
async fn burst_with_messages(app: &Arc<TestApp>, bodies: Vec<Value>) -> (Vec<u16>, Vec<String>) {
    let tasks: Vec<_> = bodies
        .into_iter()
        .map(|body| {
            let app = app.clone();
            tokio::spawn(async move { create(&app, body).await })
        })
        .collect();
    let (mut statuses, mut messages) = (Vec::new(), Vec::new());
    for task in tasks {
        let (status, retry_after, body) = task.await.expect("task");
        if status == 429 {
            assert!(retry_after, "a 429 says when to retry");
            assert_connect_error(status, &body, 429, "resource_exhausted");
        }
        statuses.push(status);
        messages.extend(body["message"].as_str().map(str::to_owned));
    }
    (statuses, messages)
}

async fn burst(app: &Arc<TestApp>, bodies: Vec<Value>) -> Vec<u16> {
    burst_with_messages(app, bodies).await.0
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

#[tokio::test]
async fn a_burst_of_guesses_gets_at_most_the_limit_of_verdicts() {
    let app = Arc::new(app_with(test_settings()).await);
    let (_, email) = user(&app).await;
    // 49 wrong guesses and the right password, all at once, against a limit of 10.
    let mut bodies: Vec<Value> = (0..49).map(|i| password_check(&email, &format!("guess {i}"))).collect();
    bodies.insert(25, password_check(&email, PASSWORD));
    let statuses = burst(&app, bodies).await;
    let verdicts = count(&statuses, 400) + count(&statuses, 200);
    assert!(verdicts <= 10, "at most 10 checks evaluated, got {statuses:?}");
    assert_eq!(count(&statuses, 429), 50 - verdicts, "{statuses:?}");
}

#[tokio::test]
async fn a_burst_from_one_address_gets_at_most_the_per_ip_limit() {
    let settings = Settings {
        failed_checks_per_identity: 0,
        failed_checks_per_ip: 5,
        ..test_settings()
    };
    let app = Arc::new(app_with(settings).await);
    let mut bodies = Vec::new();
    for _ in 0..4 {
        let (_, email) = user(&app).await;
        bodies.extend((0..5).map(|i| password_check(&email, &format!("guess {i}"))));
    }
    let statuses = burst(&app, bodies).await;
    assert_eq!(count(&statuses, 400), 5, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 15, "{statuses:?}");
}

#[tokio::test]
async fn failure_counts_are_shared_by_nodes_and_kept_across_restarts() {
    let settings = Settings {
        failed_checks_per_ip: 0,
        ..test_settings()
    };
    let node_a = app_with(settings.clone()).await;
    let (_, email) = user(&node_a).await;
    for _ in 0..6 {
        assert_eq!(create(&node_a, password_check(&email, "wrong")).await.0, 400);
    }
    // A second node on the same database (or this one restarted: nothing in memory carries over).
    let node_b = node_a.another_node(settings).await;
    for _ in 0..4 {
        assert_eq!(create(&node_b, password_check(&email, "wrong")).await.0, 400);
    }
    for node in [&node_a, &node_b] {
        let (status, retry_after, body) = create(node, password_check(&email, PASSWORD)).await;
        assert!(retry_after);
        assert_connect_error(status, &body, 429, "resource_exhausted");
    }
    node_a.advance(time::Duration::minutes(5));
    assert_eq!(create(&node_b, password_check(&email, PASSWORD)).await.0, 200);
}

#[tokio::test]
async fn the_optional_lockout_holds_until_an_administrator_unlocks() {
    let settings = Settings {
        failed_checks_per_identity: 0,
        failed_checks_per_ip: 0,
        max_password_attempts: 3,
        ..test_settings()
    };
    let app = Arc::new(app_with(settings).await);
    let (id, email) = user(&app).await;
    // Concurrent guesses cannot get more than the lockout's number of verdicts either.
    let guesses = (0..8).map(|i| password_check(&email, &format!("guess {i}"))).collect();
    let (statuses, messages) = burst_with_messages(&app, guesses).await;
    assert_eq!(count(&statuses, 400), 8, "{statuses:?}");
    let evaluated = messages.iter().filter(|m| m.contains("password is invalid")).count();
    let locked = messages.iter().filter(|m| m.contains("locked")).count();
    assert_eq!((evaluated, locked), (3, 5), "{messages:?}");
    let (status, _, body) = create(&app, password_check(&email, PASSWORD)).await;
    assert_connect_error(status, &body, 400, "failed_precondition");
    assert!(body["message"].as_str().unwrap().contains("locked"), "{body}");
    app.advance(time::Duration::days(1));
    assert_eq!(
        create(&app, password_check(&email, PASSWORD)).await.0,
        400,
        "a lockout does not time out"
    );

    let unlock = |id: Uuid| {
        app.admin(Method::POST, &format!("/admin/lanyard/identities/{id}/unlock"))
            .send()
    };
    assert_eq!(unlock(id).await.unwrap().status(), 204);
    let (status, body) = read(unlock(Uuid::now_v7()).await.unwrap()).await;
    assert_kratos_error(status, &body, 404);
    assert_eq!(create(&app, password_check(&email, PASSWORD)).await.0, 200);
}

#[tokio::test]
async fn a_login_ui_address_does_not_lock_out_its_other_users() {
    let settings = Settings {
        failed_checks_per_identity: 0,
        failed_checks_per_ip: 5,
        ..test_settings()
    };
    let app = app_with(settings).await;
    let (_, victim) = user(&app).await;
    let (_, attacker_target) = user(&app).await;
    let from = |ip: &str, mut body: Value| {
        body["userAgent"] = json!({"ip": ip, "description": "browser"});
        body
    };
    // An attacker behind the login UI exhausts the allowance of its own address…
    for _ in 0..5 {
        let wrong = from("198.51.100.66", password_check(&attacker_target, "wrong"));
        assert_eq!(create(&app, wrong).await.0, 400);
    }
    let (status, _, body) = create(&app, from("198.51.100.66", password_check(&attacker_target, PASSWORD))).await;
    assert_connect_error(status, &body, 429, "resource_exhausted");
    // …and a user the UI reports from elsewhere still logs in through the same socket address.
    assert_eq!(
        create(&app, from("203.0.113.5", password_check(&victim, PASSWORD)))
            .await
            .0,
        200
    );
    // A spelling of the same address is the same address.
    let (status, _, _) = create(&app, from("::ffff:198.51.100.66", password_check(&victim, PASSWORD))).await;
    assert_eq!(status, 429);

    // A caller that reports no address is counted by its socket address.
    for _ in 0..5 {
        assert_eq!(create(&app, password_check(&attacker_target, "wrong")).await.0, 400);
    }
    assert_eq!(create(&app, password_check(&victim, PASSWORD)).await.0, 429);
}

#[tokio::test]
async fn addresses_are_parsed_and_counted_in_one_canonical_form() {
    let settings = Settings {
        sessions_per_ip: 2,
        ..test_settings()
    };
    let app = app_with(settings).await;
    let issue = |ip: &str| {
        let ip = ip.to_owned();
        let app = &app;
        async move {
            let identity = app.create_identity_id().await;
            exchange(
                app.admin(Method::POST, "/admin/lanyard/sessions")
                    .json(&json!({"identity_id": identity, "methods": [{"method": "password"}],
                        "device": {"ip_address": ip}})),
            )
            .await
        }
    };
    for bad in ["999.1.1.1", "203.0.113.099", "0xCB.0.113.99", "example.org"] {
        let (status, body) = issue(bad).await;
        let error = assert_kratos_error(status, &body, 400);
        assert!(
            error["reason"].as_str().unwrap().contains("device.ip_address"),
            "{body}"
        );
    }
    let (status, body) = issue("::ffff:203.0.113.99").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["session"]["devices"][0]["ip_address"], "203.0.113.99");
    assert_eq!(issue("203.0.113.99").await.0, 201);
    let (status, body) = issue("::FFFF:203.0.113.99").await;
    assert_kratos_error(status, &body, 429);

    let (status, _, body) = create(&app, json!({"userAgent": {"ip": "203.0.113.099", "description": "x"}})).await;
    assert_connect_error(status, &body, 400, "invalid_argument");
    assert!(body["message"].as_str().unwrap().contains("userAgent.ip"), "{body}");
}

#[tokio::test]
async fn timestamps_no_client_can_read_are_refused_never_replaced() {
    let app = app_with(test_settings()).await;
    let identity = app.create_identity_id().await;
    let issue = |completed_at: String| {
        app.admin(Method::POST, "/admin/lanyard/sessions")
            .json(&json!({"identity_id": identity,
                "methods": [{"method": "password"}, {"method": "totp", "completed_at": completed_at}]}))
            .send()
    };
    let now = OffsetDateTime::now_utc();
    let rfc3339 = |at: OffsetDateTime| at.format(&time::format_description::well_known::Rfc3339).unwrap();
    for (at, problem) in [
        ("0000-01-01T00:00:00Z".to_owned(), "0001-01-01"),
        ("9999-12-31T23:59:59Z".to_owned(), "future"),
        (rfc3339(now + time::Duration::hours(1)), "future"),
    ] {
        let (status, body) = read(issue(at.clone()).await.unwrap()).await;
        let error = assert_kratos_error(status, &body, 400);
        let reason = error["reason"].as_str().unwrap();
        assert!(
            reason.contains("methods[1].completed_at") && reason.contains(problem),
            "{at}: {reason}"
        );
    }
    // Within the allowed clock skew the value is kept as sent.
    let ahead = now + time::Duration::seconds(20);
    let (status, body) = read(issue(rfc3339(ahead)).await.unwrap()).await;
    assert_eq!(status, 201, "{body}");
    let kept = OffsetDateTime::parse(
        body["session"]["authentication_methods"][1]["completed_at"]
            .as_str()
            .unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(kept.unix_timestamp(), ahead.unix_timestamp());

    let (status, body) = exchange(
        app.public(Method::POST, "/v2/sessions/search")
            .bearer_auth(&app.key)
            .json(&json!({"queries": [{"creationDateQuery": {"creationDate": "0000-01-01T00:00:00Z"}}]})),
    )
    .await;
    assert_rest_error(status, &body, 400, 3);
    assert!(body["message"].as_str().unwrap().contains("0001-01-01"), "{body}");
}

#[tokio::test]
async fn a_session_without_methods_is_refused_at_issue() {
    let app = app_with(test_settings()).await;
    let identity = app.create_identity_id().await;
    let (status, body) = exchange(
        app.admin(Method::POST, "/admin/lanyard/sessions")
            .json(&json!({"identity_id": identity, "methods": []})),
    )
    .await;
    let error = assert_kratos_error(status, &body, 400);
    assert!(error["reason"].as_str().unwrap().contains("methods"), "{body}");
}
