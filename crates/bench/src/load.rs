//! The quick mode's own load loop, for machines without wrk (`cargo test` must pass on a fresh
//! machine, which has none). It sends the same requests as the Lua scripts in `bench/wrk/`, one
//! reqwest client (one HTTP/1.1 connection) per simulated connection, and measures latency the
//! same way; its figures are not wrk's (the client shares the process and the cores with the
//! bench), so the full benchmark still requires wrk.

use std::time::Duration;

use anyhow::{bail, Context};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::closed_loop::{self, Outcome};
use crate::model::{self, Rng};
use crate::wrk::{Load, Measurement};

/// `common.lua`'s `bench_active_identity`: a random identity that is not deactivated.
fn active_identity(random: &mut Rng, identities: u64) -> u64 {
    let i = random.below(identities);
    if model::identity_is_active(i) {
        i
    } else {
        (i + 1) % identities.max(1)
    }
}

fn identity(i: u64) -> String {
    model::identity_id(i).to_string()
}

fn ip(random: &mut Rng) -> String {
    format!(
        "10.{}.{}.{}",
        random.below(256),
        random.below(256),
        1 + random.below(254)
    )
}

/// One request of `script`, as its Lua `request()` builds it.
struct Request {
    method: reqwest::Method,
    headers: Vec<(&'static str, String)>,
    body: Option<String>,
}

fn request(script: &str, args: &[String], random: &mut Rng) -> anyhow::Result<Request> {
    let number = |i: usize| -> anyhow::Result<u64> {
        args.get(i)
            .with_context(|| format!("script {script} needs argument {}", i + 1))?
            .parse()
            .with_context(|| format!("script {script}: argument {} is not a number", i + 1))
    };
    let text = |i: usize| args.get(i).cloned().unwrap_or_default();
    let json = |body: String| Request {
        method: reqwest::Method::POST,
        headers: vec![("content-type", "application/json".to_owned())],
        body: Some(body),
    };
    Ok(match script {
        "static" => {
            let method = match text(0).as_str() {
                "" => reqwest::Method::GET,
                other => other.parse().with_context(|| format!("HTTP method {other:?}"))?,
            };
            let body = Some(text(1)).filter(|b| !b.is_empty());
            let headers = if body.is_some() {
                vec![("content-type", "application/json".to_owned())]
            } else {
                Vec::new()
            };
            Request { method, headers, body }
        }
        "whoami" => {
            let n = random.active_session(number(0)?.max(1));
            Request {
                method: reqwest::Method::GET,
                headers: vec![("x-session-token", model::token(n))],
                body: None,
            }
        }
        "create" => {
            let who = identity(active_identity(random, number(0)?));
            json(format!(
                r#"{{"identity_id":"{who}","methods":[{{"method":"password"}}],"device":{{"ip_address":"{}","user_agent":"lanyard-bench load loop"}}}}"#,
                ip(random)
            ))
        }
        "password" => {
            let who = identity(active_identity(random, number(0)?));
            json(format!(
                r#"{{"checks":{{"user":{{"userId":"{who}"}},"password":{{"password":"{}"}}}},"userAgent":{{"ip":"{}","description":"lanyard-bench load loop"}}}}"#,
                text(1),
                ip(random)
            ))
        }
        "zitadel_search" => {
            let identities = number(0)?.max(1);
            let user = identity(random.below(identities));
            json(format!(
                r#"{{"query":{{"offset":"0","limit":100,"asc":false}},"sortingColumn":"SESSION_FIELD_NAME_CREATION_DATE","queries":[{{"userIdQuery":{{"id":"{user}"}}}},{{"creationDateQuery":{{"creationDate":"{}","method":"TIMESTAMP_QUERY_METHOD_GREATER_OR_EQUALS"}}}}]}}"#,
                text(1)
            ))
        }
        other => bail!("the load loop has no script {other:?}"),
    })
}

/// `Name: value` headers, as wrk takes them with `-H`.
fn fixed_headers(headers: &[String]) -> anyhow::Result<HeaderMap> {
    let mut map = HeaderMap::new();
    for header in headers {
        let (name, value) = header
            .split_once(':')
            .with_context(|| format!("header {header:?} is not `Name: value`"))?;
        map.insert(
            HeaderName::from_bytes(name.trim().as_bytes())?,
            HeaderValue::from_str(value.trim())?,
        );
    }
    Ok(map)
}

/// Runs `load` over `connections` connections for its duration.
pub async fn run(load: &Load<'_>, connections: u32, timeout: Duration) -> anyhow::Result<Measurement> {
    let headers = fixed_headers(&load.headers)?;
    // Fail before the clock starts if the script or its arguments are wrong.
    request(load.script, &load.args, &mut Rng::new(0))?;
    let mut workers = Vec::new();
    for stream in 0..connections.max(1) {
        workers.push(ScriptWorker {
            client: reqwest::Client::builder()
                .http1_only()
                .pool_max_idle_per_host(1)
                .timeout(timeout)
                .default_headers(headers.clone())
                .build()?,
            url: load.url.clone(),
            script: load.script.to_owned(),
            args: load.args.clone(),
            random: Rng::new(u64::from(stream) + 1),
        });
    }
    closed_loop::run(workers, load.duration).await
}

/// One connection sending a script's requests.
struct ScriptWorker {
    client: reqwest::Client,
    url: String,
    script: String,
    args: Vec<String>,
    random: Rng,
}

impl closed_loop::Worker for ScriptWorker {
    async fn call(&mut self) -> anyhow::Result<Outcome> {
        let next = request(&self.script, &self.args, &mut self.random)?;
        let mut builder = self.client.request(next.method, &self.url);
        for (name, value) in next.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = next.body {
            builder = builder.body(body);
        }
        let Ok(response) = builder.send().await else {
            return Ok(Outcome::Unsent);
        };
        let status = response.status();
        Ok(match response.bytes().await {
            Err(_) => Outcome::Broken,
            Ok(_) if status.as_u16() >= 400 => Outcome::Wrong,
            Ok(_) => Outcome::Answered,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whoami_picks_only_active_sessions_in_range() {
        let mut random = Rng::new(3);
        for _ in 0..1000 {
            let Ok(request) = request("whoami", &["100".to_owned()], &mut random) else {
                panic!("a whoami request");
            };
            let token = &request.headers[0].1;
            let n: u64 = token
                .trim_start_matches(model::TOKEN_PREFIX)
                .parse()
                .unwrap_or(u64::MAX);
            assert!(n < 100 && model::is_active(n), "{token}");
        }
    }

    #[test]
    fn scripts_build_the_bodies_the_lua_scripts_send() {
        let mut random = Rng::new(1);
        let search = request(
            "zitadel_search",
            &["10".into(), "2026-01-01T00:00:00Z".into()],
            &mut random,
        );
        let body = search.ok().and_then(|r| r.body).unwrap_or_default();
        let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        assert_eq!(
            json["queries"][1]["creationDateQuery"]["creationDate"],
            "2026-01-01T00:00:00Z"
        );
        assert!(request("static", &["POST".into(), "{}".into()], &mut random).is_ok_and(|r| r.body.is_some()));
        assert!(
            request("whoami", &[], &mut random).is_err(),
            "a missing argument is an error"
        );
        assert!(request("nope", &[], &mut random).is_err());
    }

    #[test]
    fn headers_are_split_like_wrk_does() {
        let map = fixed_headers(&["Authorization: Bearer x".to_owned()]).unwrap_or_default();
        assert_eq!(map.get("authorization").and_then(|v| v.to_str().ok()), Some("Bearer x"));
        assert!(fixed_headers(&["no colon".to_owned()]).is_err());
    }
}
