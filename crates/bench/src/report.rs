//! The targets of DESIGN.md ("Non-functional targets") and the one table that shows them.

use std::fmt::Write;

use serde::Serialize;

use crate::run::Report;
use crate::wrk::Measurement;

#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    pub key: String,
    pub label: String,
    pub measurement: Measurement,
    /// The server's peak RSS (VmHWM) after this step; none for in-process steps.
    pub peak_rss_mib: Option<f64>,
}

/// One target of DESIGN.md, checked.
#[derive(Debug, Clone, Serialize)]
pub struct Bar {
    /// The step whose row shows it; `None` for whole-run bars (memory).
    pub step: Option<String>,
    pub target: String,
    pub measured: String,
    pub pass: bool,
    /// How far above (headroom) or below (miss) the target, in percent of the target.
    pub margin: String,
}

fn margin_at_least(value: f64, target: f64) -> String {
    format!("{:+.0}%", 100.0 * (value / target - 1.0))
}

fn margin_at_most(value: f64, target: f64) -> String {
    // Positive: headroom; negative: over the limit by that much.
    format!("{:+.0}%", 100.0 * (1.0 - value / target))
}

fn at_least(step: &str, target: String, measured: String, value: f64, bound: f64) -> Bar {
    Bar {
        step: Some(step.into()),
        target,
        measured,
        pass: value >= bound,
        margin: margin_at_least(value, bound),
    }
}

fn at_most(step: Option<&str>, target: String, measured: String, value: f64, bound: f64) -> Bar {
    Bar {
        step: step.map(Into::into),
        target,
        measured,
        pass: value <= bound,
        margin: margin_at_most(value, bound),
    }
}

/// Every bar whose inputs were measured in this run.
pub fn bars(steps: &[StepResult], peak_rss_mib: Option<f64>) -> Vec<Bar> {
    let get = |key: &str| steps.iter().find(|s| s.key == key).map(|s| &s.measurement);
    let mut bars = Vec::new();
    if let Some(warm) = get("whoami_warm") {
        if let Some(health) = get("health") {
            let ratio = warm.rps / health.rps.max(1e-9);
            bars.push(at_least(
                "whoami_warm",
                "≥ 0.8 × /health/alive req/s".into(),
                format!("{ratio:.2} ×"),
                ratio,
                0.8,
            ));
        }
        bars.push(at_least(
            "whoami_warm",
            "≥ 50,000 req/s".into(),
            format!("{} req/s", thousands(warm.rps)),
            warm.rps,
            50_000.0,
        ));
        bars.push(at_most(
            Some("whoami_warm"),
            "p99 ≤ 2 ms".into(),
            format!("p99 {:.2} ms", warm.p99_ms),
            warm.p99_ms,
            2.0,
        ));
    }
    if let (Some(cold), Some(direct)) = (get("whoami_cold"), get("direct")) {
        let ratio = cold.rps / direct.rps.max(1e-9);
        bars.push(at_least(
            "whoami_cold",
            "≥ 0.7 × direct lookup req/s".into(),
            format!("{ratio:.2} ×"),
            ratio,
            0.7,
        ));
    }
    for key in ["admin_list_first", "admin_list_deep"] {
        if let Some(m) = get(key) {
            bars.push(at_most(
                Some(key),
                "p50 ≤ 15 ms".into(),
                format!("p50 {:.2} ms", m.p50_ms),
                m.p50_ms,
                15.0,
            ));
        }
    }
    if let (Some(first), Some(deep)) = (get("admin_list_first"), get("admin_list_deep")) {
        let ratio = deep.p50_ms / first.p50_ms.max(1e-9);
        bars.push(at_most(
            Some("admin_list_deep"),
            "p50 ≤ 1.3 × page 1".into(),
            format!("{ratio:.2} ×"),
            ratio,
            1.3,
        ));
    }
    if let Some(m) = get("zitadel_search") {
        bars.push(at_most(
            Some("zitadel_search"),
            "p50 ≤ 20 ms".into(),
            format!("p50 {:.2} ms", m.p50_ms),
            m.p50_ms,
            20.0,
        ));
    }
    // Issue 11: one caller flooding searches keeps everybody else's whoami within 2 × idle.
    if let (Some(idle), Some(flood)) = (get("search_flood_idle"), get("search_flood")) {
        for (quantile, idle, flood) in [("p50", idle.p50_ms, flood.p50_ms), ("p99", idle.p99_ms, flood.p99_ms)] {
            let ratio = flood / idle.max(1e-9);
            bars.push(at_most(
                Some("search_flood"),
                format!("{quantile} ≤ 2 × idle (issue 11)"),
                format!("{ratio:.2} ×"),
                ratio,
                2.0,
            ));
        }
    }
    if let Some(m) = get("create") {
        bars.push(at_least(
            "create",
            "≥ 5,000 /s".into(),
            format!("{} /s", thousands(m.rps)),
            m.rps,
            5_000.0,
        ));
    }
    if let Some(rss) = peak_rss_mib {
        bars.push(at_most(None, "≤ 100 MiB".into(), format!("{rss:.1} MiB"), rss, 100.0));
    }
    bars
}

pub(crate) fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Requests per second: whole numbers with separators, one or two decimals when small.
fn rate(value: f64) -> String {
    if value >= 100.0 {
        thousands(value)
    } else if value >= 1.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

fn verdict(bar: &Bar) -> String {
    if bar.pass {
        format!("pass ({})", bar.margin)
    } else {
        format!("**MISS** ({})", bar.margin)
    }
}

/// The table (Markdown, readable as plain text too) and a short header.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let m = &report.machine;
    let _ = writeln!(
        out,
        "Lanyard benchmark: {} store, {} sessions over {} identities; wrk -t{} -c{}, {} s per step",
        report.store,
        thousands(report.seeded.spec.sessions as f64),
        thousands(report.seeded.spec.identities as f64),
        report.threads,
        report.connections,
        report.step_seconds
    );
    let _ = writeln!(
        out,
        "Machine: {} cores, {}, {:.1} GiB; load average before {} / after {}",
        m.cores, m.cpu, m.memory_gib, m.load_before, m.load_after
    );
    let _ = writeln!(out, "Server: {}", report.server);
    let _ = writeln!(out, "Load: {}", report.load_generator);
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| step | req/s | p50 ms | p99 ms | errors | server peak RSS MiB | target (DESIGN.md) | measured | result |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---|---|---|");
    for step in &report.steps {
        let s = &step.measurement;
        let errors = s.status_errors + s.socket_errors;
        let mut step_bars = report.bars.iter().filter(|b| b.step.as_deref() == Some(&step.key));
        let first = step_bars.next();
        let (target, measured, result) = match first {
            Some(bar) => (bar.target.clone(), bar.measured.clone(), verdict(bar)),
            None => ("—".into(), "—".into(), String::new()),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {:.2} | {:.2} | {} | {} | {} | {} | {} |",
            step.label,
            rate(s.rps),
            s.p50_ms,
            s.p99_ms,
            errors,
            step.peak_rss_mib.map_or_else(|| "—".into(), |r| format!("{r:.1}")),
            target,
            measured,
            result
        );
        for bar in step_bars {
            let _ = writeln!(
                out,
                "| ↳ | | | | | | {} | {} | {} |",
                bar.target,
                bar.measured,
                verdict(bar)
            );
        }
    }
    for bar in report.bars.iter().filter(|b| b.step.is_none()) {
        let _ = writeln!(
            out,
            "| server peak RSS (VmHWM, whole run) | | | | | | {} | {} | {} |",
            bar.target,
            bar.measured,
            verdict(bar)
        );
    }
    if let Some(anon) = report.anon_rss_mib {
        let _ = writeln!(
            out,
            "| ↳ of it allocated by the server (RssAnon, largest when a server stopped; on SQLite the rest is mapped file pages) | | | | | | | {anon:.1} MiB | |"
        );
    }
    let cpu: Vec<String> = report
        .steps
        .iter()
        .filter_map(|step| {
            let us = step.measurement.server_cpu_us_per_request?;
            Some(format!("{} {us:.1}", step.key))
        })
        .collect();
    if !cpu.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "Server CPU per request (user + system, µs): {}", cpu.join(", "));
        if let Some(ratio) = cpu_ratio(&report.steps, "health", "whoami_warm") {
            let _ = writeln!(
                out,
                "Cached whoami costs {ratio:.2} × the server CPU of /health/alive per request \
                 (its throughput ratio on an otherwise idle machine is about the inverse)"
            );
        }
        for call in ["get", "list"] {
            let base = format!("zitadel_{call}_connect_json");
            for other in ["connect_proto", "grpc"] {
                if let Some(ratio) = cpu_ratio(&report.steps, &base, &format!("zitadel_{call}_{other}")) {
                    let _ = writeln!(
                        out,
                        "ZITADEL {call} over {other} costs {ratio:.2} × the server CPU of Connect JSON per request"
                    );
                }
            }
        }
    }
    if let Some(ratio) = report.warm_cache_hit_ratio {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Token cache hit ratio during the cached whoami step: {:.2}%",
            ratio * 100.0
        );
    }
    out
}

/// `of`'s server CPU per request over `base`'s, when both were measured.
fn cpu_ratio(steps: &[StepResult], base: &str, of: &str) -> Option<f64> {
    let cpu = |key: &str| {
        steps
            .iter()
            .find(|s| s.key == key)
            .and_then(|s| s.measurement.server_cpu_us_per_request)
    };
    Some(cpu(of)? / cpu(base)?.max(1e-9))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_thousands() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1234.0), "1,234");
        assert_eq!(thousands(1_000_000.0), "1,000,000");
        assert_eq!(rate(0.256), "0.26");
        assert_eq!(rate(12.34), "12.3");
        assert_eq!(rate(4321.0), "4,321");
    }

    #[test]
    fn margins_say_how_far_from_the_target() {
        assert_eq!(margin_at_least(40_000.0, 50_000.0), "-20%");
        assert_eq!(margin_at_most(3.0, 2.0), "-50%");
        assert_eq!(margin_at_most(1.0, 2.0), "+50%");
    }
}
