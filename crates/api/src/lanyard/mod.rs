//! Lanyard's own endpoints: health, and the admin extensions that Kratos has no word for.

pub(crate) mod enrolment;
pub(crate) mod health;
pub(crate) mod issue;
pub(crate) mod metrics;

use axum::routing::{get, post};
use axum::Router;

use crate::AppState;

pub fn health_routes() -> Router<AppState> {
    Router::new()
        .route("/health/alive", get(health::alive))
        .route("/health/ready", get(health::ready))
}

pub fn admin_routes(_state: AppState) -> Router<AppState> {
    Router::new()
        .route("/admin/lanyard/sessions", post(issue::issue_session))
        .route(
            "/admin/lanyard/identities/{id}/credentials/totp",
            post(enrolment::enrol_totp),
        )
        .route(
            "/admin/lanyard/identities/{id}/credentials/lookup_secret",
            post(enrolment::generate_lookup_secrets),
        )
        .route(
            "/admin/lanyard/identities/{id}/unlock",
            post(enrolment::unlock_identity),
        )
        .route("/metrics", get(metrics::metrics))
}
