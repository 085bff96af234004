//! The ZITADEL Session Service v2 over REST and Connect.

use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::harness::*;

pub(crate) const PASSWORD: &str = "correct horse battery staple";

impl TestApp {
    pub(crate) async fn connect(&self, rpc: &str, body: Value, bearer: &str) -> (u16, Value) {
        exchange(
            self.public(Method::POST, &format!("/zitadel.session.v2.SessionService/{rpc}"))
                .bearer_auth(bearer)
                .json(&body),
        )
        .await
    }

    pub(crate) async fn rest(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.public(method, path).bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        exchange(request).await
    }

    /// A user with a password; returns (id, email).
    pub(crate) async fn zitadel_user(&self) -> (Uuid, String) {
        let email = format!("{}@example.org", Uuid::new_v4());
        let (status, body) = exchange(self.admin(Method::POST, "/admin/identities").json(
            &json!({"schema_id": "default", "traits": {"email": email, "name": "Zed"},
                    "credentials": {"password": {"config": {"password": PASSWORD}}}}),
        ))
        .await;
        assert_eq!(status, 201, "{body}");
        (identity_id(&body), email)
    }

    /// Creates a session with user + password checks over Connect; returns (id, token).
    pub(crate) async fn checked_session(&self, login_name: &str, extra: Value) -> (String, String) {
        let mut body = json!({"checks": {"user": {"loginName": login_name}, "password": {"password": PASSWORD}}});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let (status, created) = self.connect("CreateSession", body, &self.key).await;
        assert_eq!(status, 200, "{created}");
        (
            created["sessionId"].as_str().unwrap().to_owned(),
            created["sessionToken"].as_str().unwrap().to_owned(),
        )
    }
}

#[tokio::test]
async fn create_with_user_and_password_then_get_shows_factors_metadata_and_agent() {
    let app = TestApp::start().await;
    let (user, email) = app.zitadel_user().await;
    let (id, token) = app
        .checked_session(
            &email.to_uppercase(),
            json!({"metadata": {"k": "dmFsdWU="}, "lifetime": "3600s",
                "userAgent": {"fingerprintId": "fp-1", "ip": "192.0.2.1", "description": "Firefox", "header": {"Accept-Language": {"values": ["de"]}}}}),
        )
        .await;
    assert!(token.starts_with("lanyard_st_"));
    let (status, body) = app.connect("GetSession", json!({"sessionId": id}), &app.key).await;
    assert_eq!(status, 200, "{body}");
    let session = &body["session"];
    assert_eq!(session["factors"]["user"]["id"], user.to_string());
    assert_eq!(session["factors"]["user"]["loginName"], email);
    assert_eq!(session["factors"]["user"]["displayName"], "Zed");
    assert!(session["factors"]["password"]["verifiedAt"].is_string());
    assert_eq!(session["metadata"]["k"], "dmFsdWU=");
    assert_eq!(session["userAgent"]["fingerprintId"], "fp-1");
    assert_eq!(
        session["userAgent"]["header"]["accept-language"]["values"],
        json!(["de"])
    );
    assert!(session["sequence"].is_string(), "int64 as string");
    let created = time::OffsetDateTime::parse(
        session["creationDate"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let expires = time::OffsetDateTime::parse(
        session["expirationDate"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(expires - created, time::Duration::hours(1));
    // The session is a Kratos session too, and its token works on whoami.
    assert_eq!(app.whoami_status(&token).await, 200);
}

#[tokio::test]
async fn rest_create_is_201_and_sessions_without_user_or_lifetime_omit_those_fields() {
    let app = TestApp::start().await;
    let (status, created) = app.rest(Method::POST, "/v2/sessions", Some(json!({}))).await;
    assert_eq!(status, 201, "{created}");
    let id = created["sessionId"].as_str().unwrap();
    let (status, body) = app.rest(Method::GET, &format!("/v2/sessions/{id}"), None).await;
    assert_eq!(status, 200);
    assert!(body["session"].get("factors").is_none());
    assert!(body["session"].get("expirationDate").is_none());
    let token = created["sessionToken"].as_str().unwrap();
    assert_eq!(
        app.whoami_status(token).await,
        401,
        "a session without a user is not a login"
    );
}

#[tokio::test]
async fn wrong_passwords_and_unknown_users_fail_in_each_transport_format() {
    let app = TestApp::start().await;
    let (_, email) = app.zitadel_user().await;
    let body = json!({"checks": {"user": {"loginName": email}, "password": {"password": "wrong"}}});
    let (status, error) = app.connect("CreateSession", body.clone(), &app.key).await;
    assert_connect_error(status, &error, 400, "invalid_argument");
    assert!(error.get("sessionToken").is_none());
    let (status, error) = app.rest(Method::POST, "/v2/sessions", Some(body)).await;
    assert_rest_error(status, &error, 400, 3);
    let (status, error) = app
        .connect(
            "CreateSession",
            json!({"checks": {"user": {"userId": Uuid::now_v7().to_string()}}}),
            &app.key,
        )
        .await;
    assert_connect_error(status, &error, 404, "not_found");
    let (status, error) = app
        .connect(
            "CreateSession",
            json!({"checks": {"password": {"password": "x"}}}),
            &app.key,
        )
        .await;
    assert_connect_error(status, &error, 400, "failed_precondition");
}

#[tokio::test]
async fn set_with_totp_rotates_the_token_at_once() {
    let app = TestApp::start().await;
    let (user, email) = app.zitadel_user().await;
    let enrolment = app.service.enrol_totp(user, None).await.unwrap();
    let (id, old_token) = app.checked_session(&email, json!({})).await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let code = lanyard_service::totp_code_at(&enrolment.secret, now).unwrap();
    let (status, set) = app
        .connect(
            "SetSession",
            json!({"sessionId": id, "checks": {"totp": {"code": code}}, "metadata": {"a": "YQ=="}}),
            &app.key,
        )
        .await;
    assert_eq!(status, 200, "{set}");
    let new_token = set["sessionToken"].as_str().unwrap();
    assert_ne!(new_token, old_token);
    assert_eq!(
        app.whoami_status(&old_token).await,
        401,
        "the old token stops working at once"
    );
    assert_eq!(app.whoami_status(new_token).await, 200);
    let (_, got) = app.connect("GetSession", json!({"sessionId": id}), &app.key).await;
    assert!(got["session"]["factors"]["totp"]["verifiedAt"].is_string());

    // An empty metadata value deletes the key; a Set that changes nothing returns no token.
    let (_, set) = app
        .connect("SetSession", json!({"sessionId": id, "metadata": {"a": ""}}), &app.key)
        .await;
    assert!(set["sessionToken"].is_string());
    let (_, got) = app.connect("GetSession", json!({"sessionId": id}), &app.key).await;
    assert!(got["session"].get("metadata").is_none());
    let (status, set) = app.connect("SetSession", json!({"sessionId": id}), &app.key).await;
    assert_eq!(status, 200);
    assert!(set.get("sessionToken").is_none(), "{set}");

    // The same TOTP code cannot be replayed.
    let (status, error) = app
        .connect(
            "SetSession",
            json!({"sessionId": id, "checks": {"totp": {"code": code}}}),
            &app.key,
        )
        .await;
    assert_connect_error(status, &error, 400, "invalid_argument");
}

#[tokio::test]
async fn recovery_codes_work_once() {
    let app = TestApp::start().await;
    let (user, email) = app.zitadel_user().await;
    let codes = app.service.generate_recovery_codes(user).await.unwrap();
    let (id, _) = app.checked_session(&email, json!({})).await;
    let check = json!({"sessionId": id, "checks": {"recoveryCode": {"code": codes[0]}}});
    let (status, body) = app.connect("SetSession", check.clone(), &app.key).await;
    assert_eq!(status, 200, "{body}");
    let (status, error) = app.connect("SetSession", check, &app.key).await;
    assert_connect_error(status, &error, 400, "invalid_argument");
}

#[tokio::test]
async fn webauthn_checks_and_challenges_need_a_user_in_the_session() {
    let app = TestApp::start().await;
    for body in [
        json!({"checks": {"webAuthN": {"credentialAssertionData": {}}}}),
        json!({"challenges": {"webAuthN": {"domain": crate::harness::WEBAUTHN_RP_ID}}}),
    ] {
        let (status, error) = app.connect("CreateSession", body.clone(), &app.key).await;
        assert_connect_error(status, &error, 400, "failed_precondition");
        let (status, error) = app.rest(Method::POST, "/v2/sessions", Some(body)).await;
        assert_rest_error(status, &error, 400, 9);
    }
}

#[tokio::test]
async fn delete_terminates_the_session_everywhere() {
    let app = TestApp::start().await;
    let (_, email) = app.zitadel_user().await;
    let (id, token) = app.checked_session(&email, json!({})).await;
    let (status, _) = app.rest(Method::DELETE, &format!("/v2/sessions/{id}"), None).await;
    assert_eq!(status, 200);
    let (status, error) = app.connect("GetSession", json!({"sessionId": id}), &app.key).await;
    assert_connect_error(status, &error, 404, "not_found");
    let (_, list) = app
        .connect(
            "ListSessions",
            json!({"queries": [{"idsQuery": {"ids": [id]}}]}),
            &app.key,
        )
        .await;
    assert_eq!(list["sessions"], json!([]), "{list}");
    assert_eq!(app.whoami_status(&token).await, 401);
    let (status, _) = app.connect("DeleteSession", json!({"sessionId": id}), &app.key).await;
    assert_eq!(status, 200, "deleting again succeeds");
    let (status, error) = app
        .connect(
            "SetSession",
            json!({"sessionId": id, "metadata": {"a": "YQ=="}}),
            &app.key,
        )
        .await;
    assert_connect_error(status, &error, 400, "failed_precondition");
}

#[tokio::test]
async fn list_filters_by_every_query_type_sorts_and_pages() {
    let app = TestApp::start().await;
    let (user, email) = app.zitadel_user().await;
    let (_, other_email) = app.zitadel_user().await;
    let mut mine = Vec::new();
    for n in 0..5 {
        let lifetime = if n == 4 {
            json!({})
        } else {
            json!({"lifetime": format!("{}s", 3600 * (n + 1))})
        };
        let mut extra = json!({"userAgent": {"fingerprintId": format!("fp-{}", n % 2)}});
        extra
            .as_object_mut()
            .unwrap()
            .extend(lifetime.as_object().unwrap().clone());
        mine.push(app.checked_session(&email, extra).await.0);
        app.advance(time::Duration::seconds(10));
    }
    app.checked_session(&other_email, json!({})).await;
    let ids = |list: &Value| -> Vec<String> {
        list["sessions"]
            .as_array()
            .map(|a| a.iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect())
            .unwrap_or_default()
    };
    let list = |body: Value| app.connect("ListSessions", body, &app.key);

    let (_, by_user) = list(json!({"queries": [{"userIdQuery": {"id": user.to_string()}}],
        "sortingColumn": "SESSION_FIELD_NAME_CREATION_DATE", "query": {"asc": true}}))
    .await;
    assert_eq!(ids(&by_user), mine);
    assert_eq!(by_user["details"]["totalResult"], "5");
    assert!(by_user["details"]["processedSequence"].is_string());

    let (_, desc) =
        list(json!({"queries": [{"userIdQuery": {"id": user.to_string()}}], "query": {"offset": "1", "limit": 2}}))
            .await;
    assert_eq!(
        ids(&desc),
        vec![mine[3].clone(), mine[2].clone()],
        "newest first, offset as a string"
    );
    assert_eq!(desc["details"]["totalResult"], "5", "counted before offset and limit");

    let (_, by_ids) = list(json!({"queries": [{"idsQuery": {"ids": [mine[0], mine[1], "not-a-uuid"]}}, {"userAgentQuery": {"fingerprintId": "fp-1"}}]})).await;
    assert_eq!(ids(&by_ids), vec![mine[1].clone()], "queries AND together");

    let (_, got) = app.connect("GetSession", json!({"sessionId": mine[2]}), &app.key).await;
    let created = got["session"]["creationDate"].as_str().unwrap().replace('Z', "+00:00");
    let (_, since) = list(json!({"queries": [{"userIdQuery": {"id": user.to_string()}},
        {"creationDateQuery": {"creationDate": created, "method": "TIMESTAMP_QUERY_METHOD_GREATER_OR_EQUALS"}}], "query": {"asc": true}})).await;
    assert_eq!(ids(&since), mine[2..].to_vec(), "timestamps with +00:00 are accepted");

    let expires_of_first = app
        .connect("GetSession", json!({"sessionId": mine[0]}), &app.key)
        .await
        .1["session"]["expirationDate"]
        .clone();
    let (_, later) = list(json!({"queries": [{"userIdQuery": {"id": user.to_string()}},
        {"expirationDateQuery": {"expirationDate": expires_of_first, "method": 1}}], "query": {"asc": true}}))
    .await;
    assert_eq!(
        ids(&later),
        mine[1..].to_vec(),
        "GREATER also matches the session that never expires"
    );
    let (_, earlier) = list(json!({"queries": [{"userIdQuery": {"id": user.to_string()}},
        {"expirationDateQuery": {"expirationDate": expires_of_first, "method": "TIMESTAMP_QUERY_METHOD_LESS_OR_EQUALS"}}]})).await;
    assert_eq!(
        ids(&earlier),
        vec![mine[0].clone()],
        "LESS_OR_EQUALS never matches the session that never expires"
    );

    let key_id = app.service.list_api_keys().await.unwrap()[0].id.to_string();
    let (_, by_creator) = list(json!({"queries": [{"creatorQuery": {"id": key_id}}]})).await;
    assert_eq!(by_creator["details"]["totalResult"], "6");
    let (_, by_me) = list(json!({"queries": [{"creatorQuery": {}}], "unknownField": 1})).await;
    assert_eq!(by_me["details"]["totalResult"], "6", "no id means the caller");
    for me in [json!({"id": ""}), json!({"id": null})] {
        let (status, by_me) = list(json!({"queries": [{"creatorQuery": me}]})).await;
        assert_eq!(
            by_me["details"]["totalResult"], "6",
            "{me}: an empty id means the caller too (status {status})"
        );
    }

    let (_, none) = list(json!({"queries": [{"userIdQuery": {"id": Uuid::now_v7().to_string()}}]})).await;
    assert_eq!(
        none["sessions"],
        json!([]),
        "an empty result still lists its sessions: {none}"
    );
    assert_eq!(none["details"]["totalResult"], "0", "{none}");
    assert!(none["details"]["timestamp"].is_string());
}

#[tokio::test]
async fn list_rejects_what_zitadel_rejects() {
    let app = TestApp::start().await;
    for (body, needle) in [
        (json!({"query": {"limit": 1001}}), "QUERY-4M0fs"),
        (json!({"queries": [{}]}), "GRPC-Sfefs"),
        (
            json!({"queries": [{"creationDateQuery": {"creationDate": "2024-01-01T00:00:00Z", "method": "SOMETIMES"}}]}),
            "GRPC-Dwigt",
        ),
        (
            json!({"queries": [{"creationDateQuery": {"creationDate": "yesterday"}}]}),
            "RFC 3339",
        ),
        (
            json!({"queries": (0..21).map(|_| json!({"userIdQuery": {"id": "x"}})).collect::<Vec<_>>()}),
            "20",
        ),
        (json!({"queries": [{"userAgentQuery": {}}]}), "GRPC-x8n23uh"),
        (json!({"query": {"offset": -1}}), "offset"),
    ] {
        let (status, error) = app.connect("ListSessions", body.clone(), &app.key).await;
        assert_connect_error(status, &error, 400, "invalid_argument");
        assert!(error["message"].as_str().unwrap().contains(needle), "{body}: {error}");
    }
    let (status, error) = exchange(
        app.public(Method::POST, "/zitadel.session.v2.SessionService/ListSessions")
            .bearer_auth(&app.key)
            .header("content-type", "application/json")
            .body("{not json"),
    )
    .await;
    assert_connect_error(status, &error, 400, "invalid_argument");
    let (status, error) = app.connect("NoSuchRpc", json!({}), &app.key).await;
    assert_connect_error(status, &error, 501, "unimplemented");
}

#[tokio::test]
async fn every_rpc_needs_a_bearer() {
    let app = TestApp::start().await;
    let (status, error) = app.connect("ListSessions", json!({}), "lanyard_ak_nope").await;
    assert_connect_error(status, &error, 401, "unauthenticated");
    let (status, error) = exchange(app.public(Method::POST, "/v2/sessions/search").json(&json!({}))).await;
    assert_rest_error(status, &error, 401, 16);
}

#[tokio::test]
async fn a_session_token_caller_sees_and_deletes_only_its_own_sessions() {
    let app = TestApp::start().await;
    let (me, my_email) = app.zitadel_user().await;
    let (_, other_email) = app.zitadel_user().await;
    let (my_id, my_token) = app.checked_session(&my_email, json!({})).await;
    let (my_other_id, _) = app.checked_session(&my_email, json!({})).await;
    let (their_id, their_token) = app.checked_session(&other_email, json!({})).await;

    let (status, list) = app.connect("ListSessions", json!({}), &my_token).await;
    assert_eq!(status, 200, "{list}");
    let mut seen: Vec<&str> = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    seen.sort();
    let mut expected = vec![my_id.as_str(), my_other_id.as_str()];
    expected.sort();
    assert_eq!(seen, expected);
    assert_eq!(
        list["details"]["totalResult"], "2",
        "totalResult counts visible rows only"
    );
    assert!(list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["factors"]["user"]["id"] == me.to_string()));

    let (status, error) = app
        .connect("GetSession", json!({"sessionId": their_id}), &my_token)
        .await;
    assert_connect_error(status, &error, 403, "permission_denied");
    let (status, _) = app
        .connect(
            "GetSession",
            json!({"sessionId": their_id, "sessionToken": their_token}),
            &my_token,
        )
        .await;
    assert_eq!(status, 200, "presenting the session's own token is enough");
    let (status, error) = app
        .connect("DeleteSession", json!({"sessionId": their_id}), &my_token)
        .await;
    assert_connect_error(status, &error, 403, "permission_denied");
    let (status, error) = app.connect("CreateSession", json!({}), &my_token).await;
    assert_connect_error(status, &error, 403, "permission_denied");
    let (status, _) = app
        .connect("DeleteSession", json!({"sessionId": my_other_id}), &my_token)
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn api_keys_are_limited_to_their_scopes() {
    let app = TestApp::start().await;
    let (_, email) = app.zitadel_user().await;
    let (id, _) = app.checked_session(&email, json!({})).await;
    let reader = app
        .service
        .create_api_key("reader", vec![lanyard_domain::Scope::SessionRead])
        .await
        .unwrap();
    let reader = reader.secret.expose().to_owned();
    let (status, _) = app.connect("GetSession", json!({"sessionId": id}), &reader).await;
    assert_eq!(status, 200);
    let (status, error) = app.connect("DeleteSession", json!({"sessionId": id}), &reader).await;
    assert_connect_error(status, &error, 403, "permission_denied");
    let (status, error) = app.connect("CreateSession", json!({}), &reader).await;
    assert_connect_error(status, &error, 403, "permission_denied");
}

#[tokio::test]
async fn failed_checks_are_rate_limited_per_identity_with_retry_after() {
    let app = TestApp::start().await;
    let (_, email) = app.zitadel_user().await;
    let wrong = json!({"checks": {"user": {"loginName": email}, "password": {"password": "wrong"}}});
    for _ in 0..10 {
        let (status, _) = app.connect("CreateSession", wrong.clone(), &app.key).await;
        assert_eq!(status, 400);
    }
    let response = app
        .public(Method::POST, "/zitadel.session.v2.SessionService/CreateSession")
        .bearer_auth(&app.key)
        .json(&json!({"checks": {"user": {"loginName": email}, "password": {"password": PASSWORD}}}))
        .send()
        .await
        .unwrap();
    assert!(response.headers().get("retry-after").is_some());
    let (status, error) = read(response).await;
    assert_connect_error(status, &error, 429, "resource_exhausted");
    app.advance(time::Duration::minutes(6));
    app.checked_session(&email, json!({})).await;
}
