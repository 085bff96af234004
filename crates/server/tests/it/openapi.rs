//! Lanyard's own OpenAPI documents: each port serves one at `GET /openapi.json`, it is an
//! OpenAPI 3 document, and it lists exactly the routes that port serves.
//!
//! The routers and the documents are built from one list (`lanyard_api::api_router`), so a
//! route cannot be served undocumented. The tables below are what a user sees of that list:
//! the served document has exactly their operations, and the live router answers each of them
//! from a handler (not the 404/405 fallbacks) while answering every other method on those paths
//! with 405. A route that appears or disappears fails here until its table says so.
//! The strict schema validation (openapi-spec-validator) runs in the `fuzz` test.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::Value;
use uuid::Uuid;

use crate::harness::TestApp;

/// Every route the admin port serves, as `(method, path)`; path parameters in braces.
const ADMIN_ROUTES: &[(&str, &str)] = &[
    ("GET", "/admin/sessions"),
    ("GET", "/admin/sessions/{id}"),
    ("DELETE", "/admin/sessions/{id}"),
    ("PATCH", "/admin/sessions/{id}/extend"),
    ("GET", "/admin/identities/{id}/sessions"),
    ("DELETE", "/admin/identities/{id}/sessions"),
    ("GET", "/admin/identities"),
    ("POST", "/admin/identities"),
    ("GET", "/admin/identities/{id}"),
    ("PUT", "/admin/identities/{id}"),
    ("PATCH", "/admin/identities/{id}"),
    ("DELETE", "/admin/identities/{id}"),
    ("GET", "/admin/identities/by/external/{external_id}"),
    ("DELETE", "/admin/identities/{id}/credentials/{type}"),
    ("GET", "/schemas"),
    ("GET", "/schemas/{id}"),
    ("POST", "/admin/lanyard/sessions"),
    ("POST", "/admin/lanyard/idp-intents"),
    ("POST", "/admin/lanyard/identities/{id}/credentials/code"),
    ("DELETE", "/admin/lanyard/identities/{id}/credentials/code/{channel}"),
    ("POST", "/admin/lanyard/identities/{id}/credentials/totp"),
    ("POST", "/admin/lanyard/identities/{id}/credentials/lookup_secret"),
    ("POST", "/admin/lanyard/identities/{id}/unlock"),
    ("GET", "/metrics"),
    ("GET", "/health/alive"),
    ("GET", "/health/ready"),
    ("GET", "/openapi.json"),
];

/// Every route the public port serves, as `(method, path)`. `/sessions/whoami` answers every
/// method alike; it is documented (and listed) as GET.
const PUBLIC_ROUTES: &[(&str, &str)] = &[
    ("GET", "/sessions/whoami"),
    ("GET", "/sessions"),
    ("DELETE", "/sessions"),
    ("DELETE", "/sessions/{id}"),
    ("DELETE", "/self-service/logout/api"),
    ("GET", "/schemas"),
    ("GET", "/schemas/{id}"),
    ("POST", "/v2/sessions"),
    ("POST", "/v2/sessions/search"),
    ("GET", "/v2/sessions/{id}"),
    ("PATCH", "/v2/sessions/{id}"),
    ("DELETE", "/v2/sessions/{id}"),
    ("POST", "/zitadel.session.v2.SessionService/ListSessions"),
    ("POST", "/zitadel.session.v2.SessionService/GetSession"),
    ("POST", "/zitadel.session.v2.SessionService/CreateSession"),
    ("POST", "/zitadel.session.v2.SessionService/SetSession"),
    ("POST", "/zitadel.session.v2.SessionService/DeleteSession"),
    ("POST", "/v2beta/sessions"),
    ("POST", "/v2beta/sessions/search"),
    ("GET", "/v2beta/sessions/{id}"),
    ("PATCH", "/v2beta/sessions/{id}"),
    ("DELETE", "/v2beta/sessions/{id}"),
    ("POST", "/zitadel.session.v2beta.SessionService/ListSessions"),
    ("POST", "/zitadel.session.v2beta.SessionService/GetSession"),
    ("POST", "/zitadel.session.v2beta.SessionService/CreateSession"),
    ("POST", "/zitadel.session.v2beta.SessionService/SetSession"),
    ("POST", "/zitadel.session.v2beta.SessionService/DeleteSession"),
    ("POST", "/v2/users/{userId}/passkeys"),
    ("POST", "/v2/users/{userId}/passkeys/_search"),
    ("POST", "/v2/users/{userId}/passkeys/{passkeyId}"),
    ("DELETE", "/v2/users/{userId}/passkeys/{passkeyId}"),
    ("POST", "/v2/users/{userId}/u2f"),
    ("POST", "/v2/users/{userId}/u2f/{u2fId}"),
    ("DELETE", "/v2/users/{userId}/u2f/{u2fId}"),
    ("POST", "/v2/users/{userId}/totp"),
    ("POST", "/v2/users/{userId}/totp/verify"),
    ("DELETE", "/v2/users/{userId}/totp"),
    ("POST", "/v2/users/{userId}/otp_sms"),
    ("DELETE", "/v2/users/{userId}/otp_sms"),
    ("POST", "/v2/users/{userId}/otp_email"),
    ("DELETE", "/v2/users/{userId}/otp_email"),
    ("GET", "/v2/users/{userId}/authentication_methods"),
    ("POST", "/zitadel.user.v2.UserService/RegisterPasskey"),
    ("POST", "/zitadel.user.v2.UserService/VerifyPasskeyRegistration"),
    ("POST", "/zitadel.user.v2.UserService/ListPasskeys"),
    ("POST", "/zitadel.user.v2.UserService/RemovePasskey"),
    ("POST", "/zitadel.user.v2.UserService/RegisterU2F"),
    ("POST", "/zitadel.user.v2.UserService/VerifyU2FRegistration"),
    ("POST", "/zitadel.user.v2.UserService/RemoveU2F"),
    ("POST", "/zitadel.user.v2.UserService/RegisterTOTP"),
    ("POST", "/zitadel.user.v2.UserService/VerifyTOTPRegistration"),
    ("POST", "/zitadel.user.v2.UserService/RemoveTOTP"),
    ("POST", "/zitadel.user.v2.UserService/AddOTPSMS"),
    ("POST", "/zitadel.user.v2.UserService/RemoveOTPSMS"),
    ("POST", "/zitadel.user.v2.UserService/AddOTPEmail"),
    ("POST", "/zitadel.user.v2.UserService/RemoveOTPEmail"),
    ("POST", "/zitadel.user.v2.UserService/ListAuthenticationMethodTypes"),
    ("GET", "/health/alive"),
    ("GET", "/health/ready"),
    ("GET", "/openapi.json"),
];

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for key in item.as_object().expect("path item").keys() {
            if METHODS.contains(&key.as_str()) {
                out.insert((key.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

fn table(routes: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    routes.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect()
}

/// Resolves a local `$ref` (`#/a/b`) in the document.
fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    doc.pointer(reference.strip_prefix('#')?)
}

fn check_refs(doc: &Value, value: &Value, errors: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                if resolve(doc, reference).is_none() {
                    errors.push(format!("unresolved $ref {reference}"));
                }
            }
            map.values().for_each(|v| check_refs(doc, v, errors));
        }
        Value::Array(items) => items.iter().for_each(|v| check_refs(doc, v, errors)),
        _ => {}
    }
}

/// The OpenAPI 3 rules a client relies on: version, info, operations with responses and unique
/// ids, declared path parameters, resolvable references, known security schemes.
fn assert_openapi3(port: &str, doc: &Value) {
    let mut errors = Vec::new();
    let version = doc["openapi"].as_str().unwrap_or_default();
    if !version.starts_with("3.") {
        errors.push(format!("openapi is {:?}, not 3.x", doc["openapi"]));
    }
    for field in ["title", "version"] {
        if !doc["info"][field].is_string() {
            errors.push(format!("info.{field} is missing"));
        }
    }
    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut operation_ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        if !path.starts_with('/') {
            errors.push(format!("path {path} does not start with /"));
        }
        let templated: Vec<&str> = path
            .split('{')
            .skip(1)
            .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
            .collect();
        for (method, operation) in item.as_object().into_iter().flatten() {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let at = format!("{} {path}", method.to_uppercase());
            match operation["operationId"].as_str() {
                Some(id) if operation_ids.insert(id.to_owned()) => {}
                Some(id) => errors.push(format!("{at}: operationId {id} is not unique")),
                None => errors.push(format!("{at}: no operationId")),
            }
            let responses = operation["responses"].as_object();
            if responses.is_none_or(|r| r.is_empty()) {
                errors.push(format!("{at}: no responses"));
            }
            for (status, response) in responses.into_iter().flatten() {
                let ok = status == "default" || (status.len() == 3 && status.parse::<u16>().is_ok());
                if !ok {
                    errors.push(format!("{at}: response key {status}"));
                }
                if response.get("$ref").is_none() && !response["description"].is_string() {
                    errors.push(format!("{at}: response {status} has no description"));
                }
            }
            let parameters: Vec<&Value> = operation["parameters"].as_array().into_iter().flatten().collect();
            for name in &templated {
                let declared = parameters
                    .iter()
                    .any(|p| p["in"] == "path" && p["name"] == *name && p["required"] == true);
                if !declared {
                    errors.push(format!("{at}: path parameter {name} is not declared (required)"));
                }
            }
            for parameter in &parameters {
                if parameter["in"] == "path" && !templated.contains(&parameter["name"].as_str().unwrap_or_default()) {
                    errors.push(format!("{at}: path parameter {} is not in the path", parameter["name"]));
                }
            }
            for requirement in operation["security"].as_array().into_iter().flatten() {
                for scheme in requirement.as_object().into_iter().flatten().map(|(k, _)| k) {
                    if !schemes.contains_key(scheme) {
                        errors.push(format!("{at}: unknown security scheme {scheme}"));
                    }
                }
            }
        }
    }
    check_refs(doc, doc, &mut errors);
    assert!(
        errors.is_empty(),
        "the {port} document is not valid OpenAPI 3:\n{}",
        errors.join("\n")
    );
}

/// A concrete URL path for a route template.
fn concrete(path: &str) -> String {
    path.replace("{id}", &Uuid::now_v7().to_string())
        .replace("{type}", "totp")
        .replace("{external_id}", "no-such-external-id")
        .replace("{channel}", "sms")
}

/// Whether the router answered from a handler rather than its 404/405 fallbacks.
async fn served(app: &TestApp, base: &str, method: &str, path: &str) -> (bool, u16, String) {
    let method = Method::from_bytes(method.as_bytes()).expect("method");
    let response = app
        .http
        .request(method, format!("{base}{}", concrete(path)))
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    let fallback = status == 405 || (status == 404 && body.contains("no route for"));
    (!fallback, status, body)
}

#[tokio::test]
async fn each_port_serves_an_openapi_3_document_of_exactly_its_routes() {
    let app = TestApp::start().await;
    for (port, base, routes) in [
        ("admin", app.admin.clone(), ADMIN_ROUTES),
        ("public", app.public.clone(), PUBLIC_ROUTES),
    ] {
        let response = app
            .http
            .get(format!("{base}/openapi.json"))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200, "GET /openapi.json on the {port} port");
        let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(content_type.starts_with("application/json"), "{content_type}");
        let doc: Value = response.json().await.expect("the document is JSON");
        assert_openapi3(port, &doc);

        let documented = documented(&doc);
        let listed = table(routes);
        let missing: Vec<_> = listed.difference(&documented).collect();
        let extra: Vec<_> = documented.difference(&listed).collect();
        assert!(
            missing.is_empty(),
            "routes of the {port} port missing from its document: {missing:?}"
        );
        assert!(
            extra.is_empty(),
            "the {port} document lists routes the table does not: {extra:?}"
        );

        for (method, path) in &listed {
            let (ok, status, body) = served(&app, &base, method, path).await;
            assert!(
                ok,
                "{method} {path} is listed but the {port} router does not serve it ({status}: {body})"
            );
        }
        // Every other method on a listed path must be refused: a handler added to an existing
        // path without a table entry shows up here.
        let paths: BTreeSet<&String> = listed.iter().map(|(_, p)| p).collect();
        for path in paths {
            // `/sessions/whoami` answers every method (as Kratos does); documented as GET.
            if path == "/sessions/whoami" {
                continue;
            }
            for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
                if listed.contains(&(method.to_owned(), path.clone())) {
                    continue;
                }
                let (ok, status, body) = served(&app, &base, method, path).await;
                assert!(
                    !ok,
                    "{method} {path} is served by the {port} router ({status}: {body}) but is not in its route table and document"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_documents_describe_the_extensions_and_both_zitadel_transports() {
    let app = TestApp::start().await;
    let admin: Value = app
        .http
        .get(format!("{}/openapi.json", app.admin))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let public: Value = app
        .http
        .get(format!("{}/openapi.json", app.public))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let issue = &admin["paths"]["/admin/lanyard/sessions"]["post"];
    assert_eq!(issue["security"][0]["admin_key"], serde_json::json!([]));
    assert!(
        issue["responses"]["201"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .is_some_and(|r| r.ends_with("/IssuedSession"))
    );
    for status in ["400", "401", "403", "404", "503", "default"] {
        assert!(
            issue["responses"][status].is_object(),
            "issue session documents {status}"
        );
    }

    let connect = &public["paths"]["/zitadel.session.v2.SessionService/ListSessions"]["post"];
    assert_eq!(
        connect["responses"]["404"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ZitadelConnectError"
    );
    let rest = &public["paths"]["/v2/sessions"]["post"];
    assert!(rest["responses"]["201"].is_object(), "REST CreateSession answers 201");
    assert_eq!(
        rest["responses"]["400"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ZitadelRestError"
    );
    assert_eq!(public["paths"]["/v2beta/sessions"]["post"]["deprecated"], true);
    // The admin routes are not on the public document, nor the other way round.
    assert!(public["paths"].get("/admin/sessions").is_none());
    assert!(admin["paths"].get("/sessions/whoami").is_none());
}
