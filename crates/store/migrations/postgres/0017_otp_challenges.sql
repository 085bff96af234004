-- One-time codes a session waits for (ZITADEL `challenges.otpSms` / `challenges.otpEmail`), one
-- per channel: a new challenge replaces the old one, and a `checks.otpSms` / `checks.otpEmail`
-- uses the code up by deleting its row. Only a keyed digest of the code is stored (HMAC-SHA256
-- with the server's secret): codes are short, so a plain digest would give them away.
--
-- No foreign key to sessions: a cascade would run for every session the cleanup deletes, for
-- rows that live five minutes. Setting a challenge deletes the expired ones instead; a row of a
-- deleted session is never read (a check loads its session first).
CREATE TABLE otp_challenges (
    session_id UUID NOT NULL,
    channel    TEXT NOT NULL,
    digest     BYTEA NOT NULL,
    expires_us BIGINT NOT NULL,
    CONSTRAINT otp_challenges_pkey PRIMARY KEY (session_id, channel)
);

CREATE INDEX otp_challenges_expires ON otp_challenges (expires_us);
