//! Request rate and latency per route, recorded through the `metrics` facade (the binary
//! installs a Prometheus recorder; without one, recording costs next to nothing).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use metrics::{Counter, Histogram};

/// The handles of every (method, status, route) seen so far, each registered with the recorder
/// once: looking a metric up by its labels on every request cost more instructions than
/// answering a cached whoami. Make one per router, after installing the recorder.
#[derive(Default)]
pub struct RequestMetrics {
    handles: RwLock<HashMap<(Method, u16), HandlesByRoute>>,
}

type HandlesByRoute = HashMap<Box<str>, Handles>;

struct Handles {
    requests: Counter,
    duration: Histogram,
}

impl RequestMetrics {
    fn record(&self, method: &Method, route: &str, status: u16, seconds: f64) {
        if let Ok(by_route) = self.handles.read() {
            if let Some(handles) = by_route.get(&(method.clone(), status)).and_then(|r| r.get(route)) {
                handles.requests.increment(1);
                handles.duration.record(seconds);
                return;
            }
        }
        let method_label = method.as_str().to_owned();
        let handles = Handles {
            requests: metrics::counter!("lanyard_http_requests_total",
                "method" => method_label.clone(), "route" => route.to_owned(), "status" => status.to_string()),
            duration: metrics::histogram!("lanyard_http_request_duration_seconds",
                "method" => method_label, "route" => route.to_owned()),
        };
        handles.requests.increment(1);
        handles.duration.record(seconds);
        if let Ok(mut by_route) = self.handles.write() {
            by_route
                .entry((method.clone(), status))
                .or_default()
                .insert(route.into(), handles);
        }
    }
}

/// Methods outside this list share one label, so that clients cannot grow the set of series
/// (and the server's memory) by inventing methods.
fn method_label(method: &Method) -> Method {
    const KNOWN: [Method; 9] = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
        Method::TRACE,
        Method::CONNECT,
    ];
    if KNOWN.contains(method) {
        method.clone()
    } else {
        Method::from_bytes(b"OTHER").unwrap_or_default()
    }
}

pub async fn track_requests(State(metrics): State<Arc<RequestMetrics>>, request: Request, next: Next) -> Response {
    // The route pattern, never the raw path: ids in paths would explode the label set.
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    metrics.record(
        &method,
        route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}
