//! `GET /metrics` in the Prometheus text format.

use std::fmt::Write;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

use crate::AppState;

fn metric(out: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
}

#[utoipa::path(get, path = "/metrics", operation_id = "lanyardMetrics", tag = "lanyard",
    description = "Prometheus metrics. Unauthenticated, like the rest of the admin port's health and metrics routes.",
    responses((status = 200, description = "Prometheus text exposition format", body = String, content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut out = state.metrics.as_ref().map(|render| render()).unwrap_or_default();
    if let Some(stats) = state.service.cache_stats() {
        metric(
            &mut out,
            "lanyard_token_cache_hits_total",
            "counter",
            "whoami lookups answered from the token cache",
            stats.hits,
        );
        metric(
            &mut out,
            "lanyard_token_cache_misses_total",
            "counter",
            "whoami lookups that went to the store",
            stats.misses,
        );
        metric(
            &mut out,
            "lanyard_token_cache_stale_total",
            "counter",
            "whoami lookups that found the token cached but not confirmed within cache.ttl (polls of the change feed failing or late), so read it again; also counted as misses",
            stats.stale,
        );
        metric(
            &mut out,
            "lanyard_token_cache_entries",
            "gauge",
            "tokens held in the cache",
            stats.entries,
        );
        metric(
            &mut out,
            "lanyard_token_cache_invalidations_total",
            "counter",
            "invalidations applied to the token cache, local and from other nodes",
            stats.invalidations,
        );
    }
    ([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out).into_response()
}
