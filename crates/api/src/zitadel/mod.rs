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
mod transport;
pub mod user;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use lanyard_proto::zitadel::session::v2 as session;
use utoipa_axum::routes;

use crate::api_router::ApiRouter;
use crate::client::ClientIp;
use crate::query::QueryParams;
use crate::AppState;
use codec::{Reply, Request};
use error::{Transport, ZitadelError};
use protocol::Protocol;
use transport::Service;
use user::UserService;

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
        openapi::rpc_routes(
            "zitadel.session.v2.SessionService",
            &RPC_NAMES,
            openapi::schemas(),
            axum::routing::post(transport::rpc_path::<SessionService>),
        ),
    ];
    let v2beta: Vec<_> = v2.iter().map(openapi::v2beta_copy).collect();
    v2.into_iter().chain(v2beta).fold(user::routes(), ApiRouter::routes)
}

/// A path under a served service that names none of its RPCs answers `unimplemented`, as
/// gRPC and Connect servers answer an unknown method (the router's fallback asks here first).
pub(crate) fn unknown_rpc(path: &str, headers: &HeaderMap) -> Option<Response> {
    let name = SessionService::PATHS
        .iter()
        .chain(UserService::PATHS)
        .find_map(|service| path.strip_prefix(service))?;
    Some(transport::unknown(name).render(rpc_transport(headers)))
}

/// How errors on the RPC paths travel for a request with these headers: gRPC and gRPC-Web by
/// their content types, Connect (JSON errors for either codec) otherwise.
pub(crate) fn rpc_transport(headers: &HeaderMap) -> Transport {
    transport::transport_of(&Protocol::of(headers))
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
    let protocol = Protocol::of(&headers);
    if let Some(rpc) = Rpc::from_name(rpc) {
        return request::validate(&transport::decode::<SessionService>(&protocol, rpc, body)?);
    }
    let rpc = user::Rpc::from_name(rpc).ok_or_else(|| ZitadelError::invalid(format!("unknown RPC {rpc}")))?;
    user::validate(&transport::decode::<UserService>(&protocol, rpc, body)?)
}

/// The Session Service v2 (and v2beta, the same messages on the wire) on the RPC paths.
pub(crate) struct SessionService;

impl Service for SessionService {
    type Rpc = Rpc;
    type Request = Request;
    type Reply = Reply;

    const PATHS: &'static [&'static str] = &[
        "/zitadel.session.v2.SessionService/",
        "/zitadel.session.v2beta.SessionService/",
    ];

    fn rpc(name: &str) -> Option<Rpc> {
        Rpc::from_name(name)
    }

    fn from_json(rpc: Rpc, body: &[u8]) -> Result<Request, ZitadelError> {
        Request::from_json(rpc, body)
    }

    fn from_proto(rpc: Rpc, body: &[u8]) -> Result<Request, ZitadelError> {
        Request::from_proto(rpc, body)
    }

    async fn call(
        state: &AppState,
        caller: &lanyard_service::Principal,
        client_ip: Option<std::net::IpAddr>,
        request: Request,
    ) -> Result<Reply, ZitadelError> {
        rpc::call(state, caller, client_ip, request).await
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
    transport::run_rest::<SessionService>(state, headers, peer, request).await
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
    transport::run_rest::<SessionService>(state, headers, peer, request).await
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
    transport::run_rest::<SessionService>(state, headers, peer, Ok(request)).await
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
    transport::run_rest::<SessionService>(state, headers, peer, request).await
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
    transport::run_rest::<SessionService>(state, headers, peer, request).await
}
