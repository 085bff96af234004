//! Writes of sessions and their devices: the session sequence, updates, revocations, deletes
//! and the bulk inserts of group commit (their reads are in [`super::reads`] and
//! [`super::list_sessions`]).

use super::Dialect;

/// Takes the next session sequence and returns it. The counter row stays locked until the
/// transaction ends, so numbers are handed out in commit order and a rollback returns the
/// number. The same text on both dialects (no placeholders).
pub const NEXT_SEQUENCE: &str =
    "UPDATE lanyard_counters SET value = value + 1 WHERE name = 'session_sequence' RETURNING value";

/// Takes the lock that [`NEXT_SEQUENCE`] takes, without taking a number, for a write that
/// changes sessions but records no change (cleanup): the counter cells that the session
/// triggers update are then locked in one order by everyone, behind the counter row. Without
/// it, a cleanup deleting sessions of several hours and a concurrent write locked the same
/// cells in opposite orders, and PostgreSQL aborted one of them ("deadlock detected"). SQLite
/// has one writer connection, so nothing to lock.
pub fn lock_session_writes(dialect: Dialect) -> Option<&'static str> {
    match dialect {
        Dialect::Sqlite => None,
        Dialect::Postgres => Some("SELECT value FROM lanyard_counters WHERE name = 'session_sequence' FOR UPDATE"),
    }
}

statement!(
    /// Takes the next `?1` session sequences at once (a group commit's) and returns the last.
    take_sequences = "UPDATE lanyard_counters SET value = value + ?1 WHERE name = 'session_sequence' RETURNING value"
);

statement!(
    /// Writes the mutable fields of the session `?1` if its sequence is still `?2`, giving it the
    /// sequence `?11`; replaces its token digest when `?12` is not NULL.
    update = "UPDATE sessions SET identity_id = ?3, changed_us = ?4, authenticated_us = ?5, expires_us = ?6, \
     revoked_us = ?7, user_checked_us = ?8, factors = ?9, metadata = ?10, sequence = ?11, \
     token_digest = COALESCE(?12, token_digest) WHERE id = ?1 AND sequence = ?2"
);

statement!(
    /// Revokes the session `?1` at `?2` under the sequence `?3`, unless it is revoked already;
    /// returns its id when it was not.
    revoke = "UPDATE sessions SET revoked_us = ?2, changed_us = ?2, sequence = ?3 \
     WHERE id = ?1 AND revoked_us IS NULL RETURNING id"
);

statement!(
    /// Revokes, at `?2` under the sequence `?3`, every session of the identity `?1` active at
    /// `?2` but `?4` (NULL keeps none); returns their ids. SQLite (3.39+) reads `IS DISTINCT
    /// FROM` as its own `IS NOT`.
    revoke_active_of_identity = "UPDATE sessions SET revoked_us = ?2, changed_us = ?2, sequence = ?3 \
     WHERE identity_id = ?1 AND revoked_us IS NULL AND (expires_us IS NULL OR expires_us > ?2) \
     AND id IS DISTINCT FROM ?4 RETURNING id"
);

statement!(
    /// Deletes every session of the identity `?1`; returns their ids.
    delete_of_identity = "DELETE FROM sessions WHERE identity_id = ?1 RETURNING id"
);

/// Cleanup: deletes up to `?3` sessions that expired before `?1` or were revoked before `?2`.
/// Each dialect has the shape its planner keeps on indexes.
///
/// SQLite: both conditions are index range scans (`sessions_expires`, `sessions_revoked`),
/// combined by its OR optimisation; the outer delete goes by primary key.
///
/// PostgreSQL: every plan, custom or generic (sqlx prepares the statement, and after five runs
/// PostgreSQL may switch to a generic plan), has to stay on indexes: each condition is its own
/// `ORDER BY ... LIMIT` range scan of `sessions_expires` or `sessions_revoked` (an `OR` gets a
/// sequential scan in the generic plan), and the delete itself finds the picked ids through the
/// primary key (`= ANY(ARRAY(...))`; an `IN (subquery)` gets a hash join over the whole table).
/// The conditions are checked again on the rows being deleted, so a row changed meanwhile is
/// left alone. Nothing here is PostgreSQL-only: CockroachDB and YugabyteDB accept the same
/// statement (no `DELETE ... LIMIT`, no ctid).
pub fn delete_expired(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => {
            "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions \
             WHERE expires_us < ?1 OR revoked_us < ?2 LIMIT ?3)"
        }
        Dialect::Postgres => {
            "DELETE FROM sessions WHERE id = ANY(ARRAY(SELECT id FROM (\
             (SELECT id FROM sessions WHERE expires_us < $1 ORDER BY expires_us LIMIT $3) \
             UNION \
             (SELECT id FROM sessions WHERE revoked_us < $2 ORDER BY revoked_us LIMIT $3)\
             ) AS due LIMIT $3)) \
             AND (expires_us < $1 OR revoked_us < $2)"
        }
    }
}

/// The columns of a new session, in the order they are bound, with their PostgreSQL types.
const NEW_SESSION: [(&str, &str); 14] = [
    ("id", "UUID"),
    ("token_digest", "BYTEA"),
    ("identity_id", "UUID"),
    ("created_us", "BIGINT"),
    ("changed_us", "BIGINT"),
    ("authenticated_us", "BIGINT"),
    ("expires_us", "BIGINT"),
    ("revoked_us", "BIGINT"),
    ("user_checked_us", "BIGINT"),
    ("factors", "TEXT"),
    ("metadata", "TEXT"),
    ("creator", "TEXT"),
    ("fingerprint_id", "TEXT"),
    ("sequence", "BIGINT"),
];

/// The columns of a new device, as [`NEW_SESSION`].
const NEW_DEVICE: [(&str, &str); 8] = [
    ("id", "UUID"),
    ("session_id", "UUID"),
    ("ip_address", "TEXT"),
    ("user_agent", "TEXT"),
    ("location", "TEXT"),
    ("fingerprint_id", "TEXT"),
    ("headers", "TEXT"),
    ("created_us", "BIGINT"),
];

/// How many values [`insert_sessions`] binds per session on SQLite.
pub const SESSION_VALUES: usize = NEW_SESSION.len();

/// Inserts sessions (see `NEW_SESSION` for the columns). SQLite has no array parameter:
/// `rows` rows of values, each session's [`SESSION_VALUES`] bound in turn. PostgreSQL takes
/// any number of rows in one statement, each column bound once as an array (`rows` does not
/// matter).
pub fn insert_sessions(dialect: Dialect, rows: usize) -> String {
    bulk_insert(dialect, "sessions", &NEW_SESSION, rows)
}

/// Inserts devices, as [`insert_sessions`] does sessions (see `NEW_DEVICE`).
pub fn insert_devices(dialect: Dialect, rows: usize) -> String {
    bulk_insert(dialect, "session_devices", &NEW_DEVICE, rows)
}

fn bulk_insert(dialect: Dialect, table: &str, columns: &[(&str, &str)], rows: usize) -> String {
    let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    let head = format!("INSERT INTO {table} ({})", names.join(", "));
    match dialect {
        Dialect::Sqlite => {
            let values: Vec<String> = (0..rows)
                .map(|row| {
                    let params: Vec<String> = (1..=columns.len())
                        .map(|column| format!("?{}", row * columns.len() + column))
                        .collect();
                    format!("({})", params.join(", "))
                })
                .collect();
            format!("{head} VALUES {}", values.join(", "))
        }
        Dialect::Postgres => {
            let arrays: Vec<String> = columns
                .iter()
                .enumerate()
                .map(|(at, (_, kind))| format!("${}::{kind}[]", at + 1))
                .collect();
            format!("{head} SELECT * FROM UNNEST({})", arrays.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_inserts_bind_rows_on_sqlite_and_arrays_on_postgres() {
        assert_eq!(
            insert_devices(Dialect::Sqlite, 2),
            "INSERT INTO session_devices (id, session_id, ip_address, user_agent, location, fingerprint_id, \
             headers, created_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8), (?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
        );
        assert_eq!(
            insert_devices(Dialect::Postgres, 2),
            "INSERT INTO session_devices (id, session_id, ip_address, user_agent, location, fingerprint_id, \
             headers, created_us) SELECT * FROM UNNEST($1::UUID[], $2::UUID[], $3::TEXT[], $4::TEXT[], \
             $5::TEXT[], $6::TEXT[], $7::TEXT[], $8::BIGINT[])"
        );
        assert!(insert_sessions(Dialect::Postgres, 1).ends_with("$13::TEXT[], $14::BIGINT[])"));
    }
}
