//! `lanyard-bench run`: seed if needed, start the server, drive every step with wrk, measure
//! the direct lookup in-process, print one table.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use lanyard_domain::{Cursor, Micros, PageTokenKeys, TokenDigest};
use serde::Serialize;
use sqlx::Connection;
use uuid::Uuid;

use crate::model;
use crate::report::{self, Bar, StepResult};
use crate::seed::{self, SeedSpec, Seeded, Target};
use crate::server::{self, Server, ServerBin, ServerConfig};
use crate::transports::{Call, Transport};
use crate::wrk::{Load, Measurement, Wrk};

/// The page-token secret written into the generated configuration, so the bench can mint the
/// token of a deep page without walking 2,000 `next` links.
pub(crate) const PAGE_SECRET: &str = "lanyard-bench-page-token-secret-0123456789";
const ADMIN_PAGE_SIZE: u64 = 250;

pub struct RunOptions {
    pub target: Target,
    pub dir: PathBuf,
    pub spec: SeedSpec,
    pub reseed: bool,
    pub duration: Duration,
    pub connections: u32,
    pub threads: u32,
    pub server: ServerBin,
    pub server_wrapper: Option<String>,
    pub wrk: String,
    /// The built-in load loop may replace wrk: in the quick mode when wrk is missing, and with
    /// `--builtin-load` (then `wrk` is empty).
    pub quick: bool,
    pub warm_set: u64,
    pub admin_page: u64,
    pub offsets: Vec<u64>,
    pub cache_ttl: Option<String>,
    pub steps: Option<Vec<String>>,
    /// A shell command run before each step's load as `sh -c CMD lanyard-bench <step> <server pid>`
    /// (e.g. to start a profiler for one step).
    pub before_step: Option<String>,
    /// The main server runs without list limits.
    pub no_list_limits: bool,
    pub json: Option<PathBuf>,
    pub command_line: String,
}

impl RunOptions {
    fn wants(&self, step: &str) -> bool {
        self.steps.as_ref().is_none_or(|steps| {
            steps
                .iter()
                .any(|s| s == step || (s == "offset" && step.starts_with("offset")))
        })
    }
}

#[derive(Debug, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub load_before: String,
    pub load_after: String,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub command: String,
    pub store: String,
    pub server: String,
    /// wrk, or the quick mode's own load loop when wrk is not installed.
    pub load_generator: String,
    pub seeded: Seeded,
    pub connections: u32,
    pub threads: u32,
    pub step_seconds: u64,
    pub machine: Machine,
    pub steps: Vec<StepResult>,
    pub bars: Vec<Bar>,
    pub peak_rss_mib: Option<f64>,
    /// The largest `RssAnon` seen when a server stopped: comparable across SQLite builds with
    /// and without the memory map, which VmHWM (counting mapped file pages) is not.
    pub anon_rss_mib: Option<f64>,
    pub warm_cache_hit_ratio: Option<f64>,
}

/// The servers' memory over a run, read as each server stops: the largest `VmHWM`, and the
/// largest `RssAnon` (the kernel keeps no peak of that one, so it is sampled).
#[derive(Default)]
struct MemoryPeaks {
    rss_kib: Option<u64>,
    anon_kib: Option<u64>,
}

impl MemoryPeaks {
    fn sample(&mut self, server: &Server) {
        self.rss_kib = self.rss_kib.max(server.peak_rss_kib());
        self.anon_kib = self.anon_kib.max(server.anon_rss_kib());
    }
}

pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

pub(crate) fn machine(load_before: String) -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown".into());
    let memory_kib: f64 = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0.0);
    Machine {
        cpu,
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        memory_gib: memory_kib / 1024.0 / 1024.0,
        load_before,
        load_after: loadavg(),
    }
}

/// The steps' results as they come in, with the server's memory after each.
struct Steps {
    results: Vec<StepResult>,
}

impl Steps {
    fn push(&mut self, key: &str, label: String, measurement: Measurement, rss_kib: Option<u64>) {
        eprintln!(
            "lanyard-bench:   {label}: {:.1} req/s, p50 {:.2} ms, p99 {:.2} ms{}",
            measurement.rps,
            measurement.p50_ms,
            measurement.p99_ms,
            if measurement.status_errors + measurement.socket_errors > 0 {
                format!(
                    ", {} error responses, {} socket errors",
                    measurement.status_errors, measurement.socket_errors
                )
            } else {
                String::new()
            }
        );
        self.results.push(StepResult {
            key: key.to_owned(),
            label,
            measurement,
            peak_rss_mib: rss_kib.map(|k| k as f64 / 1024.0),
        });
    }
}

/// One request outside wrk, so that a wrong URL or body fails with the server's own message
/// instead of a count of error responses.
async fn probe(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    headers: &[(&str, String)],
    body: Option<String>,
) -> anyhow::Result<serde_json::Value> {
    let mut request = http.request(method.clone(), url);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    if let Some(body) = body {
        request = request.header("content-type", "application/json").body(body);
    }
    let response = request.send().await.with_context(|| format!("{method} {url}"))?;
    let status = response.status();
    let text = response.text().await?;
    if !status.is_success() {
        bail!("{method} {url} answered {status}: {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
}

/// The cursor of the last row before `page` (1-based) of the admin list, minted as the page
/// token the server would have handed out.
async fn deep_page_token(target: &Target, page: u64) -> anyhow::Result<String> {
    let offset = ((page - 1) * ADMIN_PAGE_SIZE - 1) as i64;
    let (created, id): (i64, Uuid) = match target {
        Target::Sqlite(path) => {
            let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path).read_only(true);
            let mut conn = sqlx::SqliteConnection::connect_with(&options).await?;
            sqlx::query_as(
                "SELECT created_us, id FROM sessions WHERE identity_id IS NOT NULL \
                 ORDER BY created_us DESC, id ASC LIMIT 1 OFFSET ?1",
            )
            .bind(offset)
            .fetch_one(&mut conn)
            .await?
        }
        Target::Postgres(url) => {
            let mut conn = sqlx::PgConnection::connect(url).await?;
            sqlx::query_as(
                "SELECT created_us, id FROM sessions WHERE identity_id IS NOT NULL \
                 ORDER BY created_us DESC, id ASC LIMIT 1 OFFSET $1",
            )
            .bind(offset)
            .fetch_one(&mut conn)
            .await?
        }
    };
    #[allow(clippy::expect_used, reason = "PAGE_SECRET is a non-empty constant")]
    let keys = PageTokenKeys::new(vec![PAGE_SECRET.as_bytes().to_vec()]).expect("a non-empty secret");
    Ok(keys.encode(Cursor {
        created_at: Micros(created),
        id,
    }))
}

async fn metric(http: &reqwest::Client, server: &Server, key: &str, name: &str) -> Option<f64> {
    let text = http
        .get(format!("{}/metrics", server.admin))
        .bearer_auth(key)
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.trim().parse().ok())
}

/// Requests every token of the working set once, so the whoami step starts with a warm cache.
async fn warm_cache(http: &reqwest::Client, server: &Server, tokens: u64) -> anyhow::Result<()> {
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (http, next, url) = (http.clone(), next.clone(), format!("{}/sessions/whoami", server.public));
        tasks.push(tokio::spawn(async move {
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= tokens {
                    return anyhow::Ok(());
                }
                let token = model::token(model::nth_active(k));
                let status = http.get(&url).header("X-Session-Token", &token).send().await?.status();
                if !status.is_success() {
                    bail!("whoami with {token} answered {status}");
                }
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// The search-flood step (issue 11, item 7): one session-token holder runs limit-1000
/// ListSessions as fast as it can over this many connections.
const FLOOD_CONNECTIONS: u32 = 16;
/// The flooding caller: seeded session 1 (active), i.e. the identity of seeded identity 1.
const FLOODER_SESSION: u64 = 1;
/// How long the flood runs before whoami is measured under it, so that the measurement sees
/// its steady state (every connection busy or queued), not its ramp-up.
const FLOOD_RAMP_UP: Duration = Duration::from_millis(1500);

/// Sessions the flooding caller's identity is given on top of its seeded ~3, so that its
/// limit-1000 page is full: the heaviest search a session-token holder can run.
const FLOODER_EXTRA_SESSIONS: u64 = 1_000;

/// Gives the flooder's identity [`FLOODER_EXTRA_SESSIONS`] more active sessions (each with a
/// device), through the store as the server would write them. They get sequences above the
/// seed's, so the next run removes them with the other steps' additions before it adds its own.
async fn give_flooder_sessions(target: &Target, identities: u64) -> anyhow::Result<()> {
    let store: Arc<dyn lanyard_store::Store> = Arc::from(target.open_store().await?);
    let identity = model::identity_id(model::identity_of(FLOODER_SESSION, identities.max(1)));
    let now = Micros(seed::now_us());
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..FLOODER_EXTRA_SESSIONS {
        let store = store.clone();
        tasks.spawn(async move {
            let created = Micros(now.0 - (n as i64 + 1) * model::SECOND_US);
            let session = lanyard_domain::Session {
                id: Uuid::now_v7(),
                identity_id: Some(identity),
                created_at: created,
                changed_at: created,
                authenticated_at: created,
                expires_at: Some(Micros(now.0 + model::DAY_US)),
                revoked_at: None,
                user_checked_at: Some(created),
                factors: vec![lanyard_domain::Factor::new(lanyard_domain::Method::Password, created)],
                devices: vec![lanyard_domain::Device {
                    id: Uuid::now_v7(),
                    ip_address: Some("198.51.100.7".into()),
                    user_agent: Some("lanyard-bench flooder".into()),
                    location: Some("Berlin, DE".into()),
                    fingerprint_id: None,
                    headers: Default::default(),
                    created_at: created,
                }],
                metadata: Default::default(),
                creator: Some(identity.to_string()),
                sequence: 0,
            };
            store
                .insert_session(&session, &TokenDigest::of(&format!("bench_flood_{n}")))
                .await
        });
    }
    while let Some(inserted) = tasks.join_next().await {
        inserted??;
    }
    Ok(())
}

/// One run of [`search_flood`].
struct Flood<'a> {
    wrk: &'a Wrk,
    http: &'a reqwest::Client,
    server: &'a Server,
    /// Whoami's working set: the first this many active sessions' tokens.
    tokens: u64,
    duration: Duration,
    /// The step key of the whoami-under-flood row; `<key>_idle` and `<key>_flooder` too.
    key: &'a str,
    /// How the server limits lists, for the labels.
    limits: &'a str,
}

/// Whoami (cached, the warm set, the run's connections) measured idle and then while one
/// session-token caller floods ListSessions (REST, no query, limit 1000: all of its own
/// sessions) over [`FLOOD_CONNECTIONS`] connections; records three rows under `key`: the idle
/// whoami, the whoami under the flood, and the flooder's own numbers (its 429s are counted as
/// errors and expected).
async fn search_flood(flood: Flood<'_>, steps: &mut Steps) -> anyhow::Result<()> {
    let Flood {
        wrk,
        http,
        server,
        tokens,
        duration,
        key,
        limits,
    } = flood;
    warm_cache(http, server, tokens).await?;
    let whoami = |step: String| Load {
        step,
        script: "whoami",
        url: format!("{}/sessions/whoami", server.public),
        headers: vec![],
        args: vec![(model::nth_active(tokens - 1) + 1).to_string()],
        duration,
        connections: None,
    };
    let url = format!("{}/v2/sessions/search", server.public);
    let body = r#"{"query":{"offset":"0","limit":1000,"asc":false}}"#.to_owned();
    let flooder = format!("Bearer {}", model::token(FLOODER_SESSION));
    let page = probe(
        http,
        reqwest::Method::POST,
        &url,
        &[("authorization", flooder.clone())],
        Some(body.clone()),
    )
    .await?;
    let rows = page["sessions"].as_array().map_or(0, Vec::len);
    eprintln!("lanyard-bench: search flood ({limits}): the flooder's page holds {rows} sessions");

    let pid = server.pid();
    let idle = tokio::task::block_in_place(|| run_until_measured(wrk, whoami(format!("{key}_idle")), pid, None))?;
    steps.push(
        &format!("{key}_idle"),
        format!("whoami, cached, idle ({limits})"),
        idle,
        server.peak_rss_kib(),
    );

    let flood = Load {
        step: format!("{key}_flooder"),
        script: "static",
        url,
        headers: vec![format!("Authorization: {flooder}")],
        args: vec!["POST".into(), body],
        duration: duration + FLOOD_RAMP_UP + Duration::from_secs(2),
        connections: Some(FLOOD_CONNECTIONS),
    };
    let (under_flood, flooder) = tokio::task::block_in_place(|| {
        std::thread::scope(|scope| {
            let flooding = scope.spawn(|| wrk.run(&flood));
            std::thread::sleep(FLOOD_RAMP_UP);
            // Not run_until_measured: it waits for an idle server, which a flood never is.
            let measured = wrk.run(&whoami(key.to_owned()));
            let flooded = flooding
                .join()
                .map_err(|_| anyhow!("the flooding wrk thread panicked"))
                .and_then(|result| result);
            (measured, flooded)
        })
    });
    let under_flood = under_flood?;
    let flooder = flooder?;
    steps.push(
        key,
        format!("whoami, cached, during a ListSessions flood ({limits})"),
        under_flood,
        server.peak_rss_kib(),
    );
    steps.push(
        &format!("{key}_flooder"),
        format!("↳ the flooder: ListSessions limit 1000 ({rows} rows), session token, {FLOOD_CONNECTIONS} connections; errors = 429s"),
        flooder,
        server.peak_rss_kib(),
    );
    Ok(())
}

/// The bench's own indexed lookup by digest: the store's `session_by_digest`, through the same
/// driver and pool size as the server, from `concurrency` tasks for `duration`.
pub async fn direct_lookup(
    target: &Target,
    sessions: u64,
    duration: Duration,
    concurrency: u32,
) -> anyhow::Result<Measurement> {
    let store: Arc<dyn lanyard_store::Store> = Arc::from(target.open_store().await?);
    // A short warm-up, as the server got from its readiness checks.
    for n in 0..100 {
        store.session_by_digest(&TokenDigest::of(&model::token(n))).await?;
    }
    let workers = (0..concurrency)
        .map(|task| DigestLookup {
            store: store.clone(),
            rng: model::Rng::new(u64::from(task) + 1),
            sessions,
        })
        .collect();
    crate::closed_loop::run(workers, duration).await
}

/// One task of the direct lookup: a random active session's token, by digest.
struct DigestLookup {
    store: Arc<dyn lanyard_store::Store>,
    rng: model::Rng,
    sessions: u64,
}

impl crate::closed_loop::Worker for DigestLookup {
    async fn call(&mut self) -> anyhow::Result<crate::closed_loop::Outcome> {
        let n = self.rng.active_session(self.sessions);
        let digest = TokenDigest::of(&model::token(n));
        let row = self.store.session_by_digest(&digest).await?;
        Ok(if row.is_some() {
            crate::closed_loop::Outcome::Answered
        } else {
            crate::closed_loop::Outcome::Wrong
        })
    }
}

/// Connections of the transports step: enough to keep both cores busy, few enough that the
/// in-process load generator does not starve the server.
const TRANSPORT_CONNECTIONS: u32 = 8;

pub async fn run(options: RunOptions) -> anyhow::Result<Report> {
    let load_before = loadavg();
    std::fs::create_dir_all(&options.dir)?;
    let dir = options.dir.canonicalize()?;
    let wrk = Wrk::new(&options.wrk, &dir, options.threads, options.connections, options.quick)?;
    eprintln!(
        "lanyard-bench: load average before the run: {load_before} ({} cores)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let seeded = seed::ensure(&options.target, options.spec, options.reseed).await?;
    let spec = seeded.spec;
    if options.wants("search_flood") || options.wants("search_flood_unlimited") {
        eprintln!("lanyard-bench: giving the search flood's caller {FLOODER_EXTRA_SESSIONS} more sessions");
        give_flooder_sessions(&options.target, spec.identities).await?;
    }
    let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?;
    let mut steps = Steps { results: Vec::new() };
    let mut memory = MemoryPeaks::default();
    let mut hit_ratio = None;
    let duration = options.duration;
    let wrapper = options.server_wrapper.as_deref();
    eprintln!("lanyard-bench: server {}", options.server.describe());

    let warm_config = ServerConfig {
        target: &options.target,
        secret: PAGE_SECRET,
        // The server's default capacity (100,000) unless the warm set needs more.
        cache_capacity: (options.warm_set * 2 > 100_000).then_some(options.warm_set * 2),
        cache_ttl: options.cache_ttl.as_deref(),
        list_limits_off: options.no_list_limits,
        request_timeout: None,
    };
    let (config_a, public_a, admin_a) = server::write_config(&dir, "server-cached", &warm_config)?;
    let key = server::create_key(&options.server, &config_a, "lanyard-bench")?;
    let bearer = format!("Authorization: Bearer {key}");
    let auth = [("authorization", format!("Bearer {key}"))];

    let server_a_steps = [
        "health",
        "whoami_warm",
        "admin_list_first",
        "admin_list_deep",
        "zitadel_search",
        "zitadel_transports",
        "search_flood",
        "create",
        "password",
    ];
    let wants_offsets = options.offsets.iter().any(|o| options.wants(&format!("offset_{o}")));
    if server_a_steps.iter().any(|s| options.wants(s)) || wants_offsets {
        eprintln!("lanyard-bench: starting the server (token cache on)");
        let mut server = Server::start(
            &options.server,
            wrapper,
            &config_a,
            (public_a, admin_a),
            dir.join("server-cached.log"),
        )?;
        server.wait_ready(&http, Duration::from_secs(300)).await?;
        let public = server.public.clone();
        let admin = server.admin.clone();

        let (pid, hook) = (server.pid(), options.before_step.as_deref());
        let run_wrk = |load: Load<'static>| {
            let wrk = &wrk;
            async move { tokio::task::block_in_place(|| run_until_measured(wrk, load, pid, hook)) }
        };

        if options.wants("health") {
            probe(
                &http,
                reqwest::Method::GET,
                &format!("{public}/health/alive"),
                &[],
                None,
            )
            .await?;
            let m = run_wrk(Load {
                step: "health".into(),
                script: "static",
                url: format!("{public}/health/alive"),
                headers: vec![],
                args: vec![],
                duration,
                connections: None,
            })
            .await?;
            server.check_alive()?;
            steps.push("health", "static /health/alive".into(), m, server.peak_rss_kib());
        }

        if options.wants("whoami_warm") {
            let tokens = options.warm_set.min(model::active_sessions(spec.sessions)).max(1);
            let range = model::nth_active(tokens - 1) + 1;
            eprintln!("lanyard-bench: warming the token cache with {tokens} tokens");
            warm_cache(&http, &server, tokens).await?;
            let hits_before = metric(&http, &server, &key, "lanyard_token_cache_hits_total").await;
            let misses_before = metric(&http, &server, &key, "lanyard_token_cache_misses_total").await;
            let m = run_wrk(Load {
                step: "whoami_warm".into(),
                script: "whoami",
                url: format!("{public}/sessions/whoami"),
                headers: vec![],
                args: vec![range.to_string()],
                duration,
                connections: None,
            })
            .await?;
            server.check_alive()?;
            let hits = metric(&http, &server, &key, "lanyard_token_cache_hits_total").await;
            let misses = metric(&http, &server, &key, "lanyard_token_cache_misses_total").await;
            if let (Some(h0), Some(m0), Some(h1), Some(m1)) = (hits_before, misses_before, hits, misses) {
                let (h, m) = (h1 - h0, m1 - m0);
                if h + m > 0.0 {
                    hit_ratio = Some(h / (h + m));
                }
            }
            steps.push(
                "whoami_warm",
                format!("whoami, cached ({tokens} tokens)"),
                m,
                server.peak_rss_kib(),
            );
        }

        let page_size = ADMIN_PAGE_SIZE.to_string();
        if options.wants("admin_list_first") {
            let url = format!("{admin}/admin/sessions?page_size={page_size}");
            let body = probe(&http, reqwest::Method::GET, &url, &auth, None).await?;
            let rows = body.as_array().map_or(0, Vec::len);
            if rows as u64 != ADMIN_PAGE_SIZE.min(spec.sessions) {
                bail!("GET {url} returned {rows} sessions");
            }
            let m = run_wrk(Load {
                step: "admin_list_first".into(),
                script: "static",
                url,
                headers: vec![bearer.clone()],
                args: vec![],
                duration,
                connections: None,
            })
            .await?;
            server.check_alive()?;
            steps.push(
                "admin_list_first",
                "admin list, page 1 (250)".into(),
                m,
                server.peak_rss_kib(),
            );
            let m = run_wrk(Load {
                step: "admin_list_first_1c".into(),
                script: "static",
                url: format!("{admin}/admin/sessions?page_size={page_size}"),
                headers: vec![bearer.clone()],
                args: vec![],
                duration,
                connections: Some(1),
            })
            .await?;
            steps.push(
                "admin_list_first_1c",
                "admin list, page 1 (250), 1 connection".into(),
                m,
                server.peak_rss_kib(),
            );
        }

        if options.wants("admin_list_deep") {
            let page = options.admin_page.min(spec.sessions / ADMIN_PAGE_SIZE).max(2);
            let token = deep_page_token(&options.target, page).await?;
            let url = format!("{admin}/admin/sessions?page_size={page_size}&page_token={token}");
            let body = probe(&http, reqwest::Method::GET, &url, &auth, None).await?;
            let rows = body.as_array().map_or(0, Vec::len);
            if rows == 0 {
                bail!("page {page} of the admin list is empty");
            }
            let m = run_wrk(Load {
                step: "admin_list_deep".into(),
                script: "static",
                url: url.clone(),
                headers: vec![bearer.clone()],
                args: vec![],
                duration,
                connections: None,
            })
            .await?;
            server.check_alive()?;
            steps.push(
                "admin_list_deep",
                format!("admin list, page {page} (250)"),
                m,
                server.peak_rss_kib(),
            );
            let m = run_wrk(Load {
                step: "admin_list_deep_1c".into(),
                script: "static",
                url,
                headers: vec![bearer.clone()],
                args: vec![],
                duration,
                connections: Some(1),
            })
            .await?;
            steps.push(
                "admin_list_deep_1c",
                format!("admin list, page {page} (250), 1 connection"),
                m,
                server.peak_rss_kib(),
            );
        }

        if options.wants("zitadel_search") {
            let since = model::rfc3339(seed::now_us() - 30 * model::DAY_US);
            let url = format!("{public}/v2/sessions/search");
            let body = format!(
                r#"{{"query":{{"offset":"0","limit":100,"asc":false}},"sortingColumn":"SESSION_FIELD_NAME_CREATION_DATE","queries":[{{"userIdQuery":{{"id":"{}"}}}},{{"creationDateQuery":{{"creationDate":"{since}","method":"TIMESTAMP_QUERY_METHOD_GREATER_OR_EQUALS"}}}}]}}"#,
                model::identity_id(1)
            );
            probe(&http, reqwest::Method::POST, &url, &auth, Some(body)).await?;
            let m = run_wrk(Load {
                step: "zitadel_search".into(),
                script: "zitadel_search",
                url: url.clone(),
                headers: vec![bearer.clone()],
                args: vec![spec.identities.to_string(), since.clone()],
                duration,
                connections: None,
            })
            .await?;
            server.check_alive()?;
            steps.push(
                "zitadel_search",
                "ZITADEL search: user + date ≥ 30 d ago, sorted, limit 100".into(),
                m,
                server.peak_rss_kib(),
            );
            let m = run_wrk(Load {
                step: "zitadel_search_1c".into(),
                script: "zitadel_search",
                url,
                headers: vec![bearer.clone()],
                args: vec![spec.identities.to_string(), since],
                duration,
                connections: Some(1),
            })
            .await?;
            steps.push(
                "zitadel_search_1c",
                "ZITADEL search, 1 connection".into(),
                m,
                server.peak_rss_kib(),
            );
        }

        if options.wants("zitadel_transports") {
            let session_id = crate::transports::a_session_id(&public, &key).await?;
            for call in [Call::GetSession, Call::ListSessions] {
                for transport in Transport::ALL {
                    let step = format!("zitadel_{}_{}", call.key(), transport.key());
                    before_step(&step, server.pid(), hook)?;
                    let cpu_before = server::cpu_ticks(server.pid());
                    let mut m = crate::transports::measure(
                        transport,
                        call,
                        &public,
                        &key,
                        &session_id,
                        TRANSPORT_CONNECTIONS,
                        duration,
                    )
                    .await?;
                    if let (Some(before), Some(after)) = (cpu_before, server::cpu_ticks(server.pid())) {
                        if m.requests > 0 {
                            let micros = after.saturating_sub(before) as f64 * 1e6 / server::TICKS_PER_SECOND as f64;
                            m.server_cpu_us_per_request = Some(micros / m.requests as f64);
                        }
                    }
                    server.check_alive()?;
                    steps.push(
                        &step,
                        format!(
                            "ZITADEL {} over {}, {TRANSPORT_CONNECTIONS} connections (in-process load)",
                            call.label(),
                            transport.label()
                        ),
                        m,
                        server.peak_rss_kib(),
                    );
                }
            }
        }

        for offset in &options.offsets {
            let key_name = format!("offset_{offset}");
            if !options.wants(&key_name) {
                continue;
            }
            let url = format!("{public}/v2/sessions/search");
            let body = format!(
                r#"{{"query":{{"offset":"{offset}","limit":100,"asc":false}},"sortingColumn":"SESSION_FIELD_NAME_CREATION_DATE"}}"#
            );
            probe(&http, reqwest::Method::POST, &url, &auth, Some(body.clone())).await?;
            let m = run_wrk(Load {
                step: key_name.clone(),
                script: "static",
                url,
                headers: vec![bearer.clone()],
                args: vec!["POST".into(), body],
                duration,
                // Each request counts every visible session and skips `offset` rows: at 64
                // connections the queue alone outlasts the server's request timeout on a
                // million sessions. One connection measures the cost curve itself.
                connections: Some(1),
            })
            .await?;
            server.check_alive()?;
            steps.push(
                &key_name,
                format!("ZITADEL list, offset {offset}, limit 100, 1 connection"),
                m,
                server.peak_rss_kib(),
            );
        }

        if options.wants("search_flood") {
            search_flood(
                Flood {
                    wrk: &wrk,
                    http: &http,
                    server: &server,
                    tokens: options.warm_set.min(model::active_sessions(spec.sessions)).max(1),
                    duration,
                    key: "search_flood",
                    limits: if options.no_list_limits {
                        "list limits off"
                    } else {
                        "default list limits"
                    },
                },
                &mut steps,
            )
            .await?;
            server.check_alive()?;
        }

        if options.wants("create") {
            let url = format!("{admin}/admin/lanyard/sessions");
            let body = format!(
                r#"{{"identity_id":"{}","methods":[{{"method":"password"}}],"device":{{"ip_address":"203.0.113.7","user_agent":"lanyard-bench"}}}}"#,
                model::identity_id(0)
            );
            probe(&http, reqwest::Method::POST, &url, &auth, Some(body)).await?;
            let m = run_wrk(Load {
                step: "create".into(),
                script: "create",
                url,
                headers: vec![bearer.clone()],
                args: vec![spec.identities.to_string()],
                duration,
                connections: None,
            })
            .await?;
            server.check_alive()?;
            steps.push(
                "create",
                "session create (admin issue, no password)".into(),
                m,
                server.peak_rss_kib(),
            );
        }

        if options.wants("password") {
            if spec.password_identities == 0 {
                bail!("the password step needs --password-identities > 0");
            }
            let url = format!("{public}/v2/sessions");
            let body = format!(
                r#"{{"checks":{{"user":{{"userId":"{}"}},"password":{{"password":"{}"}}}}}}"#,
                model::identity_id(0),
                model::PASSWORD
            );
            probe(&http, reqwest::Method::POST, &url, &auth, Some(body)).await?;
            let m = run_wrk(Load {
                step: "password".into(),
                script: "password",
                url,
                headers: vec![bearer.clone()],
                args: vec![spec.password_identities.to_string(), model::PASSWORD.into()],
                duration,
                connections: None,
            })
            .await?;
            server.check_alive()?;
            steps.push(
                "password",
                "ZITADEL create with password check (argon2id)".into(),
                m,
                server.peak_rss_kib(),
            );
        }

        memory.sample(&server);
        eprintln!(
            "lanyard-bench: stopping the server (peak RSS {:.1} MiB, now {:.1} MiB, of it anonymous {:.1} MiB)",
            server.peak_rss_kib().unwrap_or(0) as f64 / 1024.0,
            server.rss_kib().unwrap_or(0) as f64 / 1024.0,
            server.anon_rss_kib().unwrap_or(0) as f64 / 1024.0
        );
        server.stop()?;
    }

    if options.wants("search_flood_unlimited") {
        let unlimited_config = ServerConfig {
            list_limits_off: true,
            ..warm_config
        };
        let (config_c, public_c, admin_c) = server::write_config(&dir, "server-unlimited", &unlimited_config)?;
        eprintln!("lanyard-bench: starting the server again without list limits (the search flood's comparison)");
        let mut server = Server::start(
            &options.server,
            wrapper,
            &config_c,
            (public_c, admin_c),
            dir.join("server-unlimited.log"),
        )?;
        server.wait_ready(&http, Duration::from_secs(300)).await?;
        search_flood(
            Flood {
                wrk: &wrk,
                http: &http,
                server: &server,
                tokens: options.warm_set.min(model::active_sessions(spec.sessions)).max(1),
                duration,
                key: "search_flood_unlimited",
                limits: "list limits off",
            },
            &mut steps,
        )
        .await?;
        server.check_alive()?;
        memory.sample(&server);
        server.stop()?;
    }

    if options.wants("whoami_cold") {
        let cold_config = ServerConfig {
            cache_capacity: Some(0),
            ..warm_config
        };
        let (config_b, public_b, admin_b) = server::write_config(&dir, "server-uncached", &cold_config)?;
        eprintln!("lanyard-bench: starting the server again with the token cache off ([cache] capacity = 0)");
        let mut server = Server::start(
            &options.server,
            wrapper,
            &config_b,
            (public_b, admin_b),
            dir.join("server-uncached.log"),
        )?;
        server.wait_ready(&http, Duration::from_secs(300)).await?;
        let url = format!("{}/sessions/whoami", server.public);
        probe(
            &http,
            reqwest::Method::GET,
            &url,
            &[("x-session-token", model::token(model::nth_active(0)))],
            None,
        )
        .await?;
        let load = Load {
            step: "whoami_cold".into(),
            script: "whoami",
            url,
            headers: vec![],
            args: vec![spec.sessions.to_string()],
            duration,
            connections: None,
        };
        let (pid, hook) = (server.pid(), options.before_step.as_deref());
        let m = tokio::task::block_in_place(|| run_until_measured(&wrk, load, pid, hook))?;
        server.check_alive()?;
        steps.push(
            "whoami_cold",
            format!("whoami, cache off (random of {} sessions)", spec.sessions),
            m,
            server.peak_rss_kib(),
        );
        memory.sample(&server);
        server.stop()?;
    }

    if options.wants("direct") {
        eprintln!(
            "lanyard-bench: direct lookup by digest in-process ({} tasks, the server's pool size)",
            options.connections
        );
        let m = direct_lookup(&options.target, spec.sessions, duration, options.connections).await?;
        steps.push("direct", "direct store lookup by digest (in-process)".into(), m, None);
    }

    let peak_rss_mib = memory.rss_kib.map(|k| k as f64 / 1024.0);
    let bars = report::bars(&steps.results, peak_rss_mib);
    let report = Report {
        command: options.command_line.clone(),
        store: options.target.kind().into(),
        server: options.server.describe(),
        load_generator: wrk.describe(),
        seeded,
        connections: options.connections,
        threads: options.threads,
        step_seconds: duration.as_secs(),
        machine: machine(load_before),
        steps: steps.results,
        bars,
        peak_rss_mib,
        anon_rss_mib: memory.anon_kib.map(|k| k as f64 / 1024.0),
        warm_cache_hit_ratio: hit_ratio,
    };
    if let Some(path) = &options.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(report)
}

/// Waits for the server to be idle, then runs the `--before-step` hook.
fn before_step(step: &str, pid: u32, hook: Option<&str>) -> anyhow::Result<()> {
    server::wait_idle(pid, Duration::from_secs(30));
    if let Some(command) = hook {
        let status = std::process::Command::new("sh")
            .args(["-c", command, "lanyard-bench", step, &pid.to_string()])
            .status()
            .with_context(|| format!("running --before-step {command:?}"))?;
        if !status.success() {
            bail!("--before-step {command:?} failed ({status}) before step {step}");
        }
    }
    Ok(())
}

/// Runs a load; when not one request completed within the step (a slow step on a slow build
/// or a busy machine), runs it again for twice as long, up to twice.
fn run_until_measured(wrk: &Wrk, mut load: Load<'_>, pid: u32, hook: Option<&str>) -> anyhow::Result<Measurement> {
    before_step(&load.step, pid, hook)?;
    let mut tries = 0;
    loop {
        let cpu_before = server::cpu_ticks(pid);
        let mut m = wrk.run(&load)?;
        if let (Some(before), Some(after)) = (cpu_before, server::cpu_ticks(pid)) {
            if m.requests > 0 {
                let micros = after.saturating_sub(before) as f64 * 1e6 / server::TICKS_PER_SECOND as f64;
                m.server_cpu_us_per_request = Some(micros / m.requests as f64);
            }
        }
        if m.requests > 0 || tries == 2 {
            return Ok(m);
        }
        tries += 1;
        load.duration *= 2;
        eprintln!(
            "lanyard-bench:   no request completed; running the step again for {} s",
            load.duration.as_secs()
        );
    }
}

/// Fails when a step measured nothing or got error responses.
pub fn check(report: &Report) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    for step in &report.steps {
        let m = &step.measurement;
        if m.requests == 0 {
            problems.push(format!("{}: no request completed", step.label));
        }
        // The search flood's flooder is meant to be refused (429).
        if m.status_errors > 0 && !step.key.ends_with("_flooder") {
            problems.push(format!("{}: {} error responses", step.label, m.status_errors));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(anyhow!(
            "the benchmark did not run cleanly:\n  {}",
            problems.join("\n  ")
        ))
    }
}
