-- Counts of sessions by creation AND expiry, so that a search with both a creation and an
-- expiry range (ZITADEL `creationDateQuery` + `expirationDateQuery`) adds up counter cells
-- instead of counting its matches one by one (2.4 s at 1M sessions on SQLite for the login UI's
-- live sessions of the last 89 days; it grew with the table). See docs/STORAGE.md, "Counting".
--
-- One table, four grids, each per creator and for all creators ('*'), as the 1-D counters:
--   level 0: a = creation day,  b = expiry day
--   level 1: a = expiry hour,   b = creation day
--   level 2: a = creation hour, b = expiry day
--   level 3: a = creation hour, b = expiry hour
-- A rectangle of creation x expiry splits into whole days, runs of whole hours (at most 23 at
-- each end) and pieces of an hour: days x days from level 0, days x hours from level 1, hours x
-- days from level 2, hours x hours from level 3 (read hour by hour, a few cells each), and the
-- pieces of an hour through the session indexes. Level 1 is keyed expiry first, so that its
-- reads (a few expiry hours, every creation day) are ranges of the key too.
--
-- Days are instant / 86400000000 (anything before 1970 in day -1, with hour -1); a session that
-- never expires is in expiry day 375000000000, whose first hour is the 1-D counters' never-hour
-- 9000000000000. What is counted is what the 1-D counters count: not revoked, identity active
-- or none.

-- PostgreSQL: the cells are updated by the same trigger functions as the 1-D counters
-- (replaced here), in key order within each statement.
CREATE TABLE session_counts_grid (
    creator TEXT NOT NULL,
    level   SMALLINT NOT NULL,
    a       BIGINT NOT NULL,
    b       BIGINT NOT NULL,
    n       BIGINT NOT NULL,
    CONSTRAINT session_counts_grid_pkey PRIMARY KEY (creator, level, a, b)
) WITH (fillfactor = 50, autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000);

INSERT INTO session_counts_grid (creator, level, a, b, n)
SELECT COALESCE(s.creator, ''), 0, (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 86400000000 END), (CASE WHEN s.expires_us IS NULL THEN 375000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 86400000000 END), COUNT(*) FROM sessions s WHERE s.revoked_us IS NULL AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = s.identity_id AND i.state <> 'active') GROUP BY 1, 2, 3, 4
UNION ALL
SELECT COALESCE(s.creator, ''), 1, (CASE WHEN s.expires_us IS NULL THEN 9000000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 3600000000 END), (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 86400000000 END), COUNT(*) FROM sessions s WHERE s.revoked_us IS NULL AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = s.identity_id AND i.state <> 'active') GROUP BY 1, 2, 3, 4
UNION ALL
SELECT COALESCE(s.creator, ''), 2, (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 3600000000 END), (CASE WHEN s.expires_us IS NULL THEN 375000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 86400000000 END), COUNT(*) FROM sessions s WHERE s.revoked_us IS NULL AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = s.identity_id AND i.state <> 'active') GROUP BY 1, 2, 3, 4
UNION ALL
SELECT COALESCE(s.creator, ''), 3, (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 3600000000 END), (CASE WHEN s.expires_us IS NULL THEN 9000000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 3600000000 END), COUNT(*) FROM sessions s WHERE s.revoked_us IS NULL AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = s.identity_id AND i.state <> 'active') GROUP BY 1, 2, 3, 4;
INSERT INTO session_counts_grid (creator, level, a, b, n)
SELECT '*', 0, (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 86400000000 END), (CASE WHEN s.expires_us IS NULL THEN 375000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 86400000000 END), COUNT(*) FROM sessions s WHERE s.revoked_us IS NULL AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = s.identity_id AND i.state <> 'active') GROUP BY 1, 2, 3, 4
UNION ALL
SELECT '*', 1, (CASE WHEN s.expires_us IS NULL THEN 9000000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 3600000000 END), (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 86400000000 END), COUNT(*) FROM sessions s WHERE s.revoked_us IS NULL AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = s.identity_id AND i.state <> 'active') GROUP BY 1, 2, 3, 4
UNION ALL
SELECT '*', 2, (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 3600000000 END), (CASE WHEN s.expires_us IS NULL THEN 375000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 86400000000 END), COUNT(*) FROM sessions s WHERE s.revoked_us IS NULL AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = s.identity_id AND i.state <> 'active') GROUP BY 1, 2, 3, 4
UNION ALL
SELECT '*', 3, (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 3600000000 END), (CASE WHEN s.expires_us IS NULL THEN 9000000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 3600000000 END), COUNT(*) FROM sessions s WHERE s.revoked_us IS NULL AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = s.identity_id AND i.state <> 'active') GROUP BY 1, 2, 3, 4;

-- The four cells of a session with these creation and expiry instants.
CREATE FUNCTION lanyard_grid_cells(created_us BIGINT, expires_us BIGINT)
RETURNS TABLE (level SMALLINT, a BIGINT, b BIGINT) LANGUAGE sql IMMUTABLE AS $$
    SELECT * FROM (VALUES
        (0::SMALLINT, (CASE WHEN $1 < 0 THEN -1 ELSE $1 / 86400000000 END), (CASE WHEN $2 IS NULL THEN 375000000000 WHEN $2 < 0 THEN -1 ELSE $2 / 86400000000 END)),
        (1::SMALLINT, (CASE WHEN $2 IS NULL THEN 9000000000000 WHEN $2 < 0 THEN -1 ELSE $2 / 3600000000 END), (CASE WHEN $1 < 0 THEN -1 ELSE $1 / 86400000000 END)),
        (2::SMALLINT, (CASE WHEN $1 < 0 THEN -1 ELSE $1 / 3600000000 END), (CASE WHEN $2 IS NULL THEN 375000000000 WHEN $2 < 0 THEN -1 ELSE $2 / 86400000000 END)),
        (3::SMALLINT, (CASE WHEN $1 < 0 THEN -1 ELSE $1 / 3600000000 END), (CASE WHEN $2 IS NULL THEN 9000000000000 WHEN $2 < 0 THEN -1 ELSE $2 / 3600000000 END))
    ) AS cells (level, a, b)
$$;

-- Unchanged from 0007 but for the grid statements after each block.
CREATE OR REPLACE FUNCTION lanyard_count_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A session's identity never changes: one test serves OLD and NEW.
    IF NOT lanyard_identity_counts(CASE WHEN TG_OP = 'DELETE' THEN OLD.identity_id ELSE NEW.identity_id END) THEN
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' AND OLD.revoked_us IS NULL THEN
        UPDATE session_counts_created SET n = n - 1 WHERE created_hour = (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END) AND creator = COALESCE(OLD.creator, '');
        UPDATE session_counts_created SET n = n - 1 WHERE created_hour = (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END) AND creator = '*';
        UPDATE session_counts_expires SET n = n - 1 WHERE expires_hour = (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END) AND creator = COALESCE(OLD.creator, '');
        UPDATE session_counts_expires SET n = n - 1 WHERE expires_hour = (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END) AND creator = '*';
        INSERT INTO session_counts_grid (creator, level, a, b, n)
        SELECT who.creator, g.level, g.a, g.b, -1
        FROM lanyard_grid_cells(OLD.created_us, OLD.expires_us) g, (SELECT DISTINCT c FROM (VALUES (COALESCE(OLD.creator, '')), ('*')) AS v (c)) AS who (creator)
        ORDER BY 1, 2, 3, 4
        ON CONFLICT (creator, level, a, b) DO UPDATE SET n = session_counts_grid.n + EXCLUDED.n;
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
        INSERT INTO session_counts_grid (creator, level, a, b, n)
        SELECT who.creator, g.level, g.a, g.b, 1
        FROM lanyard_grid_cells(NEW.created_us, NEW.expires_us) g, (SELECT DISTINCT c FROM (VALUES (COALESCE(NEW.creator, '')), ('*')) AS v (c)) AS who (creator)
        ORDER BY 1, 2, 3, 4
        ON CONFLICT (creator, level, a, b) DO UPDATE SET n = session_counts_grid.n + EXCLUDED.n;
    END IF;
    RETURN NULL;
END
$$;

-- Unchanged from 0007 but for the grid statement at the end.
CREATE OR REPLACE FUNCTION lanyard_count_identity_state() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    delta BIGINT := CASE WHEN NEW.state = 'active' THEN 1 ELSE -1 END;
BEGIN
    INSERT INTO session_counts_created (created_hour, creator, n)
    SELECT (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 3600000000 END), COALESCE(s.creator, ''), delta * COUNT(*)
    FROM sessions s WHERE s.identity_id = NEW.id AND s.revoked_us IS NULL GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (created_hour, creator) DO UPDATE SET n = session_counts_created.n + EXCLUDED.n;
    INSERT INTO session_counts_created (created_hour, creator, n)
    SELECT (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 3600000000 END), '*', delta * COUNT(*)
    FROM sessions s WHERE s.identity_id = NEW.id AND s.revoked_us IS NULL GROUP BY 1 ORDER BY 1
    ON CONFLICT (created_hour, creator) DO UPDATE SET n = session_counts_created.n + EXCLUDED.n;
    INSERT INTO session_counts_expires (expires_hour, creator, n)
    SELECT (CASE WHEN s.expires_us IS NULL THEN 9000000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 3600000000 END), COALESCE(s.creator, ''), delta * COUNT(*)
    FROM sessions s WHERE s.identity_id = NEW.id AND s.revoked_us IS NULL GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (expires_hour, creator) DO UPDATE SET n = session_counts_expires.n + EXCLUDED.n;
    INSERT INTO session_counts_expires (expires_hour, creator, n)
    SELECT (CASE WHEN s.expires_us IS NULL THEN 9000000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 3600000000 END), '*', delta * COUNT(*)
    FROM sessions s WHERE s.identity_id = NEW.id AND s.revoked_us IS NULL GROUP BY 1 ORDER BY 1
    ON CONFLICT (expires_hour, creator) DO UPDATE SET n = session_counts_expires.n + EXCLUDED.n;
    INSERT INTO session_counts_grid (creator, level, a, b, n)
    SELECT who.creator, g.level, g.a, g.b, delta * COUNT(*)
    FROM sessions s, lanyard_grid_cells(s.created_us, s.expires_us) g, LATERAL (VALUES (COALESCE(s.creator, '')), ('*')) AS who (creator)
    WHERE s.identity_id = NEW.id AND s.revoked_us IS NULL GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (creator, level, a, b) DO UPDATE SET n = session_counts_grid.n + EXCLUDED.n;
    RETURN NULL;
END
$$;
