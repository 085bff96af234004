-- Timestamps are integer microseconds since the Unix epoch (column suffix _us): exact,
-- totally ordered, and the same on every store.

CREATE TABLE identities (
    id               BLOB PRIMARY KEY,
    schema_id        TEXT NOT NULL,
    traits           TEXT NOT NULL,
    state            TEXT NOT NULL,
    state_changed_us INTEGER,
    metadata_public  TEXT,
    metadata_admin   TEXT,
    organization_id  BLOB,
    external_id      TEXT UNIQUE,
    identifiers      TEXT NOT NULL,
    credentials      TEXT NOT NULL,
    created_us       INTEGER NOT NULL,
    updated_us       INTEGER NOT NULL
);
CREATE INDEX identities_organization ON identities (organization_id, id);

-- Login identifiers, lower-cased: the primary key makes them unique across identities.
CREATE TABLE identity_identifiers (
    identifier  TEXT PRIMARY KEY,
    identity_id BLOB NOT NULL REFERENCES identities (id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX identity_identifiers_identity ON identity_identifiers (identity_id);

CREATE TABLE sessions (
    id               BLOB PRIMARY KEY,
    token_digest     BLOB NOT NULL UNIQUE,
    identity_id      BLOB REFERENCES identities (id) ON DELETE CASCADE,
    created_us       INTEGER NOT NULL,
    changed_us       INTEGER NOT NULL,
    authenticated_us INTEGER NOT NULL,
    expires_us       INTEGER,
    revoked_us       INTEGER,
    user_checked_us  INTEGER,
    factors          TEXT NOT NULL,
    metadata         TEXT NOT NULL,
    creator          TEXT,
    fingerprint_id   TEXT,
    sequence         INTEGER NOT NULL
);
-- (created DESC, id ASC) forwards is the Kratos order; backwards it is the ascending order.
CREATE INDEX sessions_created ON sessions (created_us DESC, id);
CREATE INDEX sessions_identity_created ON sessions (identity_id, created_us DESC, id);
CREATE INDEX sessions_creator_created ON sessions (creator, created_us DESC, id);
CREATE INDEX sessions_fingerprint_created ON sessions (fingerprint_id, created_us DESC, id);
CREATE INDEX sessions_expires ON sessions (expires_us);

CREATE TABLE session_devices (
    id             BLOB PRIMARY KEY,
    session_id     BLOB NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    ip_address     TEXT,
    user_agent     TEXT,
    location       TEXT,
    fingerprint_id TEXT,
    headers        TEXT NOT NULL,
    created_us     INTEGER NOT NULL
);
CREATE INDEX session_devices_session ON session_devices (session_id);

CREATE TABLE api_keys (
    id         BLOB PRIMARY KEY,
    name       TEXT NOT NULL,
    digest     BLOB NOT NULL UNIQUE,
    scopes     TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    revoked_us INTEGER
);

CREATE TABLE lanyard_counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO lanyard_counters (name, value) VALUES ('session_sequence', 0);

-- Generated defaults that every node must share (e.g. the page-token secret when none is configured).
CREATE TABLE lanyard_settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
