//! The five RPCs, each from a request message (JSON) to a response message (JSON).

use axum::http::HeaderMap;
use lanyard_service::{CreateCheckedSession, Principal, SearchSessions, ServiceError, SetCheckedSession};
use serde_json::{json, Map, Value};

use super::error::{Code, ZitadelError};
use super::wire;
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

pub async fn call(
    state: &AppState,
    caller: &Principal,
    client_ip: Option<std::net::IpAddr>,
    rpc: Rpc,
    request: Value,
) -> Result<Value, ZitadelError> {
    match rpc {
        Rpc::ListSessions => list(state, caller, &request).await,
        Rpc::GetSession => get(state, caller, &request).await,
        Rpc::CreateSession => create(state, caller, client_ip, &request).await,
        Rpc::SetSession => set(state, caller, client_ip, &request).await,
        Rpc::DeleteSession => delete(state, caller, &request).await,
    }
}

fn session_id(request: &Value) -> Result<String, ZitadelError> {
    match wire::string(request, "sessionId")? {
        Some(id) if !id.is_empty() && id.chars().count() <= 200 => Ok(id),
        _ => Err(ZitadelError::invalid("sessionId is required (1 to 200 characters)")),
    }
}

fn session_token(request: &Value) -> Result<Option<String>, ZitadelError> {
    Ok(wire::string(request, "sessionToken")?.filter(|t| !t.is_empty()))
}

const MAX_QUERIES: usize = 20;

pub(crate) fn search(request: &Value) -> Result<SearchSessions, ZitadelError> {
    let mut search = SearchSessions::default();
    if let Some(query) = request.get("query").filter(|q| !q.is_null()) {
        search.offset = wire::unsigned(query, "offset")?;
        // SQL OFFSET is a signed 64-bit integer; larger offsets reached the store (a 500).
        if search.offset > i64::MAX as u64 {
            return Err(ZitadelError::invalid(
                "query.offset must be at most 9223372036854775807",
            ));
        }
        search.limit = u32::try_from(wire::unsigned(query, "limit")?)
            .map_err(|_| ZitadelError::new(Code::InvalidArgument, "QUERY-4M0fs", "Errors.Query.LimitExceeded"))?;
        search.ascending = wire::is_true(query, "asc")?;
    }
    match request.get("sortingColumn") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s == "SESSION_FIELD_NAME_UNSPECIFIED" || s == "SESSION_FIELD_NAME_CREATION_DATE" => {}
        Some(Value::Number(n)) if n.as_u64().is_some_and(|n| n <= 1) => {}
        Some(other) => {
            return Err(ZitadelError::invalid(format!(
                "sortingColumn {other} is not a SessionFieldName"
            )))
        }
    }
    let queries = match request.get("queries") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(queries)) => queries.clone(),
        Some(_) => return Err(ZitadelError::invalid("queries must be an array")),
    };
    if queries.len() > MAX_QUERIES {
        return Err(ZitadelError::invalid(format!(
            "at most {MAX_QUERIES} queries may be combined"
        )));
    }
    for query in &queries {
        let Some(map) = query.as_object() else {
            return Err(ZitadelError::invalid("each query must be an object"));
        };
        let set: Vec<(&String, &Value)> = map.iter().filter(|(_, v)| !v.is_null()).collect();
        let [(kind, inner)] = set.as_slice() else {
            return Err(ZitadelError::new(
                Code::InvalidArgument,
                "GRPC-Sfefs",
                "each query must set exactly one member",
            ));
        };
        match kind.as_str() {
            "idsQuery" => {
                let ids: Vec<String> = inner
                    .get("ids")
                    .and_then(Value::as_array)
                    .map(|ids| ids.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                    .unwrap_or_default();
                if ids.len() > 1000 {
                    return Err(ZitadelError::invalid("idsQuery takes at most 1000 ids"));
                }
                // Several ids queries AND together: keep only ids present in all.
                search.ids = Some(match search.ids.take() {
                    Some(existing) => existing.into_iter().filter(|id| ids.contains(id)).collect(),
                    None => ids,
                });
            }
            "userIdQuery" => {
                search.user_id = Some(wire::string(inner, "id")?.unwrap_or_default());
            }
            "creationDateQuery" => search.created.push(wire::date_filter(inner, "creationDate")?),
            "expirationDateQuery" => search.expires.push(wire::date_filter(inner, "expirationDate")?),
            "creatorQuery" => search.creator = Some(wire::string(inner, "id")?),
            "userAgentQuery" => search.fingerprint_id = Some(wire::string(inner, "fingerprintId")?),
            other => return Err(ZitadelError::invalid(format!("unknown query type {other:?}"))),
        }
    }
    Ok(search)
}

async fn list(state: &AppState, caller: &Principal, request: &Value) -> Result<Value, ZitadelError> {
    let search = search(request)?;
    // Holds the caller's list slot until the response message is built (the costly part of
    // rendering a thousand sessions).
    let result = state.service.search_sessions(caller, search).await?;
    let mut details = Map::new();
    // Always present, also when 0 and when empty: valid proto3 JSON for every client, and
    // clients that read the field without a default do not trip (a deliberate difference).
    details.insert("totalResult".into(), json!(result.total.to_string()));
    if result.processed_sequence > 0 {
        details.insert("processedSequence".into(), json!(result.processed_sequence.to_string()));
    }
    details.insert("timestamp".into(), wire::timestamp(result.timestamp));
    let mut response = Map::new();
    response.insert("details".into(), Value::Object(details));
    let sessions = crate::render::render_list(result.sessions.len(), || {
        result.sessions.iter().map(wire::session_json).collect()
    });
    response.insert("sessions".into(), Value::Array(sessions));
    Ok(Value::Object(response))
}

async fn get(state: &AppState, caller: &Principal, request: &Value) -> Result<Value, ZitadelError> {
    let id = session_id(request)?;
    let token = session_token(request)?;
    let view = state.service.get_checked_session(caller, &id, token.as_deref()).await?;
    Ok(json!({ "session": wire::session_json(&view) }))
}

async fn create(
    state: &AppState,
    caller: &Principal,
    client_ip: Option<std::net::IpAddr>,
    request: &Value,
) -> Result<Value, ZitadelError> {
    wire::reject_challenges(request)?;
    let create = CreateCheckedSession {
        checks: wire::checks(request)?,
        metadata: wire::metadata(request)?,
        user_agent: wire::user_agent(request)?,
        lifetime: wire::duration(request, "lifetime")?,
    };
    let created = state.service.create_checked_session(caller, client_ip, create).await?;
    let token = created.token.map(|t| t.into_string()).unwrap_or_default();
    Ok(json!({
        "details": wire::details(&created.view),
        "sessionId": created.view.session.id.to_string(),
        "sessionToken": token,
    }))
}

async fn set(
    state: &AppState,
    caller: &Principal,
    client_ip: Option<std::net::IpAddr>,
    request: &Value,
) -> Result<Value, ZitadelError> {
    wire::reject_challenges(request)?;
    let set = SetCheckedSession {
        id: session_id(request)?,
        checks: wire::checks(request)?,
        metadata: wire::metadata(request)?,
        lifetime: wire::duration(request, "lifetime")?,
    };
    let updated = state.service.set_checked_session(caller, client_ip, set).await?;
    let mut response = Map::new();
    response.insert("details".into(), wire::details(&updated.view));
    if let Some(token) = updated.token {
        response.insert("sessionToken".into(), json!(token.into_string()));
    }
    Ok(Value::Object(response))
}

async fn delete(state: &AppState, caller: &Principal, request: &Value) -> Result<Value, ZitadelError> {
    let id = session_id(request)?;
    let token = session_token(request)?;
    state
        .service
        .delete_checked_session(caller, &id, token.as_deref())
        .await?;
    Ok(
        json!({ "details": { "changeDate": wire::timestamp(lanyard_domain::Micros::from_datetime(time::OffsetDateTime::now_utc())) } }),
    )
}
