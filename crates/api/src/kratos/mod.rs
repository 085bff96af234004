//! The Ory Kratos API (v26.2.0 wire format): admin identities and sessions, public
//! self-service session endpoints, identity schemas.

pub mod error;
pub mod extract;
pub(crate) mod identities;
pub mod paging;
mod params;
pub(crate) mod schemas;
mod session_bytes;
pub(crate) mod sessions_admin;
pub(crate) mod sessions_public;
pub mod wire;

use axum::routing::{any, delete, get, patch};
use axum::Router;

use crate::AppState;

pub use error::KratosError;

pub fn admin_routes(_state: AppState) -> Router<AppState> {
    Router::new()
        .route("/admin/sessions", get(sessions_admin::list))
        .route(
            "/admin/sessions/{id}",
            get(sessions_admin::get).delete(sessions_admin::disable),
        )
        .route("/admin/sessions/{id}/extend", patch(sessions_admin::extend))
        .route(
            "/admin/identities/{id}/sessions",
            get(sessions_admin::list_for_identity).delete(sessions_admin::delete_for_identity),
        )
        .route("/admin/identities", get(identities::list).post(identities::create))
        .route(
            "/admin/identities/{id}",
            get(identities::get)
                .put(identities::replace)
                .patch(identities::patch)
                .delete(identities::delete),
        )
        .route(
            "/admin/identities/by/external/{external_id}",
            get(identities::get_by_external_id),
        )
        .route(
            "/admin/identities/{id}/credentials/{kind}",
            delete(identities::delete_credential),
        )
        .merge(schemas::routes())
}

pub fn public_routes() -> Router<AppState> {
    Router::new()
        .route("/sessions/whoami", any(sessions_public::whoami))
        .route(
            "/sessions",
            get(sessions_public::list_mine).delete(sessions_public::revoke_my_others),
        )
        .route("/sessions/{id}", delete(sessions_public::revoke_mine))
        .route("/self-service/logout/api", delete(sessions_public::logout))
        .merge(schemas::routes())
}

pub async fn not_found(uri: axum::http::Uri) -> KratosError {
    KratosError::not_found(format!("no route for {}", uri.path()))
}

pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> KratosError {
    KratosError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed on {}", uri.path()),
    )
}
