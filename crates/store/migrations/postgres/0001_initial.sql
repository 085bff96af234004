-- The PostgreSQL schema. It mirrors migrations/sqlite/0001_initial.sql column for column:
-- timestamps are integer microseconds since the Unix epoch (column suffix _us), JSON is TEXT
-- (stored and compared verbatim, exactly as on SQLite), digests are BYTEA.
--
-- Portability: only types, constraints and statements that CockroachDB and YugabyteDB also
-- accept (UUID, TEXT, BIGINT, BYTEA, DESC index columns, partial indexes, ON DELETE CASCADE);
-- no sequences, triggers, PL/pgSQL, collations or extensions. See docs/STORAGE.md.
--
-- Unique constraints are named so that their name says what was duplicated (the store maps a
-- violation to `ConflictOn` by whether the name contains identifier, external_id, digest or pkey).

CREATE TABLE identities (
    id               UUID NOT NULL,
    schema_id        TEXT NOT NULL,
    traits           TEXT NOT NULL,
    state            TEXT NOT NULL,
    state_changed_us BIGINT,
    metadata_public  TEXT,
    metadata_admin   TEXT,
    organization_id  UUID,
    external_id      TEXT,
    identifiers      TEXT NOT NULL,
    credentials      TEXT NOT NULL,
    created_us       BIGINT NOT NULL,
    updated_us       BIGINT NOT NULL,
    CONSTRAINT identities_pkey PRIMARY KEY (id),
    CONSTRAINT identities_external_id_key UNIQUE (external_id)
);
CREATE INDEX identities_organization ON identities (organization_id, id);
-- Deactivated identities are few: counts of "not revoked, identity active" sessions anti-join
-- against this instead of hashing every identity (see sql::count_sessions).
CREATE INDEX identities_not_active ON identities (id) WHERE state <> 'active';

-- Login identifiers, lower-cased: the primary key makes them unique across identities.
-- Kept as their UTF-8 bytes, which compare bytewise on every engine (as SQLite compares TEXT),
-- so the prefix search is a range on this key. (A TEXT COLLATE "C" column would do the same on
-- PostgreSQL, but CockroachDB does not accept "C" as a column collation.) Only ever compared,
-- never read back: the identities row keeps the identifiers as JSON.
CREATE TABLE identity_identifiers (
    identifier  BYTEA NOT NULL,
    identity_id UUID NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    CONSTRAINT identity_identifiers_pkey PRIMARY KEY (identifier)
);
CREATE INDEX identity_identifiers_identity ON identity_identifiers (identity_id);

CREATE TABLE sessions (
    id               UUID NOT NULL,
    token_digest     BYTEA NOT NULL,
    identity_id      UUID REFERENCES identities (id) ON DELETE CASCADE,
    created_us       BIGINT NOT NULL,
    changed_us       BIGINT NOT NULL,
    authenticated_us BIGINT NOT NULL,
    expires_us       BIGINT,
    revoked_us       BIGINT,
    user_checked_us  BIGINT,
    factors          TEXT NOT NULL,
    metadata         TEXT NOT NULL,
    creator          TEXT,
    fingerprint_id   TEXT,
    sequence         BIGINT NOT NULL,
    CONSTRAINT sessions_pkey PRIMARY KEY (id),
    CONSTRAINT sessions_token_digest_key UNIQUE (token_digest)
);
-- (created DESC, id ASC) forwards is the Kratos order; backwards it is the ascending order.
CREATE INDEX sessions_created ON sessions (created_us DESC, id ASC);
CREATE INDEX sessions_identity_created ON sessions (identity_id, created_us DESC, id ASC);
CREATE INDEX sessions_creator_created ON sessions (creator, created_us DESC, id ASC);
CREATE INDEX sessions_fingerprint_created ON sessions (fingerprint_id, created_us DESC, id ASC);
-- ASC spelled out: on YugabyteDB it makes the index range-sharded rather than hashed.
CREATE INDEX sessions_expires ON sessions (expires_us ASC);
-- ZITADEL's totalResult over every session it lists (not revoked): an index-only count.
CREATE INDEX sessions_live ON sessions (identity_id) WHERE revoked_us IS NULL;

CREATE TABLE session_devices (
    id             UUID NOT NULL,
    session_id     UUID NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    ip_address     TEXT,
    user_agent     TEXT,
    location       TEXT,
    fingerprint_id TEXT,
    headers        TEXT NOT NULL,
    created_us     BIGINT NOT NULL,
    CONSTRAINT session_devices_pkey PRIMARY KEY (id)
);
CREATE INDEX session_devices_session ON session_devices (session_id);

CREATE TABLE api_keys (
    id         UUID NOT NULL,
    name       TEXT NOT NULL,
    digest     BYTEA NOT NULL,
    scopes     TEXT NOT NULL,
    created_us BIGINT NOT NULL,
    revoked_us BIGINT,
    CONSTRAINT api_keys_pkey PRIMARY KEY (id),
    CONSTRAINT api_keys_digest_key UNIQUE (digest)
);

-- The session sequence is a counter row, incremented inside each writing transaction: no gaps
-- from rolled-back transactions' point of view, no sequence objects (which CockroachDB and
-- YugabyteDB implement with different caching and ordering guarantees).
CREATE TABLE lanyard_counters (
    name  TEXT NOT NULL,
    value BIGINT NOT NULL,
    CONSTRAINT lanyard_counters_pkey PRIMARY KEY (name)
);
INSERT INTO lanyard_counters (name, value) VALUES ('session_sequence', 0);

-- Generated defaults that every node must share (e.g. the page-token secret when none is configured).
CREATE TABLE lanyard_settings (
    name  TEXT NOT NULL,
    value TEXT NOT NULL,
    CONSTRAINT lanyard_settings_pkey PRIMARY KEY (name)
);

-- Leases coordinate nodes (migrations, cleanup) without advisory locks. The store creates this
-- table before it takes the migration lease, so it already exists here on every database
-- migrated by Lanyard; IF NOT EXISTS keeps this file complete on its own.
CREATE TABLE IF NOT EXISTS lanyard_leases (
    name       TEXT NOT NULL,
    holder     TEXT NOT NULL,
    expires_us BIGINT NOT NULL,
    CONSTRAINT lanyard_leases_pkey PRIMARY KEY (name)
);
