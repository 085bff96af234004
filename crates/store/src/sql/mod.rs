//! SQL text shared by every store. Each backend binds the returned [`Param`]s itself.
//!
//! A statement that reads the same on both databases but for its placeholders is written once,
//! with SQLite's `?N`, through `statement!`; where the dialects truly differ, a function takes
//! the [`Dialect`] and its `match` shows how.

/// `fn name(dialect: Dialect) -> &'static str`: the statement `text` (a `&str` or `String`
/// with `?N` placeholders), built once per dialect; PostgreSQL gets `$N`. Written
/// `name(dialect) = text`, the text may use the dialect (a join or a clock that differs).
macro_rules! statement {
    ($(#[$doc:meta])* $name:ident = $text:expr) => {
        statement!($(#[$doc])* $name(_dialect) = $text);
    };
    ($(#[$doc:meta])* $name:ident($dialect:ident) = $text:expr) => {
        $(#[$doc])*
        pub fn $name($dialect: $crate::sql::Dialect) -> &'static str {
            static SQLITE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
            static POSTGRES: std::sync::OnceLock<String> = std::sync::OnceLock::new();
            match $dialect {
                $crate::sql::Dialect::Sqlite => SQLITE.get_or_init(|| String::from($text)),
                $crate::sql::Dialect::Postgres => {
                    POSTGRES.get_or_init(|| $crate::sql::dollar_placeholders(&String::from($text)))
                }
            }
        }
    };
}

pub mod api_keys;
pub mod changes;
pub mod check_attempts;
pub mod identities;
pub mod idp_intents;
pub mod leases;
pub mod otp_challenges;
pub mod pending_enrolments;
pub mod reads;
pub(crate) mod session_count;
pub(crate) mod session_query;
pub mod sessions;
pub mod settings;
pub mod webauthn_challenges;

pub use session_count::{count_sessions, hour_of, TimeCells, HOUR_US, MINUTE_US, NEVER_HOUR};
/// The plain `COUNT(*)` over sessions, whatever the filter: what the cell counts must agree
/// with (the property tests' oracle).
pub use session_query::count_sessions as count_sessions_by_scan;
pub use session_query::{list_sessions, BuiltQuery, Dialect, Param};

/// The columns every session read selects, in the order `rows::decode_session`
/// reads them.
pub const SESSION_COLUMNS: &str = "s.id, s.identity_id, s.created_us, s.changed_us, s.authenticated_us, \
     s.expires_us, s.revoked_us, s.user_checked_us, s.factors, s.metadata, s.creator, s.sequence, \
     i.state AS identity_state";

/// The sessions (`s`) and, joined as `i`, their identities as far as session reads need them:
/// to tell whether the identity is active. Only non-active identities are joined, through
/// their small partial index (`identities_not_active`, a few thousand entries where the
/// primary key has every identity), so `i.state` is NULL for an active identity, which
/// `crate::rows::decode_session` and the filters of `session_query` read as active (a
/// session's identity always exists: the foreign key). SQLite: a page of 250 sessions took
/// 1.3 ms with a primary-key lookup per session, 0.5 ms this way (1M sessions, 2 % of
/// identities inactive). PostgreSQL gets the same as a LATERAL probe per session: a plain
/// join on the partial index makes its planner, estimating one non-active identity,
/// rescan the materialised index once per session.
///
/// The session row says whether its identity is not active (`identity_not_active`,
/// migrations `sqlite/0020` and `postgres/0024`, kept by triggers), and the join key is NULL
/// unless it does, so neither database probes for the other sessions: a Kratos
/// `active=false` page walks ~1,400 sessions, whose probes were most of its time at 10M
/// sessions on SQLite, and PostgreSQL spent 0.16 of a page's 0.49 ms on its 251 probes.
pub fn sessions_from(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => {
            "FROM sessions s LEFT JOIN identities i INDEXED BY identities_not_active \
             ON i.id = (CASE WHEN s.identity_not_active THEN s.identity_id END) AND i.state <> 'active'"
        }
        Dialect::Postgres => {
            "FROM sessions s LEFT JOIN LATERAL (SELECT i.state FROM identities i \
             WHERE i.id = (CASE WHEN s.identity_not_active THEN s.identity_id END) AND i.state <> 'active') i ON true"
        }
    }
}

/// An identity's columns (table alias `i`), in the order `crate::rows::decode_identity` reads
/// them.
pub const IDENTITY_COLUMNS: &str = "i.id, i.schema_id, i.traits, i.state, i.state_changed_us, \
     i.metadata_public, i.metadata_admin, i.organization_id, i.external_id, i.identifiers, \
     i.credentials, i.created_us, i.updated_us";

/// A device's columns (table alias `d`), its session's id first, in the order
/// `crate::rows::decode_device` reads them.
pub const DEVICE_COLUMNS: &str =
    "d.session_id, d.id, d.ip_address, d.user_agent, d.location, d.fingerprint_id, d.headers, d.created_us";

/// An API key's columns, in the order `crate::rows::decode_api_key` reads them.
pub const API_KEY_COLUMNS: &str = "id, name, digest, scopes, created_us, revoked_us";

/// A session's devices, oldest first, as one JSON array in the column `devices_json`, read
/// with `rows::decode_devices_json`. It lets a lookup by digest read the session, its identity
/// and its devices in one statement: whoami's cold path, where every further statement is a
/// thread hand-off (SQLite) or a round trip (PostgreSQL).
fn devices_json_column(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => {
            "(SELECT json_group_array(json_object('id', hex(d.id), 'ip_address', d.ip_address, \
             'user_agent', d.user_agent, 'location', d.location, 'fingerprint_id', d.fingerprint_id, \
             'headers', json(d.headers), 'created_us', d.created_us) ORDER BY d.created_us, d.id) \
             FROM session_devices d WHERE d.session_id = s.id) AS devices_json"
        }
        Dialect::Postgres => {
            "(SELECT coalesce(json_agg(json_build_object('id', d.id, 'ip_address', d.ip_address, \
             'user_agent', d.user_agent, 'location', d.location, 'fingerprint_id', d.fingerprint_id, \
             'headers', d.headers::json, 'created_us', d.created_us) ORDER BY d.created_us, d.id), '[]')::text \
             FROM session_devices d WHERE d.session_id = s.id) AS devices_json"
        }
    }
}

statement!(
    /// whoami's store read: the session by token digest `?1` with its whole identity and its
    /// devices, in one statement, read with `rows::decode_session_view`.
    session_view_by_digest(dialect) = format!(
        "SELECT {SESSION_COLUMNS}, {IDENTITY_COLUMNS}, {} FROM sessions s \
         LEFT JOIN identities i ON i.id = s.identity_id WHERE s.token_digest = ?1",
        devices_json_column(dialect)
    )
);

/// `?N` placeholders (SQLite's numbered form) as PostgreSQL's `$N`. The statements hold no
/// string literal with a `?` in it.
pub(crate) fn dollar_placeholders(text: &str) -> String {
    text.replace('?', "$")
}
