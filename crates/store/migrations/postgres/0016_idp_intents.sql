-- IdP intents: sign-ins at an external identity provider that a trusted caller (a login UI, an
-- IdP bridge) vouches for with `POST /admin/lanyard/idp-intents`. A ZITADEL `checks.idpIntent`
-- uses one up by deleting it, so each works once; recording a new one deletes those that
-- expired. Only the SHA-256 digest of an intent's token is kept.
CREATE TABLE idp_intents (
    id          UUID NOT NULL,
    digest      BYTEA NOT NULL,
    identity_id UUID NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    idp_id      TEXT NOT NULL,
    idp_user_id TEXT NOT NULL,
    created_us  BIGINT NOT NULL,
    expires_us  BIGINT NOT NULL,
    CONSTRAINT idp_intents_pkey PRIMARY KEY (id)
);

CREATE INDEX idp_intents_expires ON idp_intents (expires_us);
CREATE INDEX idp_intents_identity ON idp_intents (identity_id);
