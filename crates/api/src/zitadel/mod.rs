//! The ZITADEL Session Service v2, over REST (grpc-gateway paths) and Connect (the paths the
//! official SDKs call). Each RPC is written once against JSON values; the transports only
//! differ in where the request comes from and how success and errors are shaped.

pub mod error;
#[cfg(test)]
mod proptests;
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
                post(connect),
            );
    }
    router
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

async fn run(
    state: AppState,
    headers: HeaderMap,
    peer: ClientIp,
    rpc: Rpc,
    request: Result<Value, ZitadelError>,
    transport: Transport,
) -> Response {
    let result = async {
        let caller = rpc::authenticate(&state, &headers).await?;
        rpc::call(&state, &caller, peer.0, rpc, request?).await
    }
    .await;
    match result {
        Ok(body) => {
            let status = if transport == Transport::Rest && rpc == Rpc::CreateSession {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            // A ListSessions answer may hold a thousand sessions.
            let rows = body.get("sessions").and_then(Value::as_array).map_or(0, Vec::len);
            crate::render::render_list(rows, || (status, Json(body)).into_response())
        }
        Err(error) => error.render(transport),
    }
}

/// `POST /zitadel.session.v2.SessionService/<Rpc>`: unary Connect with the JSON codec.
async fn connect(
    State(state): State<AppState>,
    Path(rpc): Path<String>,
    headers: HeaderMap,
    peer: ClientIp,
    body: Bytes,
) -> Response {
    let Some(rpc) = Rpc::from_name(&rpc) else {
        return ZitadelError::new(
            error::Code::Unimplemented,
            "LANYARD-unimplemented",
            format!("unknown RPC {rpc}"),
        )
        .render(Transport::Connect);
    };
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    if !content_type.trim().to_ascii_lowercase().starts_with("application/json") {
        let mut response = ZitadelError::new(
            error::Code::Unimplemented,
            "LANYARD-codec",
            format!("content type {content_type:?} is not supported; Lanyard speaks Connect with application/json"),
        )
        .render(Transport::Connect);
        *response.status_mut() = StatusCode::UNSUPPORTED_MEDIA_TYPE;
        return response;
    }
    run(state, headers, peer, rpc, body_json(&body), Transport::Connect).await
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
