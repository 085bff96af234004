//! WebAuthn challenges of sessions: written and used up on the writer.

/// The columns of a challenge row, in the order the store decodes them.
pub const WEBAUTHN_CHALLENGE_COLUMNS: &str = "session_id, state, expires_us";

statement!(
    /// Sets the challenge of session `?1`, replacing the one it had.
    upsert = format!(
        "INSERT INTO webauthn_challenges ({WEBAUTHN_CHALLENGE_COLUMNS}) VALUES (?1, ?2, ?3) \
         ON CONFLICT (session_id) DO UPDATE SET state = excluded.state, expires_us = excluded.expires_us"
    )
);

statement!(
    /// Forgets the challenges that expired at or before `?1`.
    delete_expired = "DELETE FROM webauthn_challenges WHERE expires_us <= ?1"
);

statement!(
    /// Uses up the challenge of session `?1`, returning it: one row for exactly one caller.
    take = format!("DELETE FROM webauthn_challenges WHERE session_id = ?1 RETURNING {WEBAUTHN_CHALLENGE_COLUMNS}")
);
