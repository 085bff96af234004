//! The ZITADEL Session Service v2 (and v2beta, the same messages on the wire), over REST
//! (grpc-gateway paths) and, on the RPC paths (`/zitadel.session.v2.SessionService/<Rpc>`),
//! gRPC, gRPC-Web and Connect with the JSON or the protobuf codec. Each RPC is written once
//! against the protobuf messages of `lanyard-proto`; the transports only differ in how the
//! request arrives (`codec`) and how success and errors are shaped.

mod codec;
pub mod error;
mod grpc;
pub(crate) mod openapi;
#[cfg(test)]
mod proptests;
mod protocol;
mod request;
mod response;
mod rpc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use lanyard_proto::zitadel::session::v2 as session;
use utoipa_axum::routes;

use crate::api_router::ApiRouter;
use crate::client::ClientIp;
use crate::query::QueryParams;
use crate::AppState;
use codec::{Reply, Request};
use error::{Transport, ZitadelError};
use protocol::Protocol;

pub use rpc::Rpc;

/// The RPCs of the session service, by name.
pub const RPC_NAMES: [&str; 5] = [
    "ListSessions",
    "GetSession",
    "CreateSession",
    "SetSession",
    "DeleteSession",
];

/// One content type of each protocol on the RPC paths (gRPC, gRPC-Web binary and text,
/// Connect protobuf and JSON).
pub const RPC_CONTENT_TYPES: [&str; 5] = [
    "application/grpc",
    "application/grpc-web+proto",
    "application/grpc-web-text",
    "application/proto",
    "application/json",
];

/// The Session Service's REST and RPC paths, `v2` and (deprecated) `v2beta`. A path under the
/// service that names no RPC reaches the router's fallback, which answers `unimplemented` in
/// the caller's protocol.
pub fn routes() -> ApiRouter {
    let v2 = [
        routes!(rest_create),
        routes!(rest_list),
        routes!(rest_get, rest_set, rest_delete),
        openapi::rpc_routes(),
    ];
    let v2beta: Vec<_> = v2.iter().map(openapi::v2beta_copy).collect();
    v2.into_iter()
        .chain(v2beta)
        .fold(ApiRouter::default(), ApiRouter::routes)
}

/// A path under a served service that names none of its RPCs answers `unimplemented`, as
/// gRPC and Connect servers answer an unknown method (the router's fallback asks here first).
pub(crate) fn unknown_rpc(path: &str, headers: &HeaderMap) -> Option<Response> {
    let name = [
        "/zitadel.session.v2.SessionService/",
        "/zitadel.session.v2beta.SessionService/",
    ]
    .iter()
    .find_map(|service| path.strip_prefix(service))?;
    Some(
        ZitadelError::new(
            error::Code::Unimplemented,
            "LANYARD-unimplemented",
            format!("unknown RPC {name}"),
        )
        .render(rpc_transport(headers)),
    )
}

/// How errors on the RPC paths travel for a request with these headers: gRPC and gRPC-Web by
/// their content types, Connect (JSON errors for either codec) otherwise.
pub(crate) fn rpc_transport(headers: &HeaderMap) -> Transport {
    transport_of(&Protocol::of(headers))
}

fn transport_of(protocol: &Protocol) -> Transport {
    match protocol {
        Protocol::Grpc => Transport::Grpc,
        Protocol::GrpcWeb => Transport::GrpcWeb,
        Protocol::GrpcWebText => Transport::GrpcWebText,
        Protocol::ConnectJson | Protocol::ConnectProto | Protocol::Unsupported(_) => Transport::Connect,
    }
}

/// Reads a ListSessions request body (JSON, as REST and Connect receive it) into the service's
/// search: the pure part of ListSessions, for the fuzz target and the property tests.
pub fn parse_list_sessions(body: &[u8]) -> Result<lanyard_service::SearchSessions, ZitadelError> {
    match Request::from_json(Rpc::ListSessions, body)? {
        Request::List(list) => request::search(&list),
        _ => Err(ZitadelError::invalid("not a ListSessions request")),
    }
}

/// Reads the body of an RPC-path request as the transport its `content_type` names (framing,
/// base64, protobuf or JSON) and checks it as the RPC would, without running it: the pure part
/// of every binary transport, for the frame fuzz target and the property tests.
pub fn read_rpc_request(content_type: &str, rpc: &str, body: &[u8]) -> Result<(), ZitadelError> {
    let mut headers = HeaderMap::new();
    if let Ok(value) = axum::http::HeaderValue::from_str(content_type) {
        headers.insert(axum::http::header::CONTENT_TYPE, value);
    }
    let rpc = Rpc::from_name(rpc).ok_or_else(|| ZitadelError::invalid(format!("unknown RPC {rpc}")))?;
    request::validate(&decode(&Protocol::of(&headers), rpc, body)?)
}

/// Reads a request body as `protocol` carries it.
fn decode(protocol: &Protocol, rpc: Rpc, body: &[u8]) -> Result<Request, ZitadelError> {
    match protocol {
        Protocol::ConnectJson => Request::from_json(rpc, body),
        Protocol::ConnectProto => Request::from_proto(rpc, body),
        Protocol::Unsupported(content_type) => Err(ZitadelError::invalid(format!(
            "unsupported content type {content_type}"
        ))),
        _ => grpc::unframe(protocol, body).and_then(|message| Request::from_proto(rpc, &message)),
    }
}

/// Authenticates the caller and runs the RPC: its answer, or the error to render.
async fn answer(
    state: &AppState,
    headers: &HeaderMap,
    peer: ClientIp,
    request: Result<Request, ZitadelError>,
) -> Result<Reply, ZitadelError> {
    let caller = rpc::authenticate(state, headers).await?;
    rpc::call(state, &caller, peer.0, request?).await
}

/// Runs the RPC and answers in JSON (REST or Connect with the JSON codec).
async fn run(
    state: AppState,
    headers: HeaderMap,
    peer: ClientIp,
    request: Result<Request, ZitadelError>,
    transport: Transport,
) -> Response {
    match answer(&state, &headers, peer, request).await {
        Ok(reply) => json_response(&reply, transport),
        Err(error) => error.render(transport),
    }
}

fn json_response(reply: &Reply, transport: Transport) -> Response {
    let status = if transport == Transport::Rest && matches!(reply, Reply::Create(_)) {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    // A ListSessions answer may hold a thousand sessions.
    match crate::render::render_list(reply.rows(), || reply.to_json()) {
        Ok(body) => (status, [(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(error) => error.render(transport),
    }
}

/// `POST /zitadel.session.v2.SessionService/<Rpc>`: gRPC, gRPC-Web (binary and text) and
/// Connect unary with the JSON or the protobuf codec, told apart by the content type.
async fn rpc_path(
    State(state): State<AppState>,
    uri: Uri,
    version: axum::http::Version,
    headers: HeaderMap,
    peer: ClientIp,
    body: Bytes,
) -> Response {
    let protocol = Protocol::of(&headers);
    let transport = transport_of(&protocol);
    if protocol == Protocol::Grpc && version < axum::http::Version::HTTP_2 {
        // gRPC's trailers need HTTP/2; say so in the headers, which any client reads.
        return ZitadelError::new(
            error::Code::Unimplemented,
            "LANYARD-grpc-http1",
            "gRPC needs HTTP/2 (prior knowledge, or ALPN h2 over TLS); over HTTP/1.1 use gRPC-Web or Connect",
        )
        .render(transport);
    }
    // The router sends only the RPC paths here (`openapi::rpc_routes`), so the last segment is
    // an RPC's name.
    let name = uri.path().rsplit('/').next().unwrap_or_default();
    let Some(rpc) = Rpc::from_name(name) else {
        return ZitadelError::new(
            error::Code::Unimplemented,
            "LANYARD-unimplemented",
            format!("unknown RPC {name}"),
        )
        .render(transport);
    };
    if let Protocol::Unsupported(content_type) = &protocol {
        let mut response = ZitadelError::new(
            error::Code::Unimplemented,
            "LANYARD-codec",
            format!(
                "content type {content_type:?} is not supported; Lanyard speaks gRPC, gRPC-Web and \
                 Connect (application/json or application/proto)"
            ),
        )
        .render(transport);
        *response.status_mut() = StatusCode::UNSUPPORTED_MEDIA_TYPE;
        return response;
    }
    let deadline = match protocol.deadline(&headers) {
        Ok(deadline) => deadline,
        Err(error) => return error.render(transport),
    };
    let request = decode(&protocol, rpc, &body);
    let answered = answer(&state, &headers, peer, request);
    let result = match deadline {
        None => answered.await,
        Some(deadline) => tokio::time::timeout(deadline, answered).await.unwrap_or_else(|_| {
            Err(ZitadelError::new(
                error::Code::DeadlineExceeded,
                "LANYARD-deadline",
                format!("the call did not finish within its deadline of {deadline:?}"),
            ))
        }),
    };
    let reply = match result {
        Ok(reply) => reply,
        Err(error) => return error.render(transport),
    };
    if protocol == Protocol::ConnectJson {
        return json_response(&reply, transport);
    }
    let message = crate::render::render_list(reply.rows(), || reply.to_proto());
    match &protocol {
        Protocol::ConnectProto => ([(axum::http::header::CONTENT_TYPE, "application/proto")], message).into_response(),
        _ => grpc::ok(&protocol, &message),
    }
}

#[utoipa::path(post, path = "/v2/sessions/search", operation_id = "SessionService_ListSessions", tag = "zitadel",
    request_body(content = crate::zitadel::openapi::ListSessionsRequest, description = "An empty body is an empty request"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The matching sessions the caller may see", body = crate::zitadel::openapi::ListSessionsResponse),
        (status = 400, description = "Malformed request (`QUERY-4M0fs`: limit above 1000)", body = crate::zitadel::openapi::RestError),
    ))]
pub(crate) async fn rest_list(
    State(state): State<AppState>,
    headers: HeaderMap,
    peer: ClientIp,
    body: Bytes,
) -> Response {
    let request = Request::from_json(Rpc::ListSessions, &body);
    run(state, headers, peer, request, Transport::Rest).await
}

#[utoipa::path(post, path = "/v2/sessions", operation_id = "SessionService_CreateSession", tag = "zitadel",
    request_body(content = crate::zitadel::openapi::CreateSessionRequest, description = "An empty body is an empty request"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new session and its token", body = crate::zitadel::openapi::CreateSessionResponse),
        (status = 400, description = "Malformed request, or a failed check", body = crate::zitadel::openapi::RestError),
        (status = 404, description = "The checked user does not exist", body = crate::zitadel::openapi::RestError),
        (status = 501, description = "WebAuthN checks or challenges", body = crate::zitadel::openapi::RestError),
    ))]
pub(crate) async fn rest_create(
    State(state): State<AppState>,
    headers: HeaderMap,
    peer: ClientIp,
    body: Bytes,
) -> Response {
    let request = Request::from_json(Rpc::CreateSession, &body);
    run(state, headers, peer, request, Transport::Rest).await
}

/// The path id wins over a body `sessionId`.
fn with_session_id(request: Result<Request, ZitadelError>, id: String) -> Result<Request, ZitadelError> {
    let mut request = request?;
    match &mut request {
        Request::Set(set) => set.session_id = id,
        Request::Delete(delete) => delete.session_id = id,
        Request::Get(get) => get.session_id = id,
        Request::List(_) | Request::Create(_) => {}
    }
    Ok(request)
}

#[utoipa::path(get, path = "/v2/sessions/{id}", operation_id = "SessionService_GetSession", tag = "zitadel",
    params(("id" = String, Path, description = "The session id"),
        ("sessionToken" = Option<String>, Query, description = "The session's token (needed unless the caller may read every session)")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The session", body = crate::zitadel::openapi::GetSessionResponse),
        (status = 400, description = "Malformed request", body = crate::zitadel::openapi::RestError),
        (status = 404, description = "No such session (`QUERY-SFeaa`), or the caller may not see it", body = crate::zitadel::openapi::RestError),
    ))]
pub(crate) async fn rest_get(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: QueryParams,
    headers: HeaderMap,
    peer: ClientIp,
) -> Response {
    let token = query.first("sessionToken").or_else(|| query.first("session_token"));
    let request = Request::Get(session::GetSessionRequest {
        session_id: id,
        session_token: token.map(str::to_owned),
    });
    run(state, headers, peer, Ok(request), Transport::Rest).await
}

#[utoipa::path(patch, path = "/v2/sessions/{id}", operation_id = "SessionService_SetSession", tag = "zitadel",
    params(("id" = String, Path, description = "The session id")),
    request_body(content = crate::zitadel::openapi::SetSessionRequest, description = "The path id wins over a body `sessionId`"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Updated; a new token when checks were added", body = crate::zitadel::openapi::SetSessionResponse),
        (status = 400, description = "Malformed request, or a failed check", body = crate::zitadel::openapi::RestError),
        (status = 404, description = "No such session", body = crate::zitadel::openapi::RestError),
        (status = 501, description = "WebAuthN checks or challenges", body = crate::zitadel::openapi::RestError),
    ))]
pub(crate) async fn rest_set(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    peer: ClientIp,
    body: Bytes,
) -> Response {
    let request = with_session_id(Request::from_json(Rpc::SetSession, &body), id);
    run(state, headers, peer, request, Transport::Rest).await
}

#[utoipa::path(delete, path = "/v2/sessions/{id}", operation_id = "SessionService_DeleteSession", tag = "zitadel",
    params(("id" = String, Path, description = "The session id")),
    request_body(content = Option<crate::zitadel::openapi::DeleteSessionRequest>, description = "Optional: `{\"sessionToken\": …}`"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Deleted", body = crate::zitadel::openapi::DeleteSessionResponse),
        (status = 400, description = "Malformed request", body = crate::zitadel::openapi::RestError),
        (status = 404, description = "No such session", body = crate::zitadel::openapi::RestError),
    ))]
pub(crate) async fn rest_delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    peer: ClientIp,
    body: Bytes,
) -> Response {
    let request = with_session_id(Request::from_json(Rpc::DeleteSession, &body), id);
    run(state, headers, peer, request, Transport::Rest).await
}
