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
//!
//! The module's files: `sections` (one struct per TOML table, with its defaults), `values`
//! (the custom value types: durations, URLs, secrets), `schemas` (identity schema sources),
//! `sources` (defaults, file, environment and flags, merged), `validate` (what the types alone
//! cannot check, and start-up warnings).

mod schemas;
mod sections;
mod sources;
#[cfg(test)]
mod tests;
mod validate;
mod values;
mod webauthn;

use std::net::SocketAddr;
use std::time::Duration;

use lanyard_service::{RequiredAal, Settings};
use serde::Deserialize;

pub use schemas::load_schema;
pub use sections::*;
pub use values::*;

/// Prefix of every configuration environment variable.
pub const ENV_PREFIX: &str = "LANYARD_";
/// Names the configuration file when `--config` is not given.
pub const CONFIG_FILE_ENV: &str = "LANYARD_CONFIG";
/// Page-token secrets; a comma-separated list or a TOML array.
pub const SECRETS_ENV: &str = "LANYARD_SECRETS";

/// Top-level keys. Environment variables are only read when they start with one of these.
const SECTIONS: [&str; 12] = [
    "secrets",
    "database",
    "serve",
    "session",
    "cache",
    "cleanup",
    "rate_limits",
    "identity",
    "log",
    "smtp",
    "sms",
    "webauthn",
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
    pub smtp: SmtpConfig,
    pub sms: SmsConfig,
    pub webauthn: WebauthnConfig,
}

/// Values from command-line flags; they override every other source.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub database_url: Option<String>,
    pub public_listen: Option<SocketAddr>,
    pub admin_listen: Option<SocketAddr>,
}

impl Config {
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
}

fn cores() -> u32 {
    std::thread::available_parallelism().map_or(2, |n| n.get() as u32)
}
