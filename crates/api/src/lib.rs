//! HTTP adapters. Each API module only translates: wire JSON to service calls, service
//! results and errors to the protocol's own JSON.

pub mod api_router;
mod client;
mod error_bodies;
#[cfg(test)]
mod error_mapping_tests;
mod nul;
mod request_head;
pub use request_head::check_request_head;
mod request_metrics;
pub use error_bodies::error_bodies;
pub use request_metrics::{track_requests, RequestMetrics};
pub mod kratos;
pub mod lanyard;
pub mod openapi;
mod ports;
pub use ports::{admin_document, admin_router, public_document, public_router};
mod query;
mod render;
pub mod zitadel;

use std::sync::Arc;

use lanyard_service::Lanyard;

/// The `Retry-After` (seconds) of every 503: the database cannot serve now, or a request ran out
/// of time. About one pool `acquire_timeout` (5 s by default): a restart or failover takes
/// seconds, and a shorter delay would have every client hammer a database that is coming back.
pub const UNAVAILABLE_RETRY_AFTER_SECONDS: u32 = 5;

/// Why a request that needs the database answers 503: the same words in every API.
pub(crate) const UNAVAILABLE_REASON: &str = "the session store cannot serve this request now (unreachable, \
     refusing connections, read-only, out of space or too slow to answer); retry shortly";

/// What the HTTP layer needs to know beyond the service.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Public base URL, used for `schema_url` and redirects, e.g. `http://127.0.0.1:4433/`.
    pub public_base_url: String,
    /// The cookie that may carry a session token.
    pub session_cookie_name: String,
    /// Kratos v26 answers an extend with 200 and the session; 204 is the spec's default.
    pub extend_returns_session: bool,
    /// Peers whose `X-Forwarded-For` is believed for the client IP.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            public_base_url: "http://127.0.0.1:4433/".into(),
            session_cookie_name: "ory_kratos_session".into(),
            extend_returns_session: true,
            trusted_proxies: Vec::new(),
        }
    }
}

/// Renders the process's metrics in the Prometheus text format.
pub type MetricsRenderer = Arc<dyn Fn() -> String + Send + Sync>;

#[derive(Clone)]
pub struct AppState {
    pub service: Arc<Lanyard>,
    pub config: Arc<ApiConfig>,
    /// The installed metrics recorder, when there is one (the binary installs it).
    pub metrics: Option<MetricsRenderer>,
}

impl AppState {
    pub fn new(service: Arc<Lanyard>, config: ApiConfig) -> Self {
        AppState {
            service,
            config: Arc::new(config),
            metrics: None,
        }
    }
}
