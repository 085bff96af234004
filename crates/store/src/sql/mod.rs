//! SQL text shared by every store. Each backend binds the returned [`Param`]s itself.

pub mod changes;
pub mod check_attempts;
pub(crate) mod session_count;
pub(crate) mod session_query;

pub use session_count::{count_sessions, hour_of, HourCells, HOUR_US, NEVER_HOUR};
/// The plain `COUNT(*)` over sessions, whatever the filter: what the cell counts must agree
/// with (the property tests' oracle).
pub use session_query::count_sessions as count_sessions_by_scan;
pub use session_query::{list_sessions, BuiltQuery, Dialect, Param};

/// The columns every session read selects, in the order [`crate::rows`] decodes them.
pub const SESSION_COLUMNS: &str = "s.id, s.identity_id, s.created_us, s.changed_us, s.authenticated_us, \
     s.expires_us, s.revoked_us, s.user_checked_us, s.factors, s.metadata, s.creator, s.sequence, \
     i.state AS identity_state";

/// The whole identity of a session, next to [`SESSION_COLUMNS`] (which name the session's own
/// columns plainly), read with `rows::decode_joined_identity`.
const JOINED_IDENTITY_COLUMNS: &str = "i.id AS i_id, i.schema_id AS i_schema_id, i.traits AS i_traits, \
     i.state AS i_state, i.state_changed_us AS i_state_changed_us, i.metadata_public AS i_metadata_public, \
     i.metadata_admin AS i_metadata_admin, i.organization_id AS i_organization_id, \
     i.external_id AS i_external_id, i.identifiers AS i_identifiers, i.credentials AS i_credentials, \
     i.created_us AS i_created_us, i.updated_us AS i_updated_us";

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

/// whoami's store read: the session by token digest with its whole identity and its devices,
/// in one statement, read with `rows::decode_session_view`. Built once per dialect.
pub fn session_view_by_digest(dialect: Dialect) -> &'static str {
    static SQLITE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    static POSTGRES: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let (cell, digest) = match dialect {
        Dialect::Sqlite => (&SQLITE, "?1"),
        Dialect::Postgres => (&POSTGRES, "$1"),
    };
    cell.get_or_init(|| {
        format!(
            "SELECT {SESSION_COLUMNS}, {JOINED_IDENTITY_COLUMNS}, {} FROM sessions s \
             LEFT JOIN identities i ON i.id = s.identity_id WHERE s.token_digest = {digest}",
            devices_json_column(dialect)
        )
    })
}
