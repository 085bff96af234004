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

use utoipa_axum::router::UtoipaMethodRouterExt;
use utoipa_axum::routes;

use crate::api_router::ApiRouter;

pub use error::{KratosError, KratosErrorBody};

pub fn admin_routes() -> ApiRouter {
    ApiRouter::default()
        .routes(routes!(sessions_admin::list))
        .routes(routes!(sessions_admin::get, sessions_admin::disable))
        .routes(routes!(sessions_admin::extend))
        .routes(routes!(
            sessions_admin::list_for_identity,
            sessions_admin::delete_for_identity
        ))
        .routes(routes!(identities::list, identities::create))
        .routes(routes!(
            identities::get,
            identities::replace,
            identities::patch,
            identities::delete
        ))
        .routes(routes!(identities::get_by_external_id))
        .routes(routes!(identities::delete_credential))
        .merge(schemas::routes())
}

pub fn public_routes() -> ApiRouter {
    ApiRouter::default()
        // Kratos answers whoami on every method; it is documented as the GET it is used as.
        .routes(routes!(sessions_public::whoami).map(|get| get.fallback(sessions_public::whoami)))
        .routes(routes!(sessions_public::list_mine, sessions_public::revoke_my_others))
        .routes(routes!(sessions_public::revoke_mine))
        .routes(routes!(sessions_public::logout))
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
