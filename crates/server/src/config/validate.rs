//! What the types alone cannot check, reported all at once before anything starts, and the
//! problems worth a warning that do not stop start-up.

use std::time::Duration;

use anyhow::anyhow;

use super::Config;

impl Config {
    /// The `smtp` and `sms` sections: complete when used, addresses that parse.
    fn delivery_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let smtp = &self.smtp;
        match smtp.host.as_deref().map(str::trim) {
            Some("") => problems.push("smtp.host is empty; leave it out to send no email".into()),
            Some(_) => match smtp.from.as_deref() {
                None => problems.push("smtp.from is needed with smtp.host (the sender of the codes)".into()),
                Some(from) if from.parse::<lettre::message::Mailbox>().is_err() => problems.push(format!(
                    "smtp.from {from:?} is not an email address (e.g. \"Lanyard <no-reply@example.com>\")"
                )),
                Some(_) => {}
            },
            None => {}
        }
        if smtp.password.is_some() && smtp.username.is_none() {
            problems.push("smtp.password is set without smtp.username".into());
        }
        if let Some(url) = &self.sms.http_url {
            match url::Url::parse(url) {
                Ok(url) if matches!(url.scheme(), "http" | "https") => {}
                _ => problems.push(format!("sms.http_url {url:?} is not an http or https URL")),
            }
        }
        problems
    }

    /// Checks what the types alone cannot; reports every problem at once.
    pub fn validate(&self) -> anyhow::Result<()> {
        let mut problems = Vec::new();

        for (i, secret) in self.secrets.0.iter().enumerate() {
            if secret.trim().is_empty() {
                problems.push(format!("secrets[{i}] is empty"));
            }
        }

        problems.extend(self.delivery_problems());
        problems.extend(self.webauthn_problems());

        if self.database.read_connections == 0 {
            problems.push("database.read_connections must be at least 1".into());
        }
        if self.database.max_connections == 0 {
            problems.push("database.max_connections must be at least 1".into());
        }
        if self.database.min_connections > self.database.max_connections {
            problems.push(format!(
                "database.min_connections ({}) must not exceed database.max_connections ({})",
                self.database.min_connections, self.database.max_connections
            ));
        }
        if self.database.acquire_timeout.0.is_zero() {
            problems.push("database.acquire_timeout must be longer than zero".into());
        }
        if self
            .database
            .statement_timeout
            .is_some_and(|t| t.0 < Duration::from_millis(1))
        {
            problems.push("database.statement_timeout must be at least 1ms (leave it unset for none)".into());
        }

        if self.serve.request_body_limit_bytes == 0 {
            problems.push("serve.request_body_limit_bytes must be at least 1".into());
        }
        if self.serve.request_timeout.0.is_zero() {
            problems.push("serve.request_timeout must be longer than zero".into());
        }
        if self.serve.header_read_timeout.0.is_zero() {
            problems.push("serve.header_read_timeout must be longer than zero".into());
        }
        if self.serve.max_connections == 0 {
            problems.push("serve.max_connections must be at least 1".into());
        }
        let (public, admin) = (self.serve.public.listen, self.serve.admin.listen);
        if public == admin && public.port() != 0 {
            problems.push(format!(
                "serve.public.listen and serve.admin.listen are both {public}; the admin API needs its own port"
            ));
        }

        if self.session.lifespan.0.is_zero() {
            problems.push("session.lifespan must be longer than zero".into());
        }
        if time::Duration::try_from(self.session.lifespan.0).is_err() {
            problems.push("session.lifespan is too long".into());
        }
        if time::Duration::try_from(self.session.earliest_possible_extend()).is_err() {
            problems.push("session.earliest_possible_extend is too long".into());
        }
        if self.rate_limits.list_queue_timeout.0 >= self.serve.request_timeout.0 {
            problems.push(format!(
                "rate_limits.list_queue_timeout ({}) must be shorter than serve.request_timeout ({}), \
                 or a waiting list would time out instead of being told when to retry",
                self.rate_limits.list_queue_timeout, self.serve.request_timeout
            ));
        }
        if self.cleanup.interval.0.is_zero() {
            problems.push("cleanup.interval must be longer than zero".into());
        }
        if time::Duration::try_from(self.cleanup.keep_last.0).is_err() {
            problems.push("cleanup.keep_last is too long".into());
        }
        if !(1..=lanyard_service::MAX_CLEANUP_BATCH_SIZE).contains(&self.cleanup.batch_size) {
            problems.push(format!(
                "cleanup.batch_size must be between 1 and {} (got {})",
                lanyard_service::MAX_CLEANUP_BATCH_SIZE,
                self.cleanup.batch_size
            ));
        }

        if !is_cookie_name(&self.session.cookie_name) {
            problems.push(format!(
                "session.cookie_name {:?} is not a valid cookie name (letters, digits and !#$%&'*+-.^_`|~ only)",
                self.session.cookie_name
            ));
        }
        if self.session.password_hash_concurrency == Some(0) {
            problems.push("session.password_hash_concurrency must be at least 1".into());
        }

        let mut ids = vec!["default"];
        for (i, schema) in self.identity.schemas.iter().enumerate() {
            if schema.id.trim().is_empty() {
                problems.push(format!("identity.schemas[{i}].id is empty"));
            } else if ids[1..].contains(&schema.id.as_str()) {
                problems.push(format!("identity.schemas[{i}].id {:?} is configured twice", schema.id));
            } else {
                ids.push(&schema.id);
            }
            if schema.url.trim().is_empty() {
                problems.push(format!("identity.schemas[{i}].url is empty"));
            }
        }
        if !ids.contains(&self.identity.default_schema_id.as_str()) {
            problems.push(format!(
                "identity.default_schema_id {:?} names no schema; known: {}",
                self.identity.default_schema_id,
                ids.join(", ")
            ));
        }

        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            problems.push(format!("log.level {:?} is not a valid filter: {e}", self.log.level));
        }

        match problems.len() {
            0 => Ok(()),
            1 => Err(anyhow!("invalid configuration: {}", problems[0])),
            _ => Err(anyhow!("invalid configuration:\n  - {}", problems.join("\n  - "))),
        }
    }

    /// Problems worth a warning at startup that do not stop it.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if !self.serve.admin.listen.ip().is_loopback() {
            warnings.push(format!(
                "the admin API listens on {}, which is not a loopback address: make sure only trusted \
                 networks can reach it",
                self.serve.admin.listen
            ));
        }
        if self.serve.public.tls.is_some() && self.serve.public.base_url.url().scheme() == "http" {
            warnings.push(format!(
                "serve.public.tls is set but serve.public.base_url ({}) says http://; links Lanyard \
                 hands out (schema_url, redirects) should say https://",
                self.serve.public.base_url.url()
            ));
        }
        if self.secrets.0.iter().any(|s| s.len() < 16) {
            warnings.push("a page-token secret is shorter than 16 characters; use 32 or more random characters".into());
        }
        warnings
    }
}

/// RFC 6265 cookie-name characters (an HTTP token).
fn is_cookie_name(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| {
            b.is_ascii_graphic()
                && !matches!(
                    b,
                    b'(' | b')'
                        | b'<'
                        | b'>'
                        | b'@'
                        | b','
                        | b';'
                        | b':'
                        | b'\\'
                        | b'"'
                        | b'/'
                        | b'['
                        | b']'
                        | b'?'
                        | b'='
                        | b'{'
                        | b'}'
                )
        })
}
