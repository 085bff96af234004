//! `lanyard-bench`: seeds a database with a million sessions and measures a real `lanyard`
//! server over HTTP with wrk, against the targets in DESIGN.md. See docs/BENCHMARKS.md.
//!
//! ```sh
//! cargo build --release -p lanyard -p lanyard-bench
//! target/release/lanyard-bench run                 # 1,000,000 sessions, SQLite, 10 s per step
//! target/release/lanyard-bench run --quick         # 50,000 sessions, 2 s per step
//! target/release/lanyard-bench run --database-url postgres://postgres@127.0.0.1/lanyard_bench
//! target/release/lanyard-bench search              # every list/search shape, one connection
//! ```

mod closed_loop;
mod compare;
mod load;
mod model;
mod report;
mod run;
mod search;
mod seed;
mod server;
mod shapes;
mod transports;
mod wrk;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "lanyard-bench",
    about = "Seeds and benchmarks Lanyard (see docs/BENCHMARKS.md)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Seed a database with identities and sessions (replacing an earlier seed).
    Seed(SeedArgs),
    /// Seed if needed, start the server, run every step, print the table.
    Run(Box<RunArgs>),
    /// Seed if needed, start the server (or use a running one), time every list/search shape
    /// of both APIs over one connection, print the table.
    Search(Box<SearchArgs>),
    /// Print the tables of several `search --json` reports side by side (e.g. before and after).
    Compare {
        /// The reports, in the order of the columns.
        #[arg(required = true)]
        reports: Vec<PathBuf>,
    },
    /// Run the `lanyard` command line built into this binary, e.g.
    /// `lanyard-bench lanyard -- --config x.toml serve`.
    #[command(hide = true)]
    Lanyard {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
}

#[derive(Debug, Clone, Args)]
struct DataArgs {
    /// The database: a SQLite path or URL (default: `<dir>/lanyard-bench-<sessions>.db`) or
    /// postgres://… (a scratch database: it is emptied when seeded).
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// Working directory: database, generated configs, server logs, wrk scripts.
    #[arg(long, default_value = "target/bench")]
    dir: PathBuf,
    /// Sessions to seed [default: 1,000,000; 50,000 with --quick].
    #[arg(long)]
    sessions: Option<u64>,
    /// Identities to spread them over, a multiple of 50 (every 50th is deactivated)
    /// [default: sessions × 0.33, rounded up to one].
    #[arg(long)]
    identities: Option<u64>,
    /// Identities with a (real, argon2id) password, for the password step [default: 1,000; 100 with --quick].
    #[arg(long)]
    password_identities: Option<u64>,
    /// The CI-sized run: 50,000 sessions and 2 s per step.
    #[arg(long)]
    quick: bool,
}

impl DataArgs {
    fn spec(&self) -> seed::SeedSpec {
        let sessions = self.sessions.unwrap_or(if self.quick { 50_000 } else { 1_000_000 });
        let identities = self.identities.unwrap_or(
            (sessions * 33 / 100).div_ceil(model::INACTIVE_IDENTITY_EVERY).max(1) * model::INACTIVE_IDENTITY_EVERY,
        );
        let password_identities = self
            .password_identities
            .unwrap_or(if self.quick { 100 } else { 1_000 })
            .min(identities);
        seed::SeedSpec {
            sessions,
            identities,
            password_identities,
        }
    }

    fn target(&self, spec: &seed::SeedSpec) -> anyhow::Result<seed::Target> {
        match &self.database_url {
            Some(url) => seed::Target::parse(url),
            None => {
                let path = self.dir.join(format!("lanyard-bench-{}.db", spec.sessions));
                seed::Target::parse(&path.to_string_lossy())
            }
        }
    }
}

#[derive(Debug, Args)]
struct SeedArgs {
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Seed again even if the database holds a matching seed.
    #[arg(long)]
    reseed: bool,
    /// Load per step [default: 10s; 2s with --quick].
    #[arg(long, value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// wrk connections (and in-process tasks for the direct lookup).
    #[arg(long, default_value_t = 64)]
    connections: u32,
    /// wrk threads.
    #[arg(long, default_value_t = 2)]
    threads: u32,
    /// The `lanyard` binary, or `embedded` for the copy built into lanyard-bench
    /// [default: the `lanyard` next to lanyard-bench, else embedded].
    #[arg(long, value_name = "PATH")]
    server_bin: Option<String>,
    /// A command to run the server under, e.g. "valgrind --tool=callgrind --callgrind-out-file=cg.out".
    #[arg(long, value_name = "COMMAND")]
    server_wrapper: Option<String>,
    /// The wrk program.
    #[arg(long, default_value = "wrk")]
    wrk: String,
    /// Drive the steps with the built-in load loop instead of wrk (the quick mode uses it
    /// anyway when wrk is not installed); its figures are not comparable with wrk's.
    #[arg(long)]
    builtin_load: bool,
    /// Tokens in the cached whoami step's working set [default: 10,000; 2,000 with --quick].
    #[arg(long)]
    warm_set: Option<u64>,
    /// The deep admin page (250 per page) compared with page 1 (capped to the last page).
    #[arg(long, default_value_t = 2000)]
    admin_page: u64,
    /// ZITADEL offset-paging offsets [default: 0,10000,100000; with --quick 0, 1% and 10% of
    /// the sessions].
    #[arg(long, value_delimiter = ',')]
    offsets: Option<Vec<u64>>,
    /// `[cache] ttl` of the servers [default: none, i.e. the server's own default (5s)]: the
    /// bench runs what a user who configures nothing gets.
    #[arg(long)]
    cache_ttl: Option<String>,
    /// Only these steps (comma-separated): health, whoami_warm, admin_list_first,
    /// admin_list_deep, zitadel_search, zitadel_transports, offset (all offsets) or
    /// `offset_<n>`, search_flood, create, password, search_flood_unlimited, whoami_cold, direct.
    #[arg(long, value_delimiter = ',')]
    steps: Option<Vec<String>>,
    /// A shell command run right before each step's load, as
    /// `sh -c CMD lanyard-bench <step> <server pid>`; e.g. to profile one step (bench/profile.sh).
    #[arg(long, value_name = "CMD")]
    before_step: Option<String>,
    /// Run the main server with lists and searches unbounded (`[rate_limits]
    /// list_concurrency_per_principal = 0`, `list_concurrency = 0`), e.g. to see what the
    /// default bounds cost the list steps, which send 64 connections with one API key.
    #[arg(long)]
    no_list_limits: bool,
    /// Also write the results as JSON here.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct SearchArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Seed again even if the database holds a matching seed.
    #[arg(long)]
    reseed: bool,
    /// The `lanyard` binary, or `embedded` [default: the `lanyard` next to lanyard-bench, else
    /// embedded]. Ignored with --public-url.
    #[arg(long, value_name = "PATH")]
    server_bin: Option<String>,
    /// Use a server that is already running on the seeded database (its public base URL);
    /// needs --admin-url and --api-key, and --database-url to read the seed.
    #[arg(long, value_name = "URL", requires_all = ["admin_url", "api_key"])]
    public_url: Option<String>,
    /// The running server's admin base URL.
    #[arg(long, value_name = "URL")]
    admin_url: Option<String>,
    /// An API key of the running server with session.read.
    #[arg(long, value_name = "KEY")]
    api_key: Option<String>,
    /// Timed requests per shape [default: 20; 3 with --quick].
    #[arg(long)]
    iterations: Option<u32>,
    /// Untimed requests per shape first [default: 2; 1 with --quick].
    #[arg(long)]
    warmup: Option<u32>,
    /// A shape stops early after this long once it has 5 samples.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    max_shape_time: Duration,
    /// Only shapes whose key starts with one of these (comma-separated), e.g. `z_created,k_`.
    #[arg(long, value_delimiter = ',')]
    shapes: Option<Vec<String>>,
    /// The deep Kratos admin page (capped to the last page).
    #[arg(long, default_value_t = 2000)]
    deep_page: u64,
    /// ZITADEL offsets of the no-query curve [default: 0,10000,100000; with --quick 0, 1% and
    /// 10% of the sessions].
    #[arg(long, value_delimiter = ',')]
    offsets: Option<Vec<u64>>,
    /// Also time each ZITADEL shape's count and page apart, in-process through the store (the
    /// server's query translation, mirrored): shows which part is slow.
    #[arg(long)]
    split: bool,
    /// Also write the results as JSON here.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Lanyard { args } => embedded_lanyard(args),
        Command::Seed(args) => runtime().and_then(|rt| rt.block_on(seed_command(args))),
        Command::Run(args) => runtime().and_then(|rt| rt.block_on(run_command(args))),
        Command::Search(args) => runtime().and_then(|rt| rt.block_on(search_command(args))),
        Command::Compare { reports } => compare::compare(&reports).map(|table| println!("{table}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("lanyard-bench: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// Exactly what the `lanyard` binary's `main` does.
fn embedded_lanyard(args: Vec<OsString>) -> anyhow::Result<()> {
    let cli = lanyard::Cli::parse_from(std::iter::once(OsString::from("lanyard")).chain(args));
    let config = cli.load_config()?;
    lanyard::logging::init(&config.log)?;
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    runtime()?.block_on(lanyard::cli::run(cli.command, config, &mut out, &mut err))
}

async fn seed_command(args: SeedArgs) -> anyhow::Result<()> {
    let spec = args.data.spec();
    let target = args.data.target(&spec)?;
    seed::seed(&target, spec).await?;
    Ok(())
}

async fn run_command(args: Box<RunArgs>) -> anyhow::Result<()> {
    let spec = args.data.spec();
    let target = args.data.target(&spec)?;
    let quick = args.data.quick;
    let options = run::RunOptions {
        target,
        dir: args.data.dir.clone(),
        spec,
        reseed: args.reseed,
        duration: args.duration.unwrap_or(Duration::from_secs(if quick { 2 } else { 10 })),
        connections: args.connections.max(1),
        threads: args.threads.max(1),
        server: server::ServerBin::resolve(args.server_bin.as_deref())?,
        server_wrapper: args.server_wrapper,
        wrk: if args.builtin_load { String::new() } else { args.wrk },
        quick: quick || args.builtin_load,
        warm_set: args.warm_set.unwrap_or(if quick { 2_000 } else { 10_000 }),
        admin_page: args.admin_page.max(2),
        offsets: args.offsets.unwrap_or(if quick {
            vec![0, spec.sessions / 100, spec.sessions / 10]
        } else {
            vec![0, 10_000, 100_000]
        }),
        cache_ttl: args.cache_ttl,
        steps: args.steps,
        before_step: args.before_step,
        no_list_limits: args.no_list_limits,
        json: args.json,
        command_line: std::env::args().collect::<Vec<_>>().join(" "),
    };
    let report = run::run(options).await?;
    println!("{}", report::render(&report));
    run::check(&report)
}

async fn search_command(args: Box<SearchArgs>) -> anyhow::Result<()> {
    let spec = args.data.spec();
    let target = args.data.target(&spec)?;
    let quick = args.data.quick;
    let running = match (args.public_url, args.admin_url, args.api_key) {
        (Some(public), Some(admin), Some(key)) => Some(search::Running { public, admin, key }),
        _ => None,
    };
    let options = search::SearchOptions {
        target,
        dir: args.data.dir.clone(),
        spec,
        reseed: args.reseed,
        server: server::ServerBin::resolve(args.server_bin.as_deref())?,
        running,
        iterations: args.iterations.unwrap_or(if quick { 3 } else { 20 }).max(1),
        warmup: args.warmup.unwrap_or(if quick { 1 } else { 2 }),
        max_shape_time: args.max_shape_time,
        shapes: args.shapes,
        deep_page: args.deep_page,
        offsets: args.offsets.unwrap_or(if quick {
            vec![0, spec.sessions / 100, spec.sessions / 10]
        } else {
            vec![0, 10_000, 100_000]
        }),
        split: args.split,
        json: args.json,
        command_line: std::env::args().collect::<Vec<_>>().join(" "),
    };
    let report = search::search(options).await?;
    println!("{}", search::render(&report));
    search::check(&report)
}
