//! Wiring: configuration → store → service → routers → listeners.
//!
//! Integration tests can build everything in-process: [`start`] with a configuration that
//! listens on `127.0.0.1:0` gives the bound addresses, the service and a shutdown handle.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};
use axum::extract::DefaultBodyLimit;
use axum::http::{Request, Response, StatusCode};
use axum::Router;
use lanyard_api::{ApiConfig, AppState};
use lanyard_service::{Clock, Lanyard, SchemaRegistry, SystemClock};
use lanyard_store::Store;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{MakeSpan, OnResponse, TraceLayer};
use tracing::Span;

use crate::config::{Config, ExtendResponse, ServeConfig, TlsConfig};
use crate::connections::ConnectionLimits;
use crate::database::{migrate, open_store, AppStore};
use crate::logging::ACCESS_TARGET;
use crate::tls::{self, ReloadableCertificate};

/// The service: settings, identity schemas and page-token keys from the configuration.
pub async fn build_service(
    config: &Config,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<Lanyard>> {
    let sources = config.identity.load_schemas()?;
    let schemas = SchemaRegistry::new(sources, Some(config.identity.default_schema_id.clone()))
        .map_err(|e| anyhow!("invalid identity schema configuration: {e}"))?;
    let page_keys = crate::database::page_token_keys(config, store.as_ref()).await?;
    let delivery = crate::code_delivery::Delivery::from_config(config)?;
    let mut service = Lanyard::new(store, clock, config.service_settings(), schemas, page_keys)
        .with_code_delivery(Arc::new(delivery));
    match config.relying_party()? {
        Some(relying_party) => {
            tracing::info!(rp_id = relying_party.id(), "passkeys and security keys enabled");
            service = service.with_relying_party(relying_party);
        }
        None => tracing::info!(
            "passkeys and security keys are off: serve.public.base_url has an IP address; set webauthn.rp_id"
        ),
    }
    Ok(Arc::new(service))
}

/// What the HTTP layer needs from the configuration.
pub fn api_config(config: &Config) -> ApiConfig {
    // Spelled with `..Default::default()` so that fields added to `ApiConfig` keep their
    // defaults until they are configurable.
    #[allow(clippy::needless_update)]
    let api = ApiConfig {
        public_base_url: config.serve.public.base_url.to_string(),
        session_cookie_name: config.session.cookie_name.clone(),
        extend_returns_session: config.session.extend_response == ExtendResponse::Session,
        trusted_proxies: config.serve.trusted_proxies.clone(),
        ..ApiConfig::default()
    };
    api
}

/// The public and admin routers with the HTTP layers: request ids, access log, timeout and
/// body limit.
pub fn build_routers(config: &Config, state: AppState) -> (Router, Router) {
    let public = lanyard_api::public_router(state.clone());
    let admin = lanyard_api::admin_router(state);
    (
        with_layers(public, &config.serve, "public"),
        with_layers(admin, &config.serve, "admin"),
    )
}

fn with_layers(router: Router, serve: &ServeConfig, api: &'static str) -> Router {
    let limit = serve.request_body_limit_bytes;
    // The last layer added runs first.
    router
        .layer(DefaultBodyLimit::max(limit))
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            serve.request_timeout.0,
        ))
        .layer(axum::middleware::from_fn(lanyard_api::check_request_head))
        // Outside the limit and timeout layers, so their answers get the API's error JSON too.
        .layer(axum::middleware::from_fn(lanyard_api::error_bodies))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(lanyard_api::RequestMetrics::default()),
            lanyard_api::track_requests,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(AccessSpan { api })
                .on_request(())
                .on_response(AccessLog)
                .on_body_chunk(())
                .on_eos(())
                .on_failure(()),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// The request span: method, path (never the query string), request id. Never headers or
/// bodies, which carry tokens.
#[derive(Clone, Copy)]
struct AccessSpan {
    api: &'static str,
}

impl<B> MakeSpan<B> for AccessSpan {
    fn make_span(&mut self, request: &Request<B>) -> Span {
        let request_id = request
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(|id| &id[..id.len().min(64)])
            .unwrap_or("");
        tracing::info_span!(
            target: ACCESS_TARGET,
            "request",
            api = self.api,
            method = %request.method(),
            path = %request.uri().path(),
            request_id = %request_id,
        )
    }
}

/// One line per response: status and latency, inside the request span.
#[derive(Clone, Copy)]
struct AccessLog;

impl<B> OnResponse<B> for AccessLog {
    fn on_response(self, response: &Response<B>, latency: Duration, _span: &Span) {
        let status = response.status().as_u16();
        let latency_ms = latency.as_micros() as f64 / 1000.0;
        if response.status().is_server_error() {
            tracing::warn!(target: ACCESS_TARGET, status, latency_ms, "request failed");
        } else {
            tracing::info!(target: ACCESS_TARGET, status, latency_ms, "request");
        }
    }
}

/// Everything `serve` runs, built but not yet listening.
pub struct App {
    pub store: AppStore,
    pub service: Arc<Lanyard>,
    pub public: Router,
    pub admin: Router,
    pub connection_limits: ConnectionLimits,
    /// The public port's certificate when it serves TLS.
    pub public_tls: Option<Arc<ReloadableCertificate>>,
    /// The admin port's certificate when it serves TLS.
    pub admin_tls: Option<Arc<ReloadableCertificate>>,
}

/// Opens and migrates the store, builds the service and both routers.
pub async fn build_app(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<App> {
    // Certificates first: a wrong path fails before anything touches the database.
    let public_tls = load_certificate(config.serve.public.tls.as_ref(), "serve.public.tls")?;
    let admin_tls = load_certificate(config.serve.admin.tls.as_ref(), "serve.admin.tls")?;
    let store = open_store(config).await?;
    let report = migrate(config, &store).await?;
    for migration in &report.applied {
        tracing::info!(
            version = migration.version,
            description = %migration.description,
            "applied database migration"
        );
    }
    let service = build_service(config, store.shared(), clock).await?;
    if service.spawn_invalidation_listener().is_some() {
        tracing::info!("following other nodes' token cache invalidations");
    }
    // Keeps cached tokens confirmed (or drops the changed ones) every cache.ttl / 2.
    service.spawn_token_cache_refresher();
    let mut state = AppState::new(service.clone(), api_config(config));
    state.metrics = Some(metrics_renderer());
    spawn_active_sessions_gauge(service.clone());
    let (public, admin) = build_routers(config, state);
    Ok(App {
        store,
        service,
        public,
        admin,
        connection_limits: ConnectionLimits::of(&config.serve),
        public_tls,
        admin_tls,
    })
}

fn load_certificate(tls: Option<&TlsConfig>, key: &str) -> anyhow::Result<Option<Arc<ReloadableCertificate>>> {
    tls.map(|tls| {
        ReloadableCertificate::load(&tls.cert_file, &tls.key_file)
            .map(Arc::new)
            .with_context(|| format!("{key}: cannot serve TLS"))
    })
    .transpose()
}

/// Binds both ports, failing clearly when one is taken.
pub async fn bind(config: &Config) -> anyhow::Result<(TcpListener, TcpListener)> {
    let public = bind_one(
        config.serve.public.listen,
        "public",
        "serve.public.listen",
        "--public-listen",
    )
    .await?;
    let admin = bind_one(
        config.serve.admin.listen,
        "admin",
        "serve.admin.listen",
        "--admin-listen",
    )
    .await?;
    Ok((public, admin))
}

async fn bind_one(addr: SocketAddr, api: &str, key: &str, flag: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| {
        format!(
            "cannot listen on {addr} for the {api} API (is another process using it? set {key} \
             or pass {flag})"
        )
    })
}

/// Both servers, running on spawned tasks.
pub struct RunningServer {
    pub public_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    pub store: AppStore,
    pub service: Arc<Lanyard>,
    pub public_tls: Option<Arc<ReloadableCertificate>>,
    pub admin_tls: Option<Arc<ReloadableCertificate>>,
    shutdown: watch::Sender<bool>,
    public: JoinHandle<std::io::Result<()>>,
    admin: JoinHandle<std::io::Result<()>>,
}

/// Serves `app` on the listeners until shut down. Handlers can extract
/// `ConnectInfo<SocketAddr>`.
pub fn spawn(app: App, public: TcpListener, admin: TcpListener) -> anyhow::Result<RunningServer> {
    let public_addr = public.local_addr().context("reading the public address")?;
    let admin_addr = admin.local_addr().context("reading the admin address")?;
    let (shutdown, _) = watch::channel(false);
    let limits = app.connection_limits;
    let public_acceptor = app.public_tls.clone().map(tls::acceptor).transpose()?;
    let admin_acceptor = app.admin_tls.clone().map(tls::acceptor).transpose()?;
    let serve_one = |listener: TcpListener, router: Router, acceptor| {
        let mut stop = shutdown.subscribe();
        tokio::spawn(crate::connections::serve(
            listener,
            router,
            limits,
            acceptor,
            async move {
                // Also stops when the handle is dropped.
                let _ = stop.wait_for(|stopping| *stopping).await;
            },
        ))
    };
    let public = serve_one(public, app.public, public_acceptor);
    let admin = serve_one(admin, app.admin, admin_acceptor);
    Ok(RunningServer {
        public_addr,
        admin_addr,
        store: app.store,
        service: app.service,
        public_tls: app.public_tls,
        admin_tls: app.admin_tls,
        shutdown,
        public,
        admin,
    })
}

/// Builds the app, binds both ports and serves; the in-process entry point for tests.
pub async fn start(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<RunningServer> {
    let app = build_app(config, clock).await?;
    let (public, admin) = bind(config).await?;
    spawn(app, public, admin)
}

impl RunningServer {
    pub fn public_url(&self) -> String {
        base_url(self.public_tls.is_some(), self.public_addr)
    }

    pub fn admin_url(&self) -> String {
        base_url(self.admin_tls.is_some(), self.admin_addr)
    }

    /// The configured certificates, named by their configuration key.
    pub fn certificates(&self) -> Vec<(&'static str, Arc<ReloadableCertificate>)> {
        [
            ("serve.public.tls", &self.public_tls),
            ("serve.admin.tls", &self.admin_tls),
        ]
        .into_iter()
        .filter_map(|(key, certificate)| Some((key, certificate.clone()?)))
        .collect()
    }

    /// Stops accepting connections and waits for in-flight requests to finish.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.stop(None).await
    }

    /// Serves until `signal` completes, then shuts down gracefully, giving in-flight requests
    /// at most `grace`. Fails if a server stops on its own.
    pub async fn run_until(mut self, signal: impl Future<Output = ()>, grace: Duration) -> anyhow::Result<()> {
        tokio::select! {
            () = signal => self.stop(Some(grace)).await,
            result = &mut self.public => {
                let _ = self.shutdown.send(true);
                Err(stopped_unexpectedly("public", result))
            }
            result = &mut self.admin => {
                let _ = self.shutdown.send(true);
                Err(stopped_unexpectedly("admin", result))
            }
        }
    }

    async fn stop(self, grace: Option<Duration>) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        let (public_abort, admin_abort) = (self.public.abort_handle(), self.admin.abort_handle());
        let both = async { tokio::join!(self.public, self.admin) };
        let (public, admin) = match grace {
            None => both.await,
            Some(grace) => match tokio::time::timeout(grace, both).await {
                Ok(results) => results,
                Err(_) => {
                    tracing::warn!(
                        grace_seconds = grace.as_secs(),
                        "requests still running after the grace period; closing them"
                    );
                    public_abort.abort();
                    admin_abort.abort();
                    return Ok(());
                }
            },
        };
        public
            .context("the public server task failed")?
            .context("the public server failed")?;
        admin
            .context("the admin server task failed")?
            .context("the admin server failed")?;
        Ok(())
    }
}

fn base_url(tls: bool, addr: SocketAddr) -> String {
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{addr}/")
}

/// Re-reads `certificates` on every SIGHUP while the server runs, so that a renewed
/// certificate (certbot, cert-manager) is served without a restart; open connections stay.
#[cfg(unix)]
fn spawn_certificate_reloader(certificates: Vec<(&'static str, Arc<ReloadableCertificate>)>) -> Option<JoinHandle<()>> {
    if certificates.is_empty() {
        return None;
    }
    let mut hangups = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(hangups) => hangups,
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGHUP; certificates reload only on restart");
            return None;
        }
    };
    Some(tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            for (key, certificate) in &certificates {
                match certificate.reload() {
                    Ok(()) => {
                        tracing::info!(key, file = %certificate.cert_file().display(), "reloaded the TLS certificate")
                    }
                    Err(error) => {
                        tracing::error!(key, %error, "reloading the TLS certificate failed; still serving the previous one")
                    }
                }
            }
        }
    }))
}

fn stopped_unexpectedly(api: &str, result: Result<std::io::Result<()>, tokio::task::JoinError>) -> anyhow::Error {
    match result {
        Ok(Ok(())) => anyhow!("the {api} server stopped unexpectedly"),
        Ok(Err(e)) => anyhow!(e).context(format!("the {api} server failed")),
        Err(e) => anyhow!(e).context(format!("the {api} server task failed")),
    }
}

/// Completes on SIGTERM or Ctrl-C; returns which.
pub async fn shutdown_signal() -> &'static str {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => "Ctrl-C",
        () = terminate => "SIGTERM",
    }
}

/// `lanyard serve`: migrate, listen on both ports, serve until SIGTERM or Ctrl-C, finish
/// in-flight requests.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    let server = start(&config, Arc::new(SystemClock)).await?;
    let store = server.store.clone();
    #[cfg(unix)]
    let certificate_reloader = spawn_certificate_reloader(server.certificates());
    let cleanup = config
        .cleanup
        .enabled
        .then(|| crate::cleanup::spawn_background_job(server.service.clone(), &config.cleanup));
    tracing::info!(
        public = %server.public_addr,
        admin = %server.admin_addr,
        base_url = %config.serve.public.base_url,
        database = %config.database.url,
        "lanyard is serving"
    );
    let grace = config.serve.request_timeout.0 + Duration::from_secs(5);
    let result = server
        .run_until(
            async {
                let signal = shutdown_signal().await;
                tracing::info!(signal, "shutting down; finishing in-flight requests");
            },
            grace,
        )
        .await;
    if let Some(cleanup) = cleanup {
        cleanup.abort();
    }
    #[cfg(unix)]
    if let Some(reloader) = certificate_reloader {
        reloader.abort();
    }
    store.close().await;
    if result.is_ok() {
        tracing::info!("stopped");
    }
    result
}

/// The process-wide Prometheus recorder, installed on first use.
fn metrics_renderer() -> lanyard_api::MetricsRenderer {
    static HANDLE: std::sync::OnceLock<Option<metrics_exporter_prometheus::PrometheusHandle>> =
        std::sync::OnceLock::new();
    let handle = HANDLE.get_or_init(|| {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
            .set_buckets(&[
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ])
            .ok()?
            .build_recorder();
        let handle = recorder.handle();
        metrics::set_global_recorder(recorder).ok()?;
        // Histograms keep every sample until they are drained; without this a server that
        // nobody scrapes grows by 8 bytes per request.
        let upkeep = handle.clone();
        std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || loop {
                std::thread::sleep(std::time::Duration::from_secs(5));
                upkeep.run_upkeep();
            })
            .ok()?;
        Some(handle)
    });
    match handle.clone() {
        Some(handle) => std::sync::Arc::new(move || handle.render()),
        None => std::sync::Arc::new(String::new),
    }
}

/// Counts active sessions once a minute: a full count is too costly to run per scrape.
fn spawn_active_sessions_gauge(service: Arc<Lanyard>) {
    let service = Arc::downgrade(&service);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            let Some(service) = service.upgrade() else { return };
            match service.active_session_count().await {
                Ok(count) => metrics::gauge!("lanyard_sessions_active").set(count as f64),
                Err(error) => tracing::warn!(%error, "could not count active sessions"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::DatabaseUrl;
    use crate::database::page_token_keys;
    use lanyard_domain::Cursor;
    use uuid::Uuid;

    fn test_config(dir: &Path) -> Config {
        let mut config = Config::default();
        config.database.url = DatabaseUrl::Sqlite(dir.join("app.db"));
        config.serve.public.listen = "127.0.0.1:0".parse().unwrap();
        config.serve.admin.listen = "127.0.0.1:0".parse().unwrap();
        config.serve.request_body_limit_bytes = 1024;
        config
    }

    #[tokio::test]
    async fn serves_both_ports_with_request_ids_and_a_body_limit() {
        let dir = tempfile::tempdir().unwrap();
        let config = test_config(dir.path());
        let server = start(&config, Arc::new(SystemClock)).await.unwrap();
        let http = reqwest::Client::new();

        for base in [server.public_url(), server.admin_url()] {
            let response = http.get(format!("{base}health/alive")).send().await.unwrap();
            assert_eq!(response.status(), 200);
            let id = response.headers()["x-request-id"].to_str().unwrap();
            assert!(Uuid::parse_str(id).is_ok(), "{id}");
        }
        let response = http
            .get(format!("{}health/ready", server.public_url()))
            .header("x-request-id", "caller-chosen")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-request-id"], "caller-chosen");

        let response = http
            .post(format!("{}admin/identities", server.admin_url()))
            .header("content-type", "application/json")
            .body(vec![b' '; 4096])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 413);

        // The ports are taken now: a second server says so.
        let mut clash = config.clone();
        clash.serve.public.listen = server.public_addr;
        let error = start(&clash, Arc::new(SystemClock)).await.err().unwrap();
        assert!(format!("{error:#}").contains("cannot listen on"), "{error:#}");

        let public = server.public_url();
        server.shutdown().await.unwrap();
        assert!(http.get(format!("{public}health/alive")).send().await.is_err());
    }

    #[tokio::test]
    async fn the_generated_page_token_secret_is_shared_through_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let config = test_config(dir.path());
        let store = open_store(&config).await.unwrap();
        let report = migrate(&config, &store).await.unwrap();
        assert!(!report.applied.is_empty());
        assert!(migrate(&config, &store).await.unwrap().applied.is_empty());

        let cursor = Cursor {
            created_at: lanyard_domain::Micros(1),
            id: Uuid::now_v7(),
        };
        let first = page_token_keys(&config, &*store).await.unwrap();
        let second = page_token_keys(&config, &*store).await.unwrap();
        assert_eq!(first.encode(cursor), second.encode(cursor));

        let mut configured = config.clone();
        configured.secrets.0 = vec!["configured-secret-0123456789".into()];
        let third = page_token_keys(&configured, &*store).await.unwrap();
        assert_ne!(first.encode(cursor), third.encode(cursor));
    }

    #[tokio::test]
    async fn an_unreachable_postgres_fails_clearly_without_showing_the_password() {
        let mut config = Config::default();
        config.database.url = "postgres://u:secret@127.0.0.1:1/lanyard".parse().unwrap();
        config.database.acquire_timeout = crate::config::HumanDuration(Duration::from_secs(1));
        let error = format!("{:#}", open_store(&config).await.err().unwrap());
        assert!(error.contains("cannot connect to the PostgreSQL database"), "{error}");
        assert!(error.contains("127.0.0.1:1"), "{error}");
        assert!(!error.contains("secret"), "{error}");
    }

    /// The PostgreSQL server of the store conformance suite (same variable, same default).
    fn test_postgres_url() -> String {
        std::env::var("LANYARD_TEST_POSTGRES_URL")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into())
    }

    #[tokio::test]
    async fn migrating_a_sqlite_file_reports_what_ran_then_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let config = test_config(dir.path());
        let store = open_store(&config).await.unwrap();
        let first = migrate(&config, &store).await.unwrap();
        assert!(!first.applied.is_empty());
        assert_eq!(first.applied, first.current);
        assert_eq!(first.current.first().map(|m| m.version), Some(1));
        let again = migrate(&config, &store).await.unwrap();
        assert!(again.applied.is_empty());
        assert_eq!(again.current, first.current);
    }

    #[tokio::test]
    async fn a_postgres_url_opens_and_migrates_postgres() {
        use sqlx::{Connection, PgConnection};
        // A scratch schema, chosen on the connection URL, so that concurrent runs never meet
        // (named like the conformance suite's, whose sweep removes it if this run is killed).
        let base = test_postgres_url();
        let schema = format!("lanyard_test_{}", Uuid::now_v7().simple());
        let mut admin = PgConnection::connect(&base)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL must be reachable at {base} (set LANYARD_TEST_POSTGRES_URL): {e}"));
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let separator = if base.contains('?') { '&' } else { '?' };
        let mut config = Config::default();
        config.database.url = format!("{base}{separator}options[search_path]={schema}")
            .parse()
            .unwrap();
        config.database.max_connections = 2;

        let result = async {
            let store = open_store(&config).await?;
            assert!(matches!(store, AppStore::Postgres(_)));
            let report = migrate(&config, &store).await?;
            assert_eq!(report.applied, report.current);
            assert!(!report.applied.is_empty());
            assert!(migrate(&config, &store).await?.applied.is_empty());
            let cursor = Cursor {
                created_at: lanyard_domain::Micros(1),
                id: Uuid::now_v7(),
            };
            let first = page_token_keys(&config, &*store).await?;
            let second = page_token_keys(&config, &*store).await?;
            assert_eq!(first.encode(cursor), second.encode(cursor));
            let tables: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'sessions'",
            )
            .bind(&schema)
            .fetch_one(&mut admin)
            .await?;
            assert_eq!(tables, 1, "the tables are in the scratch schema");
            store.close().await;
            anyhow::Ok(())
        }
        .await;
        let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&mut admin)
            .await;
        result.unwrap();
    }
}
