//! Runs wrk (a separate process) with one of the Lua scripts in `bench/wrk/` and parses the
//! result line that `common.lua` prints.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use serde::Serialize;

/// The scripts, built into the binary so it runs from anywhere; written out per run.
const COMMON: &str = include_str!("../../../bench/wrk/common.lua");
pub const SCRIPTS: [(&str, &str); 5] = [
    ("static", include_str!("../../../bench/wrk/static.lua")),
    ("whoami", include_str!("../../../bench/wrk/whoami.lua")),
    ("zitadel_search", include_str!("../../../bench/wrk/zitadel_search.lua")),
    ("create", include_str!("../../../bench/wrk/create.lua")),
    ("password", include_str!("../../../bench/wrk/password.lua")),
];

/// Absolute numbers of one load step.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Measurement {
    pub requests: u64,
    pub seconds: f64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    /// Responses with a status of 400 or more.
    pub status_errors: u64,
    /// Connect, read and write errors and timeouts.
    pub socket_errors: u64,
    /// CPU time (user + system) the server used during the step, per request, in µs. On a
    /// machine shared with other work, throughput follows what the scheduler grants; this
    /// does not, so it compares steps (and builds) where req/s cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cpu_us_per_request: Option<f64>,
}

impl Measurement {
    pub fn from_latencies(requests: u64, seconds: f64, mut micros: Vec<u32>, errors: u64) -> Self {
        micros.sort_unstable();
        let pick = |q: f64| -> f64 {
            if micros.is_empty() {
                return 0.0;
            }
            let index = ((q * micros.len() as f64).ceil() as usize).clamp(1, micros.len()) - 1;
            f64::from(micros[index]) / 1000.0
        };
        let mean = if micros.is_empty() {
            0.0
        } else {
            micros.iter().map(|m| f64::from(*m)).sum::<f64>() / micros.len() as f64 / 1000.0
        };
        Measurement {
            requests,
            seconds,
            rps: requests as f64 / seconds.max(1e-9),
            p50_ms: pick(0.50),
            p90_ms: pick(0.90),
            p99_ms: pick(0.99),
            max_ms: micros.last().map_or(0.0, |m| f64::from(*m) / 1000.0),
            mean_ms: mean,
            status_errors: errors,
            socket_errors: 0,
            server_cpu_us_per_request: None,
        }
    }
}

pub struct Wrk {
    /// None: wrk is not installed and the quick mode uses its own load loop (`crate::load`).
    program: Option<PathBuf>,
    scripts: PathBuf,
    pub threads: u32,
    pub connections: u32,
    pub timeout: Duration,
}

/// One wrk invocation.
pub struct Load<'a> {
    /// The step's key, as `--steps` and `--before-step` name it.
    pub step: String,
    pub script: &'a str,
    pub url: String,
    pub headers: Vec<String>,
    pub args: Vec<String>,
    pub duration: Duration,
    /// Overrides the connection count (e.g. 1, for a step's unloaded service time).
    pub connections: Option<u32>,
}

impl Wrk {
    /// Finds wrk and writes the scripts into `dir`. Without wrk, the quick mode (`builtin_ok`)
    /// falls back to the built-in load loop; a full run fails, naming what to install.
    pub fn new(program: &str, dir: &Path, threads: u32, connections: u32, builtin_ok: bool) -> anyhow::Result<Wrk> {
        let program = match Some(program).filter(|p| !p.is_empty()).and_then(find_program) {
            Some(found) => Some(found),
            None if builtin_ok && program.is_empty() => None,
            None if builtin_ok => {
                eprintln!(
                    "lanyard-bench: wrk was not found ({program:?}); the quick mode drives the server \
                     with its own load loop (its timings are not wrk's; install wrk for real figures)"
                );
                None
            }
            None => {
                return Err(anyhow!(
                    "wrk was not found (looked for {program:?}); install it with `apt-get install -y wrk` \
                     (Debian/Ubuntu) or pass --wrk /path/to/wrk"
                ))
            }
        };
        let scripts = dir.join("wrk");
        std::fs::create_dir_all(&scripts)?;
        for (name, body) in SCRIPTS {
            std::fs::write(scripts.join(format!("{name}.lua")), format!("{COMMON}\n{body}"))?;
        }
        Ok(Wrk {
            program,
            scripts,
            threads,
            connections,
            // The server answers 503 after its own request_timeout (30 s by default).
            timeout: Duration::from_secs(30),
        })
    }

    /// What generates the load, for the report.
    pub fn describe(&self) -> String {
        match &self.program {
            Some(program) => format!("wrk ({})", program.display()),
            None => "the built-in load loop (wrk not installed; figures are not comparable with wrk's)".into(),
        }
    }

    /// Runs one load; blocking (call it inside `block_in_place` or from a thread of its own).
    pub fn run(&self, load: &Load<'_>) -> anyhow::Result<Measurement> {
        let seconds = load.duration.as_secs().max(1);
        let connections = load.connections.unwrap_or(self.connections);
        let Some(program) = &self.program else {
            let loop_run = crate::load::run(load, connections, self.timeout);
            // Steps run it from the runtime (inside block_in_place); the search flood from a
            // thread of its own, which gets a runtime of its own.
            return match tokio::runtime::Handle::try_current() {
                Ok(handle) => handle.block_on(loop_run),
                Err(_) => tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?
                    .block_on(loop_run),
            };
        };
        let mut command = Command::new(program);
        command
            .arg("-t")
            .arg(self.threads.min(connections).to_string())
            .arg("-c")
            .arg(connections.to_string())
            .arg("-d")
            .arg(format!("{seconds}s"))
            .arg("--timeout")
            .arg(format!("{}s", self.timeout.as_secs().max(1)))
            .arg("-s")
            .arg(self.scripts.join(format!("{}.lua", load.script)));
        for header in &load.headers {
            command.arg("-H").arg(header);
        }
        command.arg(&load.url);
        if !load.args.is_empty() {
            command.arg("--").args(&load.args);
        }
        let output = command
            .output()
            .with_context(|| format!("running {}", program.display()))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            bail!("wrk failed ({}):\n{stdout}\n{stderr}", output.status);
        }
        parse(&stdout).with_context(|| format!("unexpected wrk output:\n{stdout}\n{stderr}"))
    }
}

fn find_program(program: &str) -> Option<PathBuf> {
    let path = Path::new(program);
    if path.components().count() > 1 {
        return path.is_file().then(|| path.to_path_buf());
    }
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|candidate| candidate.is_file())
}

/// Parses `LANYARD_BENCH key=value ...`.
pub fn parse(stdout: &str) -> anyhow::Result<Measurement> {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("LANYARD_BENCH "))
        .ok_or_else(|| anyhow!("no LANYARD_BENCH line"))?;
    let mut values = std::collections::HashMap::new();
    for pair in line.split_whitespace() {
        if let Some((key, value)) = pair.split_once('=') {
            values.insert(key, value.parse::<f64>().with_context(|| pair.to_owned())?);
        }
    }
    let get = |key: &str| values.get(key).copied().ok_or_else(|| anyhow!("{key} missing"));
    let requests = get("requests")?;
    let seconds = get("duration_us")? / 1e6;
    Ok(Measurement {
        requests: requests as u64,
        seconds,
        rps: requests / seconds.max(1e-9),
        p50_ms: get("p50_us")? / 1000.0,
        p90_ms: get("p90_us")? / 1000.0,
        p99_ms: get("p99_us")? / 1000.0,
        max_ms: get("max_us")? / 1000.0,
        mean_ms: get("mean_us")? / 1000.0,
        status_errors: get("status_errors")? as u64,
        socket_errors: (get("connect_errors")? + get("read_errors")? + get("write_errors")? + get("timeouts")?) as u64,
        server_cpu_us_per_request: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_result_line() {
        let out = "Running 1s test\nLANYARD_BENCH requests=2000 duration_us=1000000 status_errors=1 connect_errors=0 \
                   read_errors=2 write_errors=0 timeouts=3 p50_us=1500 p90_us=2000 p99_us=4000 max_us=9000 mean_us=1600.5\n";
        let m = parse(out).unwrap();
        assert_eq!(m.requests, 2000);
        assert!((m.rps - 2000.0).abs() < 1e-6);
        assert!((m.p50_ms - 1.5).abs() < 1e-9);
        assert!((m.p99_ms - 4.0).abs() < 1e-9);
        assert_eq!((m.status_errors, m.socket_errors), (1, 5));
        assert!(parse("nothing").is_err());
    }

    #[test]
    fn percentiles_from_latencies() {
        let m = Measurement::from_latencies(100, 1.0, (1..=100).map(|n| n * 1000).collect(), 0);
        assert!((m.p50_ms - 50.0).abs() < 1e-9);
        assert!((m.p99_ms - 99.0).abs() < 1e-9);
        assert!((m.max_ms - 100.0).abs() < 1e-9);
    }
}
