-- Counts of not-revoked sessions, kept by triggers in the same transaction as every write to
-- sessions, so that ZITADEL's exact `totalResult` adds up counter rows instead of counting
-- sessions one by one: per (creation hour, creator) for searches by creation date or none, and
-- per (expiry hour, creator) for searches by expiry date. A count adds the rows wholly inside the query's ranges and
-- counts the sessions of the (at most two per dimension) partial hours through the session
-- indexes; sessions of identities that are not active are subtracted (they are few, found
-- through the non-active identities). See docs/STORAGE.md, "Counting".
--
-- Hours are created_us / 3600000000 (every stored instant is after 1970; anything earlier
-- falls into hour -1); a session that never expires is in hour 9000000000000, after every
-- real one. The creator of a session without one is ''. Every count is kept twice: per
-- creator, and for all creators together under creator '*' (no creator id is '*'), so that
-- searches without a creator add up one row per hour however many creators there are.
CREATE TABLE session_counts_created (
    created_hour BIGINT NOT NULL,
    creator      TEXT NOT NULL,
    n            BIGINT NOT NULL,
    CONSTRAINT session_counts_created_pkey PRIMARY KEY (created_hour, creator)
);
CREATE INDEX session_counts_created_by_creator ON session_counts_created (creator, created_hour);
CREATE TABLE session_counts_expires (
    expires_hour BIGINT NOT NULL,
    creator      TEXT NOT NULL,
    n            BIGINT NOT NULL,
    CONSTRAINT session_counts_expires_pkey PRIMARY KEY (expires_hour, creator)
);
CREATE INDEX session_counts_expires_by_creator ON session_counts_expires (creator, expires_hour);

INSERT INTO session_counts_created (created_hour, creator, n)
SELECT (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 3600000000 END), COALESCE(s.creator, ''), COUNT(*) FROM sessions s WHERE s.revoked_us IS NULL GROUP BY 1, 2;
INSERT INTO session_counts_created (created_hour, creator, n)
SELECT (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 3600000000 END), '*', COUNT(*) FROM sessions s WHERE s.revoked_us IS NULL GROUP BY 1, 2;
INSERT INTO session_counts_expires (expires_hour, creator, n)
SELECT (CASE WHEN s.expires_us IS NULL THEN 9000000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 3600000000 END), COALESCE(s.creator, ''), COUNT(*) FROM sessions s WHERE s.revoked_us IS NULL GROUP BY 1, 2;
INSERT INTO session_counts_expires (expires_hour, creator, n)
SELECT (CASE WHEN s.expires_us IS NULL THEN 9000000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 3600000000 END), '*', COUNT(*) FROM sessions s WHERE s.revoked_us IS NULL GROUP BY 1, 2;

-- One row trigger for every change of a session: the rows it left lose one, the rows it
-- entered gain one. (CockroachDB has row triggers in PL/pgSQL since v24.3, YugabyteDB since
-- its first PostgreSQL-compatible release: see docs/STORAGE.md.)
CREATE FUNCTION lanyard_count_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.revoked_us IS NULL THEN
        UPDATE session_counts_created SET n = n - 1 WHERE created_hour = (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END) AND creator = COALESCE(OLD.creator, '');
        UPDATE session_counts_created SET n = n - 1 WHERE created_hour = (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END) AND creator = '*';
        UPDATE session_counts_expires SET n = n - 1 WHERE expires_hour = (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END) AND creator = COALESCE(OLD.creator, '');
        UPDATE session_counts_expires SET n = n - 1 WHERE expires_hour = (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END) AND creator = '*';
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.revoked_us IS NULL THEN
        INSERT INTO session_counts_created (created_hour, creator, n) VALUES ((CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), COALESCE(NEW.creator, ''), 1)
        ON CONFLICT (created_hour, creator) DO UPDATE SET n = session_counts_created.n + 1;
        INSERT INTO session_counts_created (created_hour, creator, n) VALUES ((CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), '*', 1)
        ON CONFLICT (created_hour, creator) DO UPDATE SET n = session_counts_created.n + 1;
        INSERT INTO session_counts_expires (expires_hour, creator, n) VALUES ((CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), COALESCE(NEW.creator, ''), 1)
        ON CONFLICT (expires_hour, creator) DO UPDATE SET n = session_counts_expires.n + 1;
        INSERT INTO session_counts_expires (expires_hour, creator, n) VALUES ((CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), '*', 1)
        ON CONFLICT (expires_hour, creator) DO UPDATE SET n = session_counts_expires.n + 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER sessions_counted_insert AFTER INSERT ON sessions
    FOR EACH ROW WHEN (NEW.revoked_us IS NULL) EXECUTE FUNCTION lanyard_count_sessions();
CREATE TRIGGER sessions_counted_delete AFTER DELETE ON sessions
    FOR EACH ROW WHEN (OLD.revoked_us IS NULL) EXECUTE FUNCTION lanyard_count_sessions();
CREATE TRIGGER sessions_counted_update AFTER UPDATE ON sessions
    FOR EACH ROW WHEN ((OLD.revoked_us IS NULL OR NEW.revoked_us IS NULL)
        AND (OLD.revoked_us IS DISTINCT FROM NEW.revoked_us OR OLD.expires_us IS DISTINCT FROM NEW.expires_us
             OR OLD.created_us IS DISTINCT FROM NEW.created_us OR OLD.creator IS DISTINCT FROM NEW.creator))
    EXECUTE FUNCTION lanyard_count_sessions();
