//! Issue 11, item 7: one caller must not be able to starve everybody else with lists and
//! searches. Each principal (an API key, or the identity behind a session token) may run a
//! bounded number at once; the rest wait briefly, then get 429 with Retry-After in the
//! protocol's own error format, while other principals are served as usual.

use std::sync::Arc;

use lanyard_service::{IssueSession, ManualClock, Principal, SearchSessions, Settings};
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};
use time::OffsetDateTime;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::harness::*;

/// One list/search per principal, refused at once when busy, so that the tests need no timing.
fn one_at_a_time() -> Settings {
    Settings {
        list_concurrency_per_principal: 1,
        list_concurrency: 64,
        list_queue_timeout: time::Duration::ZERO,
        ..test_settings()
    }
}

async fn start(settings: Settings) -> TestApp {
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    TestApp::start_with(clock.clone(), Some(clock), settings, Default::default()).await
}

/// The error formats of the two APIs' three transports.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Format {
    Kratos,
    ZitadelRest,
    Connect,
}

fn zitadel_search(app: &TestApp, format: Format, bearer: &str) -> RequestBuilder {
    let path = match format {
        Format::ZitadelRest => "/v2/sessions/search",
        _ => "/zitadel.session.v2.SessionService/ListSessions",
    };
    app.public(Method::POST, path)
        .bearer_auth(bearer)
        .json(&json!({"query": {"limit": 1000}}))
}

/// Asserts a 429 in `format` with a Retry-After header, and an error that says what happened.
async fn assert_limited(response: reqwest::Response, format: Format, what: &str) {
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (status, body) = read(response).await;
    assert_eq!(status, 429, "{what}: {body}");
    assert_eq!(retry_after.as_deref(), Some("1"), "{what}: Retry-After");
    match format {
        Format::Kratos => {
            let error = assert_kratos_error(status, &body, 429);
            assert_eq!(error["status"], "Too Many Requests", "{what}: {body}");
            let text = format!("{} {}", error["reason"], error["message"]);
            assert!(text.contains("list or search"), "{what}: {body}");
            assert!(
                !text.contains("internal"),
                "{what}: a 429 is not an internal error: {body}"
            );
        }
        Format::ZitadelRest => {
            assert_eq!(body["code"], 8, "{what}: RESOURCE_EXHAUSTED: {body}");
            assert!(
                body["message"].as_str().is_some_and(|m| m.contains("list or search")),
                "{body}"
            );
            assert_eq!(
                body["details"][0]["@type"],
                "type.googleapis.com/zitadel.v1.ErrorDetail"
            );
        }
        Format::Connect => {
            assert_eq!(body["code"], "resource_exhausted", "{what}: {body}");
            assert!(
                body["message"].as_str().is_some_and(|m| m.contains("list or search")),
                "{body}"
            );
            assert_eq!(body["details"][0]["type"], "zitadel.v1.ErrorDetail");
        }
    }
}

#[tokio::test]
async fn a_busy_principal_gets_429_in_each_protocol_while_other_principals_are_served() {
    let app = start(one_at_a_time()).await;
    let busy = app.create_identity_id().await;
    let (_, busy_token) = app.issue(busy, json!({})).await;
    let (_, busy_second_token) = app.issue(busy, json!({})).await;
    let other = app.create_identity_id().await;
    let (_, other_token) = app.issue(other, json!({})).await;
    let admin_key = app.service.list_api_keys().await.expect("keys").remove(0);

    // The busy identity and the admin key each have a search running (held here, as a slow
    // search would hold it).
    let busy_principal = Principal::Session {
        session_id: Uuid::nil(),
        identity_id: busy,
        fingerprint_id: None,
    };
    let held_by_identity = app
        .service
        .search_sessions(&busy_principal, SearchSessions::default())
        .await
        .expect("search");
    let held_by_key = app
        .service
        .search_sessions(&Principal::ApiKey(admin_key), SearchSessions::default())
        .await
        .expect("search");

    // The identity, through either of its tokens and either API.
    for format in [Format::ZitadelRest, Format::Connect] {
        let response = zitadel_search(&app, format, &busy_token).send().await.unwrap();
        assert_limited(response, format, "ZITADEL search with a session token").await;
    }
    let response = app
        .public(Method::GET, "/sessions")
        .header("X-Session-Token", &busy_second_token)
        .send()
        .await
        .unwrap();
    assert_limited(
        response,
        Format::Kratos,
        "GET /sessions with another token of the same identity",
    )
    .await;

    // The API key, on every admin list and on ZITADEL.
    for path in [
        "/admin/sessions".to_owned(),
        format!("/admin/identities/{busy}/sessions"),
        "/admin/identities".to_owned(),
    ] {
        let response = app.admin(Method::GET, &path).send().await.unwrap();
        assert_limited(response, Format::Kratos, &path).await;
    }
    for format in [Format::ZitadelRest, Format::Connect] {
        let response = zitadel_search(&app, format, &app.key).send().await.unwrap();
        assert_limited(response, format, "ZITADEL search with the API key").await;
    }

    // Somebody else is not affected, and the busy principals' other requests are not limited.
    for format in [Format::ZitadelRest, Format::Connect] {
        let (status, body) = exchange(zitadel_search(&app, format, &other_token)).await;
        assert_eq!(status, 200, "{format:?}: {body}");
    }
    let response = app
        .public(Method::GET, "/sessions")
        .header("X-Session-Token", &other_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(app.whoami_status(&busy_token).await, 200, "whoami is never limited");
    let response = app
        .admin(Method::GET, &format!("/admin/identities/{busy}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "single reads are not lists");

    // Once the running searches end, the same requests go through.
    drop(held_by_identity);
    drop(held_by_key);
    let (status, body) = exchange(zitadel_search(&app, Format::Connect, &busy_token)).await;
    assert_eq!(status, 200, "{body}");
    let response = app.admin(Method::GET, "/admin/sessions").send().await.unwrap();
    assert_eq!(response.status(), 200);
}

/// The scenario of the issue: one session-token holder fires limit-1000 searches over 16
/// connections at once. Some are refused; everybody else's searches and whoami are served.
#[tokio::test]
async fn one_caller_flooding_searches_is_refused_while_another_is_unaffected() {
    let app = start(Settings {
        list_concurrency_per_principal: 2,
        ..one_at_a_time()
    })
    .await;
    let flooder = app.create_identity_id().await;
    let (_, flood_token) = app.issue(flooder, json!({})).await;
    // Enough sessions that a limit-1000 search takes a while (several ms, more in debug
    // builds), so that concurrent ones overlap.
    let key = app.service.list_api_keys().await.expect("keys").remove(0);
    let mut issuing = JoinSet::new();
    for _ in 0..1_500 {
        let (service, key) = (app.service.clone(), key.clone());
        issuing.spawn(async move {
            let issue = IssueSession {
                identity_id: flooder,
                factors: vec![lanyard_service::FactorInput {
                    method: lanyard_domain::Method::Password,
                    aal: None,
                    completed_at: None,
                    provider: None,
                    organization: None,
                }],
                device: Default::default(),
                lifespan: None,
            };
            service.issue_session(&Principal::ApiKey(key), issue).await.map(|_| ())
        });
    }
    while let Some(issued) = issuing.join_next().await {
        issued.expect("task").expect("issue");
    }
    let bystander = app.create_identity_id().await;
    let (_, bystander_token) = app.issue(bystander, json!({})).await;

    let mut flood = JoinSet::new();
    for i in 0..16 {
        let format = if i % 2 == 0 {
            Format::ZitadelRest
        } else {
            Format::Connect
        };
        let request = zitadel_search(&app, format, &flood_token);
        flood.spawn(async move { (format, request.send().await.expect("request")) });
    }
    let bystander_requests = async {
        let mut statuses = Vec::new();
        for format in [
            Format::ZitadelRest,
            Format::Connect,
            Format::ZitadelRest,
            Format::Connect,
        ] {
            let response = zitadel_search(&app, format, &bystander_token).send().await.unwrap();
            statuses.push(response.status().as_u16());
            statuses.push(app.whoami_status(&bystander_token).await);
        }
        statuses
    };
    let (flooded, bystander_statuses) = tokio::join!(flood.join_all(), bystander_requests);

    let mut served = 0;
    let mut refused = Vec::new();
    for (format, response) in flooded {
        match response.status().as_u16() {
            200 => {
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["sessions"].as_array().map(Vec::len), Some(1000));
                served += 1;
            }
            429 => refused.push((format, response)),
            other => panic!(
                "unexpected status {other}: {}",
                response.text().await.unwrap_or_default()
            ),
        }
    }
    assert!(served >= 2, "the flooder is still served, {served} at a time at most");
    assert!(
        !refused.is_empty(),
        "16 concurrent searches from one caller were all admitted"
    );
    for (format, response) in refused {
        assert_limited(response, format, "a flooding search").await;
    }
    assert!(
        bystander_statuses.iter().all(|s| *s == 200),
        "another caller's searches and whoami: {bystander_statuses:?}"
    );
}
