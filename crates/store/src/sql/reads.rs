//! The store's point reads and plain lists, written once with SQLite's `?N` placeholders;
//! PostgreSQL gets `$N` (see `statement!` in [`super`]). Where the dialects truly differ (a
//! list of ids), the function says so.

use super::{sessions_from, Dialect, API_KEY_COLUMNS, DEVICE_COLUMNS, IDENTITY_COLUMNS, SESSION_COLUMNS};

statement!(
    /// The session whose token digest is `?1`.
    session_by_digest(dialect) = format!(
        "SELECT {SESSION_COLUMNS} {} WHERE s.token_digest = ?1",
        sessions_from(dialect)
    )
);

statement!(
    /// The session `?1`.
    session_by_id(dialect) = format!("SELECT {SESSION_COLUMNS} {} WHERE s.id = ?1", sessions_from(dialect))
);

statement!(
    /// The identity `?1`.
    identity_by_id = format!("SELECT {IDENTITY_COLUMNS} FROM identities i WHERE i.id = ?1")
);

statement!(
    /// The identity with the (lower-cased) login identifier `?1`.
    identity_by_identifier = format!(
        "SELECT {IDENTITY_COLUMNS} FROM identity_identifiers x JOIN identities i ON i.id = x.identity_id \
         WHERE x.identifier = ?1"
    )
);

statement!(
    /// The identity with the external id `?1`.
    identity_by_external_id = format!("SELECT {IDENTITY_COLUMNS} FROM identities i WHERE i.external_id = ?1")
);

statement!(
    /// Identities after id `?1`, by id, at most `?2`.
    identities_after = format!("SELECT {IDENTITY_COLUMNS} FROM identities i WHERE i.id > ?1 ORDER BY i.id LIMIT ?2")
);

statement!(
    /// Identities of organization `?1` after id `?2`, by id, at most `?3`.
    identities_of_organization = format!(
        "SELECT {IDENTITY_COLUMNS} FROM identities i WHERE i.organization_id = ?1 AND i.id > ?2 \
         ORDER BY i.id LIMIT ?3"
    )
);

statement!(
    /// The identity with the identifier `?1` if its id is after `?2` (and `?3` ≥ 1).
    identities_with_identifier = format!(
        "SELECT {IDENTITY_COLUMNS} FROM identity_identifiers x JOIN identities i ON i.id = x.identity_id \
         WHERE x.identifier = ?1 AND i.id > ?2 ORDER BY i.id LIMIT ?3"
    )
);

statement!(
    /// Identities with an identifier in [`?1`, `?2`) (a prefix as a range on the identifier
    /// key, so that its index is used, not LIKE), after id `?3`, by id, at most `?4`.
    identities_with_identifier_in = format!(
        "SELECT {IDENTITY_COLUMNS} FROM identities i WHERE i.id IN (SELECT x.identity_id \
         FROM identity_identifiers x WHERE x.identifier >= ?1 AND x.identifier < ?2) AND i.id > ?3 \
         ORDER BY i.id LIMIT ?4"
    )
);

statement!(
    /// The API key whose digest is `?1`.
    api_key_by_digest = format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE digest = ?1")
);

statement!(
    /// Every API key, oldest first.
    api_keys = format!("SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY created_us, id")
);

/// The session sequence: the number of the last committed session write (no placeholders:
/// the same text on both dialects).
pub const CURRENT_SEQUENCE: &str = "SELECT value FROM lanyard_counters WHERE name = 'session_sequence'";

/// The identities among `count` ids (bound as `?1…?count` on SQLite, as one array `$1` on
/// PostgreSQL).
pub fn identities_by_ids(dialect: Dialect, count: usize) -> String {
    match dialect {
        Dialect::Sqlite => format!(
            "SELECT {IDENTITY_COLUMNS} FROM identities i WHERE i.id IN ({})",
            numbered_placeholders(count)
        ),
        Dialect::Postgres => format!("SELECT {IDENTITY_COLUMNS} FROM identities i WHERE i.id = ANY($1)"),
    }
}

/// The devices of `count` sessions, oldest first (ids bound as on [`identities_by_ids`]).
pub fn devices_of_sessions(dialect: Dialect, count: usize) -> String {
    match dialect {
        Dialect::Sqlite => format!(
            "SELECT {DEVICE_COLUMNS} FROM session_devices d WHERE d.session_id IN ({}) ORDER BY d.created_us, d.id",
            numbered_placeholders(count)
        ),
        Dialect::Postgres => format!(
            "SELECT {DEVICE_COLUMNS} FROM session_devices d WHERE d.session_id = ANY($1) ORDER BY d.created_us, d.id"
        ),
    }
}

/// How many ids one SQLite statement binds, far below its bound-parameter limit.
pub const SQLITE_IDS_PER_STATEMENT: usize = 500;

fn numbered_placeholders(count: usize) -> String {
    (1..=count).map(|n| format!("?{n}")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_text_serves_both_dialects() {
        assert!(identities_of_organization(Dialect::Sqlite).contains("organization_id = ?1 AND i.id > ?2"));
        assert!(identities_of_organization(Dialect::Postgres).contains("organization_id = $1 AND i.id > $2"));
        assert!(!api_keys(Dialect::Postgres).contains('?'));
    }
}
