//! Accepting HTTP/1.1 connections (as `axum::serve` did here; no HTTP/2) so that slow or idle
//! clients cannot exhaust the server.
//!
//! `axum::serve` keeps a connection for as long as the client likes: it sets no timer, so
//! hyper's header-read timeout never fires, and it accepts without limit. A client that opens
//! connections and trickles bytes (slowloris) could hold file descriptors until `accept` fails
//! for everyone. Here every connection must deliver each request's headers within
//! `header_read_timeout` (this also closes keep-alive connections idle that long), and at most
//! `max_connections` are open per listener; further clients wait in the kernel's backlog until a
//! slot frees, instead of failing the process.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
}

/// Serves `router` on `listener` until `stop` completes, then stops accepting and waits for
/// open connections to finish their in-flight requests. Handlers can extract
/// `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    stop: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut stop => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // EMFILE, ECONNABORTED and the like concern one connection or pass with
                    // time; the listener itself stays good.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let service = router.clone().map_request(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(remote));
            request
        });
        // hyper answers some requests itself, with an empty body, before any routing: 400 for
        // a request line or header it cannot parse, 414 for a URL of 65,535 bytes or more,
        // 431 for more than 100 header fields or a head above its read buffer (~400 KiB). No
        // option hands those to Lanyard (docs/SECURITY.md, "Errors outside the routes");
        // Lanyard's own header limit (`lanyard_api::check_request_head`) sits below hyper's.
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %remote, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
