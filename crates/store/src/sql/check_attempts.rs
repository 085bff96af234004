//! The per-identity check-attempt counters (table `check_attempts`): the same statements on
//! every backend, written with `?N` placeholders and turned into `$N` for PostgreSQL.

statement!(
    /// Takes an attempt for `?1` (identity) at `?2` (now), `?3` = 1 when it checks a password.
    /// A window that started at or before `?4` (now − window) is over and starts again at `?2`.
    /// Refused (no row returned) while `?5` (attempts per window, 0 = no limit) are taken, or,
    /// for a password check, while `?6` (the lockout's consecutive password failures, 0 = off)
    /// are. Returns the window's start, to settle the reservation against.
    reserve = "INSERT INTO check_attempts (identity_id, window_start_us, window_attempts, password_attempts) \
     VALUES (?1, ?2, 1, ?3) \
     ON CONFLICT (identity_id) DO UPDATE SET \
       window_start_us = CASE WHEN check_attempts.window_start_us <= ?4 THEN ?2 ELSE check_attempts.window_start_us END, \
       window_attempts = CASE WHEN check_attempts.window_start_us <= ?4 THEN 1 ELSE check_attempts.window_attempts + 1 END, \
       password_attempts = check_attempts.password_attempts + ?3 \
     WHERE (check_attempts.window_start_us <= ?4 OR ?5 = 0 OR check_attempts.window_attempts < ?5) \
       AND (?6 = 0 OR ?3 = 0 OR check_attempts.password_attempts < ?6) \
     RETURNING window_start_us"
);

statement!(
    /// Settles a reservation of `?1` taken in the window that started at `?2`: `?3` = 1 gives the
    /// window attempt back (the check passed, or never ran); `?4` is what happens to the password
    /// count: 0 keep, 1 reset (a password check passed), 2 give the reserved one back.
    settle = "UPDATE check_attempts SET \
       window_attempts = CASE WHEN ?3 = 1 AND window_start_us = ?2 AND window_attempts > 0 \
         THEN window_attempts - 1 ELSE window_attempts END, \
       password_attempts = CASE WHEN ?4 = 1 THEN 0 \
         WHEN ?4 = 2 AND password_attempts > 0 THEN password_attempts - 1 ELSE password_attempts END \
     WHERE identity_id = ?1"
);

statement!(
    /// The counters of `?1`: why a reservation was refused.
    read = "SELECT window_start_us, CAST(window_attempts AS BIGINT), CAST(password_attempts AS BIGINT) \
     FROM check_attempts WHERE identity_id = ?1"
);

statement!(
    /// Lifts the password lockout of `?1`; changes a row only when there was something to lift.
    unlock = "UPDATE check_attempts SET password_attempts = 0 WHERE identity_id = ?1 AND password_attempts > 0"
);
