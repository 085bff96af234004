//! IdP intents: recorded by a trusted caller on the admin port, used up by one ZITADEL
//! `checks.idpIntent`, shown as the `intent` factor (ZITADEL) and an `oidc` method (Kratos).

use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::harness::*;

const PATH: &str = "/admin/lanyard/idp-intents";

impl TestApp {
    /// Records an intent for `identity` at `google`; returns `{"idpIntentId", "idpIntentToken"}`.
    async fn record_intent(&self, identity: Uuid) -> Value {
        let response = self
            .admin(Method::POST, PATH)
            .json(&json!({"identity_id": identity, "idp_id": "google", "idp_user_id": "1234567890"}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.headers().get("cache-control").and_then(|v| v.to_str().ok()),
            Some("no-store")
        );
        let (status, body) = read(response).await;
        assert_eq!(status, 201, "{body}");
        json!({"idpIntentId": body["idpIntentId"], "idpIntentToken": body["idpIntentToken"]})
    }
}

fn create_with(login_name: &str, intent: &Value) -> Value {
    json!({"checks": {"user": {"loginName": login_name}, "idpIntent": intent}})
}

#[tokio::test]
async fn an_intent_checks_a_session_once_and_shows_as_intent_and_oidc() {
    let app = TestApp::start().await;
    let (user, email) = app.zitadel_user().await;
    let intent = app.record_intent(user).await;
    let token = intent["idpIntentToken"].as_str().unwrap();
    assert!(token.starts_with("lanyard_it_") && token.len() >= 54, "{token}");

    let (status, created) = app
        .connect("CreateSession", create_with(&email, &intent), &app.key)
        .await;
    assert_eq!(status, 200, "{created}");
    let session_token = created["sessionToken"].as_str().unwrap();
    let (_, got) = app
        .connect("GetSession", json!({"sessionId": created["sessionId"]}), &app.key)
        .await;
    assert!(got["session"]["factors"]["intent"]["verifiedAt"].is_string(), "{got}");
    assert!(got["session"]["factors"]["user"]["verifiedAt"].is_string(), "{got}");

    let (status, whoami) = exchange(
        app.public(Method::GET, "/sessions/whoami")
            .header("X-Session-Token", session_token),
    )
    .await;
    assert_eq!(status, 200, "{whoami}");
    assert_eq!(whoami["authenticator_assurance_level"], "aal1");
    let methods = whoami["authentication_methods"].as_array().unwrap();
    assert!(
        methods
            .iter()
            .any(|m| m["method"] == "oidc" && m["provider"] == "google"),
        "{methods:?}"
    );

    // Used up: the same intent cannot sign in again, over either transport.
    let (status, error) = app
        .connect("CreateSession", create_with(&email, &intent), &app.key)
        .await;
    assert_connect_error(status, &error, 400, "invalid_argument");
    let (status, error) = app
        .rest(Method::POST, "/v2/sessions", Some(create_with(&email, &intent)))
        .await;
    assert_rest_error(status, &error, 400, 3);
}

#[tokio::test]
async fn a_refused_intent_check_does_not_spend_the_intent() {
    let app = TestApp::start().await;
    let (user, email) = app.zitadel_user().await;
    let (_, other_email) = app.zitadel_user().await;
    let intent = app.record_intent(user).await;

    // No user to check it against.
    let (status, error) = app
        .connect("CreateSession", json!({"checks": {"idpIntent": intent}}), &app.key)
        .await;
    assert_connect_error(status, &error, 400, "failed_precondition");
    // Another user's session.
    let (status, error) = app
        .connect("CreateSession", create_with(&other_email, &intent), &app.key)
        .await;
    assert_connect_error(status, &error, 400, "invalid_argument");
    // A wrong token, an unknown id, a malformed id.
    for wrong in [
        json!({"idpIntentId": intent["idpIntentId"], "idpIntentToken": "lanyard_it_guess"}),
        json!({"idpIntentId": Uuid::now_v7(), "idpIntentToken": intent["idpIntentToken"]}),
        json!({"idpIntentId": "not-a-uuid", "idpIntentToken": intent["idpIntentToken"]}),
    ] {
        let (status, error) = app
            .connect("CreateSession", create_with(&email, &wrong), &app.key)
            .await;
        assert_connect_error(status, &error, 400, "invalid_argument");
    }
    // Missing fields are the caller's mistake, said as such.
    let (status, error) = app
        .connect(
            "CreateSession",
            create_with(&email, &json!({"idpIntentId": intent["idpIntentId"]})),
            &app.key,
        )
        .await;
    assert_connect_error(status, &error, 400, "invalid_argument");
    assert!(error["message"].as_str().unwrap().contains("idpIntentToken"), "{error}");

    // After all that, the intent still signs its own user in.
    let (status, created) = app
        .connect("CreateSession", create_with(&email, &intent), &app.key)
        .await;
    assert_eq!(status, 200, "{created}");
}

#[tokio::test]
async fn an_intent_expires_after_ten_minutes() {
    let app = TestApp::start().await;
    let (user, email) = app.zitadel_user().await;
    let fresh = app.record_intent(user).await;
    let stale = app.record_intent(user).await;
    app.advance(time::Duration::minutes(9));
    let (status, created) = app
        .connect("CreateSession", create_with(&email, &fresh), &app.key)
        .await;
    assert_eq!(status, 200, "{created}");
    app.advance(time::Duration::minutes(1));
    let (status, error) = app
        .connect("CreateSession", create_with(&email, &stale), &app.key)
        .await;
    assert_connect_error(status, &error, 400, "invalid_argument");
}

#[tokio::test]
async fn a_set_session_steps_up_with_an_intent_and_rotates_the_token() {
    let app = TestApp::start().await;
    let (user, email) = app.zitadel_user().await;
    let (status, created) = app
        .connect(
            "CreateSession",
            json!({"checks": {"user": {"loginName": email}}}),
            &app.key,
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let intent = app.record_intent(user).await;
    let (status, set) = app
        .connect(
            "SetSession",
            json!({"sessionId": created["sessionId"], "checks": {"idpIntent": intent}}),
            &app.key,
        )
        .await;
    assert_eq!(status, 200, "{set}");
    assert_ne!(set["sessionToken"], created["sessionToken"]);
    assert_eq!(app.whoami_status(set["sessionToken"].as_str().unwrap()).await, 200);
}

#[tokio::test]
async fn recording_an_intent_says_what_is_wrong_with_the_request() {
    let app = TestApp::start().await;
    let (user, _) = app.zitadel_user().await;
    let ok = json!({"identity_id": user, "idp_id": "google", "idp_user_id": "42"});
    let mut cases = vec![
        (
            json!({"identity_id": Uuid::now_v7(), "idp_id": "google", "idp_user_id": "42"}),
            404,
            "identity",
        ),
        (
            json!({"identity_id": "nope", "idp_id": "google", "idp_user_id": "42"}),
            400,
            "identity_id",
        ),
        (
            json!({"identity_id": user, "idp_id": "", "idp_user_id": "42"}),
            400,
            "idp_id",
        ),
        (
            json!({"identity_id": user, "idp_id": "google", "idp_user_id": "x".repeat(201)}),
            400,
            "idp_user_id",
        ),
        (
            json!({"identity_id": user, "idp_id": "goo\u{7}gle", "idp_user_id": "42"}),
            400,
            "idp_id",
        ),
        (json!({"identity_id": user, "idp_id": "google"}), 400, "idp_user_id"),
    ];
    let mut unknown_field = ok.clone();
    unknown_field["provider"] = json!("google");
    cases.push((unknown_field, 400, "provider"));
    for (body, expected, mentions) in cases {
        let (status, error) = exchange(app.admin(Method::POST, PATH).json(&body)).await;
        let error = assert_kratos_error(status, &error, expected);
        assert!(
            error["reason"].as_str().unwrap_or_default().contains(mentions)
                || error["message"].as_str().unwrap_or_default().contains(mentions),
            "{body} → {error}"
        );
    }
    let (status, _) = exchange(app.http.post(format!("{}{PATH}", app.admin)).json(&ok)).await;
    assert_eq!(status, 401, "the admin key is needed");
}
