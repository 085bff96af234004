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
    created_hour INTEGER NOT NULL,
    creator      TEXT NOT NULL,
    n            INTEGER NOT NULL,
    PRIMARY KEY (created_hour, creator)
) WITHOUT ROWID;
CREATE INDEX session_counts_created_by_creator ON session_counts_created (creator, created_hour);
CREATE TABLE session_counts_expires (
    expires_hour INTEGER NOT NULL,
    creator      TEXT NOT NULL,
    n            INTEGER NOT NULL,
    PRIMARY KEY (expires_hour, creator)
) WITHOUT ROWID;
CREATE INDEX session_counts_expires_by_creator ON session_counts_expires (creator, expires_hour);
-- Deactivated identities are few: the count subtracts their sessions, found through this
-- (PostgreSQL has had the same index since 0001).
CREATE INDEX identities_not_active ON identities (id) WHERE state <> 'active';

INSERT INTO session_counts_created (created_hour, creator, n)
SELECT (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 3600000000 END), COALESCE(s.creator, ''), COUNT(*) FROM sessions s WHERE s.revoked_us IS NULL GROUP BY 1, 2;
INSERT INTO session_counts_created (created_hour, creator, n)
SELECT (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 3600000000 END), '*', COUNT(*) FROM sessions s WHERE s.revoked_us IS NULL GROUP BY 1, 2;
INSERT INTO session_counts_expires (expires_hour, creator, n)
SELECT (CASE WHEN s.expires_us IS NULL THEN 9000000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 3600000000 END), COALESCE(s.creator, ''), COUNT(*) FROM sessions s WHERE s.revoked_us IS NULL GROUP BY 1, 2;
INSERT INTO session_counts_expires (expires_hour, creator, n)
SELECT (CASE WHEN s.expires_us IS NULL THEN 9000000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 3600000000 END), '*', COUNT(*) FROM sessions s WHERE s.revoked_us IS NULL GROUP BY 1, 2;

CREATE TRIGGER sessions_counted_insert AFTER INSERT ON sessions WHEN NEW.revoked_us IS NULL
BEGIN
    INSERT INTO session_counts_created (created_hour, creator, n) VALUES ((CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), COALESCE(NEW.creator, ''), 1)
    ON CONFLICT (created_hour, creator) DO UPDATE SET n = n + 1;
    INSERT INTO session_counts_created (created_hour, creator, n) VALUES ((CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), '*', 1)
    ON CONFLICT (created_hour, creator) DO UPDATE SET n = n + 1;
    INSERT INTO session_counts_expires (expires_hour, creator, n) VALUES ((CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), COALESCE(NEW.creator, ''), 1)
    ON CONFLICT (expires_hour, creator) DO UPDATE SET n = n + 1;
    INSERT INTO session_counts_expires (expires_hour, creator, n) VALUES ((CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), '*', 1)
    ON CONFLICT (expires_hour, creator) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER sessions_counted_delete AFTER DELETE ON sessions WHEN OLD.revoked_us IS NULL
BEGIN
    UPDATE session_counts_created SET n = n - 1 WHERE created_hour = (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END) AND creator = COALESCE(OLD.creator, '');
    UPDATE session_counts_created SET n = n - 1 WHERE created_hour = (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END) AND creator = '*';
    UPDATE session_counts_expires SET n = n - 1 WHERE expires_hour = (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END) AND creator = COALESCE(OLD.creator, '');
    UPDATE session_counts_expires SET n = n - 1 WHERE expires_hour = (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END) AND creator = '*';
END;

CREATE TRIGGER sessions_counted_update AFTER UPDATE ON sessions
WHEN (OLD.revoked_us IS NULL OR NEW.revoked_us IS NULL)
  AND (OLD.revoked_us IS NOT NEW.revoked_us OR OLD.expires_us IS NOT NEW.expires_us
       OR OLD.created_us IS NOT NEW.created_us OR OLD.creator IS NOT NEW.creator)
BEGIN
    UPDATE session_counts_created SET n = n - 1 WHERE OLD.revoked_us IS NULL AND created_hour = (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END) AND creator = COALESCE(OLD.creator, '');
    UPDATE session_counts_created SET n = n - 1 WHERE OLD.revoked_us IS NULL AND created_hour = (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END) AND creator = '*';
    UPDATE session_counts_expires SET n = n - 1 WHERE OLD.revoked_us IS NULL AND expires_hour = (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END) AND creator = COALESCE(OLD.creator, '');
    UPDATE session_counts_expires SET n = n - 1 WHERE OLD.revoked_us IS NULL AND expires_hour = (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END) AND creator = '*';
    INSERT INTO session_counts_created (created_hour, creator, n) SELECT (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), COALESCE(NEW.creator, ''), 1 WHERE NEW.revoked_us IS NULL
    ON CONFLICT (created_hour, creator) DO UPDATE SET n = n + 1;
    INSERT INTO session_counts_created (created_hour, creator, n) SELECT (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), '*', 1 WHERE NEW.revoked_us IS NULL
    ON CONFLICT (created_hour, creator) DO UPDATE SET n = n + 1;
    INSERT INTO session_counts_expires (expires_hour, creator, n) SELECT (CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), COALESCE(NEW.creator, ''), 1 WHERE NEW.revoked_us IS NULL
    ON CONFLICT (expires_hour, creator) DO UPDATE SET n = n + 1;
    INSERT INTO session_counts_expires (expires_hour, creator, n) SELECT (CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), '*', 1 WHERE NEW.revoked_us IS NULL
    ON CONFLICT (expires_hour, creator) DO UPDATE SET n = n + 1;
END;
