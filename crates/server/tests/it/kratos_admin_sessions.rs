use reqwest::Method;
use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn issued_sessions_carry_methods_aal_devices_and_a_prefixed_token() {
    let app = TestApp::start().await;
    let identity = app.create_identity_id().await;
    let (session, token) = app
        .issue(
            identity,
            json!({"methods": [{"method": "password"}, {"method": "totp"}], "lifespan": "2h"}),
        )
        .await;
    assert!(token.starts_with("lanyard_st_") && token.len() == "lanyard_st_".len() + 43);
    assert_eq!(session["active"], true);
    assert_eq!(session["authenticator_assurance_level"], "aal2");
    assert_eq!(session["authentication_methods"][1]["method"], "totp");
    assert_eq!(session["devices"][0]["ip_address"], "203.0.113.9");
    assert_eq!(session["identity"]["id"], identity.to_string());
    let issued = time::OffsetDateTime::parse(
        session["issued_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let expires = time::OffsetDateTime::parse(
        session["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(expires - issued, time::Duration::hours(2));
}

#[tokio::test]
async fn issuing_for_a_disabled_identity_is_refused() {
    let app = TestApp::start().await;
    let identity = app.create_identity_id().await;
    let response = app
        .admin(Method::PATCH, &format!("/admin/identities/{identity}"))
        .json(&json!([{"op": "replace", "path": "/state", "value": "inactive"}]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = app
        .admin(Method::POST, "/admin/lanyard/sessions")
        .json(&json!({"identity_id": identity, "methods": [{"method": "password"}]}))
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    let error = assert_kratos_error(status, &body, 400);
    assert_eq!(error["id"], "identity_disabled");
}

#[tokio::test]
async fn unexpanded_fields_differ_between_list_and_get_as_in_kratos() {
    let app = TestApp::start().await;
    let identity = app.create_identity_id().await;
    let (session, _) = app.issue(identity, json!({})).await;
    let id = session_id(&session);

    let (_, list) = exchange(app.admin(Method::GET, "/admin/sessions")).await;
    assert_eq!(list[0]["identity"], serde_json::Value::Null);
    assert_eq!(list[0]["devices"], serde_json::Value::Null);

    let (_, one) = exchange(app.admin(Method::GET, &format!("/admin/sessions/{id}"))).await;
    assert_eq!(one["identity"], serde_json::Value::Null);
    assert_eq!(one["devices"], json!([]));

    let (_, expanded) = exchange(app.admin(
        Method::GET,
        &format!("/admin/sessions/{id}?expand=identity&expand=Devices"),
    ))
    .await;
    assert_eq!(expanded["identity"]["id"], identity.to_string());
    assert!(expanded["identity"]["schema_url"]
        .as_str()
        .unwrap()
        .contains("/schemas/"));
    assert_eq!(expanded["devices"][0]["user_agent"], "it");
}

#[tokio::test]
async fn the_active_filter_matches_the_active_field_for_expired_revoked_and_disabled_identities() {
    let app = TestApp::start().await;
    let alive_identity = app.create_identity_id().await;
    let disabled_identity = app.create_identity_id().await;
    let (short, _) = app.issue(alive_identity, json!({"lifespan": "1m"})).await;
    let (revoked, _) = app.issue(alive_identity, json!({})).await;
    let (active, _) = app.issue(alive_identity, json!({})).await;
    let (of_disabled, _) = app.issue(disabled_identity, json!({})).await;
    let r = app
        .admin(Method::DELETE, &format!("/admin/sessions/{}", session_id(&revoked)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = app
        .admin(Method::PATCH, &format!("/admin/identities/{disabled_identity}"))
        .json(&json!([{"op": "replace", "path": "/state", "value": "inactive"}]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.advance(time::Duration::minutes(2));

    let ids = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, active_list) = exchange(app.admin(Method::GET, "/admin/sessions?active=true")).await;
    assert_eq!(ids(&active_list), vec![active["id"].as_str().unwrap().to_owned()]);
    assert!(active_list.as_array().unwrap().iter().all(|s| s["active"] == true));

    let (_, inactive_list) = exchange(app.admin(Method::GET, "/admin/sessions?active=false")).await;
    let mut inactive = ids(&inactive_list);
    inactive.sort();
    let mut expected: Vec<String> = [&short, &revoked, &of_disabled]
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    expected.sort();
    assert_eq!(inactive, expected);
    assert!(inactive_list.as_array().unwrap().iter().all(|s| s["active"] == false));
}

#[tokio::test]
async fn disable_keeps_the_row_and_ends_the_session() {
    let app = TestApp::start().await;
    let identity = app.create_identity_id().await;
    let (session, token) = app.issue(identity, json!({})).await;
    let id = session_id(&session);
    assert_eq!(app.whoami_status(&token).await, 200);
    for _ in 0..2 {
        let r = app
            .admin(Method::DELETE, &format!("/admin/sessions/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "disable is idempotent");
    }
    assert_eq!(app.whoami_status(&token).await, 401);
    let (status, body) = exchange(app.admin(Method::GET, &format!("/admin/sessions/{id}"))).await;
    assert_eq!(status, 200);
    assert_eq!(body["active"], false);
    let (status, body) =
        exchange(app.admin(Method::DELETE, &format!("/admin/sessions/{}", uuid::Uuid::now_v7()))).await;
    assert_kratos_error(status, &body, 404);
}

#[tokio::test]
async fn extend_moves_expiry_to_now_plus_lifespan_and_revives_whoami() {
    let app = TestApp::start().await;
    let identity = app.create_identity_id().await;
    let (session, token) = app.issue(identity, json!({"lifespan": "1h"})).await;
    let id = session_id(&session);
    app.advance(time::Duration::hours(2));
    assert_eq!(app.whoami_status(&token).await, 401, "expired");
    let (status, body) = exchange(app.admin(Method::PATCH, &format!("/admin/sessions/{id}/extend"))).await;
    assert_eq!(status, 200);
    assert_eq!(body["active"], true);
    let expires = time::OffsetDateTime::parse(
        body["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let now = app.clock.as_ref().unwrap();
    let expected = lanyard_service::Clock::now(now.as_ref()) + time::Duration::hours(24);
    assert!(
        (expires - expected).abs() < time::Duration::milliseconds(1),
        "{expires} vs {expected}"
    );
    assert_eq!(app.whoami_status(&token).await, 200);
}

#[tokio::test]
async fn extend_is_a_no_op_before_the_earliest_possible_extend() {
    let clock = std::sync::Arc::new(lanyard_service::ManualClock::new(time::OffsetDateTime::now_utc()));
    let settings = lanyard_service::Settings {
        earliest_possible_extend: time::Duration::hours(1),
        ..Default::default()
    };
    let app = TestApp::start_with(clock.clone(), Some(clock), settings, Default::default()).await;
    let identity = app.create_identity_id().await;
    let (session, _) = app.issue(identity, json!({})).await;
    let id = session_id(&session);
    let (_, extended) = exchange(app.admin(Method::PATCH, &format!("/admin/sessions/{id}/extend"))).await;
    assert_eq!(
        extended["expires_at"], session["expires_at"],
        "24h left is more than the 1h window"
    );
    app.advance(time::Duration::hours(23) + time::Duration::minutes(30));
    let (_, extended) = exchange(app.admin(Method::PATCH, &format!("/admin/sessions/{id}/extend"))).await;
    assert_ne!(extended["expires_at"], session["expires_at"]);
}

#[tokio::test]
async fn extend_can_answer_204_when_configured() {
    let clock = std::sync::Arc::new(lanyard_service::ManualClock::new(time::OffsetDateTime::now_utc()));
    let api = lanyard_api::ApiConfig {
        extend_returns_session: false,
        ..Default::default()
    };
    let app = TestApp::start_with(clock.clone(), Some(clock), Default::default(), api).await;
    let identity = app.create_identity_id().await;
    let (session, _) = app.issue(identity, json!({})).await;
    let r = app
        .admin(
            Method::PATCH,
            &format!("/admin/sessions/{}/extend", session_id(&session)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
}

#[tokio::test]
async fn identity_sessions_are_offset_paged_with_total_and_links() {
    let app = TestApp::start().await;
    let identity = app.create_identity_id().await;
    let other = app.create_identity_id().await;
    app.issue(other, json!({})).await;
    let mut issued = Vec::new();
    for _ in 0..5 {
        let (s, _) = app.issue(identity, json!({})).await;
        issued.push(s["id"].as_str().unwrap().to_owned());
        app.advance(time::Duration::seconds(1));
    }
    issued.reverse(); // newest first
    let mut seen = Vec::new();
    let mut url = format!("/admin/identities/{identity}/sessions?page_size=2");
    loop {
        let response = app.admin(Method::GET, &url).send().await.unwrap();
        assert_eq!(response.headers()["x-total-count"], "5");
        let next = link(&response, "next");
        let (status, body) = read(response).await;
        assert_eq!(status, 200);
        for s in body.as_array().unwrap() {
            assert_eq!(s["identity"]["id"], identity.to_string(), "identity always expanded");
            assert!(s["devices"].is_array());
            seen.push(s["id"].as_str().unwrap().to_owned());
        }
        match next {
            Some(next) => url = next,
            None => break,
        }
    }
    assert_eq!(seen, issued);
    let legacy = app
        .admin(
            Method::GET,
            &format!("/admin/identities/{identity}/sessions?page=1&per_page=2"),
        )
        .send()
        .await
        .unwrap();
    let (_, body) = read(legacy).await;
    assert_eq!(body[0]["id"], issued[2].as_str(), "page is 0-based");
}

#[tokio::test]
async fn deleting_identity_sessions_removes_them_and_404s_only_for_unknown_identities() {
    let app = TestApp::start().await;
    let identity = app.create_identity_id().await;
    let (session, token) = app.issue(identity, json!({})).await;
    let r = app
        .admin(Method::DELETE, &format!("/admin/identities/{identity}/sessions"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(app.whoami_status(&token).await, 401);
    let r = app
        .admin(Method::GET, &format!("/admin/sessions/{}", session_id(&session)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = app
        .admin(Method::DELETE, &format!("/admin/identities/{identity}/sessions"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "an identity without sessions is not an error");
    let (status, body) = exchange(app.admin(
        Method::DELETE,
        &format!("/admin/identities/{}/sessions", uuid::Uuid::now_v7()),
    ))
    .await;
    assert_kratos_error(status, &body, 404);
    let (status, body) = exchange(app.admin(
        Method::GET,
        &format!("/admin/identities/{}/sessions", uuid::Uuid::now_v7()),
    ))
    .await;
    assert_kratos_error(status, &body, 404);
}

#[tokio::test]
async fn session_creation_is_rate_limited_per_identity_and_per_end_user_ip() {
    let clock = std::sync::Arc::new(lanyard_service::ManualClock::new(time::OffsetDateTime::now_utc()));
    let settings = lanyard_service::Settings {
        sessions_per_identity: 3,
        sessions_per_ip: 5,
        ..Default::default()
    };
    let app = TestApp::start_with(clock.clone(), Some(clock), settings, Default::default()).await;
    let issue = |identity: uuid::Uuid, ip: &'static str| {
        app.admin(Method::POST, "/admin/lanyard/sessions")
            .json(&json!({"identity_id": identity, "methods": [{"method": "password"}], "device": {"ip_address": ip}}))
            .send()
    };
    let busy = app.create_identity_id().await;
    for _ in 0..3 {
        assert_eq!(issue(busy, "198.51.100.1").await.unwrap().status(), 201);
    }
    let response = issue(busy, "198.51.100.1").await.unwrap();
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned()),
        Some("60".into())
    );
    let (status, body) = read(response).await;
    assert_kratos_error(status, &body, 429);

    // Other identities from the same address: two more fit under the per-IP limit of 5.
    for expected in [201, 201, 429] {
        let other = app.create_identity_id().await;
        assert_eq!(issue(other, "198.51.100.1").await.unwrap().status(), expected);
    }
    let elsewhere = app.create_identity_id().await;
    assert_eq!(issue(elsewhere, "203.0.113.50").await.unwrap().status(), 201);
    app.advance(time::Duration::minutes(1));
    assert_eq!(issue(busy, "198.51.100.1").await.unwrap().status(), 201, "a new window");
}
