//! The five RPCs, each from its request message to its response message.

use axum::http::HeaderMap;
use lanyard_proto::zitadel::object::v2::{Details, ListDetails};
use lanyard_proto::zitadel::session::v2 as session;
use lanyard_service::{Principal, ServiceError};

use super::codec::{Reply, Request};
use super::error::ZitadelError;
use super::{request, response};
use crate::kratos::extract::bearer_or_bare;
use crate::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rpc {
    ListSessions,
    GetSession,
    CreateSession,
    SetSession,
    DeleteSession,
}

impl Rpc {
    pub fn from_name(name: &str) -> Option<Rpc> {
        Some(match name {
            "ListSessions" => Rpc::ListSessions,
            "GetSession" => Rpc::GetSession,
            "CreateSession" => Rpc::CreateSession,
            "SetSession" => Rpc::SetSession,
            "DeleteSession" => Rpc::DeleteSession,
            _ => return None,
        })
    }
}

/// Every RPC needs a bearer: an API key (personal access token) or a session token.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Principal, ZitadelError> {
    let token = bearer_or_bare(headers)
        .ok_or_else(|| ZitadelError::unauthenticated("an Authorization: Bearer token is required"))?;
    match state.service.authenticate_api_key(token).await {
        Ok(key) => return Ok(Principal::ApiKey(key)),
        Err(ServiceError::Unauthenticated(_)) => {}
        Err(other) => return Err(other.into()),
    }
    match state.service.principal_for_session_token(token).await {
        Ok(principal) => Ok(principal),
        Err(ServiceError::Unauthenticated(_) | ServiceError::AalRequired { .. }) => Err(ZitadelError::unauthenticated(
            "the bearer token is neither a valid API key nor an active session token",
        )),
        Err(other) => Err(other.into()),
    }
}

/// Runs a decoded request: the same function for every transport.
pub async fn call(
    state: &AppState,
    caller: &Principal,
    client_ip: Option<std::net::IpAddr>,
    request: Request,
) -> Result<Reply, ZitadelError> {
    Ok(match request {
        Request::List(request) => Reply::List(list(state, caller, &request).await?),
        Request::Get(request) => Reply::Get(Box::new(get(state, caller, &request).await?)),
        Request::Create(request) => Reply::Create(create(state, caller, client_ip, &request).await?),
        Request::Set(request) => Reply::Set(set(state, caller, client_ip, &request).await?),
        Request::Delete(request) => Reply::Delete(delete(state, caller, &request).await?),
    })
}

async fn list(
    state: &AppState,
    caller: &Principal,
    request: &session::ListSessionsRequest,
) -> Result<session::ListSessionsResponse, ZitadelError> {
    let search = request::search(request)?;
    // Holds the caller's list slot until the response message is built (the costly part of
    // rendering a thousand sessions).
    let result = state.service.search_sessions(caller, search).await?;
    let sessions = crate::render::render_list(result.sessions.len(), || {
        result.sessions.iter().map(response::session).collect()
    });
    Ok(session::ListSessionsResponse {
        details: Some(ListDetails {
            total_result: result.total,
            processed_sequence: u64::try_from(result.processed_sequence).unwrap_or_default(),
            timestamp: response::timestamp(result.timestamp),
        }),
        sessions,
    })
}

async fn get(
    state: &AppState,
    caller: &Principal,
    request: &session::GetSessionRequest,
) -> Result<session::GetSessionResponse, ZitadelError> {
    let (id, token) = request::session_ref(&request.session_id, request.session_token.as_deref())?;
    let view = state.service.get_checked_session(caller, &id, token.as_deref()).await?;
    Ok(session::GetSessionResponse {
        session: Some(response::session(&view)),
    })
}

async fn create(
    state: &AppState,
    caller: &Principal,
    client_ip: Option<std::net::IpAddr>,
    request: &session::CreateSessionRequest,
) -> Result<session::CreateSessionResponse, ZitadelError> {
    let create = request::create(request)?;
    let created = state.service.create_checked_session(caller, client_ip, create).await?;
    Ok(session::CreateSessionResponse {
        details: response::details(&created.view),
        session_id: created.view.session.id.to_string(),
        session_token: created.token.map(|t| t.into_string()).unwrap_or_default(),
        challenges: response::challenges(created.otp_codes, created.webauthn_options)?,
    })
}

async fn set(
    state: &AppState,
    caller: &Principal,
    client_ip: Option<std::net::IpAddr>,
    request: &session::SetSessionRequest,
) -> Result<session::SetSessionResponse, ZitadelError> {
    let set = request::set(request)?;
    let updated = state.service.set_checked_session(caller, client_ip, set).await?;
    Ok(session::SetSessionResponse {
        details: response::details(&updated.view),
        session_token: updated.token.map(|t| t.into_string()).unwrap_or_default(),
        challenges: response::challenges(updated.otp_codes, updated.webauthn_options)?,
    })
}

async fn delete(
    state: &AppState,
    caller: &Principal,
    request: &session::DeleteSessionRequest,
) -> Result<session::DeleteSessionResponse, ZitadelError> {
    let (id, token) = request::session_ref(&request.session_id, request.session_token.as_deref())?;
    let deleted_at = state
        .service
        .delete_checked_session(caller, &id, token.as_deref())
        .await?;
    Ok(session::DeleteSessionResponse {
        details: Some(Details {
            change_date: response::timestamp(deleted_at),
            ..Default::default()
        }),
    })
}
