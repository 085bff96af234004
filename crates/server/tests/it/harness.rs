use std::net::SocketAddr;
use std::sync::Arc;

use lanyard_api::{ApiConfig, AppState};
use lanyard_domain::PageTokenKeys;
use lanyard_service::{Clock, IssueSession, Lanyard, ManualClock, Principal, SchemaRegistry, Settings, SystemClock};
use lanyard_store::{PostgresOptions, PostgresStore, SqliteOptions, SqliteStore, Store};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{json, Value};
use tempfile::TempDir;
use time::OffsetDateTime;
use uuid::Uuid;

/// Defaults, but without the session-creation limits: tests create thousands of sessions for
/// one identity from one address. The limits have tests of their own.
pub fn test_settings() -> Settings {
    Settings {
        sessions_per_identity: 0,
        sessions_per_ip: 0,
        ..Settings::default()
    }
}

pub struct TestApp {
    pub public: String,
    pub admin: String,
    pub key: String,
    pub service: Arc<Lanyard>,
    /// The service's store, for tests that arrange state no API can (the service does not
    /// hand its store out).
    pub store: Arc<dyn Store>,
    /// Set when the app runs on a manual clock.
    pub clock: Option<Arc<ManualClock>>,
    pub http: reqwest::Client,
    _dir: Option<TempDir>,
    _schema: Option<DropSchema>,
}

/// Drops a PostgreSQL test schema when the app goes away.
pub struct DropSchema {
    url: String,
    schema: String,
}

impl Drop for DropSchema {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema);
        let _ = std::process::Command::new("psql")
            .args([self.url.as_str(), "-q", "-c", sql.as_str()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

async fn spawn(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free port");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .await
            .ok();
    });
    addr
}

/// The relying party of every test app: passkeys for `localhost`, registered and used from a
/// login page at [`WEBAUTHN_ORIGIN`].
pub const WEBAUTHN_RP_ID: &str = "localhost";
pub const WEBAUTHN_ORIGIN: &str = "http://localhost:3000";

fn test_relying_party() -> lanyard_service::RelyingParty {
    let origin = url::Url::parse(WEBAUTHN_ORIGIN).expect("an origin");
    lanyard_service::RelyingParty::new(WEBAUTHN_RP_ID, "Lanyard tests", &[origin]).expect("a relying party")
}

impl TestApp {
    /// An app whose clock stands still until the test moves it.
    pub async fn start() -> Self {
        let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
        Self::start_with(clock.clone(), Some(clock), test_settings(), ApiConfig::default()).await
    }

    pub async fn start_on_system_clock() -> Self {
        Self::start_with(Arc::new(SystemClock), None, test_settings(), ApiConfig::default()).await
    }

    /// On the local PostgreSQL, in a schema of its own (dropped at the end).
    pub async fn start_on_postgres() -> Self {
        let url = std::env::var("LANYARD_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let schema = format!("lanyard_it_{}", Uuid::now_v7().simple());
        let mut options = PostgresOptions::new(url.clone());
        options.schema = Some(schema.clone());
        options.max_connections = 8;
        let store = PostgresStore::open_and_migrate(&options)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL is unreachable at {url} ({e}); this test never skips"));
        let guard = DropSchema { url, schema };
        Self::start_on_store(
            Arc::new(store),
            Arc::new(SystemClock),
            None,
            test_settings(),
            ApiConfig::default(),
            Some(guard),
        )
        .await
    }

    /// The SQLite file of an app started with [`TestApp::start_with`].
    pub fn sqlite_path(&self) -> std::path::PathBuf {
        self._dir.as_ref().expect("a SQLite app").path().join("lanyard.db")
    }

    /// Another node on the same SQLite file as `self` (or a restarted one: nothing in memory
    /// is shared), on the same clock.
    pub async fn another_node(&self, settings: Settings) -> Self {
        let store = SqliteStore::open_and_migrate(&SqliteOptions::new(self.sqlite_path()))
            .await
            .expect("open SQLite store");
        let clock = self.clock.clone().expect("a manual clock");
        Self::start_on_store(
            Arc::new(store),
            clock.clone(),
            Some(clock),
            settings,
            ApiConfig::default(),
            None,
        )
        .await
    }

    pub async fn start_with(
        clock: Arc<dyn Clock>,
        manual: Option<Arc<ManualClock>>,
        settings: Settings,
        api: ApiConfig,
    ) -> Self {
        let (dir, store) = fresh_sqlite().await;
        let mut app = Self::start_on_store(store, clock, manual, settings, api, None).await;
        app._dir = Some(dir);
        app
    }

    /// An app on a manual clock that sends one-time codes as the `[smtp]` and `[sms]` sections
    /// of `delivery_toml` say (the production senders).
    pub async fn start_with_delivery(delivery_toml: &str) -> Self {
        let config = lanyard::config::Config::from_toml_str(delivery_toml).expect("delivery config");
        let delivery = lanyard::code_delivery::Delivery::from_config(&config).expect("delivery");
        let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
        let (dir, store) = fresh_sqlite().await;
        let service = Lanyard::new(
            store.clone(),
            clock.clone(),
            test_settings(),
            SchemaRegistry::builtin(),
            test_page_keys(),
        )
        .with_code_delivery(Arc::new(delivery))
        .with_relying_party(test_relying_party());
        let mut app = Self::serve(Arc::new(service), store, Some(clock), ApiConfig::default(), None).await;
        app._dir = Some(dir);
        app
    }

    async fn start_on_store(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        manual: Option<Arc<ManualClock>>,
        settings: Settings,
        api: ApiConfig,
        schema: Option<DropSchema>,
    ) -> Self {
        let service = Arc::new(
            Lanyard::new(
                store.clone(),
                clock,
                settings,
                SchemaRegistry::builtin(),
                test_page_keys(),
            )
            .with_relying_party(test_relying_party()),
        );
        Self::serve(service, store, manual, api, schema).await
    }

    /// Serves `service` on both ports, as the binary does.
    async fn serve(
        service: Arc<Lanyard>,
        store: Arc<dyn Store>,
        manual: Option<Arc<ManualClock>>,
        mut api: ApiConfig,
        schema: Option<DropSchema>,
    ) -> Self {
        let key = service
            .create_api_key("integration tests", vec![])
            .await
            .expect("create API key");

        let public_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let public_addr = public_listener.local_addr().expect("addr");
        api.public_base_url = format!("http://{public_addr}/");
        let state = AppState::new(service.clone(), api);
        // The production layers (body limit, timeout, request ids, access log), default settings.
        let config = lanyard::config::Config::from_toml_str("").expect("default config");
        let (public_router, admin_router) = lanyard::app::build_routers(&config, state);
        // The production listener: HTTP/1.1 and HTTP/2 (gRPC) on one port.
        let limits = lanyard::connections::ConnectionLimits::of(&config.serve);
        tokio::spawn(lanyard::connections::serve(
            public_listener,
            public_router,
            limits,
            None,
            std::future::pending(),
        ));
        let admin_addr = spawn(admin_router).await;
        TestApp {
            public: format!("http://{public_addr}"),
            admin: format!("http://{admin_addr}"),
            key: key.secret.into_string(),
            service,
            store,
            clock: manual,
            http: reqwest::Client::new(),
            _dir: None,
            _schema: schema,
        }
    }

    pub fn advance(&self, by: time::Duration) {
        self.clock
            .as_ref()
            .expect("this app runs on the system clock")
            .advance(by);
    }

    pub fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.admin))
            .bearer_auth(&self.key)
    }

    pub fn public(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.public))
    }

    pub async fn create_identity(&self, email: &str) -> Value {
        let response = self
            .admin(Method::POST, "/admin/identities")
            .json(&json!({"schema_id": "default", "traits": {"email": email}}))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 201, "create identity {email}");
        response.json().await.expect("identity JSON")
    }

    pub async fn create_identity_id(&self) -> Uuid {
        let identity = self.create_identity(&format!("{}@example.org", Uuid::new_v4())).await;
        identity_id(&identity)
    }

    /// Issues a session over HTTP; returns the session JSON and its token.
    pub async fn issue(&self, identity: Uuid, extra: Value) -> (Value, String) {
        let mut body = json!({"identity_id": identity, "methods": [{"method": "password"}],
            "device": {"ip_address": "203.0.113.9", "user_agent": "it", "location": "Berlin, DE"}});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                body.insert(k.clone(), v.clone());
            }
        }
        let response = self
            .admin(Method::POST, "/admin/lanyard/sessions")
            .json(&body)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 201, "issue session");
        assert_eq!(
            response.headers().get("cache-control").and_then(|v| v.to_str().ok()),
            Some("no-store"),
            "the answer carries the token once: no cache may keep it"
        );
        let json: Value = response.json().await.expect("JSON");
        let token = json["session_token"].as_str().expect("token").to_owned();
        (json["session"].clone(), token)
    }

    /// Issues a session through the service directly: for tests that need thousands.
    pub async fn issue_fast(&self, identity: Uuid) -> Uuid {
        let key = self.service.list_api_keys().await.expect("keys").remove(0);
        let issued = self
            .service
            .issue_session(
                &Principal::ApiKey(key),
                IssueSession {
                    identity_id: identity,
                    factors: vec![lanyard_service::FactorInput {
                        method: lanyard_domain::Method::Password,
                        aal: None,
                        completed_at: None,
                        provider: None,
                        organization: None,
                    }],
                    device: Default::default(),
                    lifespan: None,
                },
            )
            .await
            .expect("issue");
        issued.view.session.id
    }

    pub async fn whoami_status(&self, token: &str) -> u16 {
        self.public(Method::GET, "/sessions/whoami")
            .header("X-Session-Token", token)
            .send()
            .await
            .expect("request")
            .status()
            .as_u16()
    }
}

pub fn identity_id(identity: &Value) -> Uuid {
    identity["id"]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .expect("identity id")
}

pub fn session_id(session: &Value) -> Uuid {
    session["id"]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .expect("session id")
}

/// Sends a request and reads its answer: status and JSON body.
pub async fn exchange(request: RequestBuilder) -> (u16, Value) {
    read(request.send().await.expect("the request reaches the server")).await
}

/// Status and JSON body of a response.
pub async fn read(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}

/// Asserts a Kratos error body with this status and returns its `error` object.
pub fn assert_kratos_error(status: u16, body: &Value, expected: u16) -> Value {
    assert_eq!(status, expected, "unexpected status; body: {body}");
    let error = &body["error"];
    assert_eq!(error["code"], expected, "error.code; body: {body}");
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "error.message; body: {body}"
    );
    assert!(
        error["reason"].as_str().is_some_and(|m| !m.is_empty()),
        "error.reason says what was wrong; body: {body}"
    );
    error.clone()
}

/// Asserts a ZITADEL Connect error with this HTTP status and Connect code.
pub fn assert_connect_error(status: u16, body: &Value, expected_status: u16, code: &str) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(body["details"][0]["type"], "zitadel.v1.ErrorDetail");
}

/// Asserts a ZITADEL REST (grpc-gateway) error with this HTTP status and gRPC code.
pub fn assert_rest_error(status: u16, body: &Value, expected_status: u16, grpc_code: u16) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["code"], grpc_code, "{body}");
    assert_eq!(
        body["details"][0]["@type"],
        "type.googleapis.com/zitadel.v1.ErrorDetail"
    );
}

/// The `rel` → URL map of a `Link` header.
pub fn links(response: &Response) -> Vec<(String, String)> {
    let Some(value) = response.headers().get("link").and_then(|v| v.to_str().ok()) else {
        return vec![];
    };
    value
        .split(',')
        .filter_map(|part| {
            let (url, rel) = part.split_once(';')?;
            let url = url.trim().trim_start_matches('<').trim_end_matches('>').to_owned();
            let rel = rel.trim().trim_start_matches("rel=").trim_matches('"').to_owned();
            Some((rel, url))
        })
        .collect()
}

pub fn link(response: &Response, rel: &str) -> Option<String> {
    links(response).into_iter().find(|(r, _)| r == rel).map(|(_, url)| url)
}

/// A migrated SQLite database in a temporary directory (the path [`TestApp::sqlite_path`] names).
async fn fresh_sqlite() -> (TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open_and_migrate(&SqliteOptions::new(dir.path().join("lanyard.db")))
        .await
        .expect("open SQLite store");
    (dir, Arc::new(store))
}

fn test_page_keys() -> PageTokenKeys {
    PageTokenKeys::new(vec![b"integration-test-secret".to_vec()]).expect("page token key")
}
