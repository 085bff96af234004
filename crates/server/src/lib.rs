//! The `lanyard` binary as a library, so integration tests can build and run the whole
//! application in-process (see [`app::start`]).

pub mod app;
pub mod cleanup;
pub mod cli;
pub mod code_delivery;
pub mod config;
pub mod connections;
pub mod database;
mod delivery;
mod h2_writes;
pub mod logging;
pub mod tls;

pub use app::{build_app, build_routers, build_service, serve, start, App, RunningServer};
pub use cli::Cli;
pub use config::{Config, Overrides};
pub use database::open_store;
