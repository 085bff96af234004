-- The hour counters move into the grid: level 6 (a = creation hour) and level 7 (a = expiry
-- hour), b = 0, per creator and for all ('*'), replace session_counts_created and
-- session_counts_expires, which are dropped. Two more rows from lanyard_grid_cells are all the
-- statement-level triggers need; the two upserts of their own go. Why: SQLite's write path (see
-- sqlite/0013); PostgreSQL follows so that both stores keep one schema of counts and one read
-- SQL. What is counted does not change; hours are instant / 3600000000 (before 1970: -1), and
-- a session that never expires is in expiry hour 9000000000000.

CREATE OR REPLACE FUNCTION lanyard_grid_cells(created_us BIGINT, expires_us BIGINT)
RETURNS TABLE (level SMALLINT, a BIGINT, b BIGINT) LANGUAGE sql IMMUTABLE AS $$
    SELECT * FROM (VALUES
        (0::SMALLINT, (CASE WHEN $1 < 0 THEN -1 ELSE $1 / 86400000000 END), (CASE WHEN $2 IS NULL THEN 375000000000 WHEN $2 < 0 THEN -1 ELSE $2 / 86400000000 END)),
        (1::SMALLINT, (CASE WHEN $2 IS NULL THEN 9000000000000 WHEN $2 < 0 THEN -1 ELSE $2 / 3600000000 END), (CASE WHEN $1 < 0 THEN -1 ELSE $1 / 86400000000 END)),
        (2::SMALLINT, (CASE WHEN $1 < 0 THEN -1 ELSE $1 / 3600000000 END), (CASE WHEN $2 IS NULL THEN 375000000000 WHEN $2 < 0 THEN -1 ELSE $2 / 86400000000 END)),
        (3::SMALLINT, (CASE WHEN $1 < 0 THEN -1 ELSE $1 / 3600000000 END), (CASE WHEN $2 IS NULL THEN 9000000000000 WHEN $2 < 0 THEN -1 ELSE $2 / 3600000000 END)),
        (4::SMALLINT, (CASE WHEN $1 < 0 THEN -1 ELSE $1 / 60000000 END), 0::BIGINT),
        (5::SMALLINT, (CASE WHEN $2 IS NULL THEN 540000000000000 WHEN $2 < 0 THEN -1 ELSE $2 / 60000000 END), 0::BIGINT),
        (6::SMALLINT, (CASE WHEN $1 < 0 THEN -1 ELSE $1 / 3600000000 END), 0::BIGINT),
        (7::SMALLINT, (CASE WHEN $2 IS NULL THEN 9000000000000 WHEN $2 < 0 THEN -1 ELSE $2 / 3600000000 END), 0::BIGINT)
    ) AS cells (level, a, b)
$$;

INSERT INTO session_counts_grid (creator, level, a, b, n)
SELECT creator, 6, created_hour, 0, n FROM session_counts_created WHERE n <> 0 ORDER BY creator, created_hour;
INSERT INTO session_counts_grid (creator, level, a, b, n)
SELECT creator, 7, expires_hour, 0, n FROM session_counts_expires WHERE n <> 0 ORDER BY creator, expires_hour;

CREATE OR REPLACE FUNCTION lanyard_count_session_inserts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Waits for a concurrent change of these identities' state (FOR NO KEY UPDATE), so that the
    -- next statement, a new snapshot, reads the state that change committed.
    PERFORM 1 FROM identities WHERE id IN (SELECT identity_id FROM new_sessions WHERE revoked_us IS NULL) ORDER BY id FOR SHARE;
    WITH changed (identity_id, creator, created_us, expires_us, n) AS (
        SELECT identity_id, creator, created_us, expires_us, 1::BIGINT FROM new_sessions WHERE revoked_us IS NULL
    ), counted AS MATERIALIZED (
        SELECT who.creator, c.created_us, c.expires_us, SUM(c.n) AS n
        FROM changed c
        CROSS JOIN LATERAL (SELECT COALESCE(c.creator, '') WHERE COALESCE(c.creator, '') <> '*' UNION ALL SELECT '*') AS who (creator)
        WHERE c.identity_id IS NULL
           OR NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = c.identity_id AND i.state <> 'active')
        GROUP BY 1, 2, 3
        HAVING SUM(c.n) <> 0
    )
    INSERT INTO session_counts_grid (creator, level, a, b, n)
    SELECT c.creator, g.level, g.a, g.b, SUM(c.n) FROM counted c, lanyard_grid_cells(c.created_us, c.expires_us) g
    GROUP BY 1, 2, 3, 4 HAVING SUM(c.n) <> 0 ORDER BY 1, 2, 3, 4
    ON CONFLICT (creator, level, a, b) DO UPDATE SET n = session_counts_grid.n + EXCLUDED.n;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION lanyard_count_session_deletes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Waits for a concurrent change of these identities' state (FOR NO KEY UPDATE), so that the
    -- next statement, a new snapshot, reads the state that change committed.
    PERFORM 1 FROM identities WHERE id IN (SELECT identity_id FROM old_sessions WHERE revoked_us IS NULL) ORDER BY id FOR SHARE;
    WITH changed (identity_id, creator, created_us, expires_us, n) AS (
        SELECT identity_id, creator, created_us, expires_us, -1::BIGINT FROM old_sessions WHERE revoked_us IS NULL
    ), counted AS MATERIALIZED (
        SELECT who.creator, c.created_us, c.expires_us, SUM(c.n) AS n
        FROM changed c
        CROSS JOIN LATERAL (SELECT COALESCE(c.creator, '') WHERE COALESCE(c.creator, '') <> '*' UNION ALL SELECT '*') AS who (creator)
        WHERE c.identity_id IS NULL
           OR NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = c.identity_id AND i.state <> 'active')
        GROUP BY 1, 2, 3
        HAVING SUM(c.n) <> 0
    )
    INSERT INTO session_counts_grid (creator, level, a, b, n)
    SELECT c.creator, g.level, g.a, g.b, SUM(c.n) FROM counted c, lanyard_grid_cells(c.created_us, c.expires_us) g
    GROUP BY 1, 2, 3, 4 HAVING SUM(c.n) <> 0 ORDER BY 1, 2, 3, 4
    ON CONFLICT (creator, level, a, b) DO UPDATE SET n = session_counts_grid.n + EXCLUDED.n;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION lanyard_count_session_updates() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM old_sessions o JOIN new_sessions n ON n.id = o.id
        WHERE (o.revoked_us IS NULL OR n.revoked_us IS NULL)
          AND (o.revoked_us IS DISTINCT FROM n.revoked_us OR o.expires_us IS DISTINCT FROM n.expires_us
               OR o.created_us IS DISTINCT FROM n.created_us OR o.creator IS DISTINCT FROM n.creator)
    ) THEN
        RETURN NULL;
    END IF;
    -- Waits for a concurrent change of these identities' state (FOR NO KEY UPDATE), so that the
    -- next statement, a new snapshot, reads the state that change committed.
    PERFORM 1 FROM identities WHERE id IN (SELECT identity_id FROM old_sessions WHERE revoked_us IS NULL UNION ALL SELECT identity_id FROM new_sessions WHERE revoked_us IS NULL) ORDER BY id FOR SHARE;
    WITH changed (identity_id, creator, created_us, expires_us, n) AS (
        SELECT identity_id, creator, created_us, expires_us, -1::BIGINT FROM old_sessions WHERE revoked_us IS NULL
        UNION ALL
        SELECT identity_id, creator, created_us, expires_us, 1::BIGINT FROM new_sessions WHERE revoked_us IS NULL
    ), counted AS MATERIALIZED (
        SELECT who.creator, c.created_us, c.expires_us, SUM(c.n) AS n
        FROM changed c
        CROSS JOIN LATERAL (SELECT COALESCE(c.creator, '') WHERE COALESCE(c.creator, '') <> '*' UNION ALL SELECT '*') AS who (creator)
        WHERE c.identity_id IS NULL
           OR NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = c.identity_id AND i.state <> 'active')
        GROUP BY 1, 2, 3
        HAVING SUM(c.n) <> 0
    )
    INSERT INTO session_counts_grid (creator, level, a, b, n)
    SELECT c.creator, g.level, g.a, g.b, SUM(c.n) FROM counted c, lanyard_grid_cells(c.created_us, c.expires_us) g
    GROUP BY 1, 2, 3, 4 HAVING SUM(c.n) <> 0 ORDER BY 1, 2, 3, 4
    ON CONFLICT (creator, level, a, b) DO UPDATE SET n = session_counts_grid.n + EXCLUDED.n;
    RETURN NULL;
END
$$;

-- The grid statement of 0010 alone; a creator literally called '*' is counted only under '*',
-- as the statement-level triggers count it.
CREATE OR REPLACE FUNCTION lanyard_count_identity_state() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    delta BIGINT := CASE WHEN NEW.state = 'active' THEN 1 ELSE -1 END;
BEGIN
    INSERT INTO session_counts_grid (creator, level, a, b, n)
    SELECT who.creator, g.level, g.a, g.b, delta * COUNT(*)
    FROM sessions s, lanyard_grid_cells(s.created_us, s.expires_us) g,
         LATERAL (SELECT COALESCE(s.creator, '') WHERE COALESCE(s.creator, '') <> '*' UNION ALL SELECT '*') AS who (creator)
    WHERE s.identity_id = NEW.id AND s.revoked_us IS NULL GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (creator, level, a, b) DO UPDATE SET n = session_counts_grid.n + EXCLUDED.n;
    RETURN NULL;
END
$$;

DROP TABLE session_counts_created;
DROP TABLE session_counts_expires;
