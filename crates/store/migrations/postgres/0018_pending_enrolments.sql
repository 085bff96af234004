-- Factors registered and not yet verified (ZITADEL's RegisterTOTP before VerifyTOTPRegistration,
-- RegisterPasskey / RegisterU2F before their verification): at most one per identity and kind, a
-- new registration replaces the old one, a verification uses its row up by deleting it, and
-- recording one deletes those that expired. `state` is what the verification needs (JSON): the
-- TOTP secret (stored as the enrolled credential will store it), the WebAuthn registration state.
CREATE TABLE pending_enrolments (
    id          UUID NOT NULL,
    identity_id UUID NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    state       TEXT NOT NULL,
    created_us  BIGINT NOT NULL,
    expires_us  BIGINT NOT NULL,
    CONSTRAINT pending_enrolments_pkey PRIMARY KEY (id)
);

CREATE UNIQUE INDEX pending_enrolments_identity_kind ON pending_enrolments (identity_id, kind);
CREATE INDEX pending_enrolments_expires ON pending_enrolments (expires_us);
