//! Writes of API keys (their reads are in [`super::reads`]).

statement!(
    /// A new key, its values in the order of [`super::API_KEY_COLUMNS`].
    insert = "INSERT INTO api_keys (id, name, digest, scopes, created_us, revoked_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
);

statement!(
    /// Revokes the key `?1` at `?2`, unless it is revoked already.
    revoke = "UPDATE api_keys SET revoked_us = ?2 WHERE id = ?1 AND revoked_us IS NULL"
);
