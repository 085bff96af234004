//! The command line: `lanyard [--config FILE] [--database-url URL] <command>`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use lanyard_domain::{ApiKey, Micros, Scope};
use lanyard_service::{Lanyard, SystemClock};
use uuid::Uuid;

use crate::config::{Config, DatabaseUrl, HumanDuration, Overrides, CONFIG_FILE_ENV};
use crate::{app, database};

#[derive(Debug, Parser)]
#[command(
    name = "lanyard",
    version,
    about = "Lanyard: a session service speaking the Ory Kratos and ZITADEL session APIs.",
    after_help = "Configuration comes from built-in defaults, the TOML file, LANYARD_* environment \
                  variables (nested keys joined by a double underscore, e.g. LANYARD_DATABASE__URL) \
                  and flags, each overriding the one before."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// The TOML configuration file.
    #[arg(long, global = true, value_name = "FILE", env = CONFIG_FILE_ENV)]
    pub config: Option<PathBuf>,
    /// The database, e.g. sqlite://lanyard.db, sqlite:///var/lib/lanyard/lanyard.db or
    /// postgres://user:password@host:5432/lanyard (overrides database.url).
    #[arg(long, global = true, value_name = "URL", value_parser = parse_database_url)]
    pub database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate the database and serve the public and admin APIs until SIGTERM or Ctrl-C.
    Serve(ServeArgs),
    /// Apply pending database migrations.
    Migrate,
    /// Delete sessions that expired or were revoked longer ago than --keep-last, in batches.
    /// Progress and a summary go to stderr. Only one cleanup runs at a time across every node
    /// sharing the database (a lease row); when another holds it, this says so and exits 0.
    Cleanup(CleanupArgs),
    /// Manage the API keys that guard the admin API and the ZITADEL routes.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Address of the public API (overrides serve.public.listen).
    #[arg(long, value_name = "ADDR")]
    pub public_listen: Option<SocketAddr>,
    /// Address of the admin API (overrides serve.admin.listen); keep it private.
    #[arg(long, value_name = "ADDR")]
    pub admin_listen: Option<SocketAddr>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct CleanupArgs {
    /// Keep sessions that expired or were revoked within this long, e.g. 24h, 7d or 0s
    /// (default: cleanup.keep_last, 24h).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub keep_last: Option<HumanDuration>,
    /// Sessions deleted per statement (default: cleanup.batch_size, 1000).
    #[arg(long, value_name = "N", value_parser = parse_batch_size)]
    pub batch_size: Option<u32>,
    /// Stop after this many batches (default: until no session is due).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_batches: Option<u32>,
}

fn parse_batch_size(value: &str) -> Result<u32, String> {
    let max = lanyard_service::MAX_CLEANUP_BATCH_SIZE;
    value
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| format!("{value:?} is not a batch size; write a whole number from 1 to {max}"))
}

fn parse_duration(value: &str) -> Result<HumanDuration, String> {
    let duration: HumanDuration = value.parse()?;
    time::Duration::try_from(duration.0).map_err(|_| format!("the duration {value:?} is too long"))?;
    Ok(duration)
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key. Prints only the secret on stdout; it is shown this once.
    Create {
        /// A name to recognise the key by.
        #[arg(long)]
        name: String,
        /// A scope to grant; repeat for several. Without any, the key gets all five.
        #[arg(long = "scope", value_name = "SCOPE", value_parser = parse_scope)]
        scopes: Vec<Scope>,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke a key; requests with it fail from now on.
    Revoke {
        /// The key's id, as `keys list` shows it.
        id: Uuid,
    },
}

fn parse_database_url(value: &str) -> Result<String, String> {
    value.parse::<DatabaseUrl>()?;
    Ok(value.to_owned())
}

fn parse_scope(value: &str) -> Result<Scope, String> {
    Scope::parse(value).ok_or_else(|| {
        let known: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
        format!("unknown scope {value:?}; the scopes are {}", known.join(", "))
    })
}

impl Cli {
    /// The flag overrides for the configuration.
    pub fn overrides(&self) -> Overrides {
        let serve = match &self.command {
            Command::Serve(args) => args.clone(),
            _ => ServeArgs::default(),
        };
        Overrides {
            database_url: self.global.database_url.clone(),
            public_listen: serve.public_listen,
            admin_listen: serve.admin_listen,
        }
    }

    /// Loads the configuration this command line names.
    pub fn load_config(&self) -> anyhow::Result<Config> {
        Config::load(self.global.config.as_deref(), &self.overrides())
    }
}

/// Runs a parsed command with a loaded configuration. Command output goes to `out` (the new
/// key's secret, the key table) and `err` (human notes); logs go to the tracing subscriber.
pub async fn run(command: Command, config: Config, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<()> {
    match command {
        Command::Serve(_) => app::serve(config).await,
        Command::Migrate => migrate(&config, out).await,
        Command::Cleanup(args) => {
            let mut options = config.cleanup.options();
            if let Some(keep_last) = args.keep_last {
                options.keep_last = time::Duration::try_from(keep_last.0).unwrap_or(time::Duration::MAX);
            }
            options.batch_size = args.batch_size.unwrap_or(options.batch_size);
            options.max_batches = args.max_batches;
            let service = open_service(&config).await?;
            crate::cleanup::run_once(&service, options, err).await
        }
        Command::Keys(keys) => {
            let service = open_service(&config).await?;
            match keys {
                KeysCommand::Create { name, scopes } => create_key(&service, &name, scopes, out, err).await,
                KeysCommand::List => list_keys(&service, out).await,
                KeysCommand::Revoke { id } => revoke_key(&service, id, err).await,
            }
        }
    }
}

async fn migrate(config: &Config, out: &mut dyn Write) -> anyhow::Result<()> {
    let store = database::open_store(config).await?;
    let report = database::migrate(config, &store).await;
    store.close().await;
    let report = report?;
    if report.applied.is_empty() {
        writeln!(
            out,
            "{}: up to date, no migrations to apply ({} applied earlier)",
            config.database.url,
            report.current.len()
        )?;
    } else {
        for migration in &report.applied {
            writeln!(
                out,
                "applied migration {} ({})",
                migration.version, migration.description
            )?;
        }
        writeln!(
            out,
            "{}: {} migration(s) applied, {} in total",
            config.database.url,
            report.applied.len(),
            report.current.len()
        )?;
    }
    Ok(())
}

/// Opens and migrates the store, then builds the service (the keys commands need both).
async fn open_service(config: &Config) -> anyhow::Result<Arc<Lanyard>> {
    let store = database::open_store(config).await?;
    database::migrate(config, &store).await?;
    app::build_service(config, store.shared(), Arc::new(SystemClock)).await
}

async fn create_key(
    service: &Lanyard,
    name: &str,
    scopes: Vec<Scope>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<()> {
    let created = service
        .create_api_key(name, scopes)
        .await
        .context("cannot create the API key")?;
    writeln!(out, "{}", created.secret.expose())?;
    out.flush()?;
    writeln!(
        err,
        "Created API key {} named {:?} with scopes {}.\nThe secret above is shown only this once; \
         Lanyard keeps only its digest. Store it safely now.",
        created.key.id,
        created.key.name,
        scope_list(&created.key),
    )?;
    Ok(())
}

async fn list_keys(service: &Lanyard, out: &mut dyn Write) -> anyhow::Result<()> {
    let keys = service.list_api_keys().await.context("cannot list the API keys")?;
    let header = ["ID", "NAME", "SCOPES", "CREATED", "REVOKED"].map(String::from);
    let rows: Vec<[String; 5]> = keys
        .iter()
        .map(|key| {
            [
                key.id.to_string(),
                printable(&key.name),
                scope_list(key),
                timestamp(key.created_at),
                key.revoked_at.map_or_else(|| "-".into(), timestamp),
            ]
        })
        .collect();
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        writeln!(out, "{}", line.join("  ").trim_end())?;
    }
    if rows.is_empty() {
        writeln!(out, "(no API keys; create one with `lanyard keys create --name NAME`)")?;
    }
    Ok(())
}

async fn revoke_key(service: &Lanyard, id: Uuid, err: &mut dyn Write) -> anyhow::Result<()> {
    service
        .revoke_api_key(id)
        .await
        .with_context(|| format!("cannot revoke API key {id}"))?;
    writeln!(err, "Revoked API key {id}.")?;
    Ok(())
}

fn scope_list(key: &ApiKey) -> String {
    key.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
}

fn timestamp(at: Micros) -> String {
    let at = at.to_datetime().replace_nanosecond(0).unwrap_or(at.to_datetime());
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.to_string())
}

/// Names come from operators, but a table is no place for control characters.
fn printable(name: &str) -> String {
    name.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();

        let cli = Cli::parse_from([
            "lanyard",
            "--database-url",
            "sqlite:///tmp/x.db",
            "serve",
            "--public-listen",
            "127.0.0.1:1",
        ]);
        let overrides = cli.overrides();
        assert_eq!(overrides.database_url.as_deref(), Some("sqlite:///tmp/x.db"));
        assert_eq!(overrides.public_listen, Some("127.0.0.1:1".parse().unwrap()));
        assert_eq!(overrides.admin_listen, None);

        // Global options also go after the command.
        let cli = Cli::parse_from([
            "lanyard",
            "keys",
            "create",
            "--name",
            "ci",
            "--scope",
            "session.read",
            "--scope",
            "identity.read",
            "--database-url",
            "sqlite:x.db",
        ]);
        let Command::Keys(KeysCommand::Create { name, scopes }) = &cli.command else {
            panic!("{cli:?}")
        };
        assert_eq!(name, "ci");
        assert_eq!(scopes, &[Scope::SessionRead, Scope::IdentityRead]);
        assert_eq!(cli.global.database_url.as_deref(), Some("sqlite:x.db"));

        let error = Cli::try_parse_from(["lanyard", "keys", "create", "--name", "x", "--scope", "admin"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("session.read"), "{error}");
        assert!(Cli::try_parse_from(["lanyard", "--database-url", "mysql://x", "migrate"]).is_err());
        assert!(Cli::try_parse_from(["lanyard", "keys", "revoke", "not-a-uuid"]).is_err());
    }

    #[tokio::test]
    async fn keys_are_created_listed_and_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.database.url = DatabaseUrl::Sqlite(dir.path().join("nested/keys.db"));
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let create = KeysCommand::Create {
            name: "ci".into(),
            scopes: vec![Scope::SessionRead],
        };
        run(Command::Keys(create), config.clone(), &mut out, &mut err)
            .await
            .unwrap();
        let out_text = String::from_utf8(out).unwrap();
        let secret = out_text.strip_suffix('\n').unwrap();
        assert!(
            secret.starts_with("lanyard_ak_") && !secret.contains('\n'),
            "{out_text:?}"
        );
        let err_text = String::from_utf8(err).unwrap();
        assert!(
            err_text.contains("session.read") && err_text.contains("once"),
            "{err_text}"
        );
        assert!(!err_text.contains(secret));

        let mut table = Vec::new();
        run(
            Command::Keys(KeysCommand::List),
            config.clone(),
            &mut table,
            &mut Vec::new(),
        )
        .await
        .unwrap();
        let table = String::from_utf8(table).unwrap();
        assert!(table.starts_with("ID"), "{table}");
        assert!(table.contains("ci") && table.contains("session.read"), "{table}");
        assert!(!table.contains(secret));
        let id: Uuid = table
            .lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();

        run(
            Command::Keys(KeysCommand::Revoke { id }),
            config.clone(),
            &mut Vec::new(),
            &mut Vec::new(),
        )
        .await
        .unwrap();
        let again = run(
            Command::Keys(KeysCommand::Revoke { id }),
            config.clone(),
            &mut Vec::new(),
            &mut Vec::new(),
        )
        .await
        .unwrap_err();
        assert!(format!("{again:#}").contains(&id.to_string()));

        let mut out = Vec::new();
        run(Command::Migrate, config, &mut out, &mut Vec::new()).await.unwrap();
        assert!(String::from_utf8(out).unwrap().contains("up to date"));
    }
}
