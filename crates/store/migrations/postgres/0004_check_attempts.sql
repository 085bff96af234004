-- Failed credential checks per identity, shared by every node and kept across restarts.
--
-- A check reserves an attempt before it runs (window_attempts + 1) and gives it back only when
-- it passes, so checks in flight count against the limit: a burst of concurrent guesses is
-- evaluated at most `limit` times per window. password_attempts counts consecutive failed (or
-- running) password checks for the optional lockout (`max_password_attempts`); a passed
-- password check resets it, an administrator's unlock too.
CREATE TABLE check_attempts (
    identity_id       UUID NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    window_start_us   BIGINT NOT NULL,
    window_attempts   INTEGER NOT NULL,
    password_attempts INTEGER NOT NULL,
    CONSTRAINT check_attempts_pkey PRIMARY KEY (identity_id)
);
