use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use lanyard_domain::{CredentialType, IdentityState};
use lanyard_service::{IdentityListRequest, IdentityWrite, PasswordInput};
use serde::Deserialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::error::KratosError;
use super::extract::{parse_uuid, AdminKey, IdentityRead, IdentityWrite as IdentityWriteScope, KratosJson};
use super::paging::{link_url, set_link};
use super::params::IdentityListQuery;
use super::wire::{identity_json, Audience};
use crate::render::render_list;
use crate::AppState;

fn service_error(state: &AppState) -> impl Fn(lanyard_service::ServiceError) -> KratosError + '_ {
    move |e| KratosError::from_service(e, &state.config.public_base_url)
}

fn identity_response(state: &AppState, status: StatusCode, identity: &lanyard_domain::Identity) -> Response {
    (
        status,
        Json(identity_json(
            identity,
            Audience::AdminIdentity,
            &state.config.public_base_url,
        )),
    )
        .into_response()
}

/// The body of `POST /admin/identities` and `PUT /admin/identities/{id}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = KratosIdentityBody)]
pub struct IdentityBody {
    /// Required.
    schema_id: Option<String>,
    /// Required; validated against the identity schema.
    #[schema(value_type = Option<Object>)]
    traits: Option<Value>,
    /// `active` or `inactive`; required on PUT.
    state: Option<String>,
    metadata_public: Option<Value>,
    metadata_admin: Option<Value>,
    organization_id: Option<String>,
    external_id: Option<String>,
    /// Only `password` can be imported: `{"password": {"config": {"password" | "hashed_password": …}}}`.
    #[schema(value_type = Option<Object>)]
    credentials: Option<Map<String, Value>>,
}

fn password_from(credentials: Option<Map<String, Value>>) -> Result<Option<PasswordInput>, KratosError> {
    let Some(credentials) = credentials else {
        return Ok(None);
    };
    let mut password = None;
    for (kind, value) in credentials {
        match kind.as_str() {
            "password" => {
                let config = &value["config"];
                password = match (config["password"].as_str(), config["hashed_password"].as_str()) {
                    (Some(p), None) => Some(PasswordInput::Cleartext(p.to_owned())),
                    (None, Some(h)) => Some(PasswordInput::Hashed(h.to_owned())),
                    (Some(_), Some(_)) => {
                        return Err(KratosError::bad_request(
                            "credentials.password.config takes either password or hashed_password, not both",
                        ))
                    }
                    (None, None) => {
                        return Err(KratosError::bad_request(
                            "credentials.password.config needs a password or a hashed_password",
                        ))
                    }
                };
            }
            other => {
                return Err(KratosError::bad_request(format!(
                    "credentials of type {other:?} cannot be imported; Lanyard imports password credentials only"
                )))
            }
        }
    }
    Ok(password)
}

impl IdentityBody {
    fn into_write(self, require_state: bool) -> Result<IdentityWrite, KratosError> {
        let schema_id = self.schema_id.filter(|s| !s.trim().is_empty());
        if schema_id.is_none() {
            return Err(KratosError::bad_request("schema_id is required"));
        }
        let traits = self
            .traits
            .ok_or_else(|| KratosError::bad_request("traits is required"))?;
        let state = match self.state.as_deref() {
            None if require_state => return Err(KratosError::bad_request("state is required (active or inactive)")),
            None => None,
            Some(s) => Some(IdentityState::parse(s).ok_or_else(|| {
                KratosError::bad_request(format!("state must be \"active\" or \"inactive\", not {s:?}"))
            })?),
        };
        let organization_id = match self.organization_id.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(parse_uuid("organization_id", s)?),
        };
        Ok(IdentityWrite {
            schema_id,
            traits,
            state,
            metadata_public: self.metadata_public,
            metadata_admin: self.metadata_admin,
            organization_id,
            external_id: self.external_id,
            password: password_from(self.credentials)?,
        })
    }
}

#[utoipa::path(post, path = "/admin/identities", operation_id = "createIdentity", tag = "kratos",
    request_body = IdentityBody, security(("admin_key" = [])),
    responses(
        (status = 201, description = "The new identity", body = crate::kratos::wire::IdentityJson),
        (status = 400, description = "The body is malformed or violates the identity schema", body = crate::kratos::KratosErrorBody),
        (status = 409, description = "An identifier or the external id is taken", body = crate::kratos::KratosErrorBody),
    ))]
pub async fn create(
    _: AdminKey<IdentityWriteScope>,
    State(state): State<AppState>,
    KratosJson(body): KratosJson<IdentityBody>,
) -> Result<Response, KratosError> {
    let identity = state
        .service
        .create_identity(body.into_write(false)?)
        .await
        .map_err(service_error(&state))?;
    Ok(identity_response(&state, StatusCode::CREATED, &identity))
}

#[utoipa::path(put, path = "/admin/identities/{id}", operation_id = "updateIdentity", tag = "kratos",
    params(("id" = Uuid, Path, description = "The identity id")),
    request_body = IdentityBody, security(("admin_key" = [])),
    responses(
        (status = 200, description = "The replaced identity", body = crate::kratos::wire::IdentityJson),
        (status = 400, description = "The id is not a UUID, or the body is malformed or violates the identity schema", body = crate::kratos::KratosErrorBody),
        (status = 404, description = "No such identity", body = crate::kratos::KratosErrorBody),
        (status = 409, description = "An identifier or the external id is taken", body = crate::kratos::KratosErrorBody),
    ))]
pub async fn replace(
    _: AdminKey<IdentityWriteScope>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    KratosJson(body): KratosJson<IdentityBody>,
) -> Result<Response, KratosError> {
    let id = parse_uuid("the identity id", &id)?;
    let identity = state
        .service
        .replace_identity(id, body.into_write(true)?)
        .await
        .map_err(service_error(&state))?;
    Ok(identity_response(&state, StatusCode::OK, &identity))
}

#[utoipa::path(patch, path = "/admin/identities/{id}", operation_id = "patchIdentity", tag = "kratos",
    params(("id" = Uuid, Path, description = "The identity id")),
    request_body(content = Vec<JsonPatchOperation>, description = "An RFC 6902 JSON Patch"),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "The patched identity", body = crate::kratos::wire::IdentityJson),
        (status = 400, description = "The id is not a UUID, or the patch is malformed, fails, or yields an invalid identity", body = crate::kratos::KratosErrorBody),
        (status = 404, description = "No such identity", body = crate::kratos::KratosErrorBody),
        (status = 409, description = "An identifier or the external id is taken", body = crate::kratos::KratosErrorBody),
    ))]
pub async fn patch(
    _: AdminKey<IdentityWriteScope>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    KratosJson(patch): KratosJson<json_patch_wire::Patch>,
) -> Result<Response, KratosError> {
    let id = parse_uuid("the identity id", &id)?;
    let identity = state
        .service
        .patch_identity(id, patch)
        .await
        .map_err(service_error(&state))?;
    Ok(identity_response(&state, StatusCode::OK, &identity))
}

/// The JSON Patch document type, re-exported so handlers name it without a direct dependency.
mod json_patch_wire {
    pub use lanyard_service::JsonPatch as Patch;
}

/// One RFC 6902 operation.
// Documents the items of `json_patch_wire::Patch`, which come from the `json-patch` crate and
// carry no schema of their own.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "documents a third-party type; never built")]
pub struct JsonPatchOperation {
    op: JsonPatchOp,
    /// A JSON Pointer, e.g. `/traits/email`.
    path: String,
    /// For `move` and `copy`.
    from: Option<String>,
    /// For `add`, `replace` and `test`.
    value: Option<Value>,
}

#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code, reason = "documents a third-party type; never built")]
pub enum JsonPatchOp {
    Add,
    Remove,
    Replace,
    Move,
    Copy,
    Test,
}

#[utoipa::path(get, path = "/admin/identities/{id}", operation_id = "getIdentity", tag = "kratos",
    params(("id" = Uuid, Path, description = "The identity id")), security(("admin_key" = [])),
    responses(
        (status = 200, description = "The identity, credentials without secrets", body = crate::kratos::wire::IdentityJson),
        (status = 400, description = "The id is not a UUID", body = crate::kratos::KratosErrorBody),
        (status = 404, description = "No such identity", body = crate::kratos::KratosErrorBody),
    ))]
pub async fn get(
    _: AdminKey<IdentityRead>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, KratosError> {
    let id = parse_uuid("the identity id", &id)?;
    let identity = state.service.identity(id).await.map_err(service_error(&state))?;
    Ok(identity_response(&state, StatusCode::OK, &identity))
}

#[utoipa::path(get, path = "/admin/identities/by/external/{external_id}", operation_id = "getIdentityByExternalID", tag = "kratos",
    params(("external_id" = String, Path, description = "The identity's external id")), security(("admin_key" = [])),
    responses(
        (status = 200, description = "The identity, credentials without secrets", body = crate::kratos::wire::IdentityJson),
        (status = 404, description = "No identity has this external id", body = crate::kratos::KratosErrorBody),
    ))]
pub async fn get_by_external_id(
    _: AdminKey<IdentityRead>,
    State(state): State<AppState>,
    Path(external_id): Path<String>,
) -> Result<Response, KratosError> {
    let identity = state
        .service
        .identity_by_external_id(&external_id)
        .await
        .map_err(service_error(&state))?;
    Ok(identity_response(&state, StatusCode::OK, &identity))
}

#[utoipa::path(delete, path = "/admin/identities/{id}", operation_id = "deleteIdentity", tag = "kratos",
    params(("id" = Uuid, Path, description = "The identity id")), security(("admin_key" = [])),
    responses(
        (status = 204, description = "The identity and its sessions are deleted"),
        (status = 400, description = "The id is not a UUID", body = crate::kratos::KratosErrorBody),
        (status = 404, description = "No such identity", body = crate::kratos::KratosErrorBody),
    ))]
pub async fn delete(
    _: AdminKey<IdentityWriteScope>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, KratosError> {
    let id = parse_uuid("the identity id", &id)?;
    state.service.delete_identity(id).await.map_err(service_error(&state))?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/admin/identities/{id}/credentials/{type}", operation_id = "deleteIdentityCredentials", tag = "kratos",
    params(("id" = Uuid, Path, description = "The identity id"),
        ("type" = String, Path, description = "password, oidc, totp, lookup_secret, webauthn, passkey, code or saml")),
    security(("admin_key" = [])),
    responses(
        (status = 204, description = "The credential is removed"),
        (status = 400, description = "The id is not a UUID, or the type is unknown", body = crate::kratos::KratosErrorBody),
        (status = 404, description = "No such identity, or it has no credential of this type", body = crate::kratos::KratosErrorBody),
    ))]
pub async fn delete_credential(
    _: AdminKey<IdentityWriteScope>,
    State(state): State<AppState>,
    Path((id, kind)): Path<(String, String)>,
) -> Result<StatusCode, KratosError> {
    let id = parse_uuid("the identity id", &id)?;
    let kind = CredentialType::parse(&kind).ok_or_else(|| {
        KratosError::bad_request(format!(
            "unknown credential type {kind:?}; known types are password, oidc, totp, lookup_secret, webauthn, passkey, code, saml"
        ))
    })?;
    state
        .service
        .delete_identity_credential(id, kind)
        .await
        .map_err(service_error(&state))?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /admin/identities`: keyset-paged by id; the page token is the last id of the page.
#[utoipa::path(get, path = "/admin/identities", operation_id = "listIdentities", tag = "kratos",
    params(IdentityListQuery), security(("admin_key" = [])),
    responses(
        (status = 200, description = "A page of identities, by id", body = [crate::kratos::wire::IdentityJson],
            headers(("link" = String, description = "`first` and `next` page URLs"))),
        (status = 400, description = "A malformed parameter, or filters that cannot be combined", body = crate::kratos::KratosErrorBody),
        (status = 429, description = "Too many list or search requests at once from this caller, or on this node (`Retry-After`)", body = crate::kratos::KratosErrorBody),
    ))]
pub async fn list(
    AdminKey { key, .. }: AdminKey<IdentityRead>,
    State(state): State<AppState>,
    IdentityListQuery {
        page_size,
        page_token: after,
        filter,
        raw: query,
        ..
    }: IdentityListQuery,
) -> Result<Response, KratosError> {
    let list = state
        .service
        .list_identities(
            &lanyard_service::Principal::ApiKey(key),
            IdentityListRequest {
                filter,
                after,
                page_size,
            },
        )
        .await
        .map_err(service_error(&state))?;
    let body = render_list(list.identities.len(), || {
        let identities: Vec<_> = list
            .identities
            .iter()
            .map(|i| {
                let mut json = identity_json(i, Audience::AdminIdentity, &state.config.public_base_url);
                json.credentials = None;
                json
            })
            .collect();
        Json(identities).into_response()
    });
    let mut links = vec![(
        link_url(
            "/admin/identities",
            &query,
            &[
                ("page_size", page_size.to_string()),
                ("page_token", Uuid::nil().to_string()),
            ],
        ),
        "first",
    )];
    if let Some(next) = list.next_after {
        links.push((
            link_url(
                "/admin/identities",
                &query,
                &[("page_size", page_size.to_string()), ("page_token", next.to_string())],
            ),
            "next",
        ));
    }
    let mut headers = HeaderMap::new();
    set_link(&mut headers, &links);
    Ok((headers, body).into_response())
}
