//! Passkeys and security keys end to end: a software authenticator (1Password's passkey-rs,
//! independent of the webauthn-rs relying party) registers through the User Service, then
//! answers session challenges; replayed, tampered and misdirected assertions fail.

use passkey_authenticator::{Authenticator, MemoryStore, UiHint, UserCheck, UserValidationMethod};
use passkey_client::{Client, DefaultClientData};
use passkey_crypto::rust_crypto::RustCryptoBackend;
use passkey_types::ctap2::{Aaguid, Ctap2Error};
use passkey_types::webauthn as pk;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::harness::*;
use crate::zitadel::PASSWORD;

type SoftClient = Client<MemoryStore, TouchingUser, RustCryptoBackend, public_suffix::PublicSuffixList, ()>;

/// A user who always touches the key; `verifies` says whether the authenticator can verify
/// them (PIN, biometrics): false is a plain security key.
struct TouchingUser {
    verifies: bool,
}

#[async_trait::async_trait]
impl UserValidationMethod for TouchingUser {
    type PasskeyItem = passkey_types::Passkey;

    async fn check_user<'a>(
        &self,
        _hint: UiHint<'a, Self::PasskeyItem>,
        presence: bool,
        verification: bool,
    ) -> Result<UserCheck, Ctap2Error> {
        Ok(UserCheck {
            presence,
            verification: verification && self.verifies,
        })
    }

    fn is_presence_enabled(&self) -> bool {
        true
    }

    fn is_verification_enabled(&self) -> Option<bool> {
        self.verifies.then_some(true)
    }
}

/// A browser with one authenticator, on the login page at [`WEBAUTHN_ORIGIN`].
struct Browser {
    client: SoftClient,
    origin: url::Url,
}

impl Browser {
    fn new(verifies: bool) -> Self {
        let mut authenticator = Authenticator::new(
            Aaguid::new_empty(),
            MemoryStore::new(),
            TouchingUser { verifies },
            RustCryptoBackend,
        );
        // Hardware keys count signatures; the relying party must see the counter move.
        authenticator.set_make_credentials_with_signature_counter(true);
        let client = Client::new(authenticator)
            .allows_insecure_localhost(true)
            .user_verification_when_preferred(verifies);
        Browser {
            client,
            origin: url::Url::parse(WEBAUTHN_ORIGIN).expect("an origin"),
        }
    }

    async fn create(&mut self, options: &Value) -> Value {
        let options: pk::CredentialCreationOptions = serde_json::from_value(options.clone()).expect("creation options");
        let credential = self
            .client
            .register(&self.origin, options, DefaultClientData)
            .await
            .expect("the authenticator registers");
        serde_json::to_value(credential).expect("JSON")
    }

    async fn get(&mut self, options: &Value) -> Value {
        let options: pk::CredentialRequestOptions = serde_json::from_value(options.clone()).expect("request options");
        let assertion = self
            .client
            .authenticate(&self.origin, options, DefaultClientData)
            .await
            .expect("the authenticator signs");
        serde_json::to_value(assertion).expect("JSON")
    }
}

impl TestApp {
    async fn user_service(&self, rpc: &str, body: Value) -> (u16, Value) {
        exchange(
            self.public(Method::POST, &format!("/zitadel.user.v2.UserService/{rpc}"))
                .bearer_auth(&self.key)
                .json(&body),
        )
        .await
    }

    /// Registers a passkey (`verifies`) or a security key for `user` through the User Service;
    /// returns its id.
    async fn enrol_key(&self, browser: &mut Browser, user: Uuid, passkey: bool, name: &str) -> String {
        let (register, verify, id_field, name_field) = if passkey {
            (
                "RegisterPasskey",
                "VerifyPasskeyRegistration",
                "passkeyId",
                "passkeyName",
            )
        } else {
            ("RegisterU2F", "VerifyU2FRegistration", "u2fId", "tokenName")
        };
        let (status, started) = self
            .user_service(register, json!({"userId": user, "domain": WEBAUTHN_RP_ID}))
            .await;
        assert_eq!(status, 200, "{started}");
        let options = &started["publicKeyCredentialCreationOptions"];
        assert_eq!(options["publicKey"]["rp"]["id"], WEBAUTHN_RP_ID, "{options}");
        let id = started[id_field].as_str().expect("an id").to_owned();
        let credential = browser.create(options).await;
        let body = json!({"userId": user, id_field: id, "publicKeyCredential": credential, name_field: name});
        let (status, verified) = self.user_service(verify, body.clone()).await;
        assert_eq!(status, 200, "{verified}");
        let (status, error) = self.user_service(verify, body).await;
        assert_connect_error(status, &error, 404, "not_found");
        id
    }

    /// CreateSession with a user check (and `checks`) asking for a WebAuthN challenge;
    /// returns (session id, request options).
    async fn challenged_session(&self, email: &str, checks: Value, requirement: &str) -> (String, Value) {
        let mut all_checks = json!({"user": {"loginName": email}});
        if let (Some(all), Some(more)) = (all_checks.as_object_mut(), checks.as_object()) {
            all.extend(more.clone());
        }
        let (status, created) = self
            .connect(
                "CreateSession",
                json!({"checks": all_checks,
                       "challenges": {"webAuthN": {"domain": WEBAUTHN_RP_ID, "userVerificationRequirement": requirement}}}),
                &self.key,
            )
            .await;
        assert_eq!(status, 200, "{created}");
        let options = created["challenges"]["webAuthN"]["publicKeyCredentialRequestOptions"].clone();
        assert!(options["publicKey"]["challenge"].is_string(), "{created}");
        (created["sessionId"].as_str().expect("an id").to_owned(), options)
    }

    async fn check_assertion(&self, session: &str, assertion: &Value) -> (u16, Value) {
        self.connect(
            "SetSession",
            json!({"sessionId": session, "checks": {"webAuthN": {"credentialAssertionData": assertion}}}),
            &self.key,
        )
        .await
    }
}

async fn passkeys_register_and_sign_in(app: TestApp) {
    let (user, email) = app.zitadel_user().await;
    let mut laptop = Browser::new(true);
    let passkey = app.enrol_key(&mut laptop, user, true, "Laptop").await;

    let (status, listed) = app.user_service("ListPasskeys", json!({"userId": user})).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(
        listed["result"],
        json!([{"id": passkey, "state": "AUTH_FACTOR_STATE_READY", "name": "Laptop"}])
    );
    assert_eq!(listed["details"]["totalResult"], "1");
    let methods = |domain: &str| {
        app.user_service(
            "ListAuthenticationMethodTypes",
            json!({"userId": user, "domainQuery": {"domain": domain}}),
        )
    };
    let (_, here) = methods(WEBAUTHN_RP_ID).await;
    assert_eq!(
        here["authMethodTypes"],
        json!([
            "AUTHENTICATION_METHOD_TYPE_PASSWORD",
            "AUTHENTICATION_METHOD_TYPE_PASSKEY"
        ])
    );
    let (_, elsewhere) = methods("other.example").await;
    assert_eq!(
        elsewhere["authMethodTypes"],
        json!(["AUTHENTICATION_METHOD_TYPE_PASSWORD"]),
        "a passkey is bound to its relying party"
    );

    // Passwordless: a user check and a user-verified assertion.
    let (session, options) = app
        .challenged_session(&email, json!({}), "USER_VERIFICATION_REQUIREMENT_REQUIRED")
        .await;
    assert_eq!(options["publicKey"]["userVerification"], "required", "{options}");
    let assertion = laptop.get(&options).await;
    let (status, set) = app.check_assertion(&session, &assertion).await;
    assert_eq!(status, 200, "{set}");
    let token = set["sessionToken"].as_str().expect("a rotated token").to_owned();
    let (_, got) = app.connect("GetSession", json!({"sessionId": session}), &app.key).await;
    let factor = &got["session"]["factors"]["webAuthN"];
    assert!(factor["verifiedAt"].is_string(), "{got}");
    assert_eq!(factor["userVerified"], true);
    let (status, whoami) = exchange(
        app.public(Method::GET, "/sessions/whoami")
            .header("X-Session-Token", &token),
    )
    .await;
    assert_eq!(status, 200, "{whoami}");
    assert_eq!(whoami["authentication_methods"][0]["method"], "passkey", "{whoami}");

    // The same assertion again: its challenge is used up.
    let (status, error) = app.check_assertion(&session, &assertion).await;
    assert_connect_error(status, &error, 400, "invalid_argument");

    // A tampered signature fails, and uses up its challenge too.
    let (session, options) = app
        .challenged_session(&email, json!({}), "USER_VERIFICATION_REQUIREMENT_REQUIRED")
        .await;
    let mut tampered = laptop.get(&options).await;
    let signature = tampered["response"]["signature"]
        .as_str()
        .expect("a signature")
        .to_owned();
    let flipped = if signature.ends_with('A') { "B" } else { "A" };
    tampered["response"]["signature"] = json!(format!("{}{flipped}", &signature[..signature.len() - 1]));
    let (status, error) = app.check_assertion(&session, &tampered).await;
    assert_connect_error(status, &error, 400, "invalid_argument");

    // Another user's passkey, signing that user's challenge, cannot answer this session's.
    let (session, _) = app
        .challenged_session(&email, json!({}), "USER_VERIFICATION_REQUIREMENT_REQUIRED")
        .await;
    let mut stranger = Browser::new(true);
    let (other, other_email) = app.zitadel_user().await;
    app.enrol_key(&mut stranger, other, true, "Stranger").await;
    let (_, other_options) = app
        .challenged_session(&other_email, json!({}), "USER_VERIFICATION_REQUIREMENT_REQUIRED")
        .await;
    let foreign = stranger.get(&other_options).await;
    let (status, error) = app.check_assertion(&session, &foreign).await;
    assert_connect_error(status, &error, 400, "invalid_argument");

    // Malformed assertion data is a clear 400, never a 5xx.
    let (status, error) = app.check_assertion(&session, &json!({"id": 5})).await;
    assert_connect_error(status, &error, 400, "invalid_argument");
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains("credentialAssertionData"),
        "{error}"
    );

    let (status, removed) = app
        .user_service("RemovePasskey", json!({"userId": user, "passkeyId": passkey}))
        .await;
    assert_eq!(status, 200, "{removed}");
    let (_, listed) = app.user_service("ListPasskeys", json!({"userId": user})).await;
    assert_eq!(listed["result"], json!([]), "{listed}");
    let (status, error) = app
        .connect(
            "CreateSession",
            json!({"checks": {"user": {"loginName": email}},
                   "challenges": {"webAuthN": {"domain": WEBAUTHN_RP_ID, "userVerificationRequirement": "USER_VERIFICATION_REQUIREMENT_REQUIRED"}}}),
            &app.key,
        )
        .await;
    assert_connect_error(status, &error, 400, "failed_precondition");
}

#[tokio::test]
async fn passkeys_register_and_sign_in_on_sqlite() {
    passkeys_register_and_sign_in(TestApp::start().await).await;
}

#[tokio::test]
async fn passkeys_register_and_sign_in_on_postgres() {
    passkeys_register_and_sign_in(TestApp::start_on_postgres().await).await;
}

#[tokio::test]
async fn security_keys_are_a_second_factor() {
    let app = TestApp::start().await;
    let (user, email) = app.zitadel_user().await;
    let mut key = Browser::new(false);
    let u2f = app.enrol_key(&mut key, user, false, "YubiKey").await;
    let (status, credentials) = exchange(app.admin(
        Method::GET,
        &format!("/admin/identities/{user}?include_credential=webauthn"),
    ))
    .await;
    assert_eq!(status, 200, "{credentials}");
    let keys = &credentials["credentials"]["webauthn"]["config"]["credentials"];
    assert_eq!(keys[0]["id"], u2f.as_str(), "{credentials}");
    assert_eq!(keys[0]["display_name"], "YubiKey");
    assert_eq!(keys[0]["is_passwordless"], false);
    assert!(
        keys[0].get("key").is_none(),
        "the public key and counter stay inside: {credentials}"
    );

    // A security key cannot answer a challenge that requires user verification.
    let (status, error) = app
        .connect(
            "CreateSession",
            json!({"checks": {"user": {"loginName": email}},
                   "challenges": {"webAuthN": {"domain": WEBAUTHN_RP_ID, "userVerificationRequirement": "USER_VERIFICATION_REQUIREMENT_REQUIRED"}}}),
            &app.key,
        )
        .await;
    assert_connect_error(status, &error, 400, "failed_precondition");

    let (session, options) = app
        .challenged_session(
            &email,
            json!({"password": {"password": PASSWORD}}),
            "USER_VERIFICATION_REQUIREMENT_DISCOURAGED",
        )
        .await;
    let assertion = key.get(&options).await;
    let (status, set) = app.check_assertion(&session, &assertion).await;
    assert_eq!(status, 200, "{set}");
    let token = set["sessionToken"].as_str().expect("a token").to_owned();
    let (_, got) = app.connect("GetSession", json!({"sessionId": session}), &app.key).await;
    let factor = &got["session"]["factors"]["webAuthN"];
    assert!(factor["verifiedAt"].is_string(), "{got}");
    assert_ne!(
        factor["userVerified"], true,
        "a security key without user verification: {got}"
    );
    let (status, whoami) = exchange(
        app.public(Method::GET, "/sessions/whoami")
            .header("X-Session-Token", &token),
    )
    .await;
    assert_eq!(status, 200, "{whoami}");
    assert_eq!(whoami["authenticator_assurance_level"], "aal2", "{whoami}");
    let methods: Vec<&str> = whoami["authentication_methods"]
        .as_array()
        .map(|m| m.iter().filter_map(|m| m["method"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(methods, ["password", "webauthn"]);

    let (status, body) = app
        .user_service("RemoveU2F", json!({"userId": user, "u2fId": u2f}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, error) = app
        .user_service("RemoveU2F", json!({"userId": user, "u2fId": u2f}))
        .await;
    assert_connect_error(status, &error, 404, "not_found");
}

#[tokio::test]
async fn bad_registrations_and_challenges_are_refused_clearly() {
    let app = TestApp::start().await;
    let (ada, email) = app.zitadel_user().await;
    let (bob, _) = app.zitadel_user().await;
    let mut browser = Browser::new(true);
    let ada_key = app.enrol_key(&mut browser, ada, true, "Phone").await;

    // Another user's passkey id names nothing of bob's.
    let (status, error) = app
        .user_service("RemovePasskey", json!({"userId": bob, "passkeyId": ada_key}))
        .await;
    assert_connect_error(status, &error, 404, "not_found");
    let (status, error) = app
        .user_service("RemovePasskey", json!({"userId": bob, "passkeyId": "not-an-id"}))
        .await;
    assert_connect_error(status, &error, 404, "not_found");

    // A domain other than the relying party.
    let (status, error) = app
        .user_service("RegisterPasskey", json!({"userId": bob, "domain": "evil.example"}))
        .await;
    assert_connect_error(status, &error, 400, "invalid_argument");
    let (status, error) = app
        .connect(
            "CreateSession",
            json!({"checks": {"user": {"loginName": email}}, "challenges": {"webAuthN": {"domain": "evil.example"}}}),
            &app.key,
        )
        .await;
    assert_connect_error(status, &error, 400, "invalid_argument");
    assert!(
        error["message"].as_str().unwrap_or_default().contains("relying party"),
        "{error}"
    );

    // Malformed and mismatched registrations.
    let (_, started) = app.user_service("RegisterPasskey", json!({"userId": bob})).await;
    let id = started["passkeyId"].as_str().expect("an id").to_owned();
    let verify = |credential: Value, id: &str| {
        app.user_service(
            "VerifyPasskeyRegistration",
            json!({"userId": bob, "passkeyId": id, "publicKeyCredential": credential, "passkeyName": "x"}),
        )
    };
    let (status, error) = verify(json!({"type": "public-key"}), &id).await;
    assert_connect_error(status, &error, 400, "invalid_argument");
    let (status, error) = verify(json!({}), &Uuid::new_v4().to_string()).await;
    assert_connect_error(status, &error, 404, "not_found");
    // A response created for another registration's challenge.
    let (_, other) = app.user_service("RegisterPasskey", json!({"userId": ada})).await;
    let wrong = Browser::new(true)
        .create(&other["publicKeyCredentialCreationOptions"])
        .await;
    let (_, started) = app.user_service("RegisterPasskey", json!({"userId": bob})).await;
    let id = started["passkeyId"].as_str().expect("an id").to_owned();
    let (status, error) = verify(wrong, &id).await;
    assert_connect_error(status, &error, 400, "invalid_argument");

    // A challenge before any user is known.
    let (status, error) = app
        .connect(
            "CreateSession",
            json!({"challenges": {"webAuthN": {"domain": WEBAUTHN_RP_ID}}}),
            &app.key,
        )
        .await;
    assert_connect_error(status, &error, 400, "failed_precondition");
}

#[tokio::test]
async fn over_grpc_the_assertion_travels_as_a_protobuf_struct() {
    use lanyard_proto::zitadel::session::v2 as session;

    let app = TestApp::start().await;
    let (user, email) = app.zitadel_user().await;
    let mut phone = Browser::new(true);
    app.enrol_key(&mut phone, user, true, "Phone").await;
    let mut grpc =
        crate::zitadel_grpc::GrpcClient::connect_to(&app, &app.key, "/zitadel.session.v2.SessionService").await;
    let created: session::CreateSessionResponse = grpc
        .call(
            "CreateSession",
            session::CreateSessionRequest {
                checks: Some(session::Checks {
                    user: Some(session::CheckUser {
                        search: Some(session::check_user::Search::LoginName(email)),
                    }),
                    ..Default::default()
                }),
                challenges: Some(session::RequestChallenges {
                    web_auth_n: Some(session::request_challenges::WebAuthN {
                        domain: WEBAUTHN_RP_ID.into(),
                        user_verification_requirement: session::UserVerificationRequirement::Required as i32,
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await
        .expect("CreateSession over gRPC");
    let options = created
        .challenges
        .and_then(|c| c.web_auth_n)
        .and_then(|w| w.public_key_credential_request_options)
        .expect("request options");
    let assertion = phone.get(&serde_json::to_value(options).expect("JSON")).await;
    let set: session::SetSessionResponse = grpc
        .call(
            "SetSession",
            session::SetSessionRequest {
                session_id: created.session_id.clone(),
                checks: Some(session::Checks {
                    web_auth_n: Some(session::CheckWebAuthN {
                        credential_assertion_data: Some(serde_json::from_value(assertion).expect("a Struct")),
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await
        .expect("SetSession over gRPC");
    assert!(set.session_token.starts_with("lanyard_st_"));
}

#[tokio::test]
async fn a_challenge_expires_after_five_minutes_and_a_security_key_makes_whoami_ask_for_aal2() {
    let app = TestApp::start().await;
    let (user, email) = app.zitadel_user().await;
    let (_, password_only) = app.checked_session(&email, json!({})).await;
    assert_eq!(app.whoami_status(&password_only).await, 200);
    let mut key = Browser::new(false);
    app.enrol_key(&mut key, user, false, "Key").await;
    assert_eq!(
        app.whoami_status(&password_only).await,
        403,
        "with a security key enrolled, AAL2 is available and whoami asks for it"
    );

    let (session, options) = app
        .challenged_session(
            &email,
            json!({"password": {"password": PASSWORD}}),
            "USER_VERIFICATION_REQUIREMENT_DISCOURAGED",
        )
        .await;
    app.advance(time::Duration::minutes(5) + time::Duration::seconds(1));
    let late = key.get(&options).await;
    let (status, error) = app.check_assertion(&session, &late).await;
    assert_connect_error(status, &error, 400, "invalid_argument");
}
