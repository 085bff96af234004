//! What each port serves: its routes and its document, from one [`ApiRouter`] per port.

use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::Router;
use utoipa::openapi::OpenApi as Document;
use utoipa_axum::routes;

use crate::api_router::ApiRouter;
use crate::{error_bodies, kratos, lanyard, openapi, zitadel, AppState};

/// The admin port (loopback by default): the Kratos admin API and Lanyard's extensions.
fn admin_api() -> ApiRouter {
    ApiRouter::with_document(openapi::admin_info())
        .merge(kratos::admin_routes())
        .merge(lanyard::admin_routes())
        .merge(lanyard::health_routes())
        .routes(routes!(admin_document_json))
}

/// The public port: whoami, self-service session management, schemas, the ZITADEL Session
/// Service, health.
fn public_api() -> ApiRouter {
    ApiRouter::with_document(openapi::public_info())
        .merge(kratos::public_routes())
        .merge(zitadel::routes())
        .merge(lanyard::health_routes())
        .routes(routes!(public_document_json))
}

pub fn public_router(state: AppState) -> Router {
    let (router, _) = public_api().split();
    with_fallbacks(router).with_state(state)
}

pub fn admin_router(state: AppState) -> Router {
    let (router, _) = admin_api().split();
    with_fallbacks(router).with_state(state)
}

fn with_fallbacks(router: Router<AppState>) -> Router<AppState> {
    router
        .fallback(error_bodies::not_found)
        .method_not_allowed_fallback(error_bodies::method_not_allowed)
}

/// The admin port's document: exactly the routes [`admin_router`] serves.
pub fn admin_document() -> Document {
    let (_, document) = admin_api().split();
    openapi::finish(document)
}

/// The public port's document: exactly the routes [`public_router`] serves.
pub fn public_document() -> Document {
    let (_, document) = public_api().split();
    openapi::finish(document)
}

#[utoipa::path(get, path = "/openapi.json", operation_id = "getOpenApiDocument", tag = "lanyard",
    description = "This document: every route of the admin port.",
    responses((status = 200, description = "OpenAPI 3.1", body = serde_json::Value)))]
async fn admin_document_json() -> Response {
    static JSON: OnceLock<String> = OnceLock::new();
    json_response(JSON.get_or_init(|| openapi::to_json(&admin_document())))
}

#[utoipa::path(get, path = "/openapi.json", operation_id = "getOpenApiDocument", tag = "lanyard",
    description = "This document: every route of the public port.",
    responses((status = 200, description = "OpenAPI 3.1", body = serde_json::Value)))]
async fn public_document_json() -> Response {
    static JSON: OnceLock<String> = OnceLock::new();
    json_response(JSON.get_or_init(|| openapi::to_json(&public_document())))
}

fn json_response(body: &'static str) -> Response {
    ([(CONTENT_TYPE, "application/json")], body).into_response()
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    #[test]
    fn every_reference_resolves_and_operation_ids_are_unique() {
        for doc in [admin_document(), public_document()] {
            let json = serde_json::to_value(&doc).unwrap();
            let mut refs = Vec::new();
            collect_refs(&json, &mut refs);
            for reference in refs {
                let name = reference
                    .strip_prefix("#/components/schemas/")
                    .expect("schema refs only");
                assert!(
                    json["components"]["schemas"].get(name).is_some(),
                    "{reference} is missing"
                );
            }
            let mut ids: Vec<&str> = json["paths"]
                .as_object()
                .unwrap()
                .values()
                .flat_map(|item| item.as_object().unwrap().values())
                .map(|operation| operation["operationId"].as_str().expect("an operationId"))
                .collect();
            let count = ids.len();
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), count, "operation ids are unique");
        }
    }

    #[test]
    fn the_v2beta_paths_are_deprecated_copies_of_the_session_services_v2_paths() {
        let json = serde_json::to_value(public_document()).unwrap();
        let paths = json["paths"].as_object().unwrap();
        let beta: Vec<&String> = paths.keys().filter(|p| p.contains("v2beta")).collect();
        let v2 = paths
            .keys()
            .filter(|p| p.starts_with("/v2/sessions") || p.starts_with("/zitadel.session.v2."))
            .count();
        assert_eq!(beta.len(), v2, "{beta:?}");
        for path in beta {
            for operation in paths[path].as_object().unwrap().values() {
                assert_eq!(operation["deprecated"], true, "{path}");
            }
        }
    }

    fn collect_refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r.clone());
                }
                map.values().for_each(|v| collect_refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
            _ => {}
        }
    }
}
