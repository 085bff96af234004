//! One struct per TOML table, each with its defaults.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use lanyard_service::{SchemaSource, Settings};

use super::schemas::load_schema;
use serde::Deserialize;

use super::values::{listen_address, BaseUrl, DatabaseUrl, HumanDuration, SecretString};

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://lanyard.db` (relative to the working directory), `sqlite:///abs/path.db`,
    /// `sqlite:relative.db`, or `postgres://user:password@host:5432/database?sslmode=require`.
    pub url: DatabaseUrl,
    pub sqlite_synchronous: SqliteSynchronous,
    /// SQLite: connections for reads (writes always use one). Each keeps a 4 MB page cache.
    pub read_connections: u32,
    /// SQLite: the read connections map the file into memory (reads of pages not in their
    /// own cache are memory accesses, not system calls). The mapped pages are the kernel's
    /// page cache and count in the process's RSS (as `RssFile`).
    pub sqlite_mmap: bool,
    /// PostgreSQL: the most connections this node opens.
    pub max_connections: u32,
    /// PostgreSQL: connections kept open while idle.
    pub min_connections: u32,
    /// PostgreSQL: how long a query waits for a connection (including connecting) before the
    /// request fails as unavailable.
    pub acquire_timeout: HumanDuration,
    /// PostgreSQL: the server aborts any statement running longer; unset keeps the server's
    /// setting.
    pub statement_timeout: Option<HumanDuration>,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: DatabaseUrl::Sqlite(PathBuf::from("lanyard.db")),
            sqlite_synchronous: SqliteSynchronous::Normal,
            read_connections: 4,
            sqlite_mmap: true,
            max_connections: 16,
            min_connections: 0,
            acquire_timeout: HumanDuration(Duration::from_secs(5)),
            statement_timeout: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SqliteSynchronous {
    /// Survives process crashes (WAL).
    Normal,
    /// Also survives power loss, at a cost per commit.
    Full,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    pub public: PublicConfig,
    pub admin: AdminConfig,
    pub request_body_limit_bytes: usize,
    pub request_timeout: HumanDuration,
    /// A request's headers must arrive within this; keep-alive connections idle this long
    /// are closed too. Defends against clients that trickle bytes to hold connections.
    pub header_read_timeout: HumanDuration,
    /// Open connections per port; beyond it, new clients wait in the kernel's backlog.
    pub max_connections: usize,
    /// Proxies (addresses or CIDR ranges) whose `X-Forwarded-For` is believed for the client
    /// IP. Empty: the socket's peer address is the client.
    #[serde(deserialize_with = "ip_networks")]
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

fn ip_networks<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<ipnet::IpNet>, D::Error> {
    let entries = Vec::<String>::deserialize(deserializer)?;
    entries
        .iter()
        .map(|entry| {
            entry
                .parse::<ipnet::IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| serde::de::Error::custom(format!("{entry:?} is not an IP address or CIDR range")))
        })
        .collect()
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            public: PublicConfig::default(),
            admin: AdminConfig::default(),
            request_body_limit_bytes: 1024 * 1024,
            request_timeout: HumanDuration(Duration::from_secs(30)),
            header_read_timeout: HumanDuration(Duration::from_secs(10)),
            max_connections: 4096,
            trusted_proxies: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PublicConfig {
    #[serde(deserialize_with = "listen_address")]
    pub listen: SocketAddr,
    /// Where clients reach the public port; used for `schema_url` and redirects.
    pub base_url: BaseUrl,
    /// Serve HTTPS (HTTP/1.1 and HTTP/2 by ALPN) instead of cleartext.
    pub tls: Option<TlsConfig>,
}

/// A listener's certificate chain and private key, PEM files re-read on SIGHUP.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// The private key: PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
    pub key_file: PathBuf,
}

impl Default for PublicConfig {
    #[allow(clippy::expect_used, reason = "a constant URL; the config tests parse the defaults")]
    fn default() -> Self {
        PublicConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 4433)),
            base_url: BaseUrl::from_str("http://127.0.0.1:4433/").expect("a valid default"),
            tls: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Loopback by default: a fresh install never exposes the admin API to the network.
    #[serde(deserialize_with = "listen_address")]
    pub listen: SocketAddr,
    /// Serve HTTPS (HTTP/1.1 and HTTP/2 by ALPN) instead of cleartext.
    pub tls: Option<TlsConfig>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 4434)),
            tls: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    pub lifespan: HumanDuration,
    /// An extend only moves `expires_at` once this close to expiry; default: the lifespan.
    pub earliest_possible_extend: Option<HumanDuration>,
    pub cookie_name: String,
    pub extend_response: ExtendResponse,
    pub whoami_required_aal: WhoamiRequiredAal,
    /// Concurrent argon2id hashes (~19 MiB each); default: the number of cores.
    pub password_hash_concurrency: Option<usize>,
    /// How far in the future a reported past instant (`completed_at`) may lie.
    pub max_clock_skew: HumanDuration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            lifespan: HumanDuration(Duration::from_secs(24 * 3600)),
            earliest_possible_extend: None,
            cookie_name: "ory_kratos_session".into(),
            extend_response: ExtendResponse::Session,
            whoami_required_aal: WhoamiRequiredAal::HighestAvailable,
            password_hash_concurrency: None,
            max_clock_skew: HumanDuration(Duration::from_secs(60)),
        }
    }
}

impl SessionConfig {
    pub fn earliest_possible_extend(&self) -> Duration {
        self.earliest_possible_extend.unwrap_or(self.lifespan).0
    }

    pub fn password_hash_concurrency(&self) -> usize {
        self.password_hash_concurrency
            .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2))
    }
}

/// The per-node cache of validated session tokens in front of whoami.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// Tokens kept per node; 0 turns the cache off.
    pub capacity: u64,
    /// The longest a cached token is trusted without asking the store: the worst-case time
    /// for a revocation to reach a node that missed its invalidation message.
    pub ttl: HumanDuration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            capacity: 100_000,
            ttl: HumanDuration(Duration::from_secs(5)),
        }
    }
}

/// Deleting sessions some time after they expired or were revoked: the defaults of
/// `lanyard cleanup`, and the optional background job of `serve`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CleanupConfig {
    /// Whether `serve` runs cleanup every `interval`. Among nodes sharing a database only one
    /// runs it at a time (a lease row); the others skip that round.
    pub enabled: bool,
    pub interval: HumanDuration,
    /// Sessions that expired or were revoked within this long are kept (listed as inactive).
    pub keep_last: HumanDuration,
    /// Sessions deleted per statement.
    pub batch_size: u32,
}

impl Default for CleanupConfig {
    fn default() -> Self {
        CleanupConfig {
            enabled: false,
            interval: HumanDuration(Duration::from_secs(600)),
            keep_last: HumanDuration(Duration::from_secs(24 * 3600)),
            batch_size: 1000,
        }
    }
}

impl CleanupConfig {
    /// The service options for one run with these settings.
    pub fn options(&self) -> lanyard_service::CleanupOptions {
        lanyard_service::CleanupOptions {
            keep_last: time::Duration::try_from(self.keep_last.0).unwrap_or(time::Duration::MAX),
            batch_size: self.batch_size,
            max_batches: None,
        }
    }
}

/// Abuse limits; 0 turns a limit off. The per-identity failed-check limit is counted in the
/// database (shared by all nodes); the others in memory on each node (so N nodes allow N times
/// the number).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    pub failed_checks_per_identity: u32,
    pub failed_checks_per_ip: u32,
    pub failed_checks_window: HumanDuration,
    pub max_password_attempts: u32,
    pub sessions_per_identity: u32,
    pub sessions_per_ip: u32,
    pub sessions_window: HumanDuration,
    /// Lists and searches one principal (API key, or the identity behind a session token) may
    /// have running at once; unset: see [`super::Config::list_concurrency_per_principal`].
    pub list_concurrency_per_principal: Option<u32>,
    /// Lists and searches running at once, all principals together; unset: see
    /// [`super::Config::list_concurrency`].
    pub list_concurrency: Option<u32>,
    /// How long a list or search waits for a free slot before it is refused with 429.
    pub list_queue_timeout: HumanDuration,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        let defaults = Settings::default();
        let std = |d: time::Duration| HumanDuration(d.unsigned_abs());
        RateLimitConfig {
            failed_checks_per_identity: defaults.failed_checks_per_identity,
            failed_checks_per_ip: defaults.failed_checks_per_ip,
            failed_checks_window: std(defaults.failed_checks_window),
            max_password_attempts: defaults.max_password_attempts,
            sessions_per_identity: defaults.sessions_per_identity,
            sessions_per_ip: defaults.sessions_per_ip,
            sessions_window: std(defaults.sessions_window),
            list_concurrency_per_principal: None,
            list_concurrency: None,
            list_queue_timeout: std(defaults.list_queue_timeout),
        }
    }
}

/// What a Kratos extend answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExtendResponse {
    /// 200 with the session, as Kratos v1.x does.
    Session,
    /// 204, the behaviour the Kratos spec documents as the future default.
    NoContent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhoamiRequiredAal {
    HighestAvailable,
    Aal1,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdentityConfig {
    pub default_schema_id: String,
    pub schemas: Vec<SchemaConfig>,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            default_schema_id: "default".into(),
            schemas: Vec::new(),
        }
    }
}

/// One `[[identity.schemas]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaConfig {
    pub id: String,
    /// `file:///abs/path.json`, `base64://<base64 JSON>` or a plain file path (relative to the
    /// working directory).
    pub url: String,
}

impl IdentityConfig {
    /// Reads every configured schema.
    pub fn load_schemas(&self) -> anyhow::Result<Vec<SchemaSource>> {
        self.schemas
            .iter()
            .map(|schema| load_schema(&schema.id, &schema.url))
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A `tracing` filter: `info`, or directives such as `info,lanyard::access=warn`.
    /// `RUST_LOG`, when set, replaces it.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Json,
            level: "info".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Json,
    Text,
}

/// Email delivery of one-time codes (ZITADEL `challenges.otpEmail.sendCode`). Without `host`,
/// codes are not sent by email: a challenge must ask for `returnCode`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: Option<String>,
    /// By default 587 with `starttls`, 465 with `tls`, 25 with `none`.
    pub port: Option<u16>,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    /// The sender, e.g. `Lanyard <no-reply@example.com>`; needed with `host`.
    pub from: Option<String>,
}

impl SmtpConfig {
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            SmtpTls::None => 25,
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
        })
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// Plain text: only for a relay on the same host or network.
    None,
    /// Plain connection upgraded with STARTTLS, which must succeed.
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
}

/// SMS delivery of one-time codes through an HTTP provider (ZITADEL `challenges.otpSms` without
/// `returnCode`). Without `http_url`, codes are not sent by SMS.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmsConfig {
    /// Receives a JSON POST per code (see the README); `http` or `https`.
    pub http_url: Option<String>,
}

/// Passkeys and security keys (ZITADEL's WebAuthN): the relying party Lanyard acts as.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebauthnConfig {
    /// The relying party id: the domain name passkeys are bound to (the login page's host or a
    /// parent of it). By default the host of `serve.public.base_url` when that is a name; with
    /// an IP address there (the default `127.0.0.1`), WebAuthn is off until this is set.
    pub rp_id: Option<String>,
    /// The name authenticators show; by default `Lanyard`.
    pub rp_name: Option<String>,
    /// The origins (`https://login.example.com`) the browser may run the ceremony on; by
    /// default the origin of `serve.public.base_url`.
    pub allowed_origins: Vec<url::Url>,
}
