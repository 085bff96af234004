use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use serde::Deserialize;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::KratosError;
use super::extract::{parse_uuid, KratosJson, SessionTokenHeader};
use super::paging;
use super::params::OffsetPageQuery;
use super::session_bytes::sessions_response;
use super::wire::{session_json, Audience, HiddenDevices, SessionJson, SessionOptions};
use crate::query::QueryParams;
use crate::render::render_list;
use crate::AppState;

fn owner_options(state: &AppState) -> SessionOptions<'_> {
    SessionOptions {
        audience: Audience::Owner,
        expand_identity: true,
        expand_devices: true,
        hidden_devices: HiddenDevices::Empty,
        public_base_url: &state.config.public_base_url,
    }
}

fn require_token(token: SessionTokenHeader) -> Result<String, KratosError> {
    token.0.ok_or_else(KratosError::no_valid_session)
}

/// `/sessions/whoami` (any method): the session behind the presented token.
/// The whoami answer's JSON for one session view, kept in the view's memo: a token-cache hit
/// serves it without serialising again.
struct RenderedWhoami(Bytes);

#[utoipa::path(get, path = "/sessions/whoami", operation_id = "toSession", tag = "kratos",
    description = "The session behind the presented token. Every HTTP method is answered alike (Kratos does the same).",
    security(("session_token" = []), ("session_cookie" = []), ("session_bearer" = [])),
    responses(
        (status = 200, description = "The session, identity and devices expanded", body = SessionJson,
            headers(("x-kratos-authenticated-identity-id" = String, description = "The session's identity"))),
        (status = 400, description = "tokenize_as was given (not supported)", body = crate::kratos::KratosErrorBody),
        (status = 401, description = "No token, or it is unknown, expired or revoked (`error.id` = `session_inactive`)", body = crate::kratos::KratosErrorBody),
        (status = 403, description = "The identity has a second factor the session lacks (`error.id` = `session_aal2_required`)", body = crate::kratos::KratosErrorBody),
    ))]
pub async fn whoami(
    State(state): State<AppState>,
    token: SessionTokenHeader,
    query: QueryParams,
) -> Result<Response, KratosError> {
    if query.first("tokenize_as").is_some() {
        return Err(KratosError::bad_request(
            "tokenize_as is not supported: Lanyard has no session-to-JWT templates configured",
        ));
    }
    let token = require_token(token)?;
    let view = state
        .service
        .whoami(&token)
        .await
        .map_err(|e| KratosError::from_service(e, &state.config.public_base_url))?;
    let body = match view.memo.get::<RenderedWhoami>() {
        Some(RenderedWhoami(body)) => body.clone(),
        None => {
            let body = serde_json::to_vec(&session_json(&view, &owner_options(&state)))
                .map(Bytes::from)
                .map_err(|e| {
                    KratosError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("cannot serialise the session: {e}"),
                    )
                })?;
            // Another request may have filled the slot meanwhile; both renderings are equal.
            view.memo.set(RenderedWhoami(body.clone()));
            body
        }
    };
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(identity_id) = view.session.identity_id {
        let mut buffer = uuid::Uuid::encode_buffer();
        if let Ok(value) = HeaderValue::from_str(identity_id.hyphenated().encode_lower(&mut buffer)) {
            headers.insert("x-kratos-authenticated-identity-id", value);
        }
    }
    Ok((headers, body).into_response())
}

/// `GET /sessions`: the caller's other active sessions.
#[utoipa::path(get, path = "/sessions", operation_id = "listMySessions", tag = "kratos",
    params(OffsetPageQuery), security(("session_token" = []), ("session_cookie" = []), ("session_bearer" = [])),
    responses(
        (status = 200, description = "A page of the caller's other active sessions", body = [SessionJson], headers(
            ("link" = String, description = "`first`, `next`, `prev` and `last` page URLs"),
            ("x-total-count" = u64, description = "The caller's other active sessions"))),
        (status = 400, description = "A paging parameter is malformed", body = crate::kratos::KratosErrorBody),
        (status = 401, description = "No valid session token", body = crate::kratos::KratosErrorBody),
        (status = 429, description = "Too many list or search requests at once from this caller, or on this node (`Retry-After`)", body = crate::kratos::KratosErrorBody),
    ))]
pub async fn list_mine(
    State(state): State<AppState>,
    token: SessionTokenHeader,
    OffsetPageQuery {
        page_range: page,
        raw: query,
        ..
    }: OffsetPageQuery,
) -> Result<Response, KratosError> {
    let token = require_token(token)?;
    // Holds the caller's list slot until the answer is rendered.
    let found = state
        .service
        .my_other_sessions(&token, page)
        .await
        .map_err(|e| KratosError::from_service(e, &state.config.public_base_url))?;
    let (views, total) = (&found.0, found.1);
    let options = owner_options(&state);
    let body = render_list(views.len(), || sessions_response(views, &options));
    Ok((paging::offset_headers("/sessions", &query, page, total), body).into_response())
}

/// `DELETE /sessions`: revoke all my other sessions.
#[utoipa::path(delete, path = "/sessions", operation_id = "disableMyOtherSessions", tag = "kratos",
    security(("session_token" = []), ("session_cookie" = []), ("session_bearer" = [])),
    responses(
        (status = 200, description = "How many sessions changed from active to revoked", body = RevokedCount),
        (status = 401, description = "No valid session token", body = crate::kratos::KratosErrorBody),
    ))]
pub async fn revoke_my_others(
    State(state): State<AppState>,
    token: SessionTokenHeader,
) -> Result<Response, KratosError> {
    let token = require_token(token)?;
    let count = state
        .service
        .revoke_my_other_sessions(&token)
        .await
        .map_err(|e| KratosError::from_service(e, &state.config.public_base_url))?;
    Ok(Json(RevokedCount { count }).into_response())
}

/// `DELETE /sessions`: how many sessions changed from active to revoked.
#[derive(Serialize, ToSchema)]
pub struct RevokedCount {
    count: u64,
}

/// `DELETE /sessions/{id}`: revoke one of my other sessions.
#[utoipa::path(delete, path = "/sessions/{id}", operation_id = "disableMySession", tag = "kratos",
    params(("id" = uuid::Uuid, Path, description = "One of the caller's other sessions")), security(("session_token" = []), ("session_cookie" = []), ("session_bearer" = [])),
    responses(
        (status = 204, description = "Revoked (also when it is not one of the caller's sessions)"),
        (status = 400, description = "The id is not a UUID, or it is the current session", body = crate::kratos::KratosErrorBody),
        (status = 401, description = "No valid session token", body = crate::kratos::KratosErrorBody),
    ))]
pub async fn revoke_mine(
    State(state): State<AppState>,
    token: SessionTokenHeader,
    Path(id): Path<String>,
) -> Result<StatusCode, KratosError> {
    let token = require_token(token)?;
    let id = parse_uuid("the session id", &id)?;
    state
        .service
        .revoke_my_session(&token, id)
        .await
        .map_err(|e| KratosError::from_service(e, &state.config.public_base_url))?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = PerformNativeLogoutBody)]
pub struct LogoutBody {
    session_token: String,
}

/// `DELETE /self-service/logout/api` with `{"session_token": …}`.
#[utoipa::path(delete, path = "/self-service/logout/api", operation_id = "performNativeLogout", tag = "kratos",
    request_body = LogoutBody,
    responses(
        (status = 204, description = "The session is revoked"),
        (status = 400, description = "The body is not `{\"session_token\": …}`, or the token is empty or too long", body = crate::kratos::KratosErrorBody),
        (status = 403, description = "The token is unknown, expired or already logged out", body = crate::kratos::KratosErrorBody),
    ))]
pub async fn logout(
    State(state): State<AppState>,
    KratosJson(body): KratosJson<LogoutBody>,
) -> Result<StatusCode, KratosError> {
    state.service.logout(&body.session_token).await.map_err(|e| match e {
        lanyard_service::ServiceError::Unauthenticated(_) => {
            KratosError::bad_request("session_token is empty or longer than 200 characters")
        }
        other => KratosError::from_service(other, &state.config.public_base_url),
    })?;
    Ok(StatusCode::NO_CONTENT)
}
