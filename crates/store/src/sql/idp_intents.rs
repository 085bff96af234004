//! IdP intents: recorded, read and used up on the writer (they are few, and a check reads one
//! right before using it up).

/// The columns of an IdP intent row, in the order the store decodes them.
pub const IDP_INTENT_COLUMNS: &str = "id, digest, identity_id, idp_id, idp_user_id, created_us, expires_us";

statement!(
    /// A new intent, its values in the order of [`IDP_INTENT_COLUMNS`].
    insert = format!("INSERT INTO idp_intents ({IDP_INTENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
);

statement!(
    /// The intent `?1`.
    by_id = format!("SELECT {IDP_INTENT_COLUMNS} FROM idp_intents WHERE id = ?1")
);

statement!(
    /// Uses up the intent `?1` if its digest is still `?2`: one row for exactly one caller.
    consume = "DELETE FROM idp_intents WHERE id = ?1 AND digest = ?2"
);

statement!(
    /// Forgets the intents that expired at or before `?1`.
    delete_expired = "DELETE FROM idp_intents WHERE expires_us <= ?1"
);
