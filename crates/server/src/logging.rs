//! Structured logs on stderr (stdout stays free for command output such as a new API key).

use std::io::IsTerminal;

use anyhow::{anyhow, Context};
use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// The `tracing` target of the one-line-per-request access log, so operators can filter it
/// (`level = "info,lanyard::access=warn"`), e.g. for benchmarks.
pub const ACCESS_TARGET: &str = "lanyard::access";

/// The filter: `RUST_LOG` when set and non-empty, else `log.level`.
pub fn filter(config: &LogConfig) -> anyhow::Result<EnvFilter> {
    match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => EnvFilter::try_new(&directives)
            .with_context(|| format!("RUST_LOG={directives:?} is not a valid log filter")),
        _ => EnvFilter::try_new(&config.level)
            .with_context(|| format!("log.level {:?} is not a valid log filter", config.level)),
    }
}

/// Installs the global subscriber. Fails if one is already installed.
pub fn init(config: &LogConfig) -> anyhow::Result<()> {
    let filter = filter(config)?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match config.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
    };
    result.map_err(|e| anyhow!("cannot install the logger: {e}"))
}
