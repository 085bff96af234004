//! The ZITADEL Session Service v2, over REST (grpc-gateway paths) and, on the RPC paths
//! (`/zitadel.session.v2.SessionService/<Rpc>`), gRPC, gRPC-Web and Connect with the JSON or
//! the protobuf codec. Each RPC is written once against proto3 JSON; the transports only differ
//! in how the request arrives and how success and errors are shaped.

pub mod error;
mod grpc;
mod messages;
#[cfg(test)]
mod proptests;
mod protocol;
mod rpc;
pub mod wire;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::client::ClientIp;
use crate::query::QueryParams;
use crate::AppState;
use error::{Transport, ZitadelError};
use protocol::Protocol;

pub use rpc::Rpc;

pub fn routes() -> Router<AppState> {
    let mut router = Router::new();
    for version in ["v2", "v2beta"] {
        router = router
            .route(&format!("/{version}/sessions"), post(rest_create))
            .route(&format!("/{version}/sessions/search"), post(rest_list))
            .route(
                &format!("/{version}/sessions/{{id}}"),
                get(rest_get).patch(rest_set).delete(rest_delete),
            )
            .route(
                &format!("/zitadel.session.{version}.SessionService/{{rpc}}"),
                post(rpc_path),
            );
    }
    router
}

/// How errors on the RPC paths travel for a request with these headers: gRPC and gRPC-Web by
/// their content types, Connect (JSON errors for either codec) otherwise.
pub(crate) fn rpc_transport(headers: &HeaderMap) -> Transport {
    match Protocol::of(headers) {
        Protocol::Grpc => Transport::Grpc,
        Protocol::GrpcWeb => Transport::GrpcWeb,
        Protocol::GrpcWebText => Transport::GrpcWebText,
        Protocol::ConnectJson | Protocol::ConnectProto | Protocol::Unsupported(_) => Transport::Connect,
    }
}

/// Reads a ListSessions request body (as either transport receives it) into the service's
/// search: the pure part of ListSessions, for the fuzz target and the property tests.
pub fn parse_list_sessions(body: &[u8]) -> Result<lanyard_service::SearchSessions, ZitadelError> {
    rpc::search(&body_json(body)?)
}

/// Parses a JSON body; an empty body is an empty message.
fn body_json(bytes: &[u8]) -> Result<Value, ZitadelError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(value @ Value::Object(_)) => match crate::nul::find_nul(&value) {
            Some(place) => Err(ZitadelError::invalid(format!(
                "{place} contains a NUL character (U+0000)"
            ))),
            None => Ok(value),
        },
        Ok(other) => Err(ZitadelError::invalid(format!(
            "the request body must be a JSON object, not {other}"
        ))),
        Err(e) => Err(ZitadelError::invalid(format!(
            "the request body is not valid JSON: {e}"
        ))),
    }
}

/// Authenticates the caller and runs the RPC: its JSON answer, or the error to render.
async fn answer(
    state: &AppState,
    headers: &HeaderMap,
    peer: ClientIp,
    rpc: Rpc,
    request: Result<Value, ZitadelError>,
) -> Result<Value, ZitadelError> {
    let caller = rpc::authenticate(state, headers).await?;
    rpc::call(state, &caller, peer.0, rpc, request?).await
}

/// Runs the RPC and answers in JSON (REST or Connect with the JSON codec).
async fn run(
    state: AppState,
    headers: HeaderMap,
    peer: ClientIp,
    rpc: Rpc,
    request: Result<Value, ZitadelError>,
    transport: Transport,
) -> Response {
    match answer(&state, &headers, peer, rpc, request).await {
        Ok(body) => json_response(rpc, body, transport),
        Err(error) => error.render(transport),
    }
}

fn json_response(rpc: Rpc, body: Value, transport: Transport) -> Response {
    let status = if transport == Transport::Rest && rpc == Rpc::CreateSession {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    // A ListSessions answer may hold a thousand sessions.
    crate::render::render_list(list_rows(&body), || (status, Json(body)).into_response())
}

fn list_rows(body: &Value) -> usize {
    body.get("sessions").and_then(Value::as_array).map_or(0, Vec::len)
}

/// `POST /zitadel.session.v2.SessionService/<Rpc>`: gRPC, gRPC-Web (binary and text) and
/// Connect unary with the JSON or the protobuf codec, told apart by the content type.
async fn rpc_path(
    State(state): State<AppState>,
    Path(rpc): Path<String>,
    headers: HeaderMap,
    peer: ClientIp,
    body: Bytes,
) -> Response {
    let protocol = Protocol::of(&headers);
    let transport = rpc_transport(&headers);
    let Some(rpc) = Rpc::from_name(&rpc) else {
        return ZitadelError::new(
            error::Code::Unimplemented,
            "LANYARD-unimplemented",
            format!("unknown RPC {rpc}"),
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
    let request = match protocol {
        Protocol::ConnectJson => body_json(&body),
        Protocol::ConnectProto => messages::request_json(rpc, &body),
        _ => grpc::unframe(&protocol, &body).and_then(|message| messages::request_json(rpc, &message)),
    };
    let answered = answer(&state, &headers, peer, rpc, request);
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
    let body = match result {
        Ok(body) => body,
        Err(error) => return error.render(transport),
    };
    if protocol == Protocol::ConnectJson {
        return json_response(rpc, body, transport);
    }
    let encoded = crate::render::render_list(list_rows(&body), || messages::response_bytes(rpc, body));
    match (encoded, &protocol) {
        (Ok(message), Protocol::ConnectProto) => {
            ([(axum::http::header::CONTENT_TYPE, "application/proto")], message).into_response()
        }
        (Ok(message), _) => grpc::ok(&protocol, &message),
        (Err(error), _) => error.render(transport),
    }
}

#[utoipa::path(post, path = "/v2/sessions/search", operation_id = "SessionService_ListSessions", tag = "zitadel",
    request_body(content = crate::openapi::zitadel::ListSessionsRequest, description = "An empty body is an empty request"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The matching sessions the caller may see", body = crate::openapi::zitadel::ListSessionsResponse),
        (status = 400, description = "Malformed request (`QUERY-4M0fs`: limit above 1000)", body = crate::openapi::zitadel::RestError),
    ))]
pub(crate) async fn rest_list(
    State(state): State<AppState>,
    headers: HeaderMap,
    peer: ClientIp,
    body: Bytes,
) -> Response {
    run(
        state,
        headers,
        peer,
        Rpc::ListSessions,
        body_json(&body),
        Transport::Rest,
    )
    .await
}

#[utoipa::path(post, path = "/v2/sessions", operation_id = "SessionService_CreateSession", tag = "zitadel",
    request_body(content = crate::openapi::zitadel::CreateSessionRequest, description = "An empty body is an empty request"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new session and its token", body = crate::openapi::zitadel::CreateSessionResponse),
        (status = 400, description = "Malformed request, or a failed check", body = crate::openapi::zitadel::RestError),
        (status = 404, description = "The checked user does not exist", body = crate::openapi::zitadel::RestError),
        (status = 501, description = "WebAuthN, IdP intent, OTP checks or challenges", body = crate::openapi::zitadel::RestError),
    ))]
pub(crate) async fn rest_create(
    State(state): State<AppState>,
    headers: HeaderMap,
    peer: ClientIp,
    body: Bytes,
) -> Response {
    run(
        state,
        headers,
        peer,
        Rpc::CreateSession,
        body_json(&body),
        Transport::Rest,
    )
    .await
}

/// The path id wins over a body `sessionId`.
fn with_session_id(request: Result<Value, ZitadelError>, id: String) -> Result<Value, ZitadelError> {
    let mut request = request?;
    if let Value::Object(map) = &mut request {
        map.insert("sessionId".into(), Value::String(id));
    }
    Ok(request)
}

#[utoipa::path(get, path = "/v2/sessions/{id}", operation_id = "SessionService_GetSession", tag = "zitadel",
    params(("id" = String, Path, description = "The session id"),
        ("sessionToken" = Option<String>, Query, description = "The session's token (needed unless the caller may read every session)")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The session", body = crate::openapi::zitadel::GetSessionResponse),
        (status = 400, description = "Malformed request", body = crate::openapi::zitadel::RestError),
        (status = 404, description = "No such session (`QUERY-SFeaa`), or the caller may not see it", body = crate::openapi::zitadel::RestError),
    ))]
pub(crate) async fn rest_get(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: QueryParams,
    headers: HeaderMap,
    peer: ClientIp,
) -> Response {
    let token = query.first("sessionToken").or_else(|| query.first("session_token"));
    let request = json!({ "sessionId": id, "sessionToken": token });
    run(state, headers, peer, Rpc::GetSession, Ok(request), Transport::Rest).await
}

#[utoipa::path(patch, path = "/v2/sessions/{id}", operation_id = "SessionService_SetSession", tag = "zitadel",
    params(("id" = String, Path, description = "The session id")),
    request_body(content = crate::openapi::zitadel::SetSessionRequest, description = "The path id wins over a body `sessionId`"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Updated; a new token when checks were added", body = crate::openapi::zitadel::SetSessionResponse),
        (status = 400, description = "Malformed request, or a failed check", body = crate::openapi::zitadel::RestError),
        (status = 404, description = "No such session", body = crate::openapi::zitadel::RestError),
        (status = 501, description = "WebAuthN, IdP intent, OTP checks or challenges", body = crate::openapi::zitadel::RestError),
    ))]
pub(crate) async fn rest_set(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    peer: ClientIp,
    body: Bytes,
) -> Response {
    run(
        state,
        headers,
        peer,
        Rpc::SetSession,
        with_session_id(body_json(&body), id),
        Transport::Rest,
    )
    .await
}

#[utoipa::path(delete, path = "/v2/sessions/{id}", operation_id = "SessionService_DeleteSession", tag = "zitadel",
    params(("id" = String, Path, description = "The session id")),
    request_body(content = Option<crate::openapi::zitadel::DeleteSessionRequest>, description = "Optional: `{\"sessionToken\": …}`"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Deleted", body = crate::openapi::zitadel::DeleteSessionResponse),
        (status = 400, description = "Malformed request", body = crate::openapi::zitadel::RestError),
        (status = 404, description = "No such session", body = crate::openapi::zitadel::RestError),
    ))]
pub(crate) async fn rest_delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    peer: ClientIp,
    body: Bytes,
) -> Response {
    run(
        state,
        headers,
        peer,
        Rpc::DeleteSession,
        with_session_id(body_json(&body), id),
        Transport::Rest,
    )
    .await
}
