use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Value};

use super::error::KratosError;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/schemas", get(list))
        .route("/schemas/{id}", get(get_one))
}

#[utoipa::path(get, path = "/schemas", operation_id = "listIdentitySchemas", tag = "kratos",
    responses((status = 200, description = "Every identity schema", body = [crate::openapi::IdentitySchemaContainer])))]
pub(crate) async fn list(State(state): State<AppState>) -> Json<Value> {
    let all: Vec<Value> = state
        .service
        .schemas()
        .all()
        .map(|s| json!({ "id": s.id, "schema": s.raw }))
        .collect();
    Json(Value::Array(all))
}

/// Accepts the raw id or its base64url form (which is what `schema_url` contains).
#[utoipa::path(get, path = "/schemas/{id}", operation_id = "getIdentitySchema", tag = "kratos",
    params(("id" = String, Path, description = "The schema id, or its base64url form")),
    responses(
        (status = 200, description = "The JSON Schema", body = serde_json::Value),
        (status = 404, description = "No such schema", body = crate::openapi::KratosErrorBody),
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
