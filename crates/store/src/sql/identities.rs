//! Writes of identities and of their login identifiers (`identity_identifiers`).

use super::Dialect;

statement!(
    /// A new identity, its values bound in this order (see `write::identities`).
    insert = "INSERT INTO identities (id, schema_id, traits, state, state_changed_us, metadata_public, \
     metadata_admin, organization_id, external_id, credentials, updated_us, identifiers, created_us) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
);

statement!(
    /// Every field of the identity `?1` but its creation time: the first twelve values of
    /// [`insert`], in the same order.
    update = "UPDATE identities SET schema_id = ?2, traits = ?3, state = ?4, state_changed_us = ?5, \
     metadata_public = ?6, metadata_admin = ?7, organization_id = ?8, external_id = ?9, credentials = ?10, \
     updated_us = ?11, identifiers = ?12 WHERE id = ?1"
);

statement!(
    /// The identity `?1`; its sessions and devices go by cascade.
    delete = "DELETE FROM identities WHERE id = ?1"
);

statement!(
    /// Every login identifier of the identity `?1`, before it is given its current ones.
    delete_identifiers = "DELETE FROM identity_identifiers WHERE identity_id = ?1"
);

/// Login identifiers of the identity `?2`. SQLite has no array parameter: one statement per
/// identifier `?1`, as text. PostgreSQL stores them as UTF-8 bytes (see the migration) and
/// takes them all in one statement, `$1` an array.
pub fn insert_identifiers(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "INSERT INTO identity_identifiers (identifier, identity_id) VALUES (?1, ?2)",
        Dialect::Postgres => {
            "INSERT INTO identity_identifiers (identifier, identity_id) SELECT x, $2 FROM UNNEST($1::BYTEA[]) AS t (x)"
        }
    }
}
