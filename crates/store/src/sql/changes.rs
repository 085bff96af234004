//! The change feed (table `lanyard_changes`, migration 0005): recording a change inside a
//! writing transaction, reading the changes after a number, pruning old ones. Written once
//! with `?N` placeholders; PostgreSQL gets `$N`, and each dialect its own expression for the
//! database's clock.

use super::Dialect;

/// `kind` of a change whose `target_id` is a session.
pub const SESSION: &str = "s";
/// `kind` of a change whose `target_id` is an identity: every session of it.
pub const IDENTITY: &str = "i";

/// The database's clock in microseconds since the epoch. SQLite's `unixepoch('subsec')`
/// (3.42+, sqlx bundles a newer one) has millisecond precision, plenty for pruning.
fn now(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "CAST(unixepoch('subsec') * 1000000 AS INTEGER)",
        Dialect::Postgres => "CAST(EXTRACT(EPOCH FROM now()) * 1000000 AS BIGINT)",
    }
}

statement!(
    /// The change `?2` (kind) of `?3` (target), under the sequence `?1` its transaction took. A
    /// transaction records one change at most, so the sequence alone is the key.
    record(dialect) = format!(
        "INSERT INTO lanyard_changes (sequence, kind, target_id, recorded_us) VALUES (?1, ?2, ?3, {})",
        now(dialect)
    )
);

statement!(
    /// The changes after sequence `?1`, oldest first, at most `?2`: a range of the primary key.
    since = "SELECT sequence, kind, target_id FROM lanyard_changes WHERE sequence > ?1 ORDER BY sequence LIMIT ?2"
);

statement!(
    /// Changes recorded `?1` microseconds or longer ago, by the database's clock (so the nodes'
    /// clocks do not matter): a range of `lanyard_changes_recorded`.
    prune(dialect) = format!("DELETE FROM lanyard_changes WHERE recorded_us <= {} - ?1", now(dialect))
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_gets_dollar_placeholders_and_its_clock() {
        assert_eq!(
            prune(Dialect::Postgres),
            "DELETE FROM lanyard_changes WHERE recorded_us <= CAST(EXTRACT(EPOCH FROM now()) * 1000000 AS BIGINT) - $1"
        );
        assert!(!record(Dialect::Sqlite).contains('$'));
    }
}
