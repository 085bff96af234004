//! Settings (`lanyard_settings`): values that every node sharing the database must agree on,
//! written once and never changed.

statement!(
    /// Stores `?2` under the name `?1` unless a value is there already.
    insert = "INSERT INTO lanyard_settings (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING"
);

statement!(
    /// The value stored under `?1`.
    value = "SELECT value FROM lanyard_settings WHERE name = ?1"
);
