//! The authenticator RPCs of the ZITADEL User Service v2: TOTP registered in two steps and
//! one-time codes enrolled, over REST, Connect (JSON and protobuf), gRPC-Web and gRPC, by an
//! identity writer or the user itself; what Kratos then shows; and the refusals.

use lanyard_proto::zitadel::user::v2 as user;
use lanyard_proto::Message;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::harness::*;
use crate::zitadel_grpc::{error_id, web_frame, web_parts, GrpcClient};

const USER_SERVICE: &str = "/zitadel.user.v2.UserService";

impl TestApp {
    /// A User Service RPC over Connect with the JSON codec.
    async fn user_rpc(&self, rpc: &str, body: Value, bearer: &str) -> (u16, Value) {
        exchange(
            self.public(Method::POST, &format!("{USER_SERVICE}/{rpc}"))
                .bearer_auth(bearer)
                .json(&body),
        )
        .await
    }

    async fn credentials(&self, identity: Uuid) -> Value {
        let (status, body) = exchange(self.admin(
            Method::GET,
            &format!("/admin/identities/{identity}?include_credential=totp&include_credential=code"),
        ))
        .await;
        assert_eq!(status, 200, "{body}");
        body["credentials"].clone()
    }

    /// The TOTP code of `secret` at the test clock, `steps` periods later.
    fn totp_code(&self, secret: &str, steps: i64) -> String {
        let now = self.service.now().0 / 1_000_000;
        lanyard_service::totp_code_at(secret, now + 30 * steps).expect("a valid secret")
    }
}

/// Another six-digit code than `code`.
fn wrong(code: &str) -> String {
    let n: u32 = code.parse().expect("digits");
    format!("{:06}", (n + 1) % 1_000_000)
}

#[tokio::test]
async fn totp_registers_in_two_steps_then_checks_sessions_and_is_removed() {
    let app = TestApp::start().await;
    let (user, email) = app.zitadel_user().await;
    let base = format!("/v2/users/{user}/totp");

    let (status, registered) = app.rest(Method::POST, &base, Some(json!({}))).await;
    assert_eq!(status, 200, "{registered}");
    let secret = registered["secret"].as_str().expect("a secret").to_owned();
    let uri = registered["uri"].as_str().expect("a URI");
    assert!(uri.starts_with("otpauth://totp/Lanyard:"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");
    assert!(registered["details"]["changeDate"].is_string());
    assert!(
        app.credentials(user).await.get("totp").is_none(),
        "a registration is no credential until verified"
    );

    let code = app.totp_code(&secret, 0);
    let verify = format!("{base}/verify");
    let (status, error) = app
        .rest(Method::POST, &verify, Some(json!({"code": wrong(&code)})))
        .await;
    assert_rest_error(status, &error, 400, 3);
    let (status, body) = app.rest(Method::POST, &verify, Some(json!({"code": code}))).await;
    assert_eq!(status, 200, "{body}");
    assert!(app.credentials(user).await["totp"].is_object());
    let (status, error) = app.rest(Method::POST, &verify, Some(json!({"code": code}))).await;
    assert_rest_error(status, &error, 400, 9);
    let (status, error) = app.rest(Method::POST, &base, Some(json!({}))).await;
    assert_rest_error(status, &error, 409, 6);

    // The code that verified the registration is used up; the next one checks a session.
    let check = |code: String| json!({"checks": {"user": {"loginName": email}, "password": {"password": crate::zitadel::PASSWORD}, "totp": {"code": code}}});
    let (status, error) = app.connect("CreateSession", check(code.clone()), &app.key).await;
    assert_connect_error(status, &error, 400, "invalid_argument");
    app.advance(time::Duration::seconds(30));
    let (status, created) = app
        .connect("CreateSession", check(app.totp_code(&secret, 0)), &app.key)
        .await;
    assert_eq!(status, 200, "{created}");
    let id = created["sessionId"].as_str().expect("an id");
    let (_, got) = app.connect("GetSession", json!({"sessionId": id}), &app.key).await;
    assert!(got["session"]["factors"]["totp"]["verifiedAt"].is_string(), "{got}");

    let (status, body) = app.rest(Method::DELETE, &base, None).await;
    assert_eq!(status, 200, "{body}");
    assert!(app.credentials(user).await.get("totp").is_none());
    let (status, error) = app.rest(Method::DELETE, &base, None).await;
    assert_rest_error(status, &error, 404, 5);
}

#[tokio::test]
async fn a_registration_expires_and_a_new_one_replaces_the_old() {
    let app = TestApp::start().await;
    let (user, _) = app.zitadel_user().await;
    let register = || app.user_rpc("RegisterTOTP", json!({"userId": user}), &app.key);
    let (_, first) = register().await;
    let (_, second) = register().await;
    let first = first["secret"].as_str().expect("a secret").to_owned();
    let second = second["secret"].as_str().expect("a secret").to_owned();
    assert_ne!(first, second);
    let verify = |code: String| {
        app.user_rpc(
            "VerifyTOTPRegistration",
            json!({"userId": user, "code": code}),
            &app.key,
        )
    };
    let (status, error) = verify(app.totp_code(&first, 0)).await;
    assert_connect_error(status, &error, 400, "invalid_argument");

    app.advance(time::Duration::minutes(16));
    let (status, error) = verify(app.totp_code(&second, 0)).await;
    assert_connect_error(status, &error, 400, "failed_precondition");
    assert!(
        error["message"].as_str().unwrap_or_default().contains("15 minutes"),
        "{error}"
    );
}

#[tokio::test]
async fn wrong_registration_codes_count_toward_the_failed_check_limit() {
    let app = TestApp::start().await;
    let (user, _) = app.zitadel_user().await;
    let (_, registered) = app.user_rpc("RegisterTOTP", json!({"userId": user}), &app.key).await;
    let secret = registered["secret"].as_str().expect("a secret").to_owned();
    let right = app.totp_code(&secret, 0);
    for _ in 0..10 {
        let (status, _) = app
            .user_rpc(
                "VerifyTOTPRegistration",
                json!({"userId": user, "code": wrong(&right)}),
                &app.key,
            )
            .await;
        assert_eq!(status, 400);
    }
    let (status, error) = app
        .user_rpc(
            "VerifyTOTPRegistration",
            json!({"userId": user, "code": right}),
            &app.key,
        )
        .await;
    assert_connect_error(status, &error, 429, "resource_exhausted");
}

#[tokio::test]
async fn one_time_codes_enrol_over_every_transport() {
    let app = TestApp::start().await;
    let (user, email) = app.user_with_phone("+41791234567").await;

    // Connect, JSON.
    let (status, body) = app.user_rpc("AddOTPEmail", json!({"userId": user}), &app.key).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["details"]["changeDate"].is_string());
    let addresses = &app.credentials(user).await["code"]["config"]["addresses"];
    assert_eq!(addresses, &json!([{"channel": "email", "address": email}]));

    // Connect, protobuf.
    let request = user::RemoveOtpEmailRequest {
        user_id: user.to_string(),
    };
    let response = app
        .public(Method::POST, &format!("{USER_SERVICE}/RemoveOTPEmail"))
        .bearer_auth(&app.key)
        .header("content-type", "application/proto")
        .body(request.encode_to_vec())
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().await.expect("body");
    assert!(user::RemoveOtpEmailResponse::decode(bytes.as_ref()).is_ok_and(|r| r.details.is_some()));
    assert!(app.credentials(user).await.get("code").is_none());

    // gRPC-Web.
    let response = app
        .public(Method::POST, &format!("{USER_SERVICE}/AddOTPSMS"))
        .bearer_auth(&app.key)
        .header("content-type", "application/grpc-web+proto")
        .body(web_frame(&user::AddOtpsmsRequest {
            user_id: user.to_string(),
        }))
        .send()
        .await
        .expect("request");
    let (_, trailers) = web_parts(&response.bytes().await.expect("body"));
    assert!(trailers.contains("grpc-status:0"), "{trailers}");
    let addresses = &app.credentials(user).await["code"]["config"]["addresses"];
    assert_eq!(addresses, &json!([{"channel": "sms", "address": "+41791234567"}]));

    // gRPC over HTTP/2.
    let mut grpc = GrpcClient::connect_to(&app, &app.key, USER_SERVICE).await;
    let removed: Result<user::RemoveOtpsmsResponse, _> = grpc
        .call(
            "RemoveOTPSMS",
            user::RemoveOtpsmsRequest {
                user_id: user.to_string(),
            },
        )
        .await;
    assert!(removed.is_ok_and(|r| r.details.is_some()));
    let again: Result<user::RemoveOtpsmsResponse, _> = grpc
        .call(
            "RemoveOTPSMS",
            user::RemoveOtpsmsRequest {
                user_id: user.to_string(),
            },
        )
        .await;
    let status = again.expect_err("nothing left to remove");
    assert_eq!(status.code(), tonic::Code::NotFound);
    assert_eq!(error_id(&status).as_deref(), Some("COMMAND-Hd8Fq"));

    // REST.
    let path = format!("/v2/users/{user}/otp_email");
    let (status, body) = app.rest(Method::POST, &path, Some(json!({}))).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app.rest(Method::DELETE, &path, None).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn only_an_identity_writer_or_the_user_itself_manages_authenticators() {
    let app = TestApp::start().await;
    let (ada, ada_email) = app.zitadel_user().await;
    let (bob, _) = app.zitadel_user().await;
    let (_, ada_token) = app.checked_session(&ada_email, json!({})).await;

    let (status, body) = app.user_rpc("AddOTPEmail", json!({"userId": ada}), &ada_token).await;
    assert_eq!(status, 200, "the user itself: {body}");
    let (status, error) = app.user_rpc("AddOTPEmail", json!({"userId": bob}), &ada_token).await;
    assert_connect_error(status, &error, 403, "permission_denied");
    let (status, error) = app
        .user_rpc("AddOTPEmail", json!({"userId": Uuid::new_v4()}), &ada_token)
        .await;
    assert_connect_error(status, &error, 403, "permission_denied");

    let reader = app
        .service
        .create_api_key(
            "reader",
            vec![lanyard_domain::Scope::SessionRead, lanyard_domain::Scope::IdentityRead],
        )
        .await
        .expect("a key");
    let (status, error) = app
        .user_rpc("AddOTPEmail", json!({"userId": bob}), reader.secret.expose())
        .await;
    assert_connect_error(status, &error, 403, "permission_denied");
    assert!(
        error["message"].as_str().unwrap_or_default().contains("identity.write"),
        "{error}"
    );
    let (status, listed) = app
        .user_rpc("ListPasskeys", json!({"userId": bob}), reader.secret.expose())
        .await;
    assert_eq!(status, 200, "identity.read may list passkeys: {listed}");
    let (status, error) = exchange(
        app.public(Method::POST, &format!("{USER_SERVICE}/AddOTPEmail"))
            .json(&json!({"userId": bob})),
    )
    .await;
    assert_connect_error(status, &error, 401, "unauthenticated");

    let (status, error) = app
        .user_rpc("AddOTPEmail", json!({"userId": Uuid::new_v4()}), &app.key)
        .await;
    assert_connect_error(status, &error, 404, "not_found");
    let (status, error) = app
        .user_rpc("AddOTPEmail", json!({"userId": "163840776835432705"}), &app.key)
        .await;
    assert_connect_error(status, &error, 404, "not_found");
    let (status, error) = app.user_rpc("AddOTPEmail", json!({}), &app.key).await;
    assert_connect_error(status, &error, 400, "invalid_argument");
    assert!(
        error["message"].as_str().unwrap_or_default().contains("userId"),
        "{error}"
    );
    let (status, error) = app.user_rpc("AddOTPSMS", json!({"userId": bob}), &app.key).await;
    assert_connect_error(status, &error, 400, "failed_precondition");
    assert!(
        error["message"].as_str().unwrap_or_default().contains("phone"),
        "{error}"
    );
    let (status, error) = app.user_rpc("NoSuchRpc", json!({}), &app.key).await;
    assert_connect_error(status, &error, 501, "unimplemented");
}

#[tokio::test]
async fn rest_path_fields_win_over_the_body() {
    let app = TestApp::start().await;
    let (ada, _) = app.zitadel_user().await;
    let (bob, _) = app.zitadel_user().await;
    let (status, body) = app
        .rest(
            Method::POST,
            &format!("/v2/users/{ada}/otp_email"),
            Some(json!({"userId": bob})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(app.credentials(ada).await["code"].is_object());
    assert!(app.credentials(bob).await.get("code").is_none());

    // `passkeys/_search` is ListPasskeys, not a passkey named `_search`.
    let (status, listed) = app
        .rest(
            Method::POST,
            &format!("/v2/users/{ada}/passkeys/_search"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(
        listed,
        json!({"details": {"totalResult": "0", "timestamp": listed["details"]["timestamp"]}, "result": []})
    );
    let (status, error) = app
        .rest(
            Method::DELETE,
            &format!("/v2/users/{ada}/passkeys/{}", Uuid::new_v4()),
            None,
        )
        .await;
    assert_rest_error(status, &error, 404, 5);
}

#[tokio::test]
async fn authentication_methods_list_what_the_user_enrolled() {
    let app = TestApp::start().await;
    let (user, _) = app.user_with_phone("+41791234567").await;
    let methods = |query: &'static str| {
        let app = &app;
        async move {
            let (status, body) = app
                .rest(
                    Method::GET,
                    &format!("/v2/users/{user}/authentication_methods{query}"),
                    None,
                )
                .await;
            assert_eq!(status, 200, "{body}");
            body["authMethodTypes"].clone()
        }
    };
    assert_eq!(methods("").await, json!(["AUTHENTICATION_METHOD_TYPE_PASSWORD"]));

    let (_, registered) = app.user_rpc("RegisterTOTP", json!({"userId": user}), &app.key).await;
    let code = app.totp_code(registered["secret"].as_str().unwrap_or_default(), 0);
    app.user_rpc(
        "VerifyTOTPRegistration",
        json!({"userId": user, "code": code}),
        &app.key,
    )
    .await;
    app.user_rpc("AddOTPSMS", json!({"userId": user}), &app.key).await;
    let (status, _) = exchange(app.admin(
        Method::POST,
        &format!("/admin/lanyard/identities/{user}/credentials/lookup_secret"),
    ))
    .await;
    assert_eq!(status, 200);
    let expected = json!([
        "AUTHENTICATION_METHOD_TYPE_PASSWORD",
        "AUTHENTICATION_METHOD_TYPE_TOTP",
        "AUTHENTICATION_METHOD_TYPE_OTP_SMS",
        "AUTHENTICATION_METHOD_TYPE_RECOVERY_CODE"
    ]);
    assert_eq!(methods("").await, expected);
    // Over Connect, with a key that may only read identities.
    let reader = app
        .service
        .create_api_key("reader", vec![lanyard_domain::Scope::IdentityRead])
        .await
        .expect("a key");
    let (status, body) = app
        .user_rpc(
            "ListAuthenticationMethodTypes",
            json!({"userId": user}),
            reader.secret.expose(),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["authMethodTypes"], expected);
    assert_eq!(body["details"]["totalResult"], "4");
    // The domain query is read from the query string; a domain that is not the relying party
    // hides passkeys and security keys (there are none here), never the rest.
    assert_eq!(
        methods("?domainQuery.domain=other.example&domainQuery.includeWithoutDomain=true").await,
        expected
    );
}
