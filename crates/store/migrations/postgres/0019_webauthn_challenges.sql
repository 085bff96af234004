-- WebAuthn challenges sessions wait for (ZITADEL `challenges.webAuthN`), one per session: a new
-- challenge replaces the old one, and a `checks.webAuthN` uses it up by deleting its row.
-- `state` is what verifying the assertion needs (the challenge and the credentials it allows).
-- No foreign key to sessions, as for otp_challenges: setting a challenge deletes expired ones.
CREATE TABLE webauthn_challenges (
    session_id UUID NOT NULL,
    state      TEXT NOT NULL,
    expires_us BIGINT NOT NULL,
    CONSTRAINT webauthn_challenges_pkey PRIMARY KEY (session_id)
);

CREATE INDEX webauthn_challenges_expires ON webauthn_challenges (expires_us);
