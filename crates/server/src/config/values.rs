//! The custom value types of the configuration: durations, URLs, secrets, addresses.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

/// Page-token secrets. Never printed: `Debug` shows only how many there are.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secrets(pub Vec<String>);

impl Secrets {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secrets({} redacted)", self.0.len())
    }
}

/// A password or other secret from the configuration. Never printed: `Debug` redacts it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct SecretString(pub String);

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(redacted)")
    }
}

pub(super) fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl<'de> Deserialize<'de> for Secrets {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SecretsVisitor;

        impl<'de> Visitor<'de> for SecretsVisitor {
            type Value = Secrets;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of strings or a comma-separated string")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Secrets, E> {
                Ok(Secrets(split_list(value)))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Secrets, A::Error> {
                let mut secrets = Vec::new();
                while let Some(secret) = seq.next_element::<String>()? {
                    secrets.push(secret);
                }
                Ok(Secrets(secrets))
            }
        }

        deserializer.deserialize_any(SecretsVisitor)
    }
}

/// A duration written the humantime way: `"30s"`, `"24h"`, `"1h 30m"`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl fmt::Debug for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl FromStr for HumanDuration {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        humantime::parse_duration(value.trim()).map(HumanDuration).map_err(|e| {
            format!("invalid duration {value:?} ({e}); write it like \"30s\", \"15m\", \"24h\" or \"1h 30m\"")
        })
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;

        const NEEDS_UNIT: &str = "a duration needs a unit, e.g. \"30s\", \"15m\" or \"24h\"";

        impl Visitor<'_> for DurationVisitor {
            type Value = HumanDuration;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as \"30s\" or \"24h\"")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<HumanDuration, E> {
                value.parse().map_err(E::custom)
            }

            fn visit_u64<E: de::Error>(self, _: u64) -> Result<HumanDuration, E> {
                Err(E::custom(NEEDS_UNIT))
            }

            fn visit_i64<E: de::Error>(self, _: i64) -> Result<HumanDuration, E> {
                Err(E::custom(NEEDS_UNIT))
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<HumanDuration, E> {
                Err(E::custom(NEEDS_UNIT))
            }
        }

        deserializer.deserialize_any(DurationVisitor)
    }
}

pub(super) fn listen_address<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SocketAddr, D::Error> {
    let value = String::deserialize(deserializer)?;
    value.trim().parse().map_err(|_| {
        de::Error::custom(format!(
            "invalid listen address {value:?}; write an IP address and a port, e.g. \"127.0.0.1:4434\", \"0.0.0.0:4433\" or \"[::1]:4434\""
        ))
    })
}

/// Where the data lives.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite file; relative paths are relative to the working directory.
    Sqlite(PathBuf),
    /// A PostgreSQL server (`postgres://` or `postgresql://`), kept verbatim for the driver.
    Postgres(String),
}

impl FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        const FORMS: &str = "sqlite://relative/path.db, sqlite:///absolute/path.db, sqlite:relative/path.db \
             or postgres://user:password@host:5432/database";
        let value = value.trim();
        if value.is_empty() {
            return Err(format!("the database URL is empty; use {FORMS}"));
        }
        if let Some(rest) = value.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(format!("the SQLite URL {value:?} names no file; use {FORMS}"));
            }
            if path.contains('?') {
                return Err(format!(
                    "the SQLite URL {value:?} has query parameters, which Lanyard does not read; \
                     use the database.sqlite_synchronous and database.read_connections keys instead"
                ));
            }
            if path == ":memory:" || path.starts_with("file::memory:") {
                return Err("in-memory SQLite databases are not supported: Lanyard opens several \
                     connections to one database file"
                    .into());
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        if value.starts_with("postgres://") || value.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(value.to_owned()));
        }
        let scheme = value.split_once(':').map_or("", |(scheme, _)| scheme);
        Err(format!("unsupported database URL scheme {scheme:?}; use {FORMS}"))
    }
}

impl fmt::Display for DatabaseUrl {
    /// Never shows a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            DatabaseUrl::Postgres(raw) => match url::Url::parse(raw) {
                Ok(mut parsed) => {
                    if parsed.password().is_some() {
                        let _ = parsed.set_password(Some("***"));
                    }
                    write!(f, "{parsed}")
                }
                Err(_) => f.write_str("postgres://<unparseable URL>"),
            },
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

impl<'de> Deserialize<'de> for DatabaseUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        value.parse().map_err(de::Error::custom)
    }
}

/// The public base URL: http or https, no query or fragment, always ending in `/`.
#[derive(Clone, PartialEq, Eq)]
pub struct BaseUrl(url::Url);

impl BaseUrl {
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn url(&self) -> &url::Url {
        &self.0
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

impl fmt::Debug for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BaseUrl({})", self.0)
    }
}

impl FromStr for BaseUrl {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        let mut url = url::Url::parse(value.trim()).map_err(|e| format!("invalid base URL {value:?}: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("the base URL {value:?} must be http:// or https://"));
        }
        if url.host().is_none() {
            return Err(format!("the base URL {value:?} has no host"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!("the base URL {value:?} must not have a query or fragment"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!("the base URL {value:?} must not contain credentials"));
        }
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(BaseUrl(url))
    }
}

impl<'de> Deserialize<'de> for BaseUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        value.parse().map_err(de::Error::custom)
    }
}
