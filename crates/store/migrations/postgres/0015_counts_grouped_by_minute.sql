-- The statement-level counter triggers (0012, 0014) group a statement's sessions by creator and
-- by the minutes of their creation and expiry before they expand them into grid cells, instead
-- of expanding every session into its sixteen cell rows (eight levels, for its creator and for
-- all) and grouping those. Every level's cell of a session is a function of those two minutes
-- (hours and days are whole minutes; everything before 1970 is -1 at every level; a session
-- that never expires keeps a NULL expiry), so the cells and counts written are the same. A
-- group-commit batch of ~35 sessions created within a minute or two becomes a few rows instead
-- of ~560: PostgreSQL's CPU per session create fell from 316-321 to 280-286 us in the
-- benchmark (docs/BENCHMARKS.md, "The hour counters in the grid"). SQLite counts per row in
-- its triggers and is not changed.

CREATE OR REPLACE FUNCTION lanyard_count_session_inserts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Waits for a concurrent change of these identities' state (FOR NO KEY UPDATE), so that the
    -- next statement, a new snapshot, reads the state that change committed.
    PERFORM 1 FROM identities WHERE id IN (SELECT identity_id FROM new_sessions WHERE revoked_us IS NULL) ORDER BY id FOR SHARE;
    WITH changed (identity_id, creator, created_us, expires_us, n) AS (
        SELECT identity_id, creator, created_us, expires_us, 1::BIGINT FROM new_sessions WHERE revoked_us IS NULL
    ), counted AS MATERIALIZED (
        -- Every cell of a session follows from its creation and expiry minutes: one row per
        -- creator and pair of minutes, which the sessions of a batch mostly share.
        SELECT COALESCE(c.creator, '') AS creator,
               (CASE WHEN c.created_us < 0 THEN -1 ELSE c.created_us / 60000000 END) AS created_minute,
               (CASE WHEN c.expires_us < 0 THEN -1 ELSE c.expires_us / 60000000 END) AS expires_minute,
               SUM(c.n) AS n
        FROM changed c
        WHERE c.identity_id IS NULL
           OR NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = c.identity_id AND i.state <> 'active')
        GROUP BY 1, 2, 3
        HAVING SUM(c.n) <> 0
    )
    INSERT INTO session_counts_grid (creator, level, a, b, n)
    SELECT who.creator, g.level, g.a, g.b, SUM(c.n)
    FROM counted c
    CROSS JOIN LATERAL (SELECT c.creator WHERE c.creator <> '*' UNION ALL SELECT '*') AS who (creator)
    CROSS JOIN LATERAL lanyard_grid_cells(
        (CASE WHEN c.created_minute < 0 THEN -1 ELSE c.created_minute * 60000000 END),
        (CASE WHEN c.expires_minute < 0 THEN -1 ELSE c.expires_minute * 60000000 END)) AS g
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
        -- Every cell of a session follows from its creation and expiry minutes: one row per
        -- creator and pair of minutes, which the sessions of a batch mostly share.
        SELECT COALESCE(c.creator, '') AS creator,
               (CASE WHEN c.created_us < 0 THEN -1 ELSE c.created_us / 60000000 END) AS created_minute,
               (CASE WHEN c.expires_us < 0 THEN -1 ELSE c.expires_us / 60000000 END) AS expires_minute,
               SUM(c.n) AS n
        FROM changed c
        WHERE c.identity_id IS NULL
           OR NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = c.identity_id AND i.state <> 'active')
        GROUP BY 1, 2, 3
        HAVING SUM(c.n) <> 0
    )
    INSERT INTO session_counts_grid (creator, level, a, b, n)
    SELECT who.creator, g.level, g.a, g.b, SUM(c.n)
    FROM counted c
    CROSS JOIN LATERAL (SELECT c.creator WHERE c.creator <> '*' UNION ALL SELECT '*') AS who (creator)
    CROSS JOIN LATERAL lanyard_grid_cells(
        (CASE WHEN c.created_minute < 0 THEN -1 ELSE c.created_minute * 60000000 END),
        (CASE WHEN c.expires_minute < 0 THEN -1 ELSE c.expires_minute * 60000000 END)) AS g
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
        -- Every cell of a session follows from its creation and expiry minutes: one row per
        -- creator and pair of minutes, which the sessions of a batch mostly share.
        SELECT COALESCE(c.creator, '') AS creator,
               (CASE WHEN c.created_us < 0 THEN -1 ELSE c.created_us / 60000000 END) AS created_minute,
               (CASE WHEN c.expires_us < 0 THEN -1 ELSE c.expires_us / 60000000 END) AS expires_minute,
               SUM(c.n) AS n
        FROM changed c
        WHERE c.identity_id IS NULL
           OR NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = c.identity_id AND i.state <> 'active')
        GROUP BY 1, 2, 3
        HAVING SUM(c.n) <> 0
    )
    INSERT INTO session_counts_grid (creator, level, a, b, n)
    SELECT who.creator, g.level, g.a, g.b, SUM(c.n)
    FROM counted c
    CROSS JOIN LATERAL (SELECT c.creator WHERE c.creator <> '*' UNION ALL SELECT '*') AS who (creator)
    CROSS JOIN LATERAL lanyard_grid_cells(
        (CASE WHEN c.created_minute < 0 THEN -1 ELSE c.created_minute * 60000000 END),
        (CASE WHEN c.expires_minute < 0 THEN -1 ELSE c.expires_minute * 60000000 END)) AS g
    GROUP BY 1, 2, 3, 4 HAVING SUM(c.n) <> 0 ORDER BY 1, 2, 3, 4
    ON CONFLICT (creator, level, a, b) DO UPDATE SET n = session_counts_grid.n + EXCLUDED.n;
    RETURN NULL;
END
$$;
