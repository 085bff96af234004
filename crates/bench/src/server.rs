//! The `lanyard` server as a child process: configuration, start, readiness, memory, stop.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};

use crate::seed::Target;

/// Which `lanyard` to run.
#[derive(Debug, Clone)]
pub enum ServerBin {
    /// A built `lanyard` binary, e.g. `target/release/lanyard`.
    Path(PathBuf),
    /// This binary's own copy of the `lanyard` command line (`lanyard-bench lanyard -- …`):
    /// the same code, compiled with the same profile as the bench.
    Embedded,
}

impl ServerBin {
    /// `embedded`, a path, or (when not given) the `lanyard` next to this executable, falling
    /// back to the embedded copy.
    pub fn resolve(value: Option<&str>) -> anyhow::Result<ServerBin> {
        match value {
            Some("embedded") => Ok(ServerBin::Embedded),
            Some(path) => {
                let path = PathBuf::from(path);
                if !path.is_file() {
                    bail!(
                        "the server binary {} does not exist; build it with \
                         `cargo build --release -p lanyard -p lanyard-bench` or pass --server-bin embedded",
                        path.display()
                    );
                }
                Ok(ServerBin::Path(path))
            }
            None => {
                let sibling = std::env::current_exe()?.with_file_name("lanyard");
                Ok(if sibling.is_file() {
                    ServerBin::Path(sibling)
                } else {
                    ServerBin::Embedded
                })
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            ServerBin::Path(path) => {
                let modified = std::fs::metadata(path)
                    .and_then(|m| m.modified())
                    .ok()
                    .map(|t| {
                        let at: time::OffsetDateTime = t.into();
                        at.format(&time::format_description::well_known::Rfc3339)
                            .unwrap_or_default()
                    })
                    .unwrap_or_default();
                format!("{} (built {modified})", path.display())
            }
            ServerBin::Embedded => "embedded (lanyard-bench lanyard -- …)".into(),
        }
    }

    /// A command running `lanyard` with `wrapper` (e.g. valgrind) in front, if any.
    pub fn command(&self, wrapper: Option<&str>) -> anyhow::Result<Command> {
        let (program, first): (PathBuf, Option<&str>) = match self {
            ServerBin::Path(path) => (path.clone(), None),
            ServerBin::Embedded => (std::env::current_exe()?, Some("lanyard")),
        };
        let mut command = match wrapper.map(str::split_whitespace) {
            Some(mut words) => {
                let head = words.next().ok_or_else(|| anyhow!("--server-wrapper is empty"))?;
                let mut command = Command::new(head);
                command.args(words).arg(program);
                command
            }
            None => Command::new(program),
        };
        command.args(first);
        Ok(command)
    }
}

/// A free loopback port (bound, read, released).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub struct ServerConfig<'a> {
    pub target: &'a Target,
    pub secret: &'a str,
    /// `[cache] capacity`; `None` leaves the server's default (100,000).
    pub cache_capacity: Option<u64>,
    /// `[cache] ttl`; `None` leaves the server's default (5s): the bench measures what a user
    /// who configures nothing gets.
    pub cache_ttl: Option<&'a str>,
    /// `[rate_limits] list_concurrency_per_principal = 0` and `list_concurrency = 0`: lists and
    /// searches unbounded, for the search-flood step's comparison.
    pub list_limits_off: bool,
    /// `serve.request_timeout`; `None`: the server's default (30 s).
    pub request_timeout: Option<&'a str>,
}

/// Writes a configuration file for one server start; returns its path and the two ports.
pub fn write_config(dir: &Path, name: &str, config: &ServerConfig<'_>) -> anyhow::Result<(PathBuf, u16, u16)> {
    let (public, admin) = (free_port()?, free_port()?);
    #[allow(clippy::expect_used, reason = "serialising a &str cannot fail")]
    let quote = |s: &str| serde_json::to_string(s).expect("strings serialise");
    let mut cache = String::new();
    if let Some(capacity) = config.cache_capacity {
        cache.push_str(&format!("capacity = {capacity}\n"));
    }
    if let Some(ttl) = config.cache_ttl {
        cache.push_str(&format!("ttl = {}\n", quote(ttl)));
    }
    let serve = config
        .request_timeout
        .map(|t| format!("[serve]\nrequest_timeout = {}\n", quote(t)))
        .unwrap_or_default();
    let text = format!(
        "# Written by lanyard-bench for one benchmark server.\n\
         secrets = [{secret}]\n\
         {serve}\
         [database]\nurl = {url}\n\
         [serve.public]\nlisten = \"127.0.0.1:{public}\"\nbase_url = \"http://127.0.0.1:{public}/\"\n\
         [serve.admin]\nlisten = \"127.0.0.1:{admin}\"\n\
         [cache]\n{cache}\
         {rate_limits}\
         # Access logs cost throughput; warnings and errors still show.\n\
         [log]\nlevel = \"warn\"\n",
        secret = quote(config.secret),
        url = quote(&config.target.url()),
        rate_limits = if config.list_limits_off {
            "[rate_limits]\nlist_concurrency_per_principal = 0\nlist_concurrency = 0\n"
        } else {
            ""
        },
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text)?;
    Ok((path, public, admin))
}

pub struct Server {
    child: Child,
    pub public: String,
    pub admin: String,
    log: PathBuf,
}

impl Server {
    pub fn start(
        bin: &ServerBin,
        wrapper: Option<&str>,
        config: &Path,
        ports: (u16, u16),
        log: PathBuf,
    ) -> anyhow::Result<Server> {
        let mut command = bin.command(wrapper)?;
        command
            .arg("--config")
            .arg(config)
            .arg("serve")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log)?);
        let child = command
            .spawn()
            .with_context(|| format!("starting the server {command:?}"))?;
        Ok(Server {
            child,
            public: format!("http://127.0.0.1:{}", ports.0),
            admin: format!("http://127.0.0.1:{}", ports.1),
            log,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    pub async fn wait_ready(&mut self, http: &reqwest::Client, timeout: Duration) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("the server exited ({status}) before it was ready:\n{}", self.log_tail());
            }
            let url = format!("{}/health/ready", self.public);
            if let Ok(response) = http.get(&url).send().await {
                if response.status().is_success() {
                    return Ok(());
                }
            }
            if started.elapsed() > timeout {
                bail!("the server was not ready after {timeout:?}:\n{}", self.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Fails when the server has died (e.g. crashed under load).
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "the server exited ({status}) during the benchmark:\n{}",
                self.log_tail()
            );
        }
        Ok(())
    }

    /// Peak resident memory so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        proc_status_kib(self.pid(), "VmHWM:")
    }

    pub fn rss_kib(&self) -> Option<u64> {
        proc_status_kib(self.pid(), "VmRSS:")
    }

    /// Resident memory the server allocated itself (`RssAnon`), in KiB: RSS without the file
    /// pages SQLite's readers map, which are the kernel's page cache.
    pub fn anon_rss_kib(&self) -> Option<u64> {
        proc_status_kib(self.pid(), "RssAnon:")
    }

    /// SIGTERM, then wait for the graceful shutdown (at most a minute, then SIGKILL).
    pub fn stop(mut self) -> anyhow::Result<()> {
        if self.child.try_wait()?.is_some() {
            return Ok(());
        }
        let _ = Command::new("kill").arg("-TERM").arg(self.pid().to_string()).status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// CPU time (user + system) a process has used, in clock ticks.
/// Clock ticks per second of `/proc/<pid>/stat`'s CPU times (USER_HZ, 100 on every Linux
/// architecture's user-space ABI).
pub const TICKS_PER_SECOND: u64 = 100;

/// CPU time (user + system) the process has used, in [`TICKS_PER_SECOND`] ticks.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Waits until the server is idle (below ~3% of a core over 300 ms), so that start-up work
/// (its SQLite `PRAGMA optimize`, the active-sessions gauge's first count) or requests still
/// queued from the previous step do not land in the next measurement. Gives up after `max`.
pub fn wait_idle(pid: u32, max: Duration) {
    let started = Instant::now();
    let mut last = cpu_ticks(pid);
    while started.elapsed() < max {
        std::thread::sleep(Duration::from_millis(300));
        let now = cpu_ticks(pid);
        match (last, now) {
            (Some(a), Some(b)) if b.saturating_sub(a) <= 1 => return,
            (_, None) => return,
            _ => {}
        }
        last = now;
    }
    eprintln!(
        "lanyard-bench:   the server was still busy after {} s; measuring anyway",
        max.as_secs()
    );
}

fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

/// Runs `lanyard --config <config> keys create --name <name>` and returns the secret.
pub fn create_key(bin: &ServerBin, config: &Path, name: &str) -> anyhow::Result<String> {
    let mut command = bin.command(None)?;
    let output = command
        .arg("--config")
        .arg(config)
        .args(["keys", "create", "--name", name])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .context("running `lanyard keys create`")?;
    if !output.status.success() {
        bail!(
            "`lanyard keys create` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let secret = String::from_utf8(output.stdout)?.trim().to_owned();
    if secret.is_empty() {
        bail!("`lanyard keys create` printed no key");
    }
    Ok(secret)
}
