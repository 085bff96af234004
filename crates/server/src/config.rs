//! Lanyard's configuration.
//!
//! Sources, from lowest to highest precedence:
//!
//! 1. built-in defaults (see `lanyard.example.toml` at the repository root);
//! 2. a TOML file, named by `--config` or `LANYARD_CONFIG`;
//! 3. `LANYARD_*` environment variables, nested keys separated by a double underscore
//!    (`LANYARD_DATABASE__URL`, `LANYARD_SERVE__ADMIN__LISTEN`); `LANYARD_SECRETS` takes a
//!    comma-separated list or a TOML array;
//! 4. command-line flags (`--database-url`, `serve --public-listen`, `serve --admin-listen`).
//!
//! Unknown keys are errors that name the key, and everything is validated before anything
//! starts. Only environment variables whose first segment is a configuration section are
//! read, so variables such as the `LANYARD_PORT` that Kubernetes injects for a service named
//! `lanyard` do not break startup.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use base64::Engine;
use figment::error::{Kind, OneOf};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use lanyard_service::{RequiredAal, SchemaSource, Settings};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

/// Prefix of every configuration environment variable.
pub const ENV_PREFIX: &str = "LANYARD_";
/// Names the configuration file when `--config` is not given.
pub const CONFIG_FILE_ENV: &str = "LANYARD_CONFIG";
/// Page-token secrets; a comma-separated list or a TOML array.
pub const SECRETS_ENV: &str = "LANYARD_SECRETS";

/// Top-level keys. Environment variables are only read when they start with one of these.
const SECTIONS: [&str; 9] = [
    "secrets",
    "database",
    "serve",
    "session",
    "cache",
    "cleanup",
    "rate_limits",
    "identity",
    "log",
];

/// The whole configuration, as loaded and validated by [`Config::load`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Page-token MAC keys: the first signs, all verify. Empty: a secret generated once and
    /// kept in the database, so every node sharing it agrees.
    pub secrets: Secrets,
    pub database: DatabaseConfig,
    pub serve: ServeConfig,
    pub session: SessionConfig,
    pub cache: CacheConfig,
    pub rate_limits: RateLimitConfig,
    pub cleanup: CleanupConfig,
    pub identity: IdentityConfig,
    pub log: LogConfig,
}

/// Values from command-line flags; they override every other source.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub database_url: Option<String>,
    pub public_listen: Option<SocketAddr>,
    pub admin_listen: Option<SocketAddr>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://lanyard.db` (relative to the working directory), `sqlite:///abs/path.db`,
    /// `sqlite:relative.db`, or `postgres://user:password@host:5432/database?sslmode=require`.
    pub url: DatabaseUrl,
    pub sqlite_synchronous: SqliteSynchronous,
    /// SQLite: connections for reads (writes always use one). Each keeps a 4 MB page cache.
    pub read_connections: u32,
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
    /// have running at once; unset: see [`Config::list_concurrency_per_principal`].
    pub list_concurrency_per_principal: Option<u32>,
    /// Lists and searches running at once, all principals together; unset: see
    /// [`Config::list_concurrency`].
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

/// Page-token secrets. Never printed: `Debug` shows only how many there are.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secrets(pub Vec<String>);

impl Secrets {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secrets({} redacted)", self.0.len())
    }
}

fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl<'de> Deserialize<'de> for Secrets {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SecretsVisitor;

        impl<'de> Visitor<'de> for SecretsVisitor {
            type Value = Secrets;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of strings or a comma-separated string")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Secrets, E> {
                Ok(Secrets(split_list(value)))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Secrets, A::Error> {
                let mut secrets = Vec::new();
                while let Some(secret) = seq.next_element::<String>()? {
                    secrets.push(secret);
                }
                Ok(Secrets(secrets))
            }
        }

        deserializer.deserialize_any(SecretsVisitor)
    }
}

/// A duration written the humantime way: `"30s"`, `"24h"`, `"1h 30m"`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl fmt::Debug for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl FromStr for HumanDuration {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        humantime::parse_duration(value.trim()).map(HumanDuration).map_err(|e| {
            format!("invalid duration {value:?} ({e}); write it like \"30s\", \"15m\", \"24h\" or \"1h 30m\"")
        })
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;

        const NEEDS_UNIT: &str = "a duration needs a unit, e.g. \"30s\", \"15m\" or \"24h\"";

        impl Visitor<'_> for DurationVisitor {
            type Value = HumanDuration;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as \"30s\" or \"24h\"")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<HumanDuration, E> {
                value.parse().map_err(E::custom)
            }

            fn visit_u64<E: de::Error>(self, _: u64) -> Result<HumanDuration, E> {
                Err(E::custom(NEEDS_UNIT))
            }

            fn visit_i64<E: de::Error>(self, _: i64) -> Result<HumanDuration, E> {
                Err(E::custom(NEEDS_UNIT))
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<HumanDuration, E> {
                Err(E::custom(NEEDS_UNIT))
            }
        }

        deserializer.deserialize_any(DurationVisitor)
    }
}

fn listen_address<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SocketAddr, D::Error> {
    let value = String::deserialize(deserializer)?;
    value.trim().parse().map_err(|_| {
        de::Error::custom(format!(
            "invalid listen address {value:?}; write an IP address and a port, e.g. \"127.0.0.1:4434\", \"0.0.0.0:4433\" or \"[::1]:4434\""
        ))
    })
}

/// Where the data lives.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite file; relative paths are relative to the working directory.
    Sqlite(PathBuf),
    /// A PostgreSQL server (`postgres://` or `postgresql://`), kept verbatim for the driver.
    Postgres(String),
}

impl FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        const FORMS: &str = "sqlite://relative/path.db, sqlite:///absolute/path.db, sqlite:relative/path.db \
             or postgres://user:password@host:5432/database";
        let value = value.trim();
        if value.is_empty() {
            return Err(format!("the database URL is empty; use {FORMS}"));
        }
        if let Some(rest) = value.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(format!("the SQLite URL {value:?} names no file; use {FORMS}"));
            }
            if path.contains('?') {
                return Err(format!(
                    "the SQLite URL {value:?} has query parameters, which Lanyard does not read; \
                     use the database.sqlite_synchronous and database.read_connections keys instead"
                ));
            }
            if path == ":memory:" || path.starts_with("file::memory:") {
                return Err("in-memory SQLite databases are not supported: Lanyard opens several \
                     connections to one database file"
                    .into());
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        if value.starts_with("postgres://") || value.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(value.to_owned()));
        }
        let scheme = value.split_once(':').map_or("", |(scheme, _)| scheme);
        Err(format!("unsupported database URL scheme {scheme:?}; use {FORMS}"))
    }
}

impl fmt::Display for DatabaseUrl {
    /// Never shows a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            DatabaseUrl::Postgres(raw) => match url::Url::parse(raw) {
                Ok(mut parsed) => {
                    if parsed.password().is_some() {
                        let _ = parsed.set_password(Some("***"));
                    }
                    write!(f, "{parsed}")
                }
                Err(_) => f.write_str("postgres://<unparseable URL>"),
            },
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

impl<'de> Deserialize<'de> for DatabaseUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        value.parse().map_err(de::Error::custom)
    }
}

/// The public base URL: http or https, no query or fragment, always ending in `/`.
#[derive(Clone, PartialEq, Eq)]
pub struct BaseUrl(url::Url);

impl BaseUrl {
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn url(&self) -> &url::Url {
        &self.0
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

impl fmt::Debug for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BaseUrl({})", self.0)
    }
}

impl FromStr for BaseUrl {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        let mut url = url::Url::parse(value.trim()).map_err(|e| format!("invalid base URL {value:?}: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("the base URL {value:?} must be http:// or https://"));
        }
        if url.host().is_none() {
            return Err(format!("the base URL {value:?} has no host"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!("the base URL {value:?} must not have a query or fragment"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!("the base URL {value:?} must not contain credentials"));
        }
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(BaseUrl(url))
    }
}

impl<'de> Deserialize<'de> for BaseUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        value.parse().map_err(de::Error::custom)
    }
}

/// Reads one identity schema from `file:///abs.json`, `base64://<base64 JSON>` or a path.
pub fn load_schema(id: &str, location: &str) -> anyhow::Result<SchemaSource> {
    let location = location.trim();
    let (origin, text) = if let Some(encoded) = location.strip_prefix("base64://") {
        let bytes = decode_base64(encoded)
            .ok_or_else(|| anyhow!("identity schema {id:?}: the base64:// URL does not hold valid base64"))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| anyhow!("identity schema {id:?}: the base64:// URL does not decode to UTF-8 text"))?;
        ("its base64:// URL".to_owned(), text)
    } else if location.starts_with("file:") {
        let url =
            url::Url::parse(location).with_context(|| format!("identity schema {id:?}: invalid URL {location:?}"))?;
        let path = url.to_file_path().map_err(|_| {
            anyhow!(
                "identity schema {id:?}: {location:?} is not a usable file URL; file URLs take an \
                 absolute path (file:///etc/lanyard/schema.json); write relative paths without file://"
            )
        })?;
        (path.display().to_string(), read_schema_file(id, &path)?)
    } else if location.contains("://") {
        let scheme = location.split_once("://").map_or("", |(scheme, _)| scheme);
        bail!(
            "identity schema {id:?}: {scheme}:// URLs are not supported; use file:///path.json, \
             base64://<base64 JSON> or a file path"
        );
    } else if location.is_empty() {
        bail!("identity schema {id:?} has an empty url");
    } else {
        let path = Path::new(location);
        (path.display().to_string(), read_schema_file(id, path)?)
    };
    let schema = serde_json::from_str(&text)
        .with_context(|| format!("identity schema {id:?} from {origin} is not valid JSON"))?;
    Ok(SchemaSource {
        id: id.to_owned(),
        schema,
    })
}

fn read_schema_file(id: &str, path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("identity schema {id:?}: cannot read {}", path.display()))
}

fn decode_base64(encoded: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
    use base64::engine::DecodePaddingMode;
    let config = GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let standard = GeneralPurpose::new(&base64::alphabet::STANDARD, config);
    let url_safe = GeneralPurpose::new(&base64::alphabet::URL_SAFE, config);
    let compact: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
    standard.decode(&compact).or_else(|_| url_safe.decode(&compact)).ok()
}

/// RFC 6265 cookie-name characters (an HTTP token).
fn is_cookie_name(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| {
            b.is_ascii_graphic()
                && !matches!(
                    b,
                    b'(' | b')'
                        | b'<'
                        | b'>'
                        | b'@'
                        | b','
                        | b';'
                        | b':'
                        | b'\\'
                        | b'"'
                        | b'/'
                        | b'['
                        | b']'
                        | b'?'
                        | b'='
                        | b'{'
                        | b'}'
                )
        })
}

impl Config {
    /// Loads defaults, the file (`file`, else `LANYARD_CONFIG`), the environment and the
    /// overrides, then validates.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Config> {
        let figment = Config::figment(file, overrides)?;
        Config::from_figment(&figment)
    }

    /// Parses TOML text alone (defaults + this text), without environment or flags.
    pub fn from_toml_str(toml: &str) -> anyhow::Result<Config> {
        Config::from_figment(&Figment::from(Toml::string(toml)))
    }

    /// The layered sources, not yet extracted.
    pub fn figment(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Figment> {
        let mut figment = Figment::new();

        let env_file = std::env::var_os(CONFIG_FILE_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        if let Some(path) = file.map(Path::to_path_buf).or(env_file) {
            if !path.is_file() {
                bail!(
                    "the configuration file {} does not exist or is not a file",
                    path.display()
                );
            }
            figment = figment.merge(Toml::file_exact(&path));
        }

        check_environment_names()?;
        figment = figment.merge(
            Env::prefixed(ENV_PREFIX)
                .split("__")
                .filter(|key| {
                    let key = key.as_str().to_ascii_lowercase();
                    let first = key.split('.').next().unwrap_or("");
                    first != "secrets" && SECTIONS.contains(&first)
                })
                .lowercase(true),
        );
        if let Ok(raw) = std::env::var(SECRETS_ENV) {
            figment = figment.merge(Serialized::default("secrets", secrets_from_env(&raw)?));
        }

        if let Some(url) = &overrides.database_url {
            figment = figment.merge(Serialized::default("database.url", url));
        }
        if let Some(listen) = overrides.public_listen {
            figment = figment.merge(Serialized::default("serve.public.listen", listen.to_string()));
        }
        if let Some(listen) = overrides.admin_listen {
            figment = figment.merge(Serialized::default("serve.admin.listen", listen.to_string()));
        }
        Ok(figment)
    }

    /// Extracts and validates.
    pub fn from_figment(figment: &Figment) -> anyhow::Result<Config> {
        let config: Config = figment
            .extract()
            .map_err(|error| describe_figment_error(figment, error))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what the types alone cannot; reports every problem at once.
    pub fn validate(&self) -> anyhow::Result<()> {
        let mut problems = Vec::new();

        for (i, secret) in self.secrets.0.iter().enumerate() {
            if secret.trim().is_empty() {
                problems.push(format!("secrets[{i}] is empty"));
            }
        }

        if self.database.read_connections == 0 {
            problems.push("database.read_connections must be at least 1".into());
        }
        if self.database.max_connections == 0 {
            problems.push("database.max_connections must be at least 1".into());
        }
        if self.database.min_connections > self.database.max_connections {
            problems.push(format!(
                "database.min_connections ({}) must not exceed database.max_connections ({})",
                self.database.min_connections, self.database.max_connections
            ));
        }
        if self.database.acquire_timeout.0.is_zero() {
            problems.push("database.acquire_timeout must be longer than zero".into());
        }
        if self
            .database
            .statement_timeout
            .is_some_and(|t| t.0 < Duration::from_millis(1))
        {
            problems.push("database.statement_timeout must be at least 1ms (leave it unset for none)".into());
        }

        if self.serve.request_body_limit_bytes == 0 {
            problems.push("serve.request_body_limit_bytes must be at least 1".into());
        }
        if self.serve.request_timeout.0.is_zero() {
            problems.push("serve.request_timeout must be longer than zero".into());
        }
        if self.serve.header_read_timeout.0.is_zero() {
            problems.push("serve.header_read_timeout must be longer than zero".into());
        }
        if self.serve.max_connections == 0 {
            problems.push("serve.max_connections must be at least 1".into());
        }
        let (public, admin) = (self.serve.public.listen, self.serve.admin.listen);
        if public == admin && public.port() != 0 {
            problems.push(format!(
                "serve.public.listen and serve.admin.listen are both {public}; the admin API needs its own port"
            ));
        }

        if self.session.lifespan.0.is_zero() {
            problems.push("session.lifespan must be longer than zero".into());
        }
        if time::Duration::try_from(self.session.lifespan.0).is_err() {
            problems.push("session.lifespan is too long".into());
        }
        if time::Duration::try_from(self.session.earliest_possible_extend()).is_err() {
            problems.push("session.earliest_possible_extend is too long".into());
        }
        if self.rate_limits.list_queue_timeout.0 >= self.serve.request_timeout.0 {
            problems.push(format!(
                "rate_limits.list_queue_timeout ({}) must be shorter than serve.request_timeout ({}), \
                 or a waiting list would time out instead of being told when to retry",
                self.rate_limits.list_queue_timeout, self.serve.request_timeout
            ));
        }
        if self.cleanup.interval.0.is_zero() {
            problems.push("cleanup.interval must be longer than zero".into());
        }
        if time::Duration::try_from(self.cleanup.keep_last.0).is_err() {
            problems.push("cleanup.keep_last is too long".into());
        }
        if !(1..=lanyard_service::MAX_CLEANUP_BATCH_SIZE).contains(&self.cleanup.batch_size) {
            problems.push(format!(
                "cleanup.batch_size must be between 1 and {} (got {})",
                lanyard_service::MAX_CLEANUP_BATCH_SIZE,
                self.cleanup.batch_size
            ));
        }

        if !is_cookie_name(&self.session.cookie_name) {
            problems.push(format!(
                "session.cookie_name {:?} is not a valid cookie name (letters, digits and !#$%&'*+-.^_`|~ only)",
                self.session.cookie_name
            ));
        }
        if self.session.password_hash_concurrency == Some(0) {
            problems.push("session.password_hash_concurrency must be at least 1".into());
        }

        let mut ids = vec!["default"];
        for (i, schema) in self.identity.schemas.iter().enumerate() {
            if schema.id.trim().is_empty() {
                problems.push(format!("identity.schemas[{i}].id is empty"));
            } else if ids[1..].contains(&schema.id.as_str()) {
                problems.push(format!("identity.schemas[{i}].id {:?} is configured twice", schema.id));
            } else {
                ids.push(&schema.id);
            }
            if schema.url.trim().is_empty() {
                problems.push(format!("identity.schemas[{i}].url is empty"));
            }
        }
        if !ids.contains(&self.identity.default_schema_id.as_str()) {
            problems.push(format!(
                "identity.default_schema_id {:?} names no schema; known: {}",
                self.identity.default_schema_id,
                ids.join(", ")
            ));
        }

        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            problems.push(format!("log.level {:?} is not a valid filter: {e}", self.log.level));
        }

        match problems.len() {
            0 => Ok(()),
            1 => Err(anyhow!("invalid configuration: {}", problems[0])),
            _ => Err(anyhow!("invalid configuration:\n  - {}", problems.join("\n  - "))),
        }
    }

    /// Use-case settings for the service.
    pub fn service_settings(&self) -> Settings {
        let session = &self.session;
        let to_time = |d: Duration| time::Duration::try_from(d).unwrap_or(time::Duration::MAX);
        Settings {
            session_lifespan: to_time(session.lifespan.0),
            earliest_possible_extend: to_time(session.earliest_possible_extend()),
            whoami_required_aal: match session.whoami_required_aal {
                WhoamiRequiredAal::HighestAvailable => RequiredAal::HighestAvailable,
                WhoamiRequiredAal::Aal1 => RequiredAal::Aal1,
            },
            password_hash_concurrency: session.password_hash_concurrency(),
            token_cache_capacity: self.cache.capacity,
            token_cache_ttl: to_time(self.cache.ttl.0),
            failed_checks_per_identity: self.rate_limits.failed_checks_per_identity,
            failed_checks_per_ip: self.rate_limits.failed_checks_per_ip,
            failed_checks_window: to_time(self.rate_limits.failed_checks_window.0),
            max_password_attempts: self.rate_limits.max_password_attempts,
            max_clock_skew: to_time(session.max_clock_skew.0),
            sessions_per_identity: self.rate_limits.sessions_per_identity,
            sessions_per_ip: self.rate_limits.sessions_per_ip,
            sessions_window: to_time(self.rate_limits.sessions_window.0),
            list_concurrency_per_principal: self.list_concurrency_per_principal(),
            list_concurrency: self.list_concurrency(),
            list_queue_timeout: to_time(self.rate_limits.list_queue_timeout.0),
            ..Settings::default()
        }
    }

    /// Lists and searches one principal may run at once on this node:
    /// `rate_limits.list_concurrency_per_principal`, by default half the cores (at least one).
    /// A running list keeps at most one core busy at a time (its store query, then its
    /// rendering), so one caller searching flat out leaves at least half the machine to
    /// everybody else: whoami stays within about twice its idle latency.
    pub fn list_concurrency_per_principal(&self) -> u32 {
        self.rate_limits
            .list_concurrency_per_principal
            .unwrap_or_else(|| (cores() / 2).max(1))
    }

    /// Lists and searches running at once on this node: `rate_limits.list_concurrency`, by
    /// default the number of cores but at most half the store's read connections (at least
    /// one), so that whoami cache misses, key lookups and GetSession always find a free
    /// connection while lists run.
    pub fn list_concurrency(&self) -> u32 {
        self.rate_limits.list_concurrency.unwrap_or_else(|| {
            let cores = cores();
            let readers = match self.database.url {
                DatabaseUrl::Sqlite(_) => self.database.read_connections,
                DatabaseUrl::Postgres(_) => self.database.max_connections,
            };
            cores.min(readers / 2).max(1)
        })
    }

    /// Problems worth a warning at startup that do not stop it.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if !self.serve.admin.listen.ip().is_loopback() {
            warnings.push(format!(
                "the admin API listens on {}, which is not a loopback address: make sure only trusted \
                 networks can reach it",
                self.serve.admin.listen
            ));
        }
        if self.serve.public.tls.is_some() && self.serve.public.base_url.0.scheme() == "http" {
            warnings.push(format!(
                "serve.public.tls is set but serve.public.base_url ({}) says http://; links Lanyard \
                 hands out (schema_url, redirects) should say https://",
                self.serve.public.base_url.0
            ));
        }
        if self.secrets.0.iter().any(|s| s.len() < 16) {
            warnings.push("a page-token secret is shorter than 16 characters; use 32 or more random characters".into());
        }
        warnings
    }
}

fn cores() -> u32 {
    std::thread::available_parallelism().map_or(2, |n| n.get() as u32)
}

/// `LANYARD_SECRETS`: a TOML array (`["a", "b"]`) or a comma-separated list (`a,b`).
fn secrets_from_env(raw: &str) -> anyhow::Result<Vec<String>> {
    if raw.trim_start().starts_with('[') {
        return Figment::from(Toml::string(&format!("secrets = {raw}")))
            .extract_inner::<Vec<String>>("secrets")
            .map_err(|_| {
                anyhow!(
                    "{SECRETS_ENV} starts with '[' but is not a TOML array of strings; write \
                     [\"first\", \"second\"] or first,second"
                )
            });
    }
    Ok(split_list(raw))
}

/// `LANYARD_DATABASE_URL` is an easy mistake for `LANYARD_DATABASE__URL`; say so rather than
/// silently ignoring it.
fn check_environment_names() -> anyhow::Result<()> {
    let mut problems = Vec::new();
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        let upper = name.to_ascii_uppercase();
        let Some(rest) = upper.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let key = rest.to_ascii_lowercase();
        let first = key.split("__").next().unwrap_or("");
        if first == "secrets" && key != "secrets" {
            problems.push(format!(
                "{name} is not a configuration variable; set {SECRETS_ENV} to a comma-separated list or a TOML array"
            ));
            continue;
        }
        if SECTIONS.contains(&first) {
            continue;
        }
        if let Some(section) = SECTIONS
            .iter()
            .find(|section| first.starts_with(&format!("{section}_")))
        {
            let suggestion = format!(
                "{ENV_PREFIX}{}__{}",
                section.to_ascii_uppercase(),
                &rest[section.len() + 1..]
            );
            problems.push(format!(
                "{name} is not a configuration variable: nested keys are separated by a double \
                 underscore (did you mean {suggestion}?)"
            ));
        }
    }
    match problems.len() {
        0 => Ok(()),
        _ => Err(anyhow!("invalid configuration: {}", problems.join("; "))),
    }
}

/// One line per problem, naming the key (`database.url`) and where its value came from.
fn describe_figment_error(figment: &Figment, error: figment::Error) -> anyhow::Error {
    let lines: Vec<String> = error
        .into_iter()
        .map(|e| {
            let mut path = e.path.clone();
            let what = match &e.kind {
                Kind::UnknownField(field, expected) => {
                    if path.last() != Some(field) {
                        path.push(field.clone());
                    }
                    format!("unknown key; expected {}", OneOf(expected))
                }
                Kind::UnknownVariant(found, expected) => {
                    format!("unknown value `{found}`; expected {}", OneOf(expected))
                }
                other => other.to_string(),
            };
            let key = path.join(".");
            let metadata = figment.find_metadata(&key).or(e.metadata.as_ref());
            let source = match metadata {
                Some(md) if md.name.contains("environment variable") => {
                    format!(
                        " (from environment variable {ENV_PREFIX}{})",
                        path.join("__").to_ascii_uppercase()
                    )
                }
                Some(md) => match &md.source {
                    Some(figment::Source::File(file)) => format!(" (in {})", file.display()),
                    _ => String::new(),
                },
                None => String::new(),
            };
            if key.is_empty() {
                format!("{what}{source}")
            } else {
                format!("`{key}`: {what}{source}")
            }
        })
        .collect();
    match lines.len() {
        1 => anyhow!("invalid configuration: {}", lines[0]),
        _ => anyhow!("invalid configuration:\n  - {}", lines.join("\n  - ")),
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail closures return figment::Error
mod tests {
    use super::*;
    use figment::Jail;

    /// Jail closures return figment errors; carry ours across.
    fn jailed<T>(result: anyhow::Result<T>) -> figment::error::Result<T> {
        result.map_err(|e| figment::Error::from(format!("{e:#}")))
    }

    #[test]
    fn defaults_match_the_documentation() {
        let config = Config::from_toml_str("").unwrap();
        assert!(config.secrets.is_empty());
        assert_eq!(config.database.url, DatabaseUrl::Sqlite(PathBuf::from("lanyard.db")));
        assert_eq!(config.database.sqlite_synchronous, SqliteSynchronous::Normal);
        assert_eq!(config.database.read_connections, 4);
        assert_eq!(config.serve.public.listen.to_string(), "0.0.0.0:4433");
        assert_eq!(config.serve.public.base_url.as_str(), "http://127.0.0.1:4433/");
        assert_eq!(config.serve.admin.listen.to_string(), "127.0.0.1:4434");
        assert!(config.serve.admin.listen.ip().is_loopback());
        assert_eq!(config.serve.request_body_limit_bytes, 1_048_576);
        assert_eq!(config.serve.request_timeout.0, Duration::from_secs(30));
        assert_eq!(config.serve.header_read_timeout.0, Duration::from_secs(10));
        assert_eq!(config.serve.max_connections, 4096);
        assert_eq!(config.session.lifespan.0, Duration::from_secs(86_400));
        assert_eq!(config.session.earliest_possible_extend(), Duration::from_secs(86_400));
        assert_eq!(config.session.cookie_name, "ory_kratos_session");
        assert_eq!(config.session.extend_response, ExtendResponse::Session);
        assert_eq!(config.session.whoami_required_aal, WhoamiRequiredAal::HighestAvailable);
        assert!(config.session.password_hash_concurrency() >= 1);
        assert_eq!(config.identity.default_schema_id, "default");
        assert!(config.identity.schemas.is_empty());
        assert_eq!(config.log.format, LogFormat::Json);
        assert_eq!(config.log.level, "info");
        assert_eq!(config, Config::default());
        assert!(config.warnings().is_empty());
    }

    #[test]
    fn the_example_file_is_the_defaults() {
        let example = include_str!("../../../lanyard.example.toml");
        let uncommented: String = example
            .lines()
            .map(|line| line.strip_prefix("# ").filter(|l| is_setting_line(l)).unwrap_or(line))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(Config::from_toml_str(example).unwrap(), Config::default());
        // Uncommenting every `key = value` line must still parse and give the defaults, except
        // for the documented example values of the optional keys.
        let mut config = Config::from_toml_str(&uncommented).unwrap();
        assert_eq!(config.database, Config::default().database);
        // TLS is off by default; its example paths are the documented ones.
        for tls in [config.serve.public.tls.take(), config.serve.admin.tls.take()] {
            let tls = tls.expect("the example shows a [tls] table for both ports");
            assert_eq!(tls.cert_file, std::path::Path::new("/etc/lanyard/tls/cert.pem"));
            assert_eq!(tls.key_file, std::path::Path::new("/etc/lanyard/tls/key.pem"));
        }
        assert_eq!(config.serve, Config::default().serve);
        assert_eq!(config.log, Config::default().log);
    }

    fn is_setting_line(line: &str) -> bool {
        let line = line.trim_start();
        line.starts_with('[')
            || line
                .split_once(" = ")
                .is_some_and(|(key, _)| !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
    }

    #[test]
    fn toml_overrides_defaults() {
        let config = Config::from_toml_str(
            r#"
            secrets = ["first-secret-0123456789", "second-secret-0123456789"]
            [database]
            url = "sqlite:///var/lib/lanyard/l.db"
            sqlite_synchronous = "full"
            read_connections = 4
            [serve]
            request_body_limit_bytes = 2048
            request_timeout = "1m 30s"
            [serve.public]
            listen = "127.0.0.1:8433"
            base_url = "https://auth.example.org/lanyard"
            [serve.admin]
            listen = "127.0.0.1:8434"
            [session]
            lifespan = "720h"
            earliest_possible_extend = "1h"
            cookie_name = "sid"
            extend_response = "no_content"
            whoami_required_aal = "aal1"
            password_hash_concurrency = 3
            [log]
            format = "text"
            level = "debug,hyper=info"
            "#,
        )
        .unwrap();
        assert_eq!(config.secrets.0.len(), 2);
        assert_eq!(
            config.database.url,
            DatabaseUrl::Sqlite(PathBuf::from("/var/lib/lanyard/l.db"))
        );
        assert_eq!(config.database.sqlite_synchronous, SqliteSynchronous::Full);
        assert_eq!(config.database.read_connections, 4);
        assert_eq!(config.serve.request_body_limit_bytes, 2048);
        assert_eq!(config.serve.request_timeout.0, Duration::from_secs(90));
        assert_eq!(config.serve.public.listen.port(), 8433);
        assert_eq!(
            config.serve.public.base_url.as_str(),
            "https://auth.example.org/lanyard/"
        );
        assert_eq!(config.serve.admin.listen.port(), 8434);
        assert_eq!(config.session.lifespan.0, Duration::from_secs(720 * 3600));
        assert_eq!(config.session.earliest_possible_extend(), Duration::from_secs(3600));
        assert_eq!(config.session.cookie_name, "sid");
        assert_eq!(config.session.extend_response, ExtendResponse::NoContent);
        assert_eq!(config.session.whoami_required_aal, WhoamiRequiredAal::Aal1);
        assert_eq!(config.session.password_hash_concurrency(), 3);
        assert_eq!(config.log.format, LogFormat::Text);

        let settings = config.service_settings();
        assert_eq!(settings.session_lifespan, time::Duration::hours(720));
        assert_eq!(settings.earliest_possible_extend, time::Duration::hours(1));
        assert_eq!(settings.whoami_required_aal, RequiredAal::Aal1);
        assert_eq!(settings.password_hash_concurrency, 3);
    }

    #[test]
    fn earliest_possible_extend_follows_the_lifespan_by_default() {
        let config = Config::from_toml_str("[session]\nlifespan = \"2h\"").unwrap();
        assert_eq!(config.session.earliest_possible_extend(), Duration::from_secs(7200));
    }

    #[test]
    fn database_url_forms() {
        let sqlite = |s: &str| s.parse::<DatabaseUrl>().unwrap();
        assert_eq!(sqlite("sqlite://a/b.db"), DatabaseUrl::Sqlite("a/b.db".into()));
        assert_eq!(sqlite("sqlite:///a/b.db"), DatabaseUrl::Sqlite("/a/b.db".into()));
        assert_eq!(sqlite("sqlite:b.db"), DatabaseUrl::Sqlite("b.db".into()));
        assert!(matches!(sqlite("postgres://u:pw@db/lanyard"), DatabaseUrl::Postgres(_)));
        assert!(!sqlite("postgres://u:hunter2@db/lanyard")
            .to_string()
            .contains("hunter2"));
        for bad in [
            "",
            "sqlite://",
            "sqlite::memory:",
            "sqlite://x.db?mode=rwc",
            "mysql://x",
            "x.db",
        ] {
            assert!(bad.parse::<DatabaseUrl>().is_err(), "{bad:?} was accepted");
        }
        let error = Config::from_toml_str("[database]\nurl = \"mysql://db/x\"")
            .unwrap_err()
            .to_string();
        assert!(error.contains("database.url") && error.contains("mysql"), "{error}");
    }

    #[test]
    fn environment_overrides_toml() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "lanyard.toml",
                r#"
                secrets = ["from-the-file-0123456789"]
                [database]
                url = "sqlite://file.db"
                read_connections = 2
                [serve.admin]
                listen = "127.0.0.1:5000"
                [session]
                lifespan = "1h"
                "#,
            )?;
            jail.set_env("LANYARD_DATABASE__URL", "sqlite://env.db");
            jail.set_env("LANYARD_SERVE__ADMIN__LISTEN", "127.0.0.1:6000");
            jail.set_env("LANYARD_SESSION__LIFESPAN", "2h");
            jail.set_env("LANYARD_SECRETS", "one-0123456789abcdef, two-0123456789abcdef");
            // Not configuration: Kubernetes service variables must not break startup.
            jail.set_env("LANYARD_PORT", "tcp://10.0.0.1:4433");
            jail.set_env("LANYARD_SERVICE_HOST", "10.0.0.1");

            let config = jailed(Config::load(Some(Path::new("lanyard.toml")), &Overrides::default()))?;
            assert_eq!(config.database.url, DatabaseUrl::Sqlite("env.db".into()));
            assert_eq!(config.database.read_connections, 2, "untouched by the environment");
            assert_eq!(config.serve.admin.listen.port(), 6000);
            assert_eq!(config.session.lifespan.0, Duration::from_secs(7200));
            assert_eq!(
                config.secrets.0,
                vec!["one-0123456789abcdef".to_string(), "two-0123456789abcdef".to_string()]
            );

            jail.set_env("LANYARD_SECRETS", r#"["a-0123456789abcdef", "b,with,commas"]"#);
            let config = jailed(Config::load(Some(Path::new("lanyard.toml")), &Overrides::default()))?;
            assert_eq!(
                config.secrets.0,
                vec!["a-0123456789abcdef".to_string(), "b,with,commas".to_string()]
            );

            // The file can also come from LANYARD_CONFIG.
            jail.set_env("LANYARD_CONFIG", "lanyard.toml");
            let config = jailed(Config::load(None, &Overrides::default()))?;
            assert_eq!(config.database.read_connections, 2);
            Ok(())
        });
    }

    #[test]
    fn flags_override_environment() {
        Jail::expect_with(|jail| {
            jail.set_env("LANYARD_DATABASE__URL", "sqlite://env.db");
            jail.set_env("LANYARD_SERVE__PUBLIC__LISTEN", "127.0.0.1:7000");
            jail.set_env("LANYARD_SERVE__ADMIN__LISTEN", "127.0.0.1:7001");
            let overrides = Overrides {
                database_url: Some("sqlite:///tmp/flag.db".into()),
                public_listen: Some("127.0.0.1:9000".parse().unwrap()),
                admin_listen: None,
            };
            let config = jailed(Config::load(None, &overrides))?;
            assert_eq!(config.database.url, DatabaseUrl::Sqlite("/tmp/flag.db".into()));
            assert_eq!(config.serve.public.listen.port(), 9000);
            assert_eq!(config.serve.admin.listen.port(), 7001);
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_rejected_by_name() {
        let error = Config::from_toml_str("[database]\nurll = \"sqlite://x.db\"")
            .unwrap_err()
            .to_string();
        assert!(error.contains("database.urll"), "{error}");
        assert!(error.contains("unknown key"), "{error}");

        let error = Config::from_toml_str("colour = \"blue\"").unwrap_err().to_string();
        assert!(error.contains("colour"), "{error}");

        let error = Config::from_toml_str("[[identity.schemas]]\nid = \"a\"\nurl = \"a.json\"\npath = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(error.contains("path"), "{error}");

        Jail::expect_with(|jail| {
            jail.create_file("l.toml", "[serve.admin]\nlisten = \"127.0.0.1:1\"\nhost = \"x\"")?;
            let error = Config::load(Some(Path::new("l.toml")), &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(error.contains("serve.admin.host"), "{error}");
            assert!(error.contains("l.toml"), "names the file: {error}");

            jail.set_env("LANYARD_SESSION__LIFESPANN", "1h");
            let error = Config::load(None, &Overrides::default()).unwrap_err().to_string();
            assert!(error.contains("session.lifespann"), "{error}");
            assert!(error.contains("LANYARD_SESSION__LIFESPANN"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn single_underscore_environment_names_get_a_hint() {
        Jail::expect_with(|jail| {
            jail.set_env("LANYARD_DATABASE_URL", "sqlite://x.db");
            let error = Config::load(None, &Overrides::default()).unwrap_err().to_string();
            assert!(error.contains("LANYARD_DATABASE__URL"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn bad_durations_are_rejected() {
        let error = Config::from_toml_str("[session]\nlifespan = \"24 hourz\"")
            .unwrap_err()
            .to_string();
        assert!(error.contains("session.lifespan"), "{error}");
        assert!(error.contains("24 hourz"), "{error}");

        let error = Config::from_toml_str("[serve]\nrequest_timeout = 30")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("serve.request_timeout") && error.contains("unit"),
            "{error}"
        );

        let error = Config::from_toml_str("[session]\nlifespan = \"0s\"")
            .unwrap_err()
            .to_string();
        assert!(error.contains("session.lifespan"), "{error}");

        Jail::expect_with(|jail| {
            jail.set_env("LANYARD_SERVE__REQUEST_TIMEOUT", "soon");
            let error = Config::load(None, &Overrides::default()).unwrap_err().to_string();
            assert!(error.contains("LANYARD_SERVE__REQUEST_TIMEOUT"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn other_invalid_values_are_rejected_clearly() {
        let cases = [
            (
                "[database]\nsqlite_synchronous = \"off\"",
                "database.sqlite_synchronous",
            ),
            ("[database]\nread_connections = 0", "database.read_connections"),
            ("[serve.public]\nlisten = \"localhost\"", "serve.public.listen"),
            ("[serve.public]\nbase_url = \"ftp://x/\"", "serve.public.base_url"),
            ("[session]\ncookie_name = \"a b\"", "session.cookie_name"),
            ("[session]\nextend_response = \"maybe\"", "session.extend_response"),
            (
                "[identity]\ndefault_schema_id = \"customer\"",
                "identity.default_schema_id",
            ),
            (
                "[rate_limits]\nlist_queue_timeout = \"30s\"",
                "rate_limits.list_queue_timeout",
            ),
            ("[log]\nformat = \"xml\"", "log.format"),
            ("[log]\nlevel = \"lanyard=loud\"", "log.level"),
            ("secrets = [\"\"]", "secrets[0]"),
            (
                "[serve.public]\nlisten = \"127.0.0.1:9\"\n[serve.admin]\nlisten = \"127.0.0.1:9\"",
                "own port",
            ),
        ];
        for (toml, expected) in cases {
            let error = Config::from_toml_str(toml).unwrap_err().to_string();
            assert!(error.contains(expected), "{toml:?} gave {error:?}");
        }
    }

    #[test]
    fn list_limits_default_to_a_share_of_the_store_and_follow_toml_then_environment() {
        let defaults = Config::default();
        let settings = defaults.service_settings();
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get() as u32);
        assert_eq!(settings.list_concurrency_per_principal, (cores / 2).max(1));
        assert_eq!(settings.list_queue_timeout, time::Duration::seconds(1));
        assert_eq!(
            settings.list_concurrency,
            cores.min(2),
            "half the 4 SQLite readers at most"
        );
        let postgres = Config::from_toml_str("[database]\nurl = \"postgres://db/x\"").unwrap();
        assert_eq!(
            postgres.list_concurrency(),
            cores.min(8),
            "half the 16 PostgreSQL connections at most"
        );

        Jail::expect_with(|jail| {
            jail.create_file(
                "lanyard.toml",
                r#"
                [rate_limits]
                list_concurrency_per_principal = 5
                list_concurrency = 7
                list_queue_timeout = "250ms"
                "#,
            )?;
            let config = jailed(Config::load(Some(Path::new("lanyard.toml")), &Overrides::default()))?;
            let settings = config.service_settings();
            assert_eq!(settings.list_concurrency_per_principal, 5);
            assert_eq!(settings.list_concurrency, 7);
            assert_eq!(settings.list_queue_timeout, time::Duration::milliseconds(250));

            jail.set_env("LANYARD_RATE_LIMITS__LIST_CONCURRENCY_PER_PRINCIPAL", "0");
            jail.set_env("LANYARD_RATE_LIMITS__LIST_CONCURRENCY", "0");
            jail.set_env("LANYARD_RATE_LIMITS__LIST_QUEUE_TIMEOUT", "0s");
            let config = jailed(Config::load(Some(Path::new("lanyard.toml")), &Overrides::default()))?;
            let settings = config.service_settings();
            assert_eq!(
                (settings.list_concurrency_per_principal, settings.list_concurrency),
                (0, 0),
                "0 turns the limits off"
            );
            assert_eq!(settings.list_queue_timeout, time::Duration::ZERO);
            Ok(())
        });
    }

    #[test]
    fn a_non_loopback_admin_address_is_warned_about() {
        let config = Config::from_toml_str("[serve.admin]\nlisten = \"0.0.0.0:4434\"").unwrap();
        assert!(config.warnings().iter().any(|w| w.contains("not a loopback")));
    }

    #[test]
    fn debug_output_hides_secrets() {
        let config = Config::from_toml_str("secrets = [\"hunter2-hunter2-hunter2\"]").unwrap();
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    const SCHEMA: &str = r#"{
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"traits": {"type": "object", "properties": {"employee_id": {"type": "string"}}}}
    }"#;

    #[test]
    fn schemas_load_from_file_urls_paths_and_base64() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("customer schema.json");
        std::fs::write(&path, SCHEMA).unwrap();
        let expected: serde_json::Value = serde_json::from_str(SCHEMA).unwrap();

        let file_url = url::Url::from_file_path(&path).unwrap().to_string();
        assert!(file_url.starts_with("file:///"));
        let from_url = load_schema("customer", &file_url).unwrap();
        assert_eq!(from_url.id, "customer");
        assert_eq!(from_url.schema, expected);

        let from_path = load_schema("customer", path.to_str().unwrap()).unwrap();
        assert_eq!(from_path.schema, expected);

        let encoded = base64::engine::general_purpose::STANDARD.encode(SCHEMA);
        let from_b64 = load_schema("inline", &format!("base64://{encoded}")).unwrap();
        assert_eq!(from_b64.schema, expected);
        let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(SCHEMA);
        assert_eq!(
            load_schema("inline", &format!("base64://{url_safe}")).unwrap().schema,
            expected
        );

        let toml = format!(
            "[identity]\ndefault_schema_id = \"customer\"\n\
             [[identity.schemas]]\nid = \"customer\"\nurl = \"{file_url}\"\n\
             [[identity.schemas]]\nid = \"inline\"\nurl = \"base64://{encoded}\"\n"
        );
        let config = Config::from_toml_str(&toml).unwrap();
        let sources = config.identity.load_schemas().unwrap();
        assert_eq!(sources.len(), 2);
        assert_eq!(sources[0].id, "customer");
        assert_eq!(sources[1].id, "inline");
        lanyard_service::SchemaRegistry::new(sources, Some("customer".into())).unwrap();
    }

    #[test]
    fn schema_loading_errors_name_the_schema() {
        let missing = load_schema("customer", "file:///nonexistent/lanyard/x.json").unwrap_err();
        assert!(format!("{missing:#}").contains("customer"), "{missing:#}");
        let relative_url = load_schema("c", "file://relative.json").unwrap_err();
        assert!(format!("{relative_url:#}").contains("absolute"), "{relative_url:#}");
        let bad_b64 = load_schema("c", "base64://%%%").unwrap_err();
        assert!(format!("{bad_b64:#}").contains("base64"), "{bad_b64:#}");
        let not_json = base64::engine::general_purpose::STANDARD.encode("{nope");
        let error = load_schema("c", &format!("base64://{not_json}")).unwrap_err();
        assert!(format!("{error:#}").contains("not valid JSON"), "{error:#}");
        let http = load_schema("c", "https://example.org/s.json").unwrap_err();
        assert!(format!("{http:#}").contains("not supported"), "{http:#}");
    }

    #[test]
    fn postgres_pool_settings() {
        let defaults = Config::from_toml_str("").unwrap().database;
        assert_eq!(defaults.max_connections, 16);
        assert_eq!(defaults.min_connections, 0);
        assert_eq!(defaults.acquire_timeout.0, Duration::from_secs(5));
        assert_eq!(defaults.statement_timeout, None);

        let config = Config::from_toml_str(
            "[database]\nurl = \"postgresql://lanyard:pw@db.internal:5432/lanyard?sslmode=require\"\n\
             max_connections = 40\nmin_connections = 4\nacquire_timeout = \"2s\"\nstatement_timeout = \"15s\"",
        )
        .unwrap();
        assert!(matches!(config.database.url, DatabaseUrl::Postgres(_)));
        assert_eq!(config.database.max_connections, 40);
        assert_eq!(config.database.min_connections, 4);
        assert_eq!(config.database.acquire_timeout.0, Duration::from_secs(2));
        assert_eq!(
            config.database.statement_timeout.map(|t| t.0),
            Some(Duration::from_secs(15))
        );

        for (toml, expected) in [
            ("[database]\nmax_connections = 0", "database.max_connections"),
            ("[database]\nmin_connections = 17", "database.min_connections"),
            ("[database]\nacquire_timeout = \"0s\"", "database.acquire_timeout"),
            ("[database]\nacquire_timeout = 5", "database.acquire_timeout"),
            ("[database]\nstatement_timeout = \"0s\"", "database.statement_timeout"),
        ] {
            let error = Config::from_toml_str(toml).unwrap_err().to_string();
            assert!(error.contains(expected), "{toml:?} gave {error:?}");
        }
    }

    #[test]
    fn cleanup_settings() {
        let defaults = Config::from_toml_str("").unwrap().cleanup;
        assert!(!defaults.enabled);
        assert_eq!(defaults.interval.0, Duration::from_secs(600));
        assert_eq!(defaults.keep_last.0, Duration::from_secs(86_400));
        assert_eq!(defaults.batch_size, 1000);
        assert_eq!(defaults.options(), lanyard_service::CleanupOptions::default());

        let config =
            Config::from_toml_str("[cleanup]\nenabled = true\ninterval = \"1m\"\nkeep_last = \"0s\"\nbatch_size = 50")
                .unwrap();
        assert!(config.cleanup.enabled);
        assert_eq!(config.cleanup.interval.0, Duration::from_secs(60));
        assert_eq!(config.cleanup.options().keep_last, time::Duration::ZERO);
        assert_eq!(config.cleanup.options().batch_size, 50);

        Jail::expect_with(|jail| {
            jail.set_env("LANYARD_CLEANUP__ENABLED", "true");
            jail.set_env("LANYARD_CLEANUP__KEEP_LAST", "48h");
            let config = jailed(Config::load(None, &Overrides::default()))?;
            assert!(config.cleanup.enabled);
            assert_eq!(config.cleanup.keep_last.0, Duration::from_secs(48 * 3600));
            Ok(())
        });

        for (toml, expected) in [
            ("[cleanup]\ninterval = \"0s\"", "cleanup.interval"),
            ("[cleanup]\nbatch_size = 0", "cleanup.batch_size"),
            ("[cleanup]\nbatch_size = 100001", "cleanup.batch_size"),
            ("[cleanup]\nkeep_last = 24", "cleanup.keep_last"),
            ("[cleanup]\nenable = true", "cleanup.enable"),
        ] {
            let error = Config::from_toml_str(toml).unwrap_err().to_string();
            assert!(error.contains(expected), "{toml:?} gave {error:?}");
        }
    }

    #[test]
    fn a_missing_config_file_is_an_error() {
        Jail::expect_with(|_| {
            let error = Config::load(Some(Path::new("nope.toml")), &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(error.contains("nope.toml"), "{error}");
            Ok(())
        });
    }
}
