//! Lanyard's own endpoints: health, and the admin extensions that Kratos has no word for.

pub(crate) mod enrolment;
pub(crate) mod health;
pub(crate) mod idp_intents;
pub(crate) mod issue;
pub(crate) mod metrics;
pub(crate) mod otp_enrolment;

use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa_axum::routes;

use crate::api_router::ApiRouter;

pub fn health_routes() -> ApiRouter {
    ApiRouter::default()
        .routes(routes!(health::alive))
        .routes(routes!(health::ready))
}

pub fn admin_routes() -> ApiRouter {
    ApiRouter::default()
        .routes(routes!(issue::issue_session))
        .routes(routes!(idp_intents::record_idp_intent))
        .routes(routes!(enrolment::enrol_totp))
        .routes(routes!(enrolment::generate_lookup_secrets))
        .routes(routes!(enrolment::unlock_identity))
        .routes(routes!(otp_enrolment::enable_otp))
        .routes(routes!(otp_enrolment::disable_otp))
        .routes(routes!(metrics::metrics))
}

/// An answer holding a secret that is shown only this once (a TOTP secret, recovery codes, an
/// intent token): no cache may keep it.
fn shown_once(status: StatusCode, body: impl Serialize) -> Response {
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
