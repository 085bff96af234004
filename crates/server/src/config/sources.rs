//! Defaults, the TOML file, `LANYARD_*` environment variables and flags, merged by figment in
//! that order of precedence, with errors that name the key and where it came from.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail};
use figment::error::{Kind, OneOf};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;

use super::values::split_list;
use super::{Config, Overrides, CONFIG_FILE_ENV, ENV_PREFIX, SECRETS_ENV, SECTIONS};

impl Config {
    /// Loads defaults, the file (`file`, else `LANYARD_CONFIG`), the environment and the
    /// overrides, then validates.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Config> {
        let figment = Config::figment(file, overrides)?;
        Config::from_figment(&figment)
    }

    /// Parses TOML text alone (defaults + this text), without environment or flags.
    pub fn from_toml_str(toml: &str) -> anyhow::Result<Config> {
        Config::from_figment(&Figment::from(Toml::string(toml)))
    }

    /// The layered sources, not yet extracted.
    pub fn figment(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Figment> {
        let mut figment = Figment::new();

        let env_file = std::env::var_os(CONFIG_FILE_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        if let Some(path) = file.map(Path::to_path_buf).or(env_file) {
            if !path.is_file() {
                bail!(
                    "the configuration file {} does not exist or is not a file",
                    path.display()
                );
            }
            figment = figment.merge(Toml::file_exact(&path));
        }

        check_environment_names()?;
        figment = figment.merge(
            Env::prefixed(ENV_PREFIX)
                .split("__")
                .filter(|key| {
                    let key = key.as_str().to_ascii_lowercase();
                    let first = key.split('.').next().unwrap_or("");
                    first != "secrets" && SECTIONS.contains(&first)
                })
                .lowercase(true),
        );
        if let Ok(raw) = std::env::var(SECRETS_ENV) {
            figment = figment.merge(Serialized::default("secrets", secrets_from_env(&raw)?));
        }

        if let Some(url) = &overrides.database_url {
            figment = figment.merge(Serialized::default("database.url", url));
        }
        if let Some(listen) = overrides.public_listen {
            figment = figment.merge(Serialized::default("serve.public.listen", listen.to_string()));
        }
        if let Some(listen) = overrides.admin_listen {
            figment = figment.merge(Serialized::default("serve.admin.listen", listen.to_string()));
        }
        Ok(figment)
    }

    /// Extracts and validates.
    pub fn from_figment(figment: &Figment) -> anyhow::Result<Config> {
        let config: Config = figment
            .extract()
            .map_err(|error| describe_figment_error(figment, error))?;
        config.validate()?;
        Ok(config)
    }
}

/// `LANYARD_SECRETS`: a TOML array (`["a", "b"]`) or a comma-separated list (`a,b`).
fn secrets_from_env(raw: &str) -> anyhow::Result<Vec<String>> {
    if raw.trim_start().starts_with('[') {
        return Figment::from(Toml::string(&format!("secrets = {raw}")))
            .extract_inner::<Vec<String>>("secrets")
            .map_err(|_| {
                anyhow!(
                    "{SECRETS_ENV} starts with '[' but is not a TOML array of strings; write \
                     [\"first\", \"second\"] or first,second"
                )
            });
    }
    Ok(split_list(raw))
}

/// `LANYARD_DATABASE_URL` is an easy mistake for `LANYARD_DATABASE__URL`; say so rather than
/// silently ignoring it.
fn check_environment_names() -> anyhow::Result<()> {
    let mut problems = Vec::new();
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        let upper = name.to_ascii_uppercase();
        let Some(rest) = upper.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let key = rest.to_ascii_lowercase();
        let first = key.split("__").next().unwrap_or("");
        if first == "secrets" && key != "secrets" {
            problems.push(format!(
                "{name} is not a configuration variable; set {SECRETS_ENV} to a comma-separated list or a TOML array"
            ));
            continue;
        }
        if SECTIONS.contains(&first) {
            continue;
        }
        if let Some(section) = SECTIONS
            .iter()
            .find(|section| first.starts_with(&format!("{section}_")))
        {
            let suggestion = format!(
                "{ENV_PREFIX}{}__{}",
                section.to_ascii_uppercase(),
                &rest[section.len() + 1..]
            );
            problems.push(format!(
                "{name} is not a configuration variable: nested keys are separated by a double \
                 underscore (did you mean {suggestion}?)"
            ));
        }
    }
    match problems.len() {
        0 => Ok(()),
        _ => Err(anyhow!("invalid configuration: {}", problems.join("; "))),
    }
}

/// One line per problem, naming the key (`database.url`) and where its value came from.
fn describe_figment_error(figment: &Figment, error: figment::Error) -> anyhow::Error {
    let lines: Vec<String> = error
        .into_iter()
        .map(|e| {
            let mut path = e.path.clone();
            let what = match &e.kind {
                Kind::UnknownField(field, expected) => {
                    if path.last() != Some(field) {
                        path.push(field.clone());
                    }
                    format!("unknown key; expected {}", OneOf(expected))
                }
                Kind::UnknownVariant(found, expected) => {
                    format!("unknown value `{found}`; expected {}", OneOf(expected))
                }
                other => other.to_string(),
            };
            let key = path.join(".");
            let metadata = figment.find_metadata(&key).or(e.metadata.as_ref());
            let source = match metadata {
                Some(md) if md.name.contains("environment variable") => {
                    format!(
                        " (from environment variable {ENV_PREFIX}{})",
                        path.join("__").to_ascii_uppercase()
                    )
                }
                Some(md) => match &md.source {
                    Some(figment::Source::File(file)) => format!(" (in {})", file.display()),
                    _ => String::new(),
                },
                None => String::new(),
            };
            if key.is_empty() {
                format!("{what}{source}")
            } else {
                format!("`{key}`: {what}{source}")
            }
        })
        .collect();
    match lines.len() {
        1 => anyhow!("invalid configuration: {}", lines[0]),
        _ => anyhow!("invalid configuration:\n  - {}", lines.join("\n  - ")),
    }
}
