//! `lanyard-bench search`: every list/search shape of both APIs (issue 12, `shapes.rs`) against a
//! seeded database, one request at a time over one keep-alive connection per port, as DESIGN.md
//! states the bar ("one connection"). Each shape runs a warm-up, then up to `iterations` timed
//! requests; the table shows p50, p95, the rows returned, the count the server reported
//! (`totalResult`, `X-Total-Count`), the count the seed model predicts, and the bar.
//!
//! wrk is not used: one connection and a few dozen requests per shape need no load generator,
//! and every answer is parsed and checked, which wrk cannot do.

use std::collections::HashMap;
use std::fmt::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use serde::Serialize;

use crate::model;
use crate::run::{self, Machine, PAGE_SECRET};
use crate::seed::{self, SeedSpec, Seeded, Target};
use crate::server::{self, Server, ServerBin, ServerConfig};
use crate::shapes::{self, Bar, Caller, Context, Request, Shape};

/// A server that is already running on the seeded database.
pub struct Running {
    pub public: String,
    pub admin: String,
    pub key: String,
}

pub struct SearchOptions {
    pub target: Target,
    pub dir: PathBuf,
    pub spec: SeedSpec,
    pub reseed: bool,
    pub server: ServerBin,
    pub running: Option<Running>,
    pub iterations: u32,
    pub warmup: u32,
    /// A shape stops early once it has taken this long and has a few samples, so that the slow
    /// shapes of a slow build do not take the whole run.
    pub max_shape_time: Duration,
    /// Only shapes whose key starts with one of these.
    pub shapes: Option<Vec<String>>,
    pub deep_page: u64,
    pub offsets: Vec<u64>,
    /// Also time each ZITADEL shape's count and page apart, in-process through the store.
    pub split: bool,
    pub json: Option<PathBuf>,
    pub command_line: String,
}

/// A shape gets at least this many timed samples, however slow (a slow shape's p95 is then its
/// maximum: its bar is far away anyway).
const MIN_SAMPLES: usize = 3;
/// The spawned server's request timeout, and (with a margin) the client's.
const SLOW_REQUEST: &str = "10m";

#[derive(Debug, Serialize)]
pub struct ShapeResult {
    pub key: String,
    pub api: &'static str,
    pub label: String,
    pub bar: Bar,
    pub samples: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
    pub rows: u64,
    /// `totalResult` or `X-Total-Count`; none for the Kratos admin list, which has no count.
    pub count: Option<u64>,
    pub expected_rows: u64,
    /// What the seed model predicts for the count (for the admin list: the rows the filter
    /// matches in all).
    pub expected_count: u64,
    /// Rows and count are what the model predicts.
    pub correct: bool,
    /// `Some(pass)` when judged by a bar; `None` for the offset curve.
    pub pass: Option<bool>,
    pub verdict: String,
    /// The failed answer, when the shape got one.
    pub error: Option<String>,
    /// With `--split`: the median of the store's count alone and of its page alone, in-process.
    pub count_ms: Option<f64>,
    pub page_ms: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct SearchReport {
    pub command: String,
    pub store: String,
    pub server: String,
    pub seeded: Seeded,
    pub iterations: u32,
    pub warmup: u32,
    pub machine: Machine,
    pub shapes: Vec<ShapeResult>,
}

struct Endpoint {
    http: reqwest::Client,
    public: String,
    admin: String,
    key: String,
}

/// One request's answer and how long it took, including reading the body.
struct Sent {
    took: Duration,
    status: reqwest::StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

/// What one answer said.
struct Answer {
    rows: u64,
    count: Option<u64>,
    next_url: Option<String>,
}

impl Endpoint {
    fn request(&self, shape: &Shape, ctx: &Context, page_token: Option<&str>) -> reqwest::RequestBuilder {
        let path = shapes::path(&shape.request);
        match &shape.request {
            Request::Search(search) => {
                let bearer = match search.caller {
                    Caller::Key => self.key.clone(),
                    Caller::Session(n) => model::token(n),
                };
                self.http
                    .post(format!("{}{path}", self.public))
                    .bearer_auth(bearer)
                    .header("content-type", "application/json")
                    .body(search.body(ctx))
            }
            Request::AdminSessions { .. } | Request::IdentitySessions { .. } => {
                let url = match page_token {
                    Some(token) => format!("{}{path}&page_token={token}", self.admin),
                    None => format!("{}{path}", self.admin),
                };
                self.http.get(url).bearer_auth(&self.key)
            }
            Request::MySessions { session } => self
                .http
                .get(format!("{}{path}", self.public))
                .header("x-session-token", model::token(*session)),
        }
    }

    /// Sends one request and reads the whole answer; returns the time that took.
    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Sent> {
        let started = Instant::now();
        let response = request.send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await?;
        let took = started.elapsed();
        Ok(Sent {
            took,
            status,
            headers,
            body: body.to_vec(),
        })
    }
}

fn parse_answer(shape: &Shape, headers: &reqwest::header::HeaderMap, body: &[u8]) -> anyhow::Result<Answer> {
    let json: serde_json::Value = serde_json::from_slice(body).context("the answer is not JSON")?;
    let header_count = headers
        .get("x-total-count")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let next_url = headers.get("link").and_then(|v| v.to_str().ok()).and_then(next_link);
    Ok(match &shape.request {
        Request::Search(_) => Answer {
            rows: json["sessions"].as_array().map_or(0, Vec::len) as u64,
            count: match &json["details"]["totalResult"] {
                serde_json::Value::String(s) => s.parse().ok(),
                other => other.as_u64(),
            },
            next_url: None,
        },
        _ => Answer {
            rows: json
                .as_array()
                .ok_or_else(|| anyhow!("the answer is not a JSON array"))?
                .len() as u64,
            count: header_count,
            next_url,
        },
    })
}

/// The `rel="next"` URL of a `Link` header.
fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params
            .contains("rel=\"next\"")
            .then(|| url.trim().trim_start_matches('<').trim_end_matches('>').to_owned())
    })
}

fn page_token_of(url: &str) -> Option<&str> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| pair.strip_prefix("page_token="))
}

/// The page token of page `page` (1-based) of an admin list, found by following `next` links
/// from page 1 (what a client does; no secret needed).
async fn walk_to_page(endpoint: &Endpoint, shape: &Shape, page: u64) -> anyhow::Result<String> {
    let started = Instant::now();
    let mut url = format!("{}{}", endpoint.admin, shapes::path(&shape.request));
    for current in 1..page {
        let sent = endpoint
            .send(endpoint.http.get(&url).bearer_auth(&endpoint.key))
            .await?;
        if !sent.status.is_success() {
            bail!(
                "GET {url} answered {}: {}",
                sent.status,
                String::from_utf8_lossy(&sent.body)
            );
        }
        let answer = parse_answer(shape, &sent.headers, &sent.body)?;
        let next = answer
            .next_url
            .ok_or_else(|| anyhow!("page {current} of {} has no next link", shapes::path(&shape.request)))?;
        url = format!("{}{next}", endpoint.admin);
        if current % 500 == 0 {
            eprintln!(
                "  walking to page {page}: {current} pages, {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    eprintln!(
        "  walked to page {page} of {} in {:.1} s",
        shapes::path(&shape.request),
        started.elapsed().as_secs_f64()
    );
    page_token_of(&url)
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("no page_token in {url}"))
}

fn percentile(sorted_ms: &[f64], q: f64) -> f64 {
    if sorted_ms.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted_ms.len() as f64).ceil() as usize;
    sorted_ms[rank.clamp(1, sorted_ms.len()) - 1]
}

fn judge(bar: Bar, p50: f64, p95: f64) -> (Option<bool>, String) {
    let over = |name: &str, value: f64, limit: f64| (value > limit).then(|| format!("{name} {:.1} ×", value / limit));
    let misses: Vec<String> = match bar {
        Bar::Default => [over("p50", p50, 20.0), over("p95", p95, 50.0)]
            .into_iter()
            .flatten()
            .collect(),
        Bar::Large => over("p50", p50, 60.0).into_iter().collect(),
        Bar::Curve => return (None, "curve".into()),
    };
    if misses.is_empty() {
        (Some(true), "pass".into())
    } else {
        (Some(false), format!("**MISS** {}", misses.join(", ")))
    }
}

async fn measure(
    endpoint: &Endpoint,
    shape: &Shape,
    ctx: &Context,
    page_token: Option<&str>,
    expected_count: u64,
    options: &SearchOptions,
) -> anyhow::Result<ShapeResult> {
    // Warm-up: skipped once it has taken a quarter of the budget (a shape that slow reads most
    // of the table, and a warm cache changes little).
    let warming = Instant::now();
    for _ in 0..options.warmup {
        if warming.elapsed() > options.max_shape_time / 4 {
            break;
        }
        let sent = endpoint.send(endpoint.request(shape, ctx, page_token)).await?;
        if !sent.status.is_success() {
            return Ok(failed(shape, &sent, expected_count));
        }
    }
    let mut samples = Vec::new();
    let mut last = None;
    let started = Instant::now();
    while samples.len() < options.iterations.max(1) as usize {
        let sent = endpoint.send(endpoint.request(shape, ctx, page_token)).await?;
        if !sent.status.is_success() {
            return Ok(failed(shape, &sent, expected_count));
        }
        samples.push(sent.took.as_secs_f64() * 1000.0);
        last = Some(sent);
        if started.elapsed() > options.max_shape_time && samples.len() >= MIN_SAMPLES {
            break;
        }
    }
    #[allow(clippy::expect_used, reason = "the loop above runs at least once")]
    let last = last.expect("at least one sample");
    let answer = parse_answer(shape, &last.headers, &last.body)?;
    samples.sort_by(f64::total_cmp);
    let (p50, p95) = (percentile(&samples, 0.5), percentile(&samples, 0.95));
    let expected_rows = shape.expected_rows(expected_count);
    let correct = answer.rows == expected_rows && (!shape.has_count() || answer.count == Some(expected_count));
    let (pass, mut verdict) = judge(shape.bar, p50, p95);
    if !correct {
        verdict = format!("**WRONG ANSWER** (expected {expected_rows} rows); {verdict}");
    }
    Ok(ShapeResult {
        key: shape.key.clone(),
        api: api(shape),
        label: shape.label.clone(),
        bar: shape.bar,
        samples: samples.len(),
        p50_ms: p50,
        p95_ms: p95,
        max_ms: samples.last().copied().unwrap_or(0.0),
        rows: answer.rows,
        count: answer.count,
        expected_rows,
        expected_count,
        correct,
        pass,
        verdict,
        error: None,
        count_ms: None,
        page_ms: None,
    })
}

fn api(shape: &Shape) -> &'static str {
    match shape.request {
        Request::Search(_) => "ZITADEL",
        _ => "Kratos",
    }
}

/// A shape whose request failed: reported in the table (and failing the run), so the other
/// shapes still get measured.
fn failed(shape: &Shape, sent: &Sent, expected_count: u64) -> ShapeResult {
    let ms = sent.took.as_secs_f64() * 1000.0;
    let body = String::from_utf8_lossy(&sent.body);
    let error = format!(
        "{} after {ms:.0} ms: {}",
        sent.status,
        body.chars().take(200).collect::<String>()
    );
    ShapeResult {
        key: shape.key.clone(),
        api: api(shape),
        label: shape.label.clone(),
        bar: shape.bar,
        samples: 0,
        p50_ms: ms,
        p95_ms: ms,
        max_ms: ms,
        rows: 0,
        count: None,
        expected_rows: shape.expected_rows(expected_count),
        expected_count,
        correct: false,
        pass: (shape.bar != Bar::Curve).then_some(false),
        verdict: format!("**ERROR** {}", sent.status),
        error: Some(error),
        count_ms: None,
        page_ms: None,
    }
}

/// Samples of the in-process split: the median of three says whether the count or the page is
/// the slow part, which is all it is for.
const SPLIT_SAMPLES: usize = 3;

/// Times a search's count and its page apart, through the same store code and pool size as
/// the server.
async fn split(store: &dyn lanyard_store::Store, search: &shapes::Search, ctx: &Context) -> anyhow::Result<(f64, f64)> {
    let query = search.store_query(ctx);
    let now = lanyard_domain::Micros(seed::now_us());
    let (mut count, mut page) = (Vec::new(), Vec::new());
    for _ in 0..SPLIT_SAMPLES {
        let started = Instant::now();
        store.count_sessions(&query.filter, now).await?;
        count.push(started.elapsed().as_secs_f64() * 1000.0);
        let started = Instant::now();
        store.list_sessions(&query, now).await?;
        page.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    count.sort_by(f64::total_cmp);
    page.sort_by(f64::total_cmp);
    Ok((percentile(&count, 0.5), percentile(&page, 0.5)))
}

pub async fn search(options: SearchOptions) -> anyhow::Result<SearchReport> {
    let load_before = run::loadavg();
    std::fs::create_dir_all(&options.dir)?;
    let dir = options.dir.canonicalize()?;
    let seeded = match &options.running {
        // The running server has the database open: use its seed as it is.
        Some(_) => seed::read_marker(&options.target)
            .await?
            .ok_or_else(|| anyhow!("{} holds no lanyard-bench seed", options.target.url()))?,
        None => seed::ensure(&options.target, options.spec, options.reseed).await?,
    };
    let ctx = Context {
        sessions: seeded.spec.sessions,
        identities: seeded.spec.identities,
        now_us: seeded.now_us,
        deep_page: options.deep_page.max(1),
        offsets: options.offsets.clone(),
    };
    let mut shapes: Vec<Shape> = shapes::catalogue(&ctx)
        .into_iter()
        .filter(|s| {
            options
                .shapes
                .as_ref()
                .is_none_or(|wanted| wanted.iter().any(|w| s.key.starts_with(w.as_str())))
        })
        .collect();
    if shapes.is_empty() {
        bail!("--shapes matches no shape");
    }
    let predicting = Instant::now();
    let expected = shapes::predict(&shapes, &ctx);
    for (shape, total) in shapes.iter_mut().zip(&expected) {
        shape.cap_page(*total);
    }
    eprintln!(
        "lanyard-bench: predicted the answers of {} shapes from the seed model in {:.1} s",
        shapes.len(),
        predicting.elapsed().as_secs_f64()
    );

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(660))
        // One connection per port, kept alive: requests go one at a time.
        .pool_max_idle_per_host(1)
        .tcp_nodelay(true)
        .build()?;
    let mut spawned = None;
    let endpoint = match &options.running {
        Some(running) => Endpoint {
            http,
            public: running.public.trim_end_matches('/').to_owned(),
            admin: running.admin.trim_end_matches('/').to_owned(),
            key: running.key.clone(),
        },
        None => {
            // The server's defaults (token cache 100,000 entries, 5 s), as deployed.
            let config = ServerConfig {
                target: &options.target,
                secret: PAGE_SECRET,
                cache_capacity: None,
                cache_ttl: None,
                list_limits_off: false,
                // A shape that takes longer than the default 30 s still gets its number.
                request_timeout: Some(SLOW_REQUEST),
            };
            let (path, public, admin) = server::write_config(&dir, "server-search", &config)?;
            let key = server::create_key(&options.server, &path, "lanyard-bench-search")?;
            eprintln!("lanyard-bench: starting the server {}", options.server.describe());
            let mut server = Server::start(
                &options.server,
                None,
                &path,
                (public, admin),
                dir.join("server-search.log"),
            )?;
            server.wait_ready(&http, Duration::from_secs(300)).await?;
            let pid = server.pid();
            tokio::task::block_in_place(|| server::wait_idle(pid, Duration::from_secs(60)));
            let endpoint = Endpoint {
                http,
                public: server.public.clone(),
                admin: server.admin.clone(),
                key,
            };
            spawned = Some(server);
            endpoint
        }
    };

    let store = match options.split {
        true => Some(options.target.open_store().await?),
        false => None,
    };
    let mut results = Vec::new();
    let mut tokens: HashMap<String, String> = HashMap::new();
    for (shape, expected_count) in shapes.iter().zip(expected) {
        let token = match &shape.request {
            Request::AdminSessions { page, .. } if *page > 1 => {
                // Expansions do not change the order: share the walk.
                let mut walk = shape.clone();
                if let Request::AdminSessions { expand, .. } = &mut walk.request {
                    *expand = None;
                }
                let key = format!("{}#{page}", shapes::path(&walk.request));
                if !tokens.contains_key(&key) {
                    let token = walk_to_page(&endpoint, &walk, *page).await?;
                    tokens.insert(key.clone(), token);
                }
                tokens.get(&key).cloned()
            }
            _ => None,
        };
        let mut result = measure(&endpoint, shape, &ctx, token.as_deref(), expected_count, &options).await?;
        if let (Some(store), Request::Search(search)) = (&store, &shape.request) {
            let (count, page) = split(store.as_ref(), search, &ctx).await?;
            result.count_ms = Some(count);
            result.page_ms = Some(page);
        }
        eprintln!(
            "lanyard-bench:   {:<60} p50 {:>8.2} ms  p95 {:>8.2} ms  rows {:>4}  count {:>8}  {}",
            format!("{} {}", result.api, result.label),
            result.p50_ms,
            result.p95_ms,
            result.rows,
            result.count.map_or("—".into(), |c| c.to_string()),
            result.verdict
        );
        if let Some(server) = spawned.as_mut() {
            server.check_alive()?;
        }
        results.push(result);
    }
    // Dropping the store closes its pool.
    drop(store);
    if let Some(server) = spawned {
        server.stop()?;
    }

    let report = SearchReport {
        command: options.command_line.clone(),
        store: options.target.kind().into(),
        server: match &options.running {
            Some(running) => running.public.clone(),
            None => options.server.describe(),
        },
        seeded,
        iterations: options.iterations,
        warmup: options.warmup,
        machine: run::machine(load_before),
        shapes: results,
    };
    if let Some(path) = &options.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(report)
}

fn thousands(n: u64) -> String {
    crate::report::thousands(n as f64)
}

/// The table, as Markdown (to paste into docs/BENCHMARKS.md).
pub fn render(report: &SearchReport) -> String {
    let mut out = String::new();
    let m = &report.machine;
    let _ = writeln!(
        out,
        "{} store, {} sessions over {} identities; one connection; {} timed requests per shape \
         (fewer when a shape passed {} samples and its time budget) after {} warm-up; \
         {} ({} cores), load average {} before, {} after.\n",
        report.store,
        thousands(report.seeded.spec.sessions),
        thousands(report.seeded.spec.identities),
        report.iterations,
        MIN_SAMPLES,
        report.warmup,
        m.cpu,
        m.cores,
        m.load_before,
        m.load_after
    );
    let split = report.shapes.iter().any(|s| s.count_ms.is_some());
    if split {
        out.push_str(
            "| API | shape | p50 ms | p95 ms | count ms | page ms | rows | count | expected | bar | result |\n",
        );
        out.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|\n");
    } else {
        out.push_str("| API | shape | p50 ms | p95 ms | rows | count | expected | bar | result |\n");
        out.push_str("|---|---|---:|---:|---:|---:|---:|---|---|\n");
    }
    let offset0 = report.shapes.iter().find(|s| s.key == "z_all").map(|s| s.p50_ms);
    for s in &report.shapes {
        let bar = match s.bar {
            Bar::Default => "≤ 20 / 50",
            Bar::Large => "p50 ≤ 60",
            Bar::Curve => "curve",
        };
        let verdict = match (s.bar, offset0) {
            (Bar::Curve, Some(base)) if s.correct => format!("{:+.1} ms over offset 0", s.p50_ms - base),
            _ => s.verdict.clone(),
        };
        let parts = match split {
            true => {
                let ms = |v: Option<f64>| v.map_or("—".into(), |v| format!("{v:.2}"));
                format!(" {} | {} |", ms(s.count_ms), ms(s.page_ms))
            }
            false => String::new(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {:.2} | {:.2} |{parts} {} | {} | {} | {bar} | {verdict} |",
            s.api,
            s.label,
            s.p50_ms,
            s.p95_ms,
            thousands(s.rows),
            s.count.map_or("—".into(), thousands),
            thousands(s.expected_count),
        );
    }
    let judged: Vec<_> = report.shapes.iter().filter(|s| s.pass.is_some()).collect();
    let missed = judged.iter().filter(|s| s.pass == Some(false)).count();
    let _ = writeln!(
        out,
        "\n{} of {} judged shapes meet their bar; {} requests failed; {} answers differ from the seed model.",
        judged.len() - missed,
        judged.len(),
        report.shapes.iter().filter(|s| s.error.is_some()).count(),
        report.shapes.iter().filter(|s| !s.correct && s.error.is_none()).count()
    );
    out
}

/// Fails when a request failed or an answer differed from what the seed model predicts (missed
/// bars are reported, not failures).
pub fn check(report: &SearchReport) -> anyhow::Result<()> {
    let wrong: Vec<String> = report
        .shapes
        .iter()
        .filter(|s| !s.correct)
        .map(|s| match &s.error {
            Some(error) => format!("{} ({}): {error}", s.label, s.key),
            None => format!(
                "{} ({}): {} rows, count {:?}; expected {} rows, count {}",
                s.label, s.key, s.rows, s.count, s.expected_rows, s.expected_count
            ),
        })
        .collect();
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(anyhow!(
            "failed answers, or answers that differ from the seed model:\n  {}",
            wrong.join("\n  ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_and_tokens_parse() {
        let link = "</admin/sessions?page_size=2&page_token=AX__a>; rel=\"first\",</admin/sessions?page_size=2&page_token=AQAG-b_c>; rel=\"next\"";
        let next = next_link(link).unwrap();
        assert_eq!(next, "/admin/sessions?page_size=2&page_token=AQAG-b_c");
        assert_eq!(page_token_of(&next), Some("AQAG-b_c"));
        assert_eq!(next_link("</x>; rel=\"first\""), None);
    }

    #[test]
    fn percentiles_are_nearest_rank_and_bars_judge() {
        let samples: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(&samples, 0.5), 10.0);
        assert_eq!(percentile(&samples, 0.95), 19.0);
        assert_eq!(judge(Bar::Default, 10.0, 40.0).0, Some(true));
        assert_eq!(
            judge(Bar::Default, 40.0, 40.0),
            (Some(false), "**MISS** p50 2.0 ×".into())
        );
        assert_eq!(judge(Bar::Large, 50.0, 500.0).0, Some(true));
        assert_eq!(judge(Bar::Curve, 500.0, 500.0).0, None);
    }
}
