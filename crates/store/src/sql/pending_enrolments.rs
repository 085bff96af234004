//! Factors registered and not yet verified: written, read and used up on the writer (a
//! verification reads one right before using it up).

/// The columns of a pending enrolment row, in the order the store decodes them.
pub const PENDING_ENROLMENT_COLUMNS: &str = "id, identity_id, kind, state, created_us, expires_us";

statement!(
    /// Records the registration (values in the order of [`PENDING_ENROLMENT_COLUMNS`]),
    /// replacing the identity's earlier one of the same kind.
    upsert = format!(
        "INSERT INTO pending_enrolments ({PENDING_ENROLMENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (identity_id, kind) DO UPDATE SET id = excluded.id, state = excluded.state, \
         created_us = excluded.created_us, expires_us = excluded.expires_us"
    )
);

statement!(
    /// Forgets the registrations that expired at or before `?1`.
    delete_expired = "DELETE FROM pending_enrolments WHERE expires_us <= ?1"
);

statement!(
    /// Identity `?1`'s registration of kind `?2`.
    by_kind = format!(
        "SELECT {PENDING_ENROLMENT_COLUMNS} FROM pending_enrolments WHERE identity_id = ?1 AND kind = ?2"
    )
);

statement!(
    /// Uses up the registration `?1`: one row for exactly one caller.
    consume = "DELETE FROM pending_enrolments WHERE id = ?1"
);
