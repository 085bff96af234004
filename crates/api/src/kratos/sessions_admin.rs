use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use lanyard_domain::{Cursor, Micros};
use lanyard_service::{ListSessions, Principal};
use uuid::Uuid;

use super::error::KratosError;
use super::extract::{parse_uuid, AdminKey, SessionDelete, SessionRead, SessionWrite};
use super::paging::{self, link_url, set_link};
use super::params::{ActiveQuery, ExpandQuery, OffsetPageQuery, SessionListQuery};
use super::session_bytes::sessions_response;
use super::wire::{session_json, Audience, HiddenDevices, SessionJson, SessionOptions};
use crate::render::render_list;
use crate::AppState;

fn service_error(state: &AppState) -> impl Fn(lanyard_service::ServiceError) -> KratosError + '_ {
    move |e| KratosError::from_service(e, &state.config.public_base_url)
}

/// `GET /admin/sessions`: keyset-paged, newest first.
#[utoipa::path(get, path = "/admin/sessions", operation_id = "listSessions", tag = "kratos",
    params(SessionListQuery), security(("admin_key" = [])),
    responses(
        (status = 200, description = "A page of sessions, newest first", body = [SessionJson],
            headers(("link" = String, description = "`first` and `next` page URLs"))),
        (status = 400, description = "Malformed page_size, page_token, active or expand", body = crate::kratos::KratosErrorBody),
        (status = 429, description = "Too many list or search requests at once from this caller, or on this node (`Retry-After`)", body = crate::kratos::KratosErrorBody),
    ))]
pub async fn list(
    AdminKey { key, .. }: AdminKey<SessionRead>,
    State(state): State<AppState>,
    SessionListQuery {
        page_size,
        page_token,
        active,
        expand,
        raw: query,
    }: SessionListQuery,
) -> Result<Response, KratosError> {
    let request = ListSessions {
        active,
        page_token,
        page_size,
        expand_identity: expand.identity,
        expand_devices: expand.devices,
    };
    let list = state
        .service
        .list_sessions(&Principal::ApiKey(key), request)
        .await
        .map_err(service_error(&state))?;
    let options = SessionOptions {
        audience: Audience::AdminSession,
        expand_identity: expand.identity,
        expand_devices: expand.devices,
        hidden_devices: HiddenDevices::Null,
        public_base_url: &state.config.public_base_url,
    };
    let body = render_list(list.sessions.len(), || sessions_response(&list.sessions, &options));

    let first_token = state.service.page_token_for(Cursor {
        created_at: Micros(i64::MAX),
        id: Uuid::nil(),
    });
    let mut links = vec![(
        link_url(
            "/admin/sessions",
            &query,
            &[("page_size", page_size.to_string()), ("page_token", first_token)],
        ),
        "first",
    )];
    if let Some(next) = list.next_page_token.clone() {
        links.push((
            link_url(
                "/admin/sessions",
                &query,
                &[("page_size", page_size.to_string()), ("page_token", next)],
            ),
            "next",
        ));
    }
    let mut headers = HeaderMap::new();
    set_link(&mut headers, &links);
    Ok((headers, body).into_response())
}

#[utoipa::path(get, path = "/admin/sessions/{id}", operation_id = "getSession", tag = "kratos",
    params(("id" = Uuid, Path, description = "The session id"), ExpandQuery),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "The session", body = SessionJson),
        (status = 400, description = "The id is not a UUID, or expand is unknown", body = crate::kratos::KratosErrorBody),
        (status = 404, description = "No such session", body = crate::kratos::KratosErrorBody),
    ))]
pub async fn get(
    _: AdminKey<SessionRead>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ExpandQuery { expand }: ExpandQuery,
) -> Result<Response, KratosError> {
    let id = parse_uuid("the session id", &id)?;
    let view = state
        .service
        .session(id, expand.identity)
        .await
        .map_err(service_error(&state))?;
    let options = SessionOptions {
        audience: Audience::AdminSession,
        expand_identity: expand.identity,
        expand_devices: expand.devices,
        hidden_devices: HiddenDevices::Empty,
        public_base_url: &state.config.public_base_url,
    };
    Ok(Json(session_json(&view, &options)).into_response())
}

/// `DELETE /admin/sessions/{id}`: disable (the row stays, `active` becomes false).
#[utoipa::path(delete, path = "/admin/sessions/{id}", operation_id = "disableSession", tag = "kratos",
    params(("id" = Uuid, Path, description = "The session id")), security(("admin_key" = [])),
    responses(
        (status = 204, description = "Disabled (the session stays, inactive)"),
        (status = 400, description = "The id is not a UUID", body = crate::kratos::KratosErrorBody),
        (status = 404, description = "No such session", body = crate::kratos::KratosErrorBody),
    ))]
pub async fn disable(
    _: AdminKey<SessionDelete>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, KratosError> {
    let id = parse_uuid("the session id", &id)?;
    state.service.disable_session(id).await.map_err(service_error(&state))?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PATCH /admin/sessions/{id}/extend`: 200 with the session (what Kratos v26 does and the SDK
/// expects), or 204 when configured.
#[utoipa::path(patch, path = "/admin/sessions/{id}/extend", operation_id = "extendSession", tag = "kratos",
    params(("id" = Uuid, Path, description = "The session id")), security(("admin_key" = [])),
    responses(
        (status = 200, description = "Extended; the session, identity and devices expanded", body = SessionJson),
        (status = 204, description = "Extended (with `session.extend_response = \"no_content\"`)"),
        (status = 400, description = "The id is not a UUID", body = crate::kratos::KratosErrorBody),
        (status = 404, description = "No such session", body = crate::kratos::KratosErrorBody),
    ))]
pub async fn extend(
    _: AdminKey<SessionWrite>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, KratosError> {
    let id = parse_uuid("the session id", &id)?;
    let view = state.service.extend_session(id).await.map_err(service_error(&state))?;
    if !state.config.extend_returns_session {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let options = SessionOptions {
        audience: Audience::AdminSession,
        expand_identity: true,
        expand_devices: true,
        hidden_devices: HiddenDevices::Empty,
        public_base_url: &state.config.public_base_url,
    };
    Ok(Json(session_json(&view, &options)).into_response())
}

/// `GET /admin/identities/{id}/sessions`: offset-paged, identity and devices expanded.
#[utoipa::path(get, path = "/admin/identities/{id}/sessions", operation_id = "listIdentitySessions", tag = "kratos",
    params(("id" = Uuid, Path, description = "The identity id"), OffsetPageQuery, ActiveQuery),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "A page of the identity's sessions", body = [SessionJson], headers(
            ("link" = String, description = "`first`, `next`, `prev` and `last` page URLs"),
            ("x-total-count" = u64, description = "Sessions matching the filter"))),
        (status = 400, description = "The id is not a UUID, or a paging parameter or active is malformed", body = crate::kratos::KratosErrorBody),
        (status = 404, description = "No such identity", body = crate::kratos::KratosErrorBody),
        (status = 429, description = "Too many list or search requests at once from this caller, or on this node (`Retry-After`)", body = crate::kratos::KratosErrorBody),
    ))]
pub async fn list_for_identity(
    AdminKey { key, .. }: AdminKey<SessionRead>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    // `active` first: a request with both malformed hears about it, as before.
    ActiveQuery { active }: ActiveQuery,
    OffsetPageQuery {
        page_range: page,
        raw: query,
        ..
    }: OffsetPageQuery,
) -> Result<Response, KratosError> {
    let identity_id = parse_uuid("the identity id", &id)?;
    // Holds the caller's list slot until the answer is rendered.
    let found = state
        .service
        .identity_sessions(&Principal::ApiKey(key), identity_id, active, page)
        .await
        .map_err(service_error(&state))?;
    let (views, total) = (&found.0, found.1);
    let options = SessionOptions {
        audience: Audience::AdminSession,
        expand_identity: true,
        expand_devices: true,
        hidden_devices: HiddenDevices::Empty,
        public_base_url: &state.config.public_base_url,
    };
    let body = render_list(views.len(), || sessions_response(views, &options));
    let headers = paging::offset_headers(
        &format!("/admin/identities/{identity_id}/sessions"),
        &query,
        page,
        total,
    );
    Ok((headers, body).into_response())
}

/// `DELETE /admin/identities/{id}/sessions`: hard delete; 204 even when there were none.
#[utoipa::path(delete, path = "/admin/identities/{id}/sessions", operation_id = "deleteIdentitySessions", tag = "kratos",
    params(("id" = Uuid, Path, description = "The identity id")), security(("admin_key" = [])),
    responses(
        (status = 204, description = "Every session of the identity is deleted (also when it had none)"),
        (status = 400, description = "The id is not a UUID", body = crate::kratos::KratosErrorBody),
        (status = 404, description = "No such identity", body = crate::kratos::KratosErrorBody),
    ))]
pub async fn delete_for_identity(
    _: AdminKey<SessionDelete>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, KratosError> {
    let identity_id = parse_uuid("the identity id", &id)?;
    state
        .service
        .delete_identity_sessions(identity_id)
        .await
        .map_err(service_error(&state))?;
    Ok(StatusCode::NO_CONTENT)
}
