//! Accepting HTTP/1.1 and HTTP/2 connections on one listener (gRPC clients speak HTTP/2 with
//! prior knowledge, everyone else HTTP/1.1) so that slow or idle clients cannot exhaust the
//! server.
//!
//! `axum::serve` keeps a connection for as long as the client likes: it sets no timer, so
//! hyper's header-read timeout never fires, and it accepts without limit. A client that opens
//! connections and trickles bytes (slowloris) could hold file descriptors until `accept` fails
//! for everyone. Here every connection must deliver each request's headers within
//! `header_read_timeout` (this also closes keep-alive connections idle that long), and at most
//! `max_connections` are open per listener; further clients wait in the kernel's backlog until a
//! slot frees, instead of failing the process.
//!
//! Which protocol a connection speaks is read from its first bytes (the HTTP/2 connection
//! preface), under the same `header_read_timeout`, so a silent client is closed either way; on a
//! TLS listener the handshake runs under that timeout and ALPN decides (`crate::tls`). An
//! HTTP/2 connection is bounded by stream limits, a cap on resets (CVE-2023-44487, "rapid
//! reset"), a header list limit and keep-alive pings that close dead peers. On either protocol
//! a connection whose client does not take a response (a full TCP buffer, an HTTP/2 window that
//! never opens) is closed after `serve.request_timeout` (`crate::delivery`).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::delivery::Undelivered;
use crate::h2_writes::UnvectoredWrites;

#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    /// How long a produced response may wait for the client to take it before the connection
    /// is closed (`serve.request_timeout`; see `crate::delivery`).
    pub delivery_timeout: Duration,
}

impl ConnectionLimits {
    /// The limits `serve` configures for every listener.
    pub fn of(serve: &crate::config::ServeConfig) -> Self {
        ConnectionLimits {
            max_connections: serve.max_connections,
            header_read_timeout: serve.header_read_timeout.0,
            delivery_timeout: serve.request_timeout.0,
        }
    }
}

/// Serves `router` on `listener` until `stop` completes, then stops accepting and waits for
/// open connections to finish their in-flight requests. Handlers can extract
/// `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    tls: Option<TlsAcceptor>,
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
        let watcher = graceful.watcher();
        let service = router.clone().map_request(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(remote));
            request
        });
        // hyper answers some requests itself, with an empty body, before any routing: 400 for
        // a request line or header it cannot parse, 414 for a URL of 65,535 bytes or more,
        // 431 for more than 100 header fields or a head above its read buffer (~400 KiB). No
        // option hands those to Lanyard (docs/SECURITY.md, "Errors outside the routes");
        // Lanyard's own header limit (`lanyard_api::check_request_head`) sits below hyper's.
        let tls = tls.clone();
        tokio::spawn(async move {
            serve_connection(stream, remote, tls, service, limits, watcher).await;
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Reads which protocol the connection speaks (the TLS handshake and its ALPN, or the first
/// bytes in cleartext), then serves it until it ends or the server shuts down.
async fn serve_connection<S>(
    stream: TcpStream,
    remote: SocketAddr,
    tls: Option<TlsAcceptor>,
    service: S,
    limits: ConnectionLimits,
    watcher: Watcher,
) where
    S: tower::Service<Request<Incoming>, Response = axum::response::Response, Error = std::convert::Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let undelivered = Arc::new(Undelivered::default());
    let tracked = undelivered.clone();
    let service = TowerToHyperService::new(
        service.map_response(move |response: axum::response::Response| response.map(|body| tracked.track(body))),
    );
    let Some(tls) = tls else {
        let protocol = match tokio::time::timeout(limits.header_read_timeout, detect_protocol(&stream)).await {
            Ok(Ok(protocol)) => protocol,
            Ok(Err(error)) => {
                tracing::debug!(%error, %remote, "reading the connection's first bytes failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%remote, "closed a connection that sent nothing in time");
                return;
            }
        };
        run(stream, protocol, service, &undelivered, limits, watcher, remote).await;
        return;
    };
    // The handshake is bounded like a request head: a client that stalls it is closed.
    let stream = match tokio::time::timeout(limits.header_read_timeout, tls.accept(stream)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => {
            tracing::debug!(%error, %remote, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%remote, "closed a connection that did not finish the TLS handshake in time");
            return;
        }
    };
    let protocol = match stream.get_ref().1.alpn_protocol() {
        Some(crate::tls::ALPN_H2) => Protocol::Http2,
        _ => Protocol::Http1,
    };
    run(stream, protocol, service, &undelivered, limits, watcher, remote).await;
}

/// Serves the connection until it ends, or closes it when a response has waited longer than
/// `limits.delivery_timeout` for the client to take it.
async fn run<I, S>(
    io: I,
    protocol: Protocol,
    service: S,
    undelivered: &Undelivered,
    limits: ConnectionLimits,
    watcher: Watcher,
    remote: SocketAddr,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<Request<Incoming>, Response = axum::response::Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let served = async {
        let result = match protocol {
            Protocol::Http1 => {
                watcher
                    .watch(
                        http1::Builder::new()
                            .timer(TokioTimer::new())
                            .header_read_timeout(limits.header_read_timeout)
                            .serve_connection(TokioIo::new(io), service),
                    )
                    .await
            }
            Protocol::Http2 => {
                let io = TokioIo::new(UnvectoredWrites(io));
                watcher.watch(http2_builder(limits).serve_connection(io, service)).await
            }
        };
        if let Err(error) = result {
            tracing::debug!(%error, %remote, "connection ended with an error");
        }
    };
    tokio::select! {
        () = served => {}
        () = undelivered.stalled(limits.delivery_timeout) => {
            tracing::warn!(
                %remote,
                timeout = ?limits.delivery_timeout,
                "closed a connection whose client did not take a response in time"
            );
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Http1,
    Http2,
}

/// The HTTP/2 client connection preface (RFC 9113, 3.4).
const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Peeks until the first bytes either are the HTTP/2 preface or cannot become it.
async fn detect_protocol(stream: &TcpStream) -> std::io::Result<Protocol> {
    let mut buffer = [0_u8; 24];
    loop {
        let read = stream.peek(&mut buffer).await?;
        if read == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if buffer[..read] != HTTP2_PREFACE[..read] {
            return Ok(Protocol::Http1);
        }
        if read == HTTP2_PREFACE.len() {
            return Ok(Protocol::Http2);
        }
        // A prefix of the preface so far: wait for more (peek returns at once otherwise).
        stream.readable().await?;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn http2_builder(limits: ConnectionLimits) -> http2::Builder<TokioExecutor> {
    let mut builder = http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_concurrent_streams(Some(HTTP2_MAX_CONCURRENT_STREAMS))
        .max_pending_accept_reset_streams(Some(HTTP2_MAX_PENDING_RESETS))
        .max_local_error_reset_streams(Some(HTTP2_MAX_LOCAL_ERROR_RESETS))
        .max_header_list_size(HTTP2_MAX_HEADER_LIST_BYTES)
        .keep_alive_interval(Some(limits.header_read_timeout))
        .keep_alive_timeout(limits.header_read_timeout);
    builder
}

/// Streams one HTTP/2 connection may run at once: a gRPC client multiplexes its calls on one
/// connection, so this bounds a client's parallelism, as `max_connections` does for HTTP/1.1.
const HTTP2_MAX_CONCURRENT_STREAMS: u32 = 256;
/// Streams a client may reset before the server accepted them (rapid reset).
const HTTP2_MAX_PENDING_RESETS: usize = 32;
/// Streams the server may reset for protocol errors before it closes the connection.
const HTTP2_MAX_LOCAL_ERROR_RESETS: usize = 256;
/// The same bound as an HTTP/1.1 head: `lanyard_api::check_request_head` sits below it.
const HTTP2_MAX_HEADER_LIST_BYTES: u32 = 64 * 1024;
