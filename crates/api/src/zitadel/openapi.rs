//! The ZITADEL routes' documentation: the Session Service messages, whose schemas come from
//! the compiled protos (`proto_schemas`, the definitions the handlers decode with: one model
//! of the wire, never kept by hand), the error shapes of each transport (written here, they are
//! not protobuf messages), the operations of the RPC paths, and the `v2beta` copies.

mod proto_schemas;

use std::borrow::Cow;

use axum::routing::MethodRouter;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, Paths};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{Content, Ref, RefOr, Required, ResponseBuilder};
use utoipa::PartialSchema;
use utoipa::ToSchema;
use utoipa_axum::router::UtoipaMethodRouter;

use crate::openapi::{error_response, error_schema, operations_mut};
use crate::AppState;

/// grpc-gateway's error JSON, on the REST paths.
#[derive(ToSchema)]
#[schema(as = ZitadelRestError)]
#[allow(dead_code, reason = "documents the JSON that error.rs writes")]
pub struct RestError {
    /// The gRPC status code, e.g. 5 (not found).
    code: i32,
    /// The message, ending with ZITADEL's error id in parentheses.
    message: String,
    details: Vec<RestErrorDetail>,
}

#[derive(ToSchema)]
#[schema(as = ZitadelRestErrorDetail)]
#[allow(dead_code, reason = "documents the JSON that error.rs writes")]
pub struct RestErrorDetail {
    /// `type.googleapis.com/zitadel.v1.ErrorDetail`.
    #[schema(rename = "@type")]
    type_url: String,
    /// ZITADEL's error id, e.g. `QUERY-SFeaa`.
    id: String,
    message: String,
}

/// Connect's error JSON, on the Connect paths.
#[derive(ToSchema)]
#[schema(as = ZitadelConnectError)]
#[allow(dead_code, reason = "documents the JSON that error.rs writes")]
pub struct ConnectError {
    /// The Connect code, e.g. `not_found`, `invalid_argument`, `unauthenticated`.
    code: String,
    message: String,
    details: Vec<ConnectErrorDetail>,
}

#[derive(ToSchema)]
#[schema(as = ZitadelConnectErrorDetail)]
#[allow(dead_code, reason = "documents the JSON that error.rs writes")]
pub struct ConnectErrorDetail {
    /// `zitadel.v1.ErrorDetail`.
    #[schema(rename = "type")]
    type_name: String,
    /// The detail in protobuf binary, base64 without padding.
    value: String,
    debug: ConnectErrorDebug,
}

#[derive(ToSchema)]
#[schema(as = ZitadelConnectErrorDebug)]
#[allow(dead_code, reason = "documents the JSON that error.rs writes")]
pub struct ConnectErrorDebug {
    id: String,
    message: String,
}

// --- messages ------------------------------------------------------------------------------

/// Declares a type per ZITADEL message that the paths name as a body; its schema is derived
/// from the compiled protos (`proto_schemas`), so the document describes exactly what the
/// handlers decode.
macro_rules! proto_message {
    ($($marker:ident => $full:literal),* $(,)?) => {$(
        #[doc = concat!("`", $full, "` in proto3 JSON.")]
        #[allow(dead_code, reason = "a marker for `body = …`; GetSession's request is named only by its Connect path")]
        pub struct $marker;

        impl utoipa::PartialSchema for $marker {
            fn schema() -> RefOr<Schema> {
                proto_schemas::schema_of($full)
            }
        }

        impl utoipa::ToSchema for $marker {
            fn name() -> Cow<'static, str> {
                Cow::Owned(proto_schemas::component_name($full))
            }
        }
    )*

    /// Every message above, by full proto name.
    const MESSAGES: &[&str] = &[$($full),*];
    };
}

proto_message!(
    ListSessionsRequest => ".zitadel.session.v2.ListSessionsRequest",
    ListSessionsResponse => ".zitadel.session.v2.ListSessionsResponse",
    GetSessionRequest => ".zitadel.session.v2.GetSessionRequest",
    GetSessionResponse => ".zitadel.session.v2.GetSessionResponse",
    CreateSessionRequest => ".zitadel.session.v2.CreateSessionRequest",
    CreateSessionResponse => ".zitadel.session.v2.CreateSessionResponse",
    SetSessionRequest => ".zitadel.session.v2.SetSessionRequest",
    SetSessionResponse => ".zitadel.session.v2.SetSessionResponse",
    DeleteSessionRequest => ".zitadel.session.v2.DeleteSessionRequest",
    DeleteSessionResponse => ".zitadel.session.v2.DeleteSessionResponse",
);

pub fn schemas() -> Vec<(String, RefOr<Schema>)> {
    let mut out = proto_schemas::schemas_of(MESSAGES);
    macro_rules! add {
        ($($t:ty),*) => {$(
            out.push((<$t as utoipa::ToSchema>::name().into_owned(), <$t as utoipa::PartialSchema>::schema()));
            let mut nested = Vec::new();
            <$t as utoipa::ToSchema>::schemas(&mut nested);
            out.extend(nested);
        )*};
    }
    add!(RestError, ConnectError);
    out
}

/// The requests and responses of `rpcs` in `package` (`zitadel.user.v2`), with every message
/// and enum they refer to.
pub(super) fn rpc_messages(package: &str, rpcs: &[&str]) -> Vec<(String, RefOr<Schema>)> {
    let names: Vec<String> = rpcs
        .iter()
        .flat_map(|rpc| [format!(".{package}.{rpc}Request"), format!(".{package}.{rpc}Response")])
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    proto_schemas::schemas_of(&names)
}

/// `POST /<service>/<Rpc>` for each RPC (`service` as `zitadel.session.v2.SessionService`),
/// each documented with its own messages (`schemas` holds them), served by `handler`. The same
/// paths take gRPC, gRPC-Web and Connect's binary codec, which OpenAPI cannot describe; the
/// schemas are the JSON codec's.
pub(super) fn rpc_routes(
    service: &str,
    rpcs: &[&str],
    schemas: Vec<(String, RefOr<Schema>)>,
    handler: MethodRouter<AppState>,
) -> UtoipaMethodRouter<AppState> {
    let mut paths = Paths::new();
    for rpc in rpcs {
        let path = format!("/{service}/{rpc}");
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
            .operation_id(Some(format!("{service}.{rpc}")))
            .tag("zitadel")
            .summary(Some(format!(
                "{rpc} (Connect, JSON codec; gRPC and gRPC-Web on the same path)"
            )))
            .request_body(Some(request))
            .security(SecurityRequirement::new("bearer", Vec::<String>::new()))
            .response("200", ok)
            .response(
                "400",
                error_response("`invalid_argument` or `failed_precondition`", schema),
            )
            .response("403", error_response("`permission_denied`", schema))
            .response("404", error_response("`not_found`", schema))
            .response(
                "415",
                error_response(
                    "The content type is none of gRPC's, gRPC-Web's or Connect's (`unimplemented`)",
                    schema,
                ),
            )
            .response(
                "501",
                error_response("`unimplemented`: WebAuthN (passkeys, security keys)", schema),
            )
            .build();
        paths.add_path_operation(path, vec![HttpMethod::Post], operation);
    }
    (schemas, paths, handler)
}

/// The REST operation of one User Service RPC at `path` (grpc-gateway's binding).
pub(super) fn user_rest_operation(method: &HttpMethod, path: &str, rpc: &str, has_body: bool) -> Paths {
    let mut builder = OperationBuilder::new()
        .operation_id(Some(format!("UserService_{rpc}")))
        .tag("zitadel")
        .summary(Some(format!("{rpc} (REST)")))
        .security(SecurityRequirement::new("bearer", Vec::<String>::new()));
    for name in path
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
    {
        builder = builder.parameter(
            utoipa::openapi::path::ParameterBuilder::new()
                .name(name)
                .parameter_in(utoipa::openapi::path::ParameterIn::Path)
                .required(Required::True)
                .description(Some("The path wins over the same field in the body"))
                .schema(Some(String::schema())),
        );
    }
    if *method == HttpMethod::Get {
        for (name, schema) in [
            ("domainQuery.domain", String::schema()),
            ("domainQuery.includeWithoutDomain", bool::schema()),
        ] {
            builder = builder.parameter(
                utoipa::openapi::path::ParameterBuilder::new()
                    .name(name)
                    .parameter_in(utoipa::openapi::path::ParameterIn::Query)
                    .required(Required::False)
                    .schema(Some(schema)),
            );
        }
    }
    if has_body {
        builder = builder.request_body(Some(
            RequestBodyBuilder::new()
                .description(Some(format!("The {rpc}Request message (proto3 JSON)")))
                .content(
                    "application/json",
                    Content::new(Some(Ref::from_schema_name(format!("zitadel.{rpc}Request")))),
                )
                .required(Some(Required::False))
                .build(),
        ));
    }
    let schema = error_schema(path);
    let operation = builder
        .response(
            "200",
            ResponseBuilder::new()
                .description(format!("The {rpc}Response message"))
                .content(
                    "application/json",
                    Content::new(Some(Ref::from_schema_name(format!("zitadel.{rpc}Response")))),
                )
                .build(),
        )
        .response(
            "400",
            error_response(
                "Malformed request, a wrong code, or a missing address (`failed_precondition`)",
                schema,
            ),
        )
        .response("401", error_response("No valid API key or session token", schema))
        .response(
            "403",
            error_response("The caller may not manage this user's authenticators", schema),
        )
        .response("404", error_response("No such user, or no such authenticator", schema))
        .response("409", error_response("Already set up (RegisterTOTP)", schema))
        .response("501", error_response("WebAuthN (passkeys, security keys)", schema))
        .build();
    let mut paths = Paths::new();
    paths.add_path_operation(path, vec![method.clone()], operation);
    paths
}

/// The `v2beta` paths of `v2` routes: the same handlers and operations, marked deprecated.
pub(super) fn v2beta_copy(routes: &UtoipaMethodRouter<AppState>) -> UtoipaMethodRouter<AppState> {
    let (schemas, paths, method_router) = routes.clone();
    let mut copies = Paths::new();
    for (path, mut item) in paths.paths {
        let beta = if let Some(rest) = path.strip_prefix("/v2/") {
            format!("/v2beta/{rest}")
        } else if let Some(rest) = path.strip_prefix("/zitadel.session.v2.") {
            format!("/zitadel.session.v2beta.{rest}")
        } else {
            path
        };
        for operation in operations_mut(&mut item) {
            operation.deprecated = Some(utoipa::openapi::Deprecated::True);
            operation.operation_id = operation.operation_id.as_ref().map(|id| format!("v2beta.{id}"));
        }
        copies.paths.insert(beta, item);
    }
    (schemas, copies, method_router)
}
