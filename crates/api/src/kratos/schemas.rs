use axum::extract::{Path, State};
use axum::Json;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::error::KratosError;
use utoipa_axum::routes;

use crate::api_router::ApiRouter;
use crate::AppState;

pub fn routes() -> ApiRouter {
    ApiRouter::default().routes(routes!(list)).routes(routes!(get_one))
}

#[utoipa::path(get, path = "/schemas", operation_id = "listIdentitySchemas", tag = "kratos",
    responses((status = 200, description = "Every identity schema", body = [IdentitySchemaContainer])))]
pub(crate) async fn list(State(state): State<AppState>) -> Json<Vec<IdentitySchemaContainer>> {
    let schemas = state.service.schemas();
    Json(
        schemas
            .all()
            .map(|s| IdentitySchemaContainer {
                id: s.id.clone(),
                schema: s.raw.clone(),
            })
            .collect(),
    )
}

#[derive(Serialize, ToSchema)]
pub struct IdentitySchemaContainer {
    id: String,
    /// The JSON Schema.
    #[schema(value_type = Object)]
    schema: Value,
}

/// Accepts the raw id or its base64url form (which is what `schema_url` contains).
#[utoipa::path(get, path = "/schemas/{id}", operation_id = "getIdentitySchema", tag = "kratos",
    params(("id" = String, Path, description = "The schema id, or its base64url form")),
    responses(
        (status = 200, description = "The JSON Schema", body = serde_json::Value),
        (status = 404, description = "No such schema", body = crate::kratos::KratosErrorBody),
    ))]
pub(crate) async fn get_one(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, KratosError> {
    let schemas = state.service.schemas();
    let decoded = URL_SAFE_NO_PAD
        .decode(id.trim_end_matches('='))
        .or_else(|_| URL_SAFE.decode(&id))
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok());
    schemas
        .get(&id)
        .or_else(|| decoded.as_deref().and_then(|d| schemas.get(d)))
        .map(|schema| Json(schema.raw.clone()))
        .ok_or_else(|| KratosError::not_found(format!("identity schema {id:?} does not exist")))
}
