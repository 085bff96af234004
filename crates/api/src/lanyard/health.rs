use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;

/// Static liveness: no I/O, so it doubles as the throughput baseline in benchmarks.
#[utoipa::path(get, path = "/health/alive", operation_id = "isAlive", tag = "health",
    responses((status = 200, description = "The process is serving", body = HealthStatus)))]
pub async fn alive() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        r#"{"status":"ok"}"#,
    )
        .into_response()
}

/// Ready when the store answers (and so its migrations have run, which happens before serving).
#[utoipa::path(get, path = "/health/ready", operation_id = "isReady", tag = "health",
    responses(
        (status = 200, description = "The store answers", body = HealthStatus),
        (status = 503, description = "The store is unreachable", body = HealthNotReady),
    ))]
pub async fn ready(State(state): State<AppState>) -> Response {
    match state.service.ready().await {
        Ok(()) => Json(HealthStatus { status: "ok" }).into_response(),
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(
                    axum::http::header::RETRY_AFTER,
                    crate::UNAVAILABLE_RETRY_AFTER_SECONDS.to_string(),
                )],
                Json(HealthNotReady {
                    errors: NotReadyReasons {
                        database: "the session store is unreachable",
                    },
                }),
            )
                .into_response()
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct HealthStatus {
    /// `ok`.
    status: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct HealthNotReady {
    errors: NotReadyReasons,
}

/// What is not ready, each with why.
#[derive(Serialize, ToSchema)]
pub struct NotReadyReasons {
    database: &'static str,
}
