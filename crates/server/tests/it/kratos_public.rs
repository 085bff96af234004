use reqwest::Method;
use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn whoami_finds_the_token_in_header_cookie_or_bearer() {
    let app = TestApp::start().await;
    let id = app.create_identity_id().await;
    let (session, token) = app.issue(id, json!({})).await;
    for request in [
        app.public(Method::GET, "/sessions/whoami")
            .header("X-Session-Token", &token),
        app.public(Method::GET, "/sessions/whoami")
            .header("Cookie", format!("theme=dark; ory_kratos_session={token}")),
        app.public(Method::POST, "/sessions/whoami").bearer_auth(&token),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(
            response.headers()["x-kratos-authenticated-identity-id"],
            id.to_string().as_str()
        );
        let (status, body) = read(response).await;
        assert_eq!(status, 200);
        assert_eq!(body["id"], session["id"]);
        assert_eq!(body["identity"]["id"], id.to_string());
        assert!(
            body["identity"].get("metadata_admin").is_none(),
            "admin metadata stays on the admin port"
        );
        assert!(body["identity"].get("credentials").is_none());
    }
}

#[tokio::test]
async fn whoami_rejects_missing_unknown_and_expired_tokens_with_session_inactive() {
    let app = TestApp::start().await;
    let id = app.create_identity_id().await;
    let (_, token) = app.issue(id, json!({"lifespan": "10m"})).await;
    app.advance(time::Duration::minutes(10));
    for request in [
        app.public(Method::GET, "/sessions/whoami"),
        app.public(Method::GET, "/sessions/whoami")
            .header("X-Session-Token", "lanyard_st_unknown"),
        app.public(Method::GET, "/sessions/whoami")
            .header("X-Session-Token", "x".repeat(5000)),
        app.public(Method::GET, "/sessions/whoami")
            .header("X-Session-Token", &token),
    ] {
        let (status, body) = exchange(request).await;
        let error = assert_kratos_error(status, &body, 401);
        assert_eq!(error["id"], "session_inactive");
        assert_eq!(error["reason"], "No valid session credentials found in the request.");
    }
}

#[tokio::test]
async fn whoami_demands_aal2_from_identities_that_have_a_second_factor() {
    let app = TestApp::start().await;
    let id = app.create_identity_id().await;
    let mut identity = app.service.identity(id).await.unwrap();
    identity.credentials.insert(
        lanyard_domain::CredentialType::Totp,
        lanyard_domain::Credential {
            kind: lanyard_domain::CredentialType::Totp,
            identifiers: vec![id.to_string()],
            config: json!({}),
            version: 0,
            created_at: identity.created_at,
            updated_at: identity.created_at,
        },
    );
    app.store.update_identity(&identity).await.unwrap();
    let (_, aal1) = app.issue(id, json!({})).await;
    let (status, body) = exchange(
        app.public(Method::GET, "/sessions/whoami")
            .header("X-Session-Token", &aal1),
    )
    .await;
    let error = assert_kratos_error(status, &body, 403);
    assert_eq!(error["id"], "session_aal2_required");
    assert!(body["redirect_browser_to"].as_str().unwrap().contains("aal=aal2"));
    let (_, aal2) = app
        .issue(id, json!({"methods": [{"method": "password"}, {"method": "totp"}]}))
        .await;
    assert_eq!(app.whoami_status(&aal2).await, 200);
}

#[tokio::test]
async fn my_sessions_lists_only_my_other_active_sessions() {
    let app = TestApp::start().await;
    let me = app.create_identity_id().await;
    let someone = app.create_identity_id().await;
    let (_, token) = app.issue(me, json!({})).await;
    let (other, _) = app.issue(me, json!({})).await;
    let (revoked, _) = app.issue(me, json!({})).await;
    app.issue(someone, json!({})).await;
    app.admin(Method::DELETE, &format!("/admin/sessions/{}", session_id(&revoked)))
        .send()
        .await
        .unwrap();
    let response = app
        .public(Method::GET, "/sessions")
        .header("X-Session-Token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-total-count"], "1");
    let (status, body) = read(response).await;
    assert_eq!(status, 200);
    assert_eq!(body.as_array().unwrap().len(), 1);
    assert_eq!(body[0]["id"], other["id"]);
}

#[tokio::test]
async fn revoking_my_other_sessions_counts_only_those_that_were_active() {
    let app = TestApp::start().await;
    let me = app.create_identity_id().await;
    let (_, token) = app.issue(me, json!({})).await;
    let (_, other_token) = app.issue(me, json!({})).await;
    let (already, _) = app.issue(me, json!({})).await;
    app.admin(Method::DELETE, &format!("/admin/sessions/{}", session_id(&already)))
        .send()
        .await
        .unwrap();
    let (status, body) = exchange(
        app.public(Method::DELETE, "/sessions")
            .header("X-Session-Token", &token),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"count": 1}));
    assert_eq!(app.whoami_status(&other_token).await, 401);
    assert_eq!(app.whoami_status(&token).await, 200);
}

#[tokio::test]
async fn revoking_one_session_spares_the_current_and_foreign_ones() {
    let app = TestApp::start().await;
    let me = app.create_identity_id().await;
    let someone = app.create_identity_id().await;
    let (current, token) = app.issue(me, json!({})).await;
    let (mine, mine_token) = app.issue(me, json!({})).await;
    let (foreign, foreign_token) = app.issue(someone, json!({})).await;
    let delete = |id: &serde_json::Value| {
        app.public(Method::DELETE, &format!("/sessions/{}", id["id"].as_str().unwrap()))
            .header("X-Session-Token", &token)
    };
    let (status, body) = exchange(delete(&current)).await;
    let error = assert_kratos_error(status, &body, 400);
    assert_eq!(error["reason"], "cannot revoke current session");
    assert_eq!(delete(&foreign).send().await.unwrap().status(), 204);
    assert_eq!(
        app.whoami_status(&foreign_token).await,
        200,
        "someone else's session is untouched"
    );
    assert_eq!(delete(&mine).send().await.unwrap().status(), 204);
    assert_eq!(app.whoami_status(&mine_token).await, 401);
}

#[tokio::test]
async fn native_logout_ends_the_session() {
    let app = TestApp::start().await;
    let me = app.create_identity_id().await;
    let (_, token) = app.issue(me, json!({})).await;
    let r = app
        .public(Method::DELETE, "/self-service/logout/api")
        .json(&json!({"session_token": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(app.whoami_status(&token).await, 401);
    let (status, body) = exchange(
        app.public(Method::DELETE, "/self-service/logout/api")
            .json(&json!({"session_token": token})),
    )
    .await;
    assert_kratos_error(status, &body, 403);
    let (status, body) = exchange(app.public(Method::DELETE, "/self-service/logout/api").json(&json!({}))).await;
    assert_kratos_error(status, &body, 400);
}

/// A cached whoami answers with the stored rendering of the session; any change must show in
/// the very next answer.
#[tokio::test]
async fn whoami_from_the_cache_shows_changes_at_once() {
    let app = TestApp::start().await;
    let identity = app.create_identity("before@example.com").await;
    let id = identity_id(&identity);
    let (_, token) = app.issue(id, json!({})).await;
    let whoami = || async {
        let response = app
            .public(Method::GET, "/sessions/whoami")
            .header("X-Session-Token", &token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["content-type"], "application/json");
        read(response).await
    };
    let (status, first) = whoami().await;
    assert_eq!(status, 200);
    assert_eq!(whoami().await, (200, first.clone()), "a cache hit answers the same");
    assert_eq!(first["identity"]["traits"]["email"], "before@example.com");

    let (status, _) = exchange(
        app.admin(Method::PATCH, &format!("/admin/identities/{id}"))
            .json(&json!([{"op": "replace", "path": "/traits/email", "value": "after@example.com"}])),
    )
    .await;
    assert_eq!(status, 200);
    let (status, after) = whoami().await;
    assert_eq!(status, 200);
    assert_eq!(after["identity"]["traits"]["email"], "after@example.com");
    assert_eq!(after["id"], first["id"]);
}
