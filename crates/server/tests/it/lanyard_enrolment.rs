//! Admin enrolment of TOTP and recovery codes, and what the service then verifies.

use lanyard_service::{totp_code_at, Clock};
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::harness::*;

fn totp_path(id: impl std::fmt::Display) -> String {
    format!("/admin/lanyard/identities/{id}/credentials/totp")
}

fn lookup_path(id: impl std::fmt::Display) -> String {
    format!("/admin/lanyard/identities/{id}/credentials/lookup_secret")
}

/// The app's (manual) clock, in Unix seconds.
fn now_seconds(app: &TestApp) -> i64 {
    app.clock.as_ref().expect("manual clock").now().unix_timestamp()
}

async fn enrol_totp(app: &TestApp, id: Uuid) -> Value {
    let (status, body) = exchange(app.admin(Method::POST, &totp_path(id))).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn admin_identity_text(app: &TestApp, id: Uuid) -> (Value, String) {
    let response = app
        .admin(Method::GET, &format!("/admin/identities/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    (serde_json::from_str(&text).unwrap(), text)
}

#[tokio::test]
async fn totp_enrolment_returns_a_working_secret_once() {
    let app = TestApp::start().await;
    let identity = app.create_identity("Totp.User@example.org").await;
    let id = identity_id(&identity);

    let response = app.admin(Method::POST, &totp_path(id)).send().await.unwrap();
    assert_eq!(
        response.headers().get("cache-control").and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let (status, body) = read(response).await;
    assert_eq!(status, 200, "{body}");
    let secret = body["secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 32, "20 bytes in unpadded base32: {secret}");
    assert_eq!(
        body["otpauth_url"],
        format!(
            "otpauth://totp/Lanyard:totp.user%40example.org?secret={secret}&issuer=Lanyard&algorithm=SHA1&digits=6&period=30"
        )
    );

    let (admin_view, text) = admin_identity_text(&app, id).await;
    let credential = &admin_view["credentials"]["totp"];
    assert_eq!(credential["type"], "totp");
    assert_eq!(credential["identifiers"], json!([id.to_string()]));
    assert_eq!(credential["config"], json!({}));
    assert!(!text.contains(&secret), "the secret never leaves the service again");

    let stored = app.service.identity(id).await.unwrap();
    let code = totp_code_at(&secret, now_seconds(&app)).unwrap();
    assert!(app.service.verify_totp(&stored, &code).await.unwrap());
    assert!(
        !app.service.verify_totp(&stored, &code).await.unwrap(),
        "a code works once"
    );
    app.advance(time::Duration::seconds(30));
    let next = totp_code_at(&secret, now_seconds(&app)).unwrap();
    assert!(app.service.verify_totp(&stored, &next).await.unwrap());
}

#[tokio::test]
async fn a_provided_secret_is_imported() {
    let app = TestApp::start().await;
    let id = app.create_identity_id().await;
    let (status, body) = exchange(
        app.admin(Method::POST, &totp_path(id))
            .json(&json!({"secret": "jbsw y3dp ehpk 3pxp jbsw y3dp ehpk 3pxp"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["secret"], "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP");
    let stored = app.service.identity(id).await.unwrap();
    let code = totp_code_at("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", now_seconds(&app)).unwrap();
    assert!(app.service.verify_totp(&stored, &code).await.unwrap());

    // An explicit null, like no body, generates a secret.
    let (status, body) = exchange(app.admin(Method::POST, &totp_path(id)).json(&json!({"secret": null}))).await;
    assert_eq!(status, 200, "{body}");
    assert_ne!(body["secret"], "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP");
}

#[tokio::test]
async fn recovery_codes_work_once_and_a_new_set_replaces_the_old() {
    let app = TestApp::start().await;
    let id = app.create_identity_id().await;
    let (status, body) = exchange(app.admin(Method::POST, &lookup_path(id))).await;
    assert_eq!(status, 200, "{body}");
    let codes: Vec<String> = serde_json::from_value(body["codes"].clone()).unwrap();
    assert_eq!(codes.len(), 12);
    for code in &codes {
        assert_eq!(code.len(), 11, "{code}");
        assert_eq!(&code[5..6], "-", "{code}");
    }

    let (admin_view, text) = admin_identity_text(&app, id).await;
    let credential = &admin_view["credentials"]["lookup_secret"];
    assert_eq!(credential["type"], "lookup_secret");
    assert_eq!(credential["identifiers"], json!([id.to_string()]));
    assert_eq!(credential["config"], json!({}));
    for code in &codes {
        assert!(!text.contains(code.as_str()) && !text.contains(&code.replace('-', "")));
    }

    let identity = app.service.identity(id).await.unwrap();
    assert!(app.service.consume_recovery_code(&identity, &codes[0]).await.unwrap());
    assert!(!app.service.consume_recovery_code(&identity, &codes[0]).await.unwrap());
    assert!(app
        .service
        .consume_recovery_code(&identity, &codes[1].replace('-', " ").to_uppercase())
        .await
        .unwrap());

    let (status, body) = exchange(app.admin(Method::POST, &lookup_path(id))).await;
    assert_eq!(status, 200, "{body}");
    let fresh: Vec<String> = serde_json::from_value(body["codes"].clone()).unwrap();
    assert!(
        !app.service.consume_recovery_code(&identity, &codes[2]).await.unwrap(),
        "old codes are void"
    );
    assert!(app.service.consume_recovery_code(&identity, &fresh[2]).await.unwrap());
}

#[tokio::test]
async fn a_second_factor_makes_whoami_demand_aal2_until_it_is_removed() {
    let app = TestApp::start().await;
    let id = app.create_identity_id().await;
    let (_, token) = app.issue(id, json!({})).await;
    assert_eq!(app.whoami_status(&token).await, 200);

    enrol_totp(&app, id).await;
    let (status, body) = exchange(
        app.public(Method::GET, "/sessions/whoami")
            .header("X-Session-Token", &token),
    )
    .await;
    let error = assert_kratos_error(status, &body, 403);
    assert_eq!(error["id"], "session_aal2_required");

    let response = app
        .admin(Method::DELETE, &format!("/admin/identities/{id}/credentials/totp"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(app.whoami_status(&token).await, 200);

    // Recovery codes alone are a second factor too.
    let (status, _) = exchange(app.admin(Method::POST, &lookup_path(id))).await;
    assert_eq!(status, 200);
    assert_eq!(app.whoami_status(&token).await, 403);
    let response = app
        .admin(
            Method::DELETE,
            &format!("/admin/identities/{id}/credentials/lookup_secret"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(app.whoami_status(&token).await, 200);
}

#[tokio::test]
async fn enrolment_errors_say_what_is_wrong() {
    let app = TestApp::start().await;
    let id = app.create_identity_id().await;
    let unknown = Uuid::now_v7();

    for path in [totp_path(unknown), lookup_path(unknown)] {
        let (status, body) = exchange(app.admin(Method::POST, &path)).await;
        assert_kratos_error(status, &body, 404);
    }
    for path in [totp_path("not-a-uuid"), lookup_path("not-a-uuid")] {
        let (status, body) = exchange(app.admin(Method::POST, &path)).await;
        let error = assert_kratos_error(status, &body, 400);
        assert!(error["reason"].as_str().unwrap().contains("UUID"), "{body}");
    }
    for (secret, needle) in [
        (json!("JBSWY3DPEHPK3PXP"), "at least 16 bytes"),
        (json!("not base32 at all!"), "base32"),
        (json!(""), "empty"),
    ] {
        let (status, body) = exchange(
            app.admin(Method::POST, &totp_path(id))
                .json(&json!({ "secret": secret })),
        )
        .await;
        let error = assert_kratos_error(status, &body, 400);
        assert!(error["reason"].as_str().unwrap().contains(needle), "{needle}: {body}");
    }
    for body in [r#"{"secret": 42}"#, r#"{"secrets": "x"}"#, "not json"] {
        let (status, error) = exchange(
            app.admin(Method::POST, &totp_path(id))
                .header("content-type", "application/json")
                .body(body),
        )
        .await;
        assert_kratos_error(status, &error, 400);
    }
    assert!(
        app.service.identity(id).await.unwrap().credentials.is_empty(),
        "nothing was enrolled by a refused request"
    );

    for path in [totp_path(id), lookup_path(id)] {
        let (status, body) = exchange(app.http.post(format!("{}{path}", app.admin))).await;
        assert_kratos_error(status, &body, 401);
        let (status, body) = exchange(
            app.http
                .post(format!("{}{path}", app.admin))
                .bearer_auth("lanyard_ak_wrong"),
        )
        .await;
        assert_kratos_error(status, &body, 401);
    }
}

#[tokio::test]
async fn keys_without_identity_write_are_forbidden() {
    let app = TestApp::start().await;
    let id = app.create_identity_id().await;
    let reader = app
        .service
        .create_api_key("reader", vec![lanyard_domain::Scope::IdentityRead])
        .await
        .unwrap();
    let (status, body) = exchange(
        app.http
            .post(format!("{}{}", app.admin, totp_path(id)))
            .bearer_auth(reader.secret.into_string()),
    )
    .await;
    assert_kratos_error(status, &body, 403);
}
