//! Lanyard's own OpenAPI documents, one per port, served at `GET /openapi.json`.
//!
//! The operations come from the handlers' `#[utoipa::path]` attributes and the wire types'
//! `ToSchema` derives; what is the same everywhere (the error answers every route can give,
//! the security schemes, the Connect paths of the ZITADEL RPCs and the `v2beta` copies of the
//! ZITADEL routes) is added here. [`ADMIN_ROUTES`] and [`PUBLIC_ROUTES`] list every route each
//! router serves: the unit test below holds the documents to them, and the integration test
//! `openapi` holds the live routers to them.

mod proto_schemas;
pub mod zitadel;

use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::Value;
use utoipa::openapi::path::{HttpMethod, Operation, OperationBuilder, PathItem};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, Ref, RefOr, Required, Response as DocResponse, ResponseBuilder};
use utoipa::{OpenApi, PartialSchema, ToSchema};

use crate::kratos::wire::SessionJson;
use crate::kratos::{identities, schemas, sessions_admin, sessions_public};
use crate::lanyard::{enrolment, health, issue, metrics};
use crate::AppState;

/// Every route of the admin router, as `(method, path)`; path parameters in braces.
pub const ADMIN_ROUTES: &[(&str, &str)] = &[
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
    ("POST", "/admin/lanyard/identities/{id}/credentials/totp"),
    ("POST", "/admin/lanyard/identities/{id}/credentials/lookup_secret"),
    ("POST", "/admin/lanyard/identities/{id}/unlock"),
    ("GET", "/metrics"),
    ("GET", "/health/alive"),
    ("GET", "/health/ready"),
    ("GET", "/openapi.json"),
];

/// Every route of the public router, as `(method, path)`. `/sessions/whoami` answers every
/// method alike; it is documented (and listed) as GET.
pub const PUBLIC_ROUTES: &[(&str, &str)] = &[
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
    ("GET", "/health/alive"),
    ("GET", "/health/ready"),
    ("GET", "/openapi.json"),
];

// ---------------------------------------------------------------------------------------------
// Shared schemas and parameters (documentation only: the handlers read JSON and query strings
// by hand, so that every rejection can name the field).

/// Kratos's error JSON; every error of a Kratos or Lanyard route has this shape.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct KratosErrorBody {
    error: KratosGenericError,
    /// Where a browser should go next (the AAL error only).
    redirect_browser_to: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct KratosGenericError {
    /// A machine-readable id, e.g. `session_inactive`, `session_aal2_required`, `identity_disabled`.
    id: Option<String>,
    /// The HTTP status code.
    code: i64,
    /// The HTTP status text.
    status: String,
    /// What was wrong with this request.
    reason: String,
    /// The standard message for the status.
    message: String,
    debug: Option<String>,
}

/// `DELETE /sessions`: how many sessions changed from active to revoked.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RevokedCount {
    count: i64,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct IdentitySchemaContainer {
    id: String,
    /// The JSON Schema.
    #[schema(value_type = Object)]
    schema: Value,
}

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum JsonPatchOp {
    Add,
    Remove,
    Replace,
    Move,
    Copy,
    Test,
}

/// One RFC 6902 operation.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct JsonPatchOperation {
    op: JsonPatchOp,
    /// A JSON Pointer, e.g. `/traits/email`.
    path: String,
    /// For `move` and `copy`.
    from: Option<String>,
    /// For `add`, `replace` and `test`.
    value: Option<serde_json::Value>,
}

/// `POST /admin/lanyard/sessions`: the session and, this once, its token.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct IssuedSession {
    session: SessionJson,
    session_token: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TotpEnrolment {
    /// Base32.
    secret: String,
    /// `otpauth://totp/…` for authenticator apps.
    otpauth_url: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LookupSecrets {
    codes: Vec<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct HealthStatus {
    /// `ok`.
    status: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct HealthNotReady {
    /// `{"database": "…"}`.
    errors: std::collections::BTreeMap<String, String>,
}

// ---------------------------------------------------------------------------------------------
// The documents.

#[utoipa::path(get, path = "/openapi.json", operation_id = "getOpenApiDocument", tag = "lanyard",
    description = "This document: every route of the admin port.",
    responses((status = 200, description = "OpenAPI 3.1", body = serde_json::Value)))]
pub(crate) async fn admin_document_json() -> Response {
    json_response(admin_json())
}

#[utoipa::path(get, path = "/openapi.json", operation_id = "getOpenApiDocument", tag = "lanyard",
    description = "This document: every route of the public port.",
    responses((status = 200, description = "OpenAPI 3.1", body = serde_json::Value)))]
pub(crate) async fn public_document_json() -> Response {
    json_response(public_json())
}

fn json_response(body: &'static str) -> Response {
    ([(CONTENT_TYPE, "application/json")], body).into_response()
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Lanyard admin API",
        description = "The admin port: the Ory Kratos admin API (sessions, identities, schemas) and \
            Lanyard's extensions. Every `/admin` route needs `Authorization: Bearer <API key>` (or \
            the bare key) with the route's scope: 401 without a valid key, 403 without the scope."
    ),
    paths(
        sessions_admin::list,
        sessions_admin::get,
        sessions_admin::disable,
        sessions_admin::extend,
        sessions_admin::list_for_identity,
        sessions_admin::delete_for_identity,
        identities::list,
        identities::create,
        identities::get,
        identities::replace,
        identities::patch,
        identities::delete,
        identities::get_by_external_id,
        identities::delete_credential,
        schemas::list,
        schemas::get_one,
        issue::issue_session,
        enrolment::enrol_totp,
        enrolment::generate_lookup_secrets,
        enrolment::unlock_identity,
        metrics::metrics,
        health::alive,
        health::ready,
        admin_document_json,
    ),
    tags(
        (name = "kratos", description = "The Ory Kratos admin API, v26.2.0 wire format"),
        (name = "lanyard", description = "Lanyard's own extensions"),
        (name = "health", description = "Liveness and readiness"),
    )
)]
struct AdminDoc;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Lanyard public API",
        description = "The public port: the Ory Kratos public session API, the ZITADEL Session \
            Service v2 (REST, and Connect with the JSON codec) and health."
    ),
    paths(
        sessions_public::whoami,
        sessions_public::list_mine,
        sessions_public::revoke_my_others,
        sessions_public::revoke_mine,
        sessions_public::logout,
        schemas::list,
        schemas::get_one,
        crate::zitadel::rest_create,
        crate::zitadel::rest_list,
        crate::zitadel::rest_get,
        crate::zitadel::rest_set,
        crate::zitadel::rest_delete,
        health::alive,
        health::ready,
        public_document_json,
    ),
    tags(
        (name = "kratos", description = "The Ory Kratos public session API, v26.2.0 wire format"),
        (name = "zitadel", description = "The ZITADEL Session Service v2 (`v2beta` paths are served too)"),
        (name = "lanyard", description = "Lanyard's own routes"),
        (name = "health", description = "Liveness and readiness"),
    )
)]
struct PublicDoc;

/// The admin port's document.
pub fn admin_document() -> Document {
    let mut doc = AdminDoc::openapi();
    finish(&mut doc, false);
    doc
}

/// The public port's document.
pub fn public_document() -> Document {
    let mut doc = PublicDoc::openapi();
    add_connect_paths(&mut doc, "v2");
    add_v2beta_copies(&mut doc);
    finish(&mut doc, true);
    doc
}

#[allow(
    clippy::expect_used,
    reason = "a document built from constants; the openapi tests serialize it"
)]
fn admin_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        admin_document()
            .to_json()
            .expect("the admin OpenAPI document serializes")
    })
}

#[allow(
    clippy::expect_used,
    reason = "a document built from constants; the openapi tests serialize it"
)]
fn public_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        public_document()
            .to_json()
            .expect("the public OpenAPI document serializes")
    })
}

pub fn admin_routes() -> Router<AppState> {
    Router::new().route("/openapi.json", get(admin_document_json))
}

pub fn public_routes() -> Router<AppState> {
    Router::new().route("/openapi.json", get(public_document_json))
}

/// The error body a path's errors have.
fn error_schema(path: &str) -> &'static str {
    if path.starts_with("/zitadel.") {
        "ZitadelConnectError"
    } else if path.starts_with("/v2/") || path.starts_with("/v2beta/") {
        "ZitadelRestError"
    } else {
        "KratosErrorBody"
    }
}

fn error_response(description: &str, schema: &str) -> RefOr<DocResponse> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content("application/json", Content::new(Some(Ref::from_schema_name(schema))))
            .build(),
    )
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

fn has_security(operation: &Operation, scheme: &str) -> bool {
    let wanted = serde_json::to_value(SecurityRequirement::new(scheme, Vec::<String>::new())).ok();
    operation.security.iter().flatten().any(|requirement| {
        let value = serde_json::to_value(requirement).ok();
        value.is_some() && value == wanted
    })
}

/// Security schemes, error schemas, and the error answers every route shares.
fn finish(doc: &mut Document, zitadel_messages: bool) {
    let components = doc.components.get_or_insert_with(Default::default);
    let bearer_key = |description: &str| {
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.description = Some(description.to_owned());
        SecurityScheme::Http(http)
    };
    let api_key = |key: ApiKey| SecurityScheme::ApiKey(key);
    components.add_security_scheme(
        "admin_key",
        bearer_key(
            "An admin API key (`lanyard keys create`). The bare key without `Bearer` is accepted too, \
             as the Kratos SDKs send it.",
        ),
    );
    components.add_security_scheme(
        "session_token",
        api_key(ApiKey::Header(ApiKeyValue::with_description(
            "X-Session-Token",
            "A session token",
        ))),
    );
    components.add_security_scheme(
        "session_cookie",
        api_key(ApiKey::Cookie(ApiKeyValue::with_description(
            "ory_kratos_session",
            "A session token in the session cookie (`session.cookie_name`)",
        ))),
    );
    components.add_security_scheme("session_bearer", bearer_key("A session token as a bearer token"));
    components.add_security_scheme(
        "bearer",
        bearer_key(
            "An API key used as a ZITADEL personal access token (scopes session.read, session.write, \
             session.delete), or a session token, whose bearer sees and deletes only its own sessions",
        ),
    );
    let mut schemas = vec![(KratosErrorBody::name().into_owned(), KratosErrorBody::schema())];
    KratosErrorBody::schemas(&mut schemas);
    if zitadel_messages {
        schemas.extend(zitadel::schemas());
    }
    for (name, schema) in schemas {
        components.schemas.entry(name).or_insert(schema);
    }

    for (path, item) in doc.paths.paths.iter_mut() {
        if path.starts_with("/health/") || path == "/openapi.json" || path == "/metrics" {
            continue;
        }
        let schema = error_schema(path);
        for operation in operations_mut(item) {
            let admin = has_security(operation, "admin_key");
            let bearer = has_security(operation, "bearer");
            let responses = &mut operation.responses.responses;
            let mut add = |status: &str, description: &str| {
                responses
                    .entry(status.to_owned())
                    .or_insert_with(|| error_response(description, schema));
            };
            if admin {
                add("401", "No valid API key");
                add("403", "The API key lacks the route's scope");
            }
            if bearer {
                add(
                    "401",
                    "No bearer token, or it is neither an API key nor an active session token",
                );
                add("403", "The caller may not do this");
                add(
                    "429",
                    "Too many failed checks for this user or client IP, new sessions, or list requests \
                     running at once for this caller (`Retry-After`)",
                );
            }
            add("500", "An unexpected error; it is logged");
            add(
                "503",
                "The session store cannot serve now (unreachable, refusing connections, read-only, \
                 full), or the request timed out; retry after `Retry-After` seconds (ZITADEL: also a \
                 `google.rpc.RetryInfo` detail)",
            );
            add(
                "default",
                "Any other error (405, 413, 414, 415, 431, …), in the same shape",
            );
        }
    }
}

use crate::zitadel::RPC_NAMES as RPCS;

/// `POST /zitadel.session.<version>.SessionService/<Rpc>`: one router route (`{rpc}`), five
/// documented operations, each with its own messages.
fn add_connect_paths(doc: &mut Document, version: &str) {
    for rpc in RPCS {
        let path = format!("/zitadel.session.{version}.SessionService/{rpc}");
        let request = RequestBodyBuilder::new()
            .description(Some(format!(
                "The {rpc}Request message (proto3 JSON); an empty body is an empty message"
            )))
            .content(
                "application/json",
                Content::new(Some(Ref::from_schema_name(format!("zitadel.{rpc}Request")))),
            )
            .required(Some(Required::False))
            .build();
        let ok = ResponseBuilder::new()
            .description(format!("The {rpc}Response message (always 200 on success)"))
            .content(
                "application/json",
                Content::new(Some(Ref::from_schema_name(format!("zitadel.{rpc}Response")))),
            )
            .build();
        let schema = error_schema(&path);
        let operation = OperationBuilder::new()
            .operation_id(Some(format!("zitadel.session.{version}.SessionService.{rpc}")))
            .tag("zitadel")
            .summary(Some(format!("{rpc} (Connect, JSON codec)")))
            .request_body(Some(request))
            .security(SecurityRequirement::new("bearer", Vec::<String>::new()))
            .response("200", ok)
            .response(
                "400",
                error_response("`invalid_argument` or `failed_precondition`", schema),
            )
            .response("404", error_response("`not_found`", schema))
            .response(
                "415",
                error_response("The content type is not application/json (`unimplemented`)", schema),
            )
            .response(
                "501",
                error_response(
                    "`unimplemented`: WebAuthN, IdP intents, OTP by SMS or email, challenges",
                    schema,
                ),
            )
            .build();
        doc.paths.paths.insert(path, PathItem::new(HttpMethod::Post, operation));
    }
}

/// The `v2beta` paths are the `v2` handlers: the same operations, marked deprecated.
fn add_v2beta_copies(doc: &mut Document) {
    let copies: Vec<(String, PathItem)> = doc
        .paths
        .paths
        .iter()
        .filter_map(|(path, item)| {
            let beta = if let Some(rest) = path.strip_prefix("/v2/") {
                format!("/v2beta/{rest}")
            } else if let Some(rest) = path.strip_prefix("/zitadel.session.v2.") {
                format!("/zitadel.session.v2beta.{rest}")
            } else {
                return None;
            };
            let mut item = item.clone();
            for operation in operations_mut(&mut item) {
                operation.deprecated = Some(utoipa::openapi::Deprecated::True);
                operation.operation_id = operation.operation_id.as_ref().map(|id| format!("v2beta.{id}"));
            }
            Some((beta, item))
        })
        .collect();
    for (path, item) in copies {
        doc.paths.paths.insert(path, item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operations(doc: &Document) -> Vec<(String, String)> {
        let json = serde_json::to_value(doc).unwrap();
        let mut out = Vec::new();
        for (path, item) in json["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                out.push((method.to_uppercase(), path.clone()));
            }
        }
        out.sort();
        out
    }

    fn table(routes: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut out: Vec<_> = routes.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
        out.sort();
        out
    }

    #[test]
    fn the_documents_list_exactly_the_route_tables() {
        assert_eq!(operations(&admin_document()), table(ADMIN_ROUTES));
        assert_eq!(operations(&public_document()), table(PUBLIC_ROUTES));
    }

    #[test]
    fn every_reference_resolves_and_operation_ids_are_unique() {
        for doc in [admin_document(), public_document()] {
            let json = serde_json::to_value(&doc).unwrap();
            let mut refs = Vec::new();
            collect_refs(&json, &mut refs);
            for reference in refs {
                let name = reference
                    .strip_prefix("#/components/schemas/")
                    .expect("schema refs only");
                assert!(
                    json["components"]["schemas"].get(name).is_some(),
                    "{reference} is missing"
                );
            }
            let mut ids: Vec<&str> = json["paths"]
                .as_object()
                .unwrap()
                .values()
                .flat_map(|item| item.as_object().unwrap().values())
                .map(|operation| operation["operationId"].as_str().expect("an operationId"))
                .collect();
            let count = ids.len();
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), count, "operation ids are unique");
        }
    }

    fn collect_refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r.clone());
                }
                map.values().for_each(|v| collect_refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
            _ => {}
        }
    }
}
