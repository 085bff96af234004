//! One-time-code challenges of sessions: written, read and used up on the writer (a check reads
//! one right before using it up).

/// The columns of a challenge row, in the order the store decodes them.
pub const OTP_CHALLENGE_COLUMNS: &str = "session_id, channel, digest, expires_us";

statement!(
    /// Sets the challenge of session `?1` on channel `?2`, replacing the one it had.
    upsert = format!(
        "INSERT INTO otp_challenges ({OTP_CHALLENGE_COLUMNS}) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (session_id, channel) DO UPDATE SET digest = excluded.digest, expires_us = excluded.expires_us"
    )
);

statement!(
    /// Forgets the challenges that expired at or before `?1`.
    delete_expired = "DELETE FROM otp_challenges WHERE expires_us <= ?1"
);

statement!(
    /// The challenge of session `?1` on channel `?2`.
    by_key = format!("SELECT {OTP_CHALLENGE_COLUMNS} FROM otp_challenges WHERE session_id = ?1 AND channel = ?2")
);

statement!(
    /// Uses up the challenge if its digest is still `?3`: one row for exactly one caller.
    consume = "DELETE FROM otp_challenges WHERE session_id = ?1 AND channel = ?2 AND digest = ?3"
);
