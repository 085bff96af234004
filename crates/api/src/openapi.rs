//! Lanyard's own OpenAPI documents, one per port, served at `GET /openapi.json`.
//!
//! The operations come with the routes themselves (see [`crate::api_router`]): the handlers'
//! `#[utoipa::path]` attributes and the wire types' `ToSchema` derives. What is the same on
//! every route (the error answers each can give and the security schemes) is added here by
//! `finish`, along with each port's title, description and tags.

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, Ref, RefOr, Response as DocResponse, ResponseBuilder};
use utoipa::{OpenApi, PartialSchema, ToSchema};

use crate::kratos::KratosErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Lanyard admin API",
        description = "The admin port: the Ory Kratos admin API (sessions, identities, schemas) and \
            Lanyard's extensions. Every `/admin` route needs `Authorization: Bearer <API key>` (or \
            the bare key) with the route's scope: 401 without a valid key, 403 without the scope."
    ),
    tags(
        (name = "kratos", description = "The Ory Kratos admin API, v26.2.0 wire format"),
        (name = "lanyard", description = "Lanyard's own extensions"),
        (name = "health", description = "Liveness and readiness"),
    )
)]
struct AdminInfo;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Lanyard public API",
        description = "The public port: the Ory Kratos public session API, the ZITADEL Session \
            Service v2 (REST, and on its RPC paths gRPC, gRPC-Web and Connect; the schemas here are \
            the JSON codec's) and health."
    ),
    tags(
        (name = "kratos", description = "The Ory Kratos public session API, v26.2.0 wire format"),
        (name = "zitadel", description = "The ZITADEL Session Service v2 (`v2beta` paths are served too)"),
        (name = "lanyard", description = "Lanyard's own routes"),
        (name = "health", description = "Liveness and readiness"),
    )
)]
struct PublicInfo;

/// The admin port's title, description and tags, before any route.
pub(crate) fn admin_info() -> Document {
    AdminInfo::openapi()
}

/// The public port's title, description and tags, before any route.
pub(crate) fn public_info() -> Document {
    PublicInfo::openapi()
}

#[allow(
    clippy::expect_used,
    reason = "a document built from constants; the openapi tests serialize both"
)]
pub(crate) fn to_json(document: &Document) -> String {
    document.to_json().expect("an OpenAPI document serializes")
}

/// The error body a path's errors have.
pub(crate) fn error_schema(path: &str) -> &'static str {
    if path.starts_with("/zitadel.") {
        "ZitadelConnectError"
    } else if path.starts_with("/v2/") || path.starts_with("/v2beta/") {
        "ZitadelRestError"
    } else {
        "KratosErrorBody"
    }
}

pub(crate) fn error_response(description: &str, schema: &str) -> RefOr<DocResponse> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content("application/json", Content::new(Some(Ref::from_schema_name(schema))))
            .build(),
    )
}

pub(crate) fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
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

/// Security schemes, the Kratos error schema, and the error answers every route shares.
pub(crate) fn finish(mut doc: Document) -> Document {
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
    let mut schemas = vec![(
        <KratosErrorBody<'_> as ToSchema>::name().into_owned(),
        <KratosErrorBody<'_> as PartialSchema>::schema(),
    )];
    <KratosErrorBody<'_> as ToSchema>::schemas(&mut schemas);
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
    doc
}
