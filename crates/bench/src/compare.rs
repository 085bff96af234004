//! `lanyard-bench compare A.json B.json …`: the tables of several `search --json` runs side by
//! side (e.g. SQLite and PostgreSQL, or before and after a change), one row per shape.

use std::fmt::Write;
use std::path::PathBuf;

use anyhow::{anyhow, Context};
use serde_json::Value;

fn ms(value: f64) -> String {
    if value >= 100.0 {
        crate::report::thousands(value)
    } else {
        format!("{value:.1}")
    }
}

/// 1M, 50k, 1234.
fn short(sessions: u64) -> String {
    match sessions {
        n if n >= 1_000_000 && n.is_multiple_of(1_000_000) => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n.is_multiple_of(1_000) => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

/// How far over its bar a shape is (its worst percentile), or its offset over offset 0.
fn result(shape: &Value, offset0: Option<f64>) -> String {
    let p50 = shape["p50_ms"].as_f64().unwrap_or(0.0);
    let p95 = shape["p95_ms"].as_f64().unwrap_or(0.0);
    if shape["error"].is_string() {
        return "**ERROR**".into();
    }
    let worst = match shape["bar"].as_str() {
        Some("Default") => (p50 / 20.0).max(p95 / 50.0),
        Some("Large") => p50 / 60.0,
        _ => {
            return offset0.map_or("curve".into(), |base| {
                let sign = if p50 >= base { "+" } else { "−" };
                format!("{sign}{} ms", ms((p50 - base).abs()))
            })
        }
    };
    let wrong = if shape["correct"] == false {
        " (wrong answer)"
    } else {
        ""
    };
    match worst {
        w if w <= 1.0 => format!("pass{wrong}"),
        w if w < 10.0 => format!("**{w:.1} ×**{wrong}"),
        w => format!("**{} ×**{wrong}", crate::report::thousands(w)),
    }
}

pub fn compare(files: &[PathBuf]) -> anyhow::Result<String> {
    let reports: Vec<Value> = files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
            serde_json::from_str(&text).with_context(|| format!("{} is not a search --json report", f.display()))
        })
        .collect::<anyhow::Result<_>>()?;
    let first = reports.first().ok_or_else(|| anyhow!("name at least one report"))?;
    let shapes = first["shapes"]
        .as_array()
        .ok_or_else(|| anyhow!("{} has no shapes", files[0].display()))?;
    let name = |i: usize| {
        let r = &reports[i];
        let store = match r["store"].as_str() {
            Some("PostgreSQL") => "PG",
            Some(other) => other,
            None => "?",
        };
        format!(
            "{store} {}",
            short(r["seeded"]["spec"]["sessions"].as_u64().unwrap_or(0))
        )
    };
    // Whether a report has the in-process split (`--split`): then it gets a column for it.
    let split: Vec<bool> = reports
        .iter()
        .map(|r| {
            r["shapes"]
                .as_array()
                .is_some_and(|a| a.iter().any(|s| s["count_ms"].is_number()))
        })
        .collect();
    let mut out = String::new();
    for (i, file) in files.iter().enumerate() {
        let r = &reports[i];
        let _ = writeln!(
            out,
            "- {}: `{}`, load average {} before, {} after",
            name(i),
            file.display(),
            r["machine"]["load_before"].as_str().unwrap_or("?"),
            r["machine"]["load_after"].as_str().unwrap_or("?")
        );
    }
    out.push_str("\n| API | shape | rows | count |");
    for (i, split) in split.iter().enumerate() {
        let n = name(i);
        let _ = write!(out, " {n} p50 | {n} p95 |");
        if *split {
            let _ = write!(out, " {n} count / page |");
        }
        let _ = write!(out, " {n} |");
    }
    out.push_str("\n|---|---|---:|---:|");
    for split in &split {
        out.push_str(if *split {
            "---:|---:|---:|---|"
        } else {
            "---:|---:|---|"
        });
    }
    out.push('\n');
    for shape in shapes {
        let key = &shape["key"];
        let count = shape["count"].as_f64().map_or("—".into(), crate::report::thousands);
        let _ = write!(
            out,
            "| {} | {} | {} | {count} |",
            shape["api"].as_str().unwrap_or(""),
            shape["label"].as_str().unwrap_or(""),
            crate::report::thousands(shape["rows"].as_f64().unwrap_or(0.0)),
        );
        for (report, split) in reports.iter().zip(&split) {
            let all = report["shapes"].as_array();
            let find = |k: &Value| all.and_then(|a| a.iter().find(|s| &s["key"] == k));
            let offset0 = find(&Value::from("z_all")).and_then(|s| s["p50_ms"].as_f64());
            match find(key) {
                Some(s) => {
                    let _ = write!(
                        out,
                        " {} | {} |",
                        ms(s["p50_ms"].as_f64().unwrap_or(0.0)),
                        ms(s["p95_ms"].as_f64().unwrap_or(0.0)),
                    );
                    if *split {
                        match (s["count_ms"].as_f64(), s["page_ms"].as_f64()) {
                            (Some(c), Some(p)) => {
                                let _ = write!(out, " {} / {} |", ms(c), ms(p));
                            }
                            _ => out.push_str(" |"),
                        }
                    }
                    let _ = write!(out, " {} |", result(s, offset0));
                }
                None => out.push_str(if *split {
                    " — | — | — | — |"
                } else {
                    " — | — | — |"
                }),
            }
        }
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn results_say_how_far_over_the_bar() {
        let shape = |bar: &str, p50: f64, p95: f64| json!({"bar": bar, "p50_ms": p50, "p95_ms": p95, "correct": true});
        assert_eq!(result(&shape("Default", 10.0, 40.0), None), "pass");
        assert_eq!(result(&shape("Default", 10.0, 100.0), None), "**2.0 ×**");
        assert_eq!(result(&shape("Large", 1200.0, 0.0), None), "**20 ×**");
        assert_eq!(result(&shape("Curve", 150.0, 0.0), Some(100.0)), "+50.0 ms");
        assert_eq!(short(1_000_000), "1M");
        assert_eq!(short(50_000), "50k");
        assert_eq!(short(1_234), "1234");
    }
}
