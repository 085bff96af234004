//! One-time codes by SMS and email: enrolment on the admin port, ZITADEL challenges that return
//! a code, checks that use it up, and what Kratos then shows.

use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::harness::*;
use crate::zitadel::PASSWORD;

impl TestApp {
    /// A user with a password, an email and a phone; returns (id, email).
    async fn user_with_phone(&self, phone: &str) -> (Uuid, String) {
        let email = format!("{}@example.org", Uuid::new_v4());
        let (status, body) = exchange(self.admin(Method::POST, "/admin/identities").json(&json!({
            "schema_id": "default",
            "traits": {"email": email, "phone": phone},
            "credentials": {"password": {"config": {"password": PASSWORD}}},
        })))
        .await;
        assert_eq!(status, 201, "{body}");
        (identity_id(&body), email)
    }

    async fn enable_otp(&self, identity: Uuid, channel: &str) -> (u16, Value) {
        exchange(
            self.admin(
                Method::POST,
                &format!("/admin/lanyard/identities/{identity}/credentials/code"),
            )
            .json(&json!({"channel": channel})),
        )
        .await
    }

    /// SetSession with `body` merged into `{"sessionId": id}`.
    async fn set(&self, id: &str, body: Value) -> (u16, Value) {
        let mut request = json!({"sessionId": id});
        if let (Some(r), Some(b)) = (request.as_object_mut(), body.as_object()) {
            r.extend(b.clone());
        }
        self.connect("SetSession", request, &self.key).await
    }
}

fn code_of(response: &Value, channel: &str) -> String {
    let code = response["challenges"][channel]
        .as_str()
        .unwrap_or_else(|| panic!("{response}"));
    assert!(code.len() == 8 && code.bytes().all(|b| b.is_ascii_digit()), "{code}");
    code.to_owned()
}

#[tokio::test]
async fn an_email_code_checks_once_and_makes_the_session_aal2() {
    let app = TestApp::start().await;
    let (user, email) = app.zitadel_user().await;
    let (status, enabled) = app.enable_otp(user, "email").await;
    assert_eq!(status, 200, "{enabled}");
    assert_eq!(enabled, json!({"channel": "email", "address": email}));

    // With codes enabled AAL2 is available, so whoami asks a password-only session for more.
    let (id, token) = app
        .checked_session(&email, json!({"challenges": {"otpEmail": {"returnCode": {}}}}))
        .await;
    assert_eq!(app.whoami_status(&token).await, 403);
    let (_, got) = app.connect("GetSession", json!({"sessionId": id}), &app.key).await;
    assert!(got["session"]["factors"].get("otpEmail").is_none(), "{got}");

    // A fresh challenge replaces the first code.
    let (status, challenged) = app
        .set(&id, json!({"challenges": {"otpEmail": {"returnCode": {}}}}))
        .await;
    assert_eq!(status, 200, "{challenged}");
    assert!(
        challenged.get("sessionToken").is_none(),
        "a challenge alone changes neither the session nor its token: {challenged}"
    );
    let code = code_of(&challenged, "otpEmail");

    let (status, checked) = app.set(&id, json!({"checks": {"otpEmail": {"code": code}}})).await;
    assert_eq!(status, 200, "{checked}");
    let new_token = checked["sessionToken"].as_str().unwrap();
    assert_ne!(new_token, token);
    let (_, got) = app.connect("GetSession", json!({"sessionId": id}), &app.key).await;
    assert!(got["session"]["factors"]["otpEmail"]["verifiedAt"].is_string(), "{got}");
    let (status, whoami) = exchange(
        app.public(Method::GET, "/sessions/whoami")
            .header("X-Session-Token", new_token),
    )
    .await;
    assert_eq!(status, 200, "{whoami}");
    assert_eq!(whoami["authenticator_assurance_level"], "aal2");
    assert!(
        whoami["authentication_methods"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["method"] == "code" && m["aal"] == "aal2"),
        "{whoami}"
    );

    // Used up.
    let (status, error) = app.set(&id, json!({"checks": {"otpEmail": {"code": code}}})).await;
    assert_connect_error(status, &error, 400, "invalid_argument");

    // The Kratos identity shows the credential with its address.
    let (_, identity) = exchange(app.admin(Method::GET, &format!("/admin/identities/{user}"))).await;
    assert_eq!(
        identity["credentials"]["code"]["config"],
        json!({"addresses": [{"channel": "email", "address": email}]})
    );
}

#[tokio::test]
async fn an_sms_code_survives_wrong_guesses_but_not_its_five_minutes() {
    let app = TestApp::start().await;
    let (user, email) = app.user_with_phone("+4915112345678").await;
    let (status, enabled) = app.enable_otp(user, "sms").await;
    assert_eq!(status, 200, "{enabled}");
    assert_eq!(enabled["address"], "+4915112345678");

    let (id, _) = app
        .checked_session(&email, json!({"challenges": {"otpSms": {"returnCode": true}}}))
        .await;
    let (_, challenged) = app
        .set(&id, json!({"challenges": {"otpSms": {"returnCode": true}}}))
        .await;
    let code = code_of(&challenged, "otpSms");
    let wrong = if code == "00000000" { "11111111" } else { "00000000" };
    let (status, error) = app.set(&id, json!({"checks": {"otpSms": {"code": wrong}}})).await;
    assert_connect_error(status, &error, 400, "invalid_argument");
    // An email check answers for the email code only.
    let (status, error) = app.set(&id, json!({"checks": {"otpEmail": {"code": code}}})).await;
    assert_connect_error(status, &error, 400, "invalid_argument");
    let (status, checked) = app.set(&id, json!({"checks": {"otpSms": {"code": code}}})).await;
    assert_eq!(status, 200, "{checked}");

    let (_, challenged) = app
        .set(&id, json!({"challenges": {"otpSms": {"returnCode": true}}}))
        .await;
    let late = code_of(&challenged, "otpSms");
    app.advance(time::Duration::minutes(5));
    let (status, error) = app.set(&id, json!({"checks": {"otpSms": {"code": late}}})).await;
    assert_connect_error(status, &error, 400, "invalid_argument");
}

#[tokio::test]
async fn challenges_say_what_is_missing() {
    let app = TestApp::start().await;
    let (user, email) = app.zitadel_user().await;

    // No user in the session.
    let (status, error) = app
        .connect(
            "CreateSession",
            json!({"challenges": {"otpEmail": {"returnCode": {}}}}),
            &app.key,
        )
        .await;
    assert_connect_error(status, &error, 400, "failed_precondition");
    // Not enabled.
    let (status, error) = app
        .connect(
            "CreateSession",
            json!({"checks": {"user": {"loginName": email}}, "challenges": {"otpEmail": {"returnCode": {}}}}),
            &app.key,
        )
        .await;
    assert_connect_error(status, &error, 400, "failed_precondition");
    assert!(error["message"].as_str().unwrap().contains("email"), "{error}");
    // No phone trait to send codes to.
    let (status, error) = app.enable_otp(user, "sms").await;
    let error = assert_kratos_error(status, &error, 400);
    assert!(error["reason"].as_str().unwrap().contains("phone"), "{error}");
    let (status, error) = app.enable_otp(user, "pigeon").await;
    assert_kratos_error(status, &error, 400);

    // Enabled, but Lanyard does not send codes yet: asked to, it says so.
    assert_eq!(app.enable_otp(user, "email").await.0, 200);
    let (status, error) = app
        .connect(
            "CreateSession",
            json!({"checks": {"user": {"loginName": email}}, "challenges": {"otpEmail": {"sendCode": {}}}}),
            &app.key,
        )
        .await;
    assert_connect_error(status, &error, 501, "unimplemented");

    // Disabled again: challenges are refused, and a second disable finds nothing.
    let path = format!("/admin/lanyard/identities/{user}/credentials/code/email");
    assert_eq!(exchange(app.admin(Method::DELETE, &path)).await.0, 204);
    let (status, error) = exchange(app.admin(Method::DELETE, &path)).await;
    assert_kratos_error(status, &error, 404);
    let (status, error) = app
        .connect(
            "CreateSession",
            json!({"checks": {"user": {"loginName": email}}, "challenges": {"otpEmail": {"returnCode": {}}}}),
            &app.key,
        )
        .await;
    assert_connect_error(status, &error, 400, "failed_precondition");
    // A malformed check is the caller's mistake, naming the field.
    let (status, error) = app
        .connect(
            "CreateSession",
            json!({"checks": {"user": {"loginName": email}, "otpSms": {"code": ""}}}),
            &app.key,
        )
        .await;
    assert_connect_error(status, &error, 400, "invalid_argument");
    assert!(
        error["message"].as_str().unwrap().contains("checks.otpSms.code"),
        "{error}"
    );
}
