//! One-time codes by SMS and email: enrolment on the admin port, ZITADEL challenges that return
//! a code or send it (to an SMTP server and an HTTP SMS receiver the tests start), checks that
//! use it up, and what Kratos then shows.

use std::time::{Duration, Instant};

use axum::routing::post;
use axum::Json;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::harness::*;
use crate::zitadel::PASSWORD;

impl TestApp {
    /// A user with a password, an email and a phone; returns (id, email).
    pub(crate) async fn user_with_phone(&self, phone: &str) -> (Uuid, String) {
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

    async fn create(&self, body: Value) -> (u16, Value) {
        self.connect("CreateSession", body, &self.key).await
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
        .create(json!({"challenges": {"otpEmail": {"returnCode": {}}}}))
        .await;
    assert_connect_error(status, &error, 400, "failed_precondition");
    // Not enabled.
    let (status, error) = app
        .create(json!({"checks": {"user": {"loginName": email}}, "challenges": {"otpEmail": {"returnCode": {}}}}))
        .await;
    assert_connect_error(status, &error, 400, "failed_precondition");
    assert!(error["message"].as_str().unwrap().contains("email"), "{error}");
    // No phone trait to send codes to.
    let (status, error) = app.enable_otp(user, "sms").await;
    let error = assert_kratos_error(status, &error, 400);
    assert!(error["reason"].as_str().unwrap().contains("phone"), "{error}");
    let (status, error) = app.enable_otp(user, "pigeon").await;
    assert_kratos_error(status, &error, 400);

    // Enabled, but no SMTP server is configured: asked to send, it says what is missing.
    assert_eq!(app.enable_otp(user, "email").await.0, 200);
    let (status, error) = app
        .create(json!({"checks": {"user": {"loginName": email}}, "challenges": {"otpEmail": {"sendCode": {}}}}))
        .await;
    assert_connect_error(status, &error, 400, "failed_precondition");
    assert!(error["message"].as_str().unwrap().contains("smtp.host"), "{error}");

    // Disabled again: challenges are refused, and a second disable finds nothing.
    let path = format!("/admin/lanyard/identities/{user}/credentials/code/email");
    assert_eq!(exchange(app.admin(Method::DELETE, &path)).await.0, 204);
    let (status, error) = exchange(app.admin(Method::DELETE, &path)).await;
    assert_kratos_error(status, &error, 404);
    let (status, error) = app
        .create(json!({"checks": {"user": {"loginName": email}}, "challenges": {"otpEmail": {"returnCode": {}}}}))
        .await;
    assert_connect_error(status, &error, 400, "failed_precondition");
    // A malformed check is the caller's mistake, naming the field.
    let (status, error) = app
        .create(json!({"checks": {"user": {"loginName": email}, "otpSms": {"code": ""}}}))
        .await;
    assert_connect_error(status, &error, 400, "invalid_argument");
    assert!(
        error["message"].as_str().unwrap().contains("checks.otpSms.code"),
        "{error}"
    );
}

/// An SMTP server on loopback that takes every message: (recipient, message text) per email.
async fn smtp_sink() -> (u16, mpsc::UnboundedReceiver<(String, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (sent, received) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let sent = sent.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 sink ESMTP\r\n").await.ok();
                let mut recipient = String::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line.to_ascii_uppercase();
                    let reply: &[u8] = if verb.starts_with("EHLO") || verb.starts_with("HELO") {
                        b"250 sink\r\n"
                    } else if verb.starts_with("RCPT TO:") {
                        recipient = line[8..].trim().trim_matches(['<', '>']).to_owned();
                        b"250 OK\r\n"
                    } else if verb == "DATA" {
                        write.write_all(b"354 end with .\r\n").await.ok();
                        let mut text = String::new();
                        while let Ok(Some(line)) = lines.next_line().await {
                            if line == "." {
                                break;
                            }
                            text.push_str(&line);
                            text.push('\n');
                        }
                        sent.send((recipient.clone(), text)).ok();
                        b"250 queued\r\n"
                    } else if verb == "QUIT" {
                        write.write_all(b"221 bye\r\n").await.ok();
                        break;
                    } else {
                        b"250 OK\r\n"
                    };
                    write.write_all(reply).await.ok();
                }
            });
        }
    });
    (port, received)
}

/// An HTTP SMS provider on loopback answering `status`: its URL and the JSON bodies it got.
async fn sms_receiver(status: u16) -> (String, mpsc::UnboundedReceiver<Value>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (sent, received) = mpsc::unbounded_channel();
    let router = axum::Router::new().route(
        "/sms",
        post(move |Json(body): Json<Value>| {
            let sent = sent.clone();
            async move {
                sent.send(body).ok();
                axum::http::StatusCode::from_u16(status).unwrap()
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await.ok() });
    (format!("http://{addr}/sms"), received)
}

async fn next<T>(received: &mut mpsc::UnboundedReceiver<T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), received.recv())
        .await
        .expect("delivered within 10 s")
        .expect("the receiver is running")
}

fn eight_digits(text: &str) -> String {
    let code: String = text
        .split(|c: char| !c.is_ascii_digit())
        .find(|part| part.len() == 8)
        .unwrap_or_else(|| panic!("no 8-digit code in {text}"))
        .to_owned();
    code
}

/// An app that sends SMS to `url`, and a password session (created with `extra`) of a user
/// with SMS codes enabled.
async fn sms_session(url: &str, extra: Value) -> (TestApp, String) {
    let app = TestApp::start_with_delivery(&format!("[sms]\nhttp_url = \"{url}\"\n")).await;
    let (user, email) = app.user_with_phone("+4915112345678").await;
    assert_eq!(app.enable_otp(user, "sms").await.0, 200);
    let (id, _) = app.checked_session(&email, extra).await;
    (app, id)
}

#[tokio::test]
async fn email_codes_go_out_by_smtp_with_the_link_of_the_template() {
    let (port, mut inbox) = smtp_sink().await;
    let app = TestApp::start_with_delivery(&format!(
        "[smtp]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nfrom = \"Lanyard <no-reply@example.org>\"\n"
    ))
    .await;
    let (user, email) = app.zitadel_user().await;
    assert_eq!(app.enable_otp(user, "email").await.0, 200);
    let template = "https://login.example.org/otp?code={{.Code}}&user={{.UserID}}";
    let (id, _) = app
        .checked_session(
            &email,
            json!({"challenges": {"otpEmail": {"sendCode": {"urlTemplate": template}}}}),
        )
        .await;
    let (recipient, text) = next(&mut inbox).await;
    // The body is quoted-printable: soft line breaks, `=` as `=3D`.
    let text = text.replace("=\n", "").replace("=3D", "=");
    assert_eq!(recipient, email);
    assert!(text.contains("From: Lanyard <no-reply@example.org>"), "{text}");
    let body = text.split_once("\n\n").map_or("", |(_, body)| body);
    let code = eight_digits(body);
    assert!(
        text.contains(&format!("https://login.example.org/otp?code={code}&user={user}")),
        "{text}"
    );
    let (_, got) = app.connect("GetSession", json!({"sessionId": id}), &app.key).await;
    assert!(got["session"]["factors"].get("otpEmail").is_none());
    let (status, checked) = app.set(&id, json!({"checks": {"otpEmail": {"code": code}}})).await;
    assert_eq!(status, 200, "{checked}");
}

#[tokio::test]
async fn sms_codes_are_posted_to_the_http_provider() {
    let (url, mut outbox) = sms_receiver(200).await;
    let (app, id) = sms_session(&url, json!({"challenges": {"otpSms": {}}})).await;
    let body = next(&mut outbox).await;
    assert_eq!(body["contextInfo"]["recipientPhoneNumber"], "+4915112345678", "{body}");
    let code = body["args"]["code"].as_str().unwrap().to_owned();
    assert_eq!(eight_digits(&code), code);
    assert!(body["templateData"]["text"].as_str().unwrap().contains(&code), "{body}");
    // Another SMS within 30 s of the last is refused, so a caller cannot pump messages.
    let (status, error) = app.set(&id, json!({"challenges": {"otpSms": {}}})).await;
    assert_connect_error(status, &error, 429, "resource_exhausted");
    app.advance(time::Duration::seconds(30));
    let (status, resent) = app.set(&id, json!({"challenges": {"otpSms": {}}})).await;
    assert_eq!(status, 200, "{resent}");
    let code = next(&mut outbox).await["args"]["code"].as_str().unwrap().to_owned();
    let (status, checked) = app.set(&id, json!({"checks": {"otpSms": {"code": code}}})).await;
    assert_eq!(status, 200, "{checked}");
}

#[tokio::test]
async fn a_provider_that_fails_is_a_prompt_503_after_three_tries() {
    let (url, mut outbox) = sms_receiver(500).await;
    let (app, id) = sms_session(&url, json!({})).await;
    let started = Instant::now();
    let (status, error) = app.set(&id, json!({"challenges": {"otpSms": {}}})).await;
    assert_connect_error(status, &error, 503, "unavailable");
    assert!(error["message"].as_str().unwrap().contains("HTTP 500"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    for _ in 0..3 {
        next(&mut outbox).await;
    }
    assert!(outbox.try_recv().is_err(), "three tries, no more");
    // Nothing went out, so asking again at once is not a resend: the provider is tried again.
    let (status, _) = app.set(&id, json!({"challenges": {"otpSms": {}}})).await;
    assert_eq!(status, 503);
    next(&mut outbox).await;

    // A provider nobody listens on: the same, promptly.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let (app, id) = sms_session(&format!("http://127.0.0.1:{port}/sms"), json!({})).await;
    let (status, error) = app.set(&id, json!({"challenges": {"otpSms": {}}})).await;
    assert_connect_error(status, &error, 503, "unavailable");
    assert!(
        error["message"].as_str().unwrap().contains("could not be reached"),
        "{error}"
    );
}

#[tokio::test]
async fn wrong_codes_count_toward_the_failed_check_limit() {
    let app = TestApp::start().await;
    let (user, email) = app.zitadel_user().await;
    assert_eq!(app.enable_otp(user, "email").await.0, 200);
    let (id, _) = app
        .checked_session(&email, json!({"challenges": {"otpEmail": {"returnCode": {}}}}))
        .await;
    let (_, challenged) = app
        .set(&id, json!({"challenges": {"otpEmail": {"returnCode": {}}}}))
        .await;
    let code = code_of(&challenged, "otpEmail");
    let wrong = if code == "00000000" { "11111111" } else { "00000000" };
    // The password check of the creation passed; ten wrong codes use up the identity's
    // allowance of failed checks (10 per 5 minutes by default).
    for _ in 0..10 {
        let (status, error) = app.set(&id, json!({"checks": {"otpEmail": {"code": wrong}}})).await;
        assert_connect_error(status, &error, 400, "invalid_argument");
    }
    let (status, error) = app.set(&id, json!({"checks": {"otpEmail": {"code": code}}})).await;
    assert_connect_error(status, &error, 429, "resource_exhausted");
    app.advance(time::Duration::minutes(5));
    let (status, error) = app.set(&id, json!({"checks": {"otpEmail": {"code": code}}})).await;
    assert_connect_error(status, &error, 400, "invalid_argument");
    assert!(
        error["message"].as_str().unwrap().contains("expired"),
        "the window passed, and with it the code: {error}"
    );
}
