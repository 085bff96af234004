//! Every bad input gets a 4xx in Kratos's error shape that says what was wrong.

use reqwest::Method;
use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn bad_path_uuids_are_400_with_the_kratos_debug_text() {
    let app = TestApp::start().await;
    for path in [
        "/admin/sessions/not-a-uuid",
        "/admin/identities/nope",
        "/admin/identities/123/sessions",
        "/admin/sessions/xyz/extend",
    ] {
        let method = if path.ends_with("extend") {
            Method::PATCH
        } else {
            Method::GET
        };
        let (status, body) = exchange(app.admin(method, path)).await;
        let error = assert_kratos_error(status, &body, 400);
        assert_eq!(error["debug"], "could not parse UUID", "{path}");
    }
}

#[tokio::test]
async fn bad_query_parameters_are_named_in_the_error() {
    let app = TestApp::start().await;
    for (query, needle) in [
        ("expand=everything", "Could not parse expand option: everything"),
        ("expand=identity,devices", "Could not parse expand option"),
        ("active=maybe", "could not parse parameter active"),
        ("page_size=1.5", "could not parse parameter page_size"),
    ] {
        let (status, body) = exchange(app.admin(Method::GET, &format!("/admin/sessions?{query}"))).await;
        let error = assert_kratos_error(status, &body, 400);
        assert!(error["reason"].as_str().unwrap().contains(needle), "{query}: {body}");
    }
}

#[tokio::test]
async fn admin_routes_need_a_key_with_the_right_scope() {
    let app = TestApp::start().await;
    let (status, body) = exchange(app.http.get(format!("{}/admin/sessions", app.admin))).await;
    assert_kratos_error(status, &body, 401);
    let (status, body) = exchange(
        app.http
            .get(format!("{}/admin/sessions", app.admin))
            .bearer_auth("lanyard_ak_wrong"),
    )
    .await;
    assert_kratos_error(status, &body, 401);
    // The Kratos SDKs send the bare key.
    let r = app
        .http
        .get(format!("{}/admin/sessions", app.admin))
        .header("Authorization", &app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let reader = app
        .service
        .create_api_key("reader", vec![lanyard_domain::Scope::SessionRead])
        .await
        .unwrap();
    let secret = reader.secret.expose().to_owned();
    let r = app
        .http
        .get(format!("{}/admin/sessions", app.admin))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (status, body) = exchange(
        app.http
            .delete(format!("{}/admin/sessions/{}", app.admin, uuid::Uuid::now_v7()))
            .bearer_auth(&secret),
    )
    .await;
    let error = assert_kratos_error(status, &body, 403);
    assert!(error["reason"].as_str().unwrap().contains("session.delete"));

    app.service.revoke_api_key(reader.key.id).await.unwrap();
    let r = app
        .http
        .get(format!("{}/admin/sessions", app.admin))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "a revoked key stops working at once");
}

#[tokio::test]
async fn malformed_bodies_are_400() {
    let app = TestApp::start().await;
    for body in ["{", "[]", "", "{\"schema_id\": 5}", "null"] {
        let (status, json) = exchange(
            app.admin(Method::POST, "/admin/identities")
                .header("content-type", "application/json")
                .body(body),
        )
        .await;
        assert_kratos_error(status, &json, 400);
    }
    let (status, json) = exchange(
        app.admin(Method::POST, "/admin/lanyard/sessions")
            .json(&json!({"identity_id": uuid::Uuid::now_v7(), "methods": [{"method": "magic"}]})),
    )
    .await;
    let error = assert_kratos_error(status, &json, 400);
    assert!(error["reason"].as_str().unwrap().contains("magic"));
    let (status, json) = exchange(
        app.admin(Method::POST, "/admin/lanyard/sessions")
            .json(&json!({"identity_id": uuid::Uuid::now_v7(), "lifespan": "forever"})),
    )
    .await;
    assert_kratos_error(status, &json, 400);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_kratos_shape() {
    let app = TestApp::start().await;
    let (status, body) = exchange(app.admin(Method::GET, "/admin/nothing-here")).await;
    assert_kratos_error(status, &body, 404);
    let (status, body) = exchange(app.admin(Method::POST, "/admin/sessions")).await;
    assert_kratos_error(status, &body, 405);
    let (status, body) = exchange(app.public(Method::GET, "/admin/sessions")).await;
    assert_kratos_error(status, &body, 404);
}

#[tokio::test]
async fn oversized_bodies_are_413_in_each_apis_error_shape() {
    let app = TestApp::start().await;
    let big = format!(
        "{{\"schema_id\":\"default\",\"traits\":{{\"email\":\"{}\"}}}}",
        "a".repeat(2 * 1024 * 1024)
    );
    let (status, body) = exchange(
        app.admin(Method::POST, "/admin/identities")
            .header("content-type", "application/json")
            .body(big.clone()),
    )
    .await;
    assert_kratos_error(status, &body, 413);
    let (status, body) = exchange(
        app.public(Method::POST, "/zitadel.session.v2.SessionService/CreateSession")
            .bearer_auth(&app.key)
            .header("content-type", "application/json")
            .body(big),
    )
    .await;
    assert_eq!(status, 413, "{body}");
    // What Connect (and gRPC) answer for a message above the limit.
    assert_eq!(body["code"], "resource_exhausted");
}

#[tokio::test]
async fn nul_characters_are_refused_in_bodies_and_urls() {
    let app = TestApp::start().await;
    let (status, body) = exchange(
        app.admin(Method::POST, "/admin/identities")
            .json(&json!({"schema_id": "default", "traits": {"email": "a\u{0}@example.org"}})),
    )
    .await;
    let error = assert_kratos_error(status, &body, 400);
    assert!(error["reason"].as_str().unwrap().contains("NUL"));
    let (status, body) = exchange(app.admin(Method::GET, "/admin/identities/by/external/a%00b")).await;
    assert_kratos_error(status, &body, 400);
    let (status, body) = exchange(
        app.public(Method::POST, "/zitadel.session.v2.SessionService/CreateSession")
            .bearer_auth(&app.key)
            .json(&json!({"userAgent": {"description": "x\u{0}"}})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "invalid_argument");
}
