//! A port's routes and its OpenAPI document, built from one list.
//!
//! A route enters an [`ApiRouter`] only together with the operations that document it: a
//! handler's `#[utoipa::path]` collected by `utoipa_axum::routes!`, or operations built next to
//! the route (the ZITADEL RPC paths). There is no way to add an undocumented route, so what a
//! port serves and what its `/openapi.json` says cannot drift apart.

use axum::Router;
use utoipa::openapi::OpenApi as Document;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};

use crate::AppState;

pub struct ApiRouter(OpenApiRouter<AppState>);

impl Default for ApiRouter {
    fn default() -> Self {
        Self(OpenApiRouter::new())
    }
}

impl ApiRouter {
    /// Routes documented in `document`, which also gives the title, description and tags.
    pub fn with_document(document: Document) -> Self {
        Self(OpenApiRouter::with_openapi(document))
    }

    /// Adds the routes of `routes!(…)` (or an equivalent triple) at the paths it documents.
    pub fn routes(self, routes: UtoipaMethodRouter<AppState>) -> Self {
        Self(self.0.routes(routes))
    }

    pub fn merge(self, other: ApiRouter) -> Self {
        Self(self.0.merge(other.0))
    }

    /// The router to serve and the document of exactly its routes.
    pub fn split(self) -> (Router<AppState>, Document) {
        self.0.split_for_parts()
    }
}
