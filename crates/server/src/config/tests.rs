//! The configuration's tests: sources, precedence, validation, the example file.

// figment::Jail closures return figment::Error, which is large.
#![allow(clippy::result_large_err)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use base64::Engine;
use figment::Jail;

/// Jail closures return figment errors; carry ours across.
fn jailed<T>(result: anyhow::Result<T>) -> figment::error::Result<T> {
    result.map_err(|e| figment::Error::from(format!("{e:#}")))
}

#[test]
fn defaults_match_the_documentation() {
    let config = Config::from_toml_str("").unwrap();
    assert!(config.secrets.is_empty());
    assert_eq!(config.database.url, DatabaseUrl::Sqlite(PathBuf::from("lanyard.db")));
    assert_eq!(config.database.sqlite_synchronous, SqliteSynchronous::Normal);
    assert_eq!(config.database.read_connections, 4);
    assert!(config.database.sqlite_mmap);
    assert_eq!(config.serve.public.listen.to_string(), "0.0.0.0:4433");
    assert_eq!(config.serve.public.base_url.as_str(), "http://127.0.0.1:4433/");
    assert_eq!(config.serve.admin.listen.to_string(), "127.0.0.1:4434");
    assert!(config.serve.admin.listen.ip().is_loopback());
    assert_eq!(config.serve.request_body_limit_bytes, 1_048_576);
    assert_eq!(config.serve.request_timeout.0, Duration::from_secs(30));
    assert_eq!(config.serve.header_read_timeout.0, Duration::from_secs(10));
    assert_eq!(config.serve.max_connections, 4096);
    assert_eq!(config.session.lifespan.0, Duration::from_secs(86_400));
    assert_eq!(config.session.earliest_possible_extend(), Duration::from_secs(86_400));
    assert_eq!(config.session.cookie_name, "ory_kratos_session");
    assert_eq!(config.session.extend_response, ExtendResponse::Session);
    assert_eq!(config.session.whoami_required_aal, WhoamiRequiredAal::HighestAvailable);
    assert!(config.session.password_hash_concurrency() >= 1);
    assert_eq!(config.identity.default_schema_id, "default");
    assert!(config.identity.schemas.is_empty());
    assert_eq!(config.log.format, LogFormat::Json);
    assert_eq!(config.log.level, "info");
    assert_eq!(config, Config::default());
    assert!(config.warnings().is_empty());
}

#[test]
fn the_example_file_is_the_defaults() {
    let example = include_str!("../../../../lanyard.example.toml");
    let uncommented: String = example
        .lines()
        .map(|line| line.strip_prefix("# ").filter(|l| is_setting_line(l)).unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(Config::from_toml_str(example).unwrap(), Config::default());
    // Uncommenting every `key = value` line must still parse and give the defaults, except
    // for the documented example values of the optional keys.
    let mut config = Config::from_toml_str(&uncommented).unwrap();
    assert_eq!(config.database, Config::default().database);
    // TLS is off by default; its example paths are the documented ones.
    for tls in [config.serve.public.tls.take(), config.serve.admin.tls.take()] {
        let tls = tls.expect("the example shows a [tls] table for both ports");
        assert_eq!(tls.cert_file, std::path::Path::new("/etc/lanyard/tls/cert.pem"));
        assert_eq!(tls.key_file, std::path::Path::new("/etc/lanyard/tls/key.pem"));
    }
    assert_eq!(config.serve, Config::default().serve);
    assert_eq!(config.log, Config::default().log);
    assert_eq!(config.smtp.host.as_deref(), Some("smtp.example.org"));
    assert_eq!(config.sms.http_url.as_deref(), Some("https://sms.example.org/lanyard"));
    assert_eq!(config.webauthn_rp_id().as_deref(), Some("example.org"));
    assert_eq!(config.webauthn_origins()[0].as_str(), "https://login.example.org/");
}

#[test]
fn the_relying_party_comes_from_the_base_url_unless_set() {
    // The default base URL has an IP address: no relying party, WebAuthn off.
    let config = Config::from_toml_str("").unwrap();
    assert_eq!(config.webauthn_rp_id(), None);
    assert!(config.relying_party().unwrap().is_none());

    let config = Config::from_toml_str("[serve.public]\nbase_url = \"https://login.example.org/lanyard\"").unwrap();
    assert_eq!(config.webauthn_rp_id().as_deref(), Some("login.example.org"));
    assert_eq!(
        config
            .webauthn_origins()
            .iter()
            .map(url::Url::as_str)
            .collect::<Vec<_>>(),
        ["https://login.example.org/"]
    );
    assert!(config.relying_party().unwrap().is_some());

    let config =
        Config::from_toml_str("[webauthn]\nrp_id = \"localhost\"\nallowed_origins = [\"http://localhost:3000\"]")
            .unwrap();
    assert_eq!(
        config.relying_party().unwrap().map(|rp| rp.id().to_owned()).as_deref(),
        Some("localhost")
    );
}

fn is_setting_line(line: &str) -> bool {
    let line = line.trim_start();
    line.starts_with('[')
        || line
            .split_once(" = ")
            .is_some_and(|(key, _)| !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
}

#[test]
fn toml_overrides_defaults() {
    let config = Config::from_toml_str(
        r#"
            secrets = ["first-secret-0123456789", "second-secret-0123456789"]
            [database]
            url = "sqlite:///var/lib/lanyard/l.db"
            sqlite_synchronous = "full"
            read_connections = 4
            sqlite_mmap = false
            [serve]
            request_body_limit_bytes = 2048
            request_timeout = "1m 30s"
            [serve.public]
            listen = "127.0.0.1:8433"
            base_url = "https://auth.example.org/lanyard"
            [serve.admin]
            listen = "127.0.0.1:8434"
            [session]
            lifespan = "720h"
            earliest_possible_extend = "1h"
            cookie_name = "sid"
            extend_response = "no_content"
            whoami_required_aal = "aal1"
            password_hash_concurrency = 3
            [log]
            format = "text"
            level = "debug,hyper=info"
            "#,
    )
    .unwrap();
    assert_eq!(config.secrets.0.len(), 2);
    assert_eq!(
        config.database.url,
        DatabaseUrl::Sqlite(PathBuf::from("/var/lib/lanyard/l.db"))
    );
    assert_eq!(config.database.sqlite_synchronous, SqliteSynchronous::Full);
    assert_eq!(config.database.read_connections, 4);
    assert!(!config.database.sqlite_mmap);
    assert_eq!(config.serve.request_body_limit_bytes, 2048);
    assert_eq!(config.serve.request_timeout.0, Duration::from_secs(90));
    assert_eq!(config.serve.public.listen.port(), 8433);
    assert_eq!(
        config.serve.public.base_url.as_str(),
        "https://auth.example.org/lanyard/"
    );
    assert_eq!(config.serve.admin.listen.port(), 8434);
    assert_eq!(config.session.lifespan.0, Duration::from_secs(720 * 3600));
    assert_eq!(config.session.earliest_possible_extend(), Duration::from_secs(3600));
    assert_eq!(config.session.cookie_name, "sid");
    assert_eq!(config.session.extend_response, ExtendResponse::NoContent);
    assert_eq!(config.session.whoami_required_aal, WhoamiRequiredAal::Aal1);
    assert_eq!(config.session.password_hash_concurrency(), 3);
    assert_eq!(config.log.format, LogFormat::Text);

    let settings = config.service_settings();
    assert_eq!(settings.session_lifespan, time::Duration::hours(720));
    assert_eq!(settings.earliest_possible_extend, time::Duration::hours(1));
    assert_eq!(settings.whoami_required_aal, RequiredAal::Aal1);
    assert_eq!(settings.password_hash_concurrency, 3);
}

#[test]
fn earliest_possible_extend_follows_the_lifespan_by_default() {
    let config = Config::from_toml_str("[session]\nlifespan = \"2h\"").unwrap();
    assert_eq!(config.session.earliest_possible_extend(), Duration::from_secs(7200));
}

#[test]
fn database_url_forms() {
    let sqlite = |s: &str| s.parse::<DatabaseUrl>().unwrap();
    assert_eq!(sqlite("sqlite://a/b.db"), DatabaseUrl::Sqlite("a/b.db".into()));
    assert_eq!(sqlite("sqlite:///a/b.db"), DatabaseUrl::Sqlite("/a/b.db".into()));
    assert_eq!(sqlite("sqlite:b.db"), DatabaseUrl::Sqlite("b.db".into()));
    assert!(matches!(sqlite("postgres://u:pw@db/lanyard"), DatabaseUrl::Postgres(_)));
    assert!(!sqlite("postgres://u:hunter2@db/lanyard")
        .to_string()
        .contains("hunter2"));
    for bad in [
        "",
        "sqlite://",
        "sqlite::memory:",
        "sqlite://x.db?mode=rwc",
        "mysql://x",
        "x.db",
    ] {
        assert!(bad.parse::<DatabaseUrl>().is_err(), "{bad:?} was accepted");
    }
    let error = Config::from_toml_str("[database]\nurl = \"mysql://db/x\"")
        .unwrap_err()
        .to_string();
    assert!(error.contains("database.url") && error.contains("mysql"), "{error}");
}

#[test]
fn environment_overrides_toml() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "lanyard.toml",
            r#"
                secrets = ["from-the-file-0123456789"]
                [database]
                url = "sqlite://file.db"
                read_connections = 2
                [serve.admin]
                listen = "127.0.0.1:5000"
                [session]
                lifespan = "1h"
                "#,
        )?;
        jail.set_env("LANYARD_DATABASE__URL", "sqlite://env.db");
        jail.set_env("LANYARD_SERVE__ADMIN__LISTEN", "127.0.0.1:6000");
        jail.set_env("LANYARD_SESSION__LIFESPAN", "2h");
        jail.set_env("LANYARD_SECRETS", "one-0123456789abcdef, two-0123456789abcdef");
        // Not configuration: Kubernetes service variables must not break startup.
        jail.set_env("LANYARD_PORT", "tcp://10.0.0.1:4433");
        jail.set_env("LANYARD_SERVICE_HOST", "10.0.0.1");

        let config = jailed(Config::load(Some(Path::new("lanyard.toml")), &Overrides::default()))?;
        assert_eq!(config.database.url, DatabaseUrl::Sqlite("env.db".into()));
        assert_eq!(config.database.read_connections, 2, "untouched by the environment");
        assert_eq!(config.serve.admin.listen.port(), 6000);
        assert_eq!(config.session.lifespan.0, Duration::from_secs(7200));
        assert_eq!(
            config.secrets.0,
            vec!["one-0123456789abcdef".to_string(), "two-0123456789abcdef".to_string()]
        );

        jail.set_env("LANYARD_SECRETS", r#"["a-0123456789abcdef", "b,with,commas"]"#);
        let config = jailed(Config::load(Some(Path::new("lanyard.toml")), &Overrides::default()))?;
        assert_eq!(
            config.secrets.0,
            vec!["a-0123456789abcdef".to_string(), "b,with,commas".to_string()]
        );

        // The file can also come from LANYARD_CONFIG.
        jail.set_env("LANYARD_CONFIG", "lanyard.toml");
        let config = jailed(Config::load(None, &Overrides::default()))?;
        assert_eq!(config.database.read_connections, 2);
        Ok(())
    });
}

#[test]
fn flags_override_environment() {
    Jail::expect_with(|jail| {
        jail.set_env("LANYARD_DATABASE__URL", "sqlite://env.db");
        jail.set_env("LANYARD_SERVE__PUBLIC__LISTEN", "127.0.0.1:7000");
        jail.set_env("LANYARD_SERVE__ADMIN__LISTEN", "127.0.0.1:7001");
        let overrides = Overrides {
            database_url: Some("sqlite:///tmp/flag.db".into()),
            public_listen: Some("127.0.0.1:9000".parse().unwrap()),
            admin_listen: None,
        };
        let config = jailed(Config::load(None, &overrides))?;
        assert_eq!(config.database.url, DatabaseUrl::Sqlite("/tmp/flag.db".into()));
        assert_eq!(config.serve.public.listen.port(), 9000);
        assert_eq!(config.serve.admin.listen.port(), 7001);
        Ok(())
    });
}

#[test]
fn unknown_keys_are_rejected_by_name() {
    let error = Config::from_toml_str("[database]\nurll = \"sqlite://x.db\"")
        .unwrap_err()
        .to_string();
    assert!(error.contains("database.urll"), "{error}");
    assert!(error.contains("unknown key"), "{error}");

    let error = Config::from_toml_str("colour = \"blue\"").unwrap_err().to_string();
    assert!(error.contains("colour"), "{error}");

    let error = Config::from_toml_str("[[identity.schemas]]\nid = \"a\"\nurl = \"a.json\"\npath = \"x\"")
        .unwrap_err()
        .to_string();
    assert!(error.contains("path"), "{error}");

    Jail::expect_with(|jail| {
        jail.create_file("l.toml", "[serve.admin]\nlisten = \"127.0.0.1:1\"\nhost = \"x\"")?;
        let error = Config::load(Some(Path::new("l.toml")), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(error.contains("serve.admin.host"), "{error}");
        assert!(error.contains("l.toml"), "names the file: {error}");

        jail.set_env("LANYARD_SESSION__LIFESPANN", "1h");
        let error = Config::load(None, &Overrides::default()).unwrap_err().to_string();
        assert!(error.contains("session.lifespann"), "{error}");
        assert!(error.contains("LANYARD_SESSION__LIFESPANN"), "{error}");
        Ok(())
    });
}

#[test]
fn single_underscore_environment_names_get_a_hint() {
    Jail::expect_with(|jail| {
        jail.set_env("LANYARD_DATABASE_URL", "sqlite://x.db");
        let error = Config::load(None, &Overrides::default()).unwrap_err().to_string();
        assert!(error.contains("LANYARD_DATABASE__URL"), "{error}");
        Ok(())
    });
}

#[test]
fn bad_durations_are_rejected() {
    let error = Config::from_toml_str("[session]\nlifespan = \"24 hourz\"")
        .unwrap_err()
        .to_string();
    assert!(error.contains("session.lifespan"), "{error}");
    assert!(error.contains("24 hourz"), "{error}");

    let error = Config::from_toml_str("[serve]\nrequest_timeout = 30")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("serve.request_timeout") && error.contains("unit"),
        "{error}"
    );

    let error = Config::from_toml_str("[session]\nlifespan = \"0s\"")
        .unwrap_err()
        .to_string();
    assert!(error.contains("session.lifespan"), "{error}");

    Jail::expect_with(|jail| {
        jail.set_env("LANYARD_SERVE__REQUEST_TIMEOUT", "soon");
        let error = Config::load(None, &Overrides::default()).unwrap_err().to_string();
        assert!(error.contains("LANYARD_SERVE__REQUEST_TIMEOUT"), "{error}");
        Ok(())
    });
}

#[test]
fn other_invalid_values_are_rejected_clearly() {
    let cases = [
        (
            "[database]\nsqlite_synchronous = \"off\"",
            "database.sqlite_synchronous",
        ),
        ("[database]\nread_connections = 0", "database.read_connections"),
        ("[serve.public]\nlisten = \"localhost\"", "serve.public.listen"),
        ("[serve.public]\nbase_url = \"ftp://x/\"", "serve.public.base_url"),
        ("[session]\ncookie_name = \"a b\"", "session.cookie_name"),
        ("[session]\nextend_response = \"maybe\"", "session.extend_response"),
        (
            "[identity]\ndefault_schema_id = \"customer\"",
            "identity.default_schema_id",
        ),
        (
            "[rate_limits]\nlist_queue_timeout = \"30s\"",
            "rate_limits.list_queue_timeout",
        ),
        ("[log]\nformat = \"xml\"", "log.format"),
        ("[log]\nlevel = \"lanyard=loud\"", "log.level"),
        ("secrets = [\"\"]", "secrets[0]"),
        ("[smtp]\nhost = \"mail.example.org\"", "smtp.from is needed"),
        (
            "[smtp]\nhost = \"mail.example.org\"\nfrom = \"nobody\"",
            "smtp.from \"nobody\"",
        ),
        ("[smtp]\nhost = \"\"", "smtp.host is empty"),
        ("[smtp]\ntls = \"ssl\"", "smtp.tls"),
        ("[smtp]\npassword = \"x\"", "smtp.password is set without smtp.username"),
        ("[sms]\nhttp_url = \"ftp://sms.example.org/\"", "sms.http_url"),
        ("[webauthn]\nrp_id = \"\"", "webauthn.rp_id is empty"),
        (
            "[webauthn]\nallowed_origins = [\"ftp://login.example.org\"]",
            "webauthn.allowed_origins",
        ),
        (
            "[webauthn]\nrp_id = \"example.org\"\nallowed_origins = [\"https://login.other.org\"]",
            "[webauthn]",
        ),
        (
            "[serve.public]\nlisten = \"127.0.0.1:9\"\n[serve.admin]\nlisten = \"127.0.0.1:9\"",
            "own port",
        ),
    ];
    for (toml, expected) in cases {
        let error = Config::from_toml_str(toml).unwrap_err().to_string();
        assert!(error.contains(expected), "{toml:?} gave {error:?}");
    }
}

#[test]
fn list_limits_default_to_a_share_of_the_store_and_follow_toml_then_environment() {
    let defaults = Config::default();
    let settings = defaults.service_settings();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get() as u32);
    assert_eq!(settings.list_concurrency_per_principal, (cores / 2).max(1));
    assert_eq!(settings.list_queue_timeout, time::Duration::seconds(1));
    assert_eq!(
        settings.list_concurrency,
        cores.min(2),
        "half the 4 SQLite readers at most"
    );
    let postgres = Config::from_toml_str("[database]\nurl = \"postgres://db/x\"").unwrap();
    assert_eq!(
        postgres.list_concurrency(),
        cores.min(8),
        "half the 16 PostgreSQL connections at most"
    );

    Jail::expect_with(|jail| {
        jail.create_file(
            "lanyard.toml",
            r#"
                [rate_limits]
                list_concurrency_per_principal = 5
                list_concurrency = 7
                list_queue_timeout = "250ms"
                "#,
        )?;
        let config = jailed(Config::load(Some(Path::new("lanyard.toml")), &Overrides::default()))?;
        let settings = config.service_settings();
        assert_eq!(settings.list_concurrency_per_principal, 5);
        assert_eq!(settings.list_concurrency, 7);
        assert_eq!(settings.list_queue_timeout, time::Duration::milliseconds(250));

        jail.set_env("LANYARD_RATE_LIMITS__LIST_CONCURRENCY_PER_PRINCIPAL", "0");
        jail.set_env("LANYARD_RATE_LIMITS__LIST_CONCURRENCY", "0");
        jail.set_env("LANYARD_RATE_LIMITS__LIST_QUEUE_TIMEOUT", "0s");
        let config = jailed(Config::load(Some(Path::new("lanyard.toml")), &Overrides::default()))?;
        let settings = config.service_settings();
        assert_eq!(
            (settings.list_concurrency_per_principal, settings.list_concurrency),
            (0, 0),
            "0 turns the limits off"
        );
        assert_eq!(settings.list_queue_timeout, time::Duration::ZERO);
        Ok(())
    });
}

#[test]
fn a_non_loopback_admin_address_is_warned_about() {
    let config = Config::from_toml_str("[serve.admin]\nlisten = \"0.0.0.0:4434\"").unwrap();
    assert!(config.warnings().iter().any(|w| w.contains("not a loopback")));
}

#[test]
fn debug_output_hides_secrets() {
    let config = Config::from_toml_str(
        "secrets = [\"hunter2-hunter2-hunter2\"]\n[smtp]\nhost = \"mail.example.org\"\nfrom = \"a@example.org\"\nusername = \"a\"\npassword = \"swordfish\"",
    )
    .unwrap();
    let printed = format!("{config:?}");
    assert!(
        !printed.contains("hunter2") && !printed.contains("swordfish"),
        "{printed}"
    );
}

#[test]
fn smtp_ports_follow_the_tls_mode() {
    let port = |toml: &str| Config::from_toml_str(toml).unwrap().smtp.port();
    assert_eq!(port(""), 587);
    assert_eq!(port("[smtp]\ntls = \"tls\""), 465);
    assert_eq!(port("[smtp]\ntls = \"none\""), 25);
    assert_eq!(port("[smtp]\ntls = \"none\"\nport = 2525"), 2525);
}

const SCHEMA: &str = r#"{
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"traits": {"type": "object", "properties": {"employee_id": {"type": "string"}}}}
    }"#;

#[test]
fn schemas_load_from_file_urls_paths_and_base64() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("customer schema.json");
    std::fs::write(&path, SCHEMA).unwrap();
    let expected: serde_json::Value = serde_json::from_str(SCHEMA).unwrap();

    let file_url = url::Url::from_file_path(&path).unwrap().to_string();
    assert!(file_url.starts_with("file:///"));
    let from_url = load_schema("customer", &file_url).unwrap();
    assert_eq!(from_url.id, "customer");
    assert_eq!(from_url.schema, expected);

    let from_path = load_schema("customer", path.to_str().unwrap()).unwrap();
    assert_eq!(from_path.schema, expected);

    let encoded = base64::engine::general_purpose::STANDARD.encode(SCHEMA);
    let from_b64 = load_schema("inline", &format!("base64://{encoded}")).unwrap();
    assert_eq!(from_b64.schema, expected);
    let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(SCHEMA);
    assert_eq!(
        load_schema("inline", &format!("base64://{url_safe}")).unwrap().schema,
        expected
    );

    let toml = format!(
        "[identity]\ndefault_schema_id = \"customer\"\n\
             [[identity.schemas]]\nid = \"customer\"\nurl = \"{file_url}\"\n\
             [[identity.schemas]]\nid = \"inline\"\nurl = \"base64://{encoded}\"\n"
    );
    let config = Config::from_toml_str(&toml).unwrap();
    let sources = config.identity.load_schemas().unwrap();
    assert_eq!(sources.len(), 2);
    assert_eq!(sources[0].id, "customer");
    assert_eq!(sources[1].id, "inline");
    lanyard_service::SchemaRegistry::new(sources, Some("customer".into())).unwrap();
}

#[test]
fn schema_loading_errors_name_the_schema() {
    let missing = load_schema("customer", "file:///nonexistent/lanyard/x.json").unwrap_err();
    assert!(format!("{missing:#}").contains("customer"), "{missing:#}");
    let relative_url = load_schema("c", "file://relative.json").unwrap_err();
    assert!(format!("{relative_url:#}").contains("absolute"), "{relative_url:#}");
    let bad_b64 = load_schema("c", "base64://%%%").unwrap_err();
    assert!(format!("{bad_b64:#}").contains("base64"), "{bad_b64:#}");
    let not_json = base64::engine::general_purpose::STANDARD.encode("{nope");
    let error = load_schema("c", &format!("base64://{not_json}")).unwrap_err();
    assert!(format!("{error:#}").contains("not valid JSON"), "{error:#}");
    let http = load_schema("c", "https://example.org/s.json").unwrap_err();
    assert!(format!("{http:#}").contains("not supported"), "{http:#}");
}

#[test]
fn postgres_pool_settings() {
    let defaults = Config::from_toml_str("").unwrap().database;
    assert_eq!(defaults.max_connections, 16);
    assert_eq!(defaults.min_connections, 0);
    assert_eq!(defaults.acquire_timeout.0, Duration::from_secs(5));
    assert_eq!(defaults.statement_timeout, None);

    let config = Config::from_toml_str(
        "[database]\nurl = \"postgresql://lanyard:pw@db.internal:5432/lanyard?sslmode=require\"\n\
             max_connections = 40\nmin_connections = 4\nacquire_timeout = \"2s\"\nstatement_timeout = \"15s\"",
    )
    .unwrap();
    assert!(matches!(config.database.url, DatabaseUrl::Postgres(_)));
    assert_eq!(config.database.max_connections, 40);
    assert_eq!(config.database.min_connections, 4);
    assert_eq!(config.database.acquire_timeout.0, Duration::from_secs(2));
    assert_eq!(
        config.database.statement_timeout.map(|t| t.0),
        Some(Duration::from_secs(15))
    );

    for (toml, expected) in [
        ("[database]\nmax_connections = 0", "database.max_connections"),
        ("[database]\nmin_connections = 17", "database.min_connections"),
        ("[database]\nacquire_timeout = \"0s\"", "database.acquire_timeout"),
        ("[database]\nacquire_timeout = 5", "database.acquire_timeout"),
        ("[database]\nstatement_timeout = \"0s\"", "database.statement_timeout"),
    ] {
        let error = Config::from_toml_str(toml).unwrap_err().to_string();
        assert!(error.contains(expected), "{toml:?} gave {error:?}");
    }
}

#[test]
fn cleanup_settings() {
    let defaults = Config::from_toml_str("").unwrap().cleanup;
    assert!(!defaults.enabled);
    assert_eq!(defaults.interval.0, Duration::from_secs(600));
    assert_eq!(defaults.keep_last.0, Duration::from_secs(86_400));
    assert_eq!(defaults.batch_size, 1000);
    assert_eq!(defaults.options(), lanyard_service::CleanupOptions::default());

    let config =
        Config::from_toml_str("[cleanup]\nenabled = true\ninterval = \"1m\"\nkeep_last = \"0s\"\nbatch_size = 50")
            .unwrap();
    assert!(config.cleanup.enabled);
    assert_eq!(config.cleanup.interval.0, Duration::from_secs(60));
    assert_eq!(config.cleanup.options().keep_last, time::Duration::ZERO);
    assert_eq!(config.cleanup.options().batch_size, 50);

    Jail::expect_with(|jail| {
        jail.set_env("LANYARD_CLEANUP__ENABLED", "true");
        jail.set_env("LANYARD_CLEANUP__KEEP_LAST", "48h");
        let config = jailed(Config::load(None, &Overrides::default()))?;
        assert!(config.cleanup.enabled);
        assert_eq!(config.cleanup.keep_last.0, Duration::from_secs(48 * 3600));
        Ok(())
    });

    for (toml, expected) in [
        ("[cleanup]\ninterval = \"0s\"", "cleanup.interval"),
        ("[cleanup]\nbatch_size = 0", "cleanup.batch_size"),
        ("[cleanup]\nbatch_size = 100001", "cleanup.batch_size"),
        ("[cleanup]\nkeep_last = 24", "cleanup.keep_last"),
        ("[cleanup]\nenable = true", "cleanup.enable"),
    ] {
        let error = Config::from_toml_str(toml).unwrap_err().to_string();
        assert!(error.contains(expected), "{toml:?} gave {error:?}");
    }
}

#[test]
fn a_missing_config_file_is_an_error() {
    Jail::expect_with(|_| {
        let error = Config::load(Some(Path::new("nope.toml")), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(error.contains("nope.toml"), "{error}");
        Ok(())
    });
}
