-- The session counters of 0006-0010 are kept by statement-level triggers instead of row-level
-- ones (PostgreSQL only; SQLite updates a row in place and keeps its row triggers).
--
-- Why: a row-level trigger writes the counter rows of a session once per session. Within one
-- transaction each update of a row leaves a version that the next update of that row has to
-- step over (nothing can be pruned before the transaction ends), so a statement that writes k
-- sessions of the same hours costs O(k^2): deleting the 58,000 sessions a benchmark run had
-- created took over ten minutes once the grid (0010) added eight more rows per session, and a
-- bulk insert ran at half the speed. A statement-level trigger sees every row of the statement
-- at once (transition tables), adds up the changes per counter cell and writes each cell once,
-- in key order. The group commit inserts a batch of sessions with one statement, so a batch
-- now costs one write per cell instead of one per session and cell.
--
-- What is counted does not change: sessions not revoked whose identity is active or absent,
-- per creator and under '*' for all (a creator literally called '*' only there, as the grid
-- already did). The identities of the changed sessions are locked FOR SHARE first, in id
-- order, as the row trigger locked each one; the count then runs as a new statement, so it
-- reads the state that a concurrent state change committed (see docs/STORAGE.md, "Counting").

DROP TRIGGER sessions_counted_insert ON sessions;
DROP TRIGGER sessions_counted_delete ON sessions;
DROP TRIGGER sessions_counted_update ON sessions;
DROP FUNCTION lanyard_count_sessions();
DROP FUNCTION lanyard_identity_counts(UUID);

CREATE FUNCTION lanyard_count_session_inserts() RETURNS trigger LANGUAGE plpgsql AS $$
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
    ), created AS (
        INSERT INTO session_counts_created (created_hour, creator, n)
        SELECT (CASE WHEN c.created_us < 0 THEN -1 ELSE c.created_us / 3600000000 END), c.creator, SUM(c.n) FROM counted c
        GROUP BY 1, 2 HAVING SUM(c.n) <> 0 ORDER BY 2, 1
        ON CONFLICT (created_hour, creator) DO UPDATE SET n = session_counts_created.n + EXCLUDED.n
    ), expires AS (
        INSERT INTO session_counts_expires (expires_hour, creator, n)
        SELECT (CASE WHEN c.expires_us IS NULL THEN 9000000000000 WHEN c.expires_us < 0 THEN -1 ELSE c.expires_us / 3600000000 END), c.creator, SUM(c.n) FROM counted c
        GROUP BY 1, 2 HAVING SUM(c.n) <> 0 ORDER BY 2, 1
        ON CONFLICT (expires_hour, creator) DO UPDATE SET n = session_counts_expires.n + EXCLUDED.n
    )
    INSERT INTO session_counts_grid (creator, level, a, b, n)
    SELECT c.creator, g.level, g.a, g.b, SUM(c.n) FROM counted c, lanyard_grid_cells(c.created_us, c.expires_us) g
    GROUP BY 1, 2, 3, 4 HAVING SUM(c.n) <> 0 ORDER BY 1, 2, 3, 4
    ON CONFLICT (creator, level, a, b) DO UPDATE SET n = session_counts_grid.n + EXCLUDED.n;
    RETURN NULL;
END
$$;

CREATE FUNCTION lanyard_count_session_deletes() RETURNS trigger LANGUAGE plpgsql AS $$
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
    ), created AS (
        INSERT INTO session_counts_created (created_hour, creator, n)
        SELECT (CASE WHEN c.created_us < 0 THEN -1 ELSE c.created_us / 3600000000 END), c.creator, SUM(c.n) FROM counted c
        GROUP BY 1, 2 HAVING SUM(c.n) <> 0 ORDER BY 2, 1
        ON CONFLICT (created_hour, creator) DO UPDATE SET n = session_counts_created.n + EXCLUDED.n
    ), expires AS (
        INSERT INTO session_counts_expires (expires_hour, creator, n)
        SELECT (CASE WHEN c.expires_us IS NULL THEN 9000000000000 WHEN c.expires_us < 0 THEN -1 ELSE c.expires_us / 3600000000 END), c.creator, SUM(c.n) FROM counted c
        GROUP BY 1, 2 HAVING SUM(c.n) <> 0 ORDER BY 2, 1
        ON CONFLICT (expires_hour, creator) DO UPDATE SET n = session_counts_expires.n + EXCLUDED.n
    )
    INSERT INTO session_counts_grid (creator, level, a, b, n)
    SELECT c.creator, g.level, g.a, g.b, SUM(c.n) FROM counted c, lanyard_grid_cells(c.created_us, c.expires_us) g
    GROUP BY 1, 2, 3, 4 HAVING SUM(c.n) <> 0 ORDER BY 1, 2, 3, 4
    ON CONFLICT (creator, level, a, b) DO UPDATE SET n = session_counts_grid.n + EXCLUDED.n;
    RETURN NULL;
END
$$;

-- Rows whose counted fields did not change add -1 and +1 to the same cells: nothing is written
-- for them, and a statement that changes no counted field (a token rotation, a refresh of the
-- authentication time) returns after the first query.
CREATE FUNCTION lanyard_count_session_updates() RETURNS trigger LANGUAGE plpgsql AS $$
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
    ), created AS (
        INSERT INTO session_counts_created (created_hour, creator, n)
        SELECT (CASE WHEN c.created_us < 0 THEN -1 ELSE c.created_us / 3600000000 END), c.creator, SUM(c.n) FROM counted c
        GROUP BY 1, 2 HAVING SUM(c.n) <> 0 ORDER BY 2, 1
        ON CONFLICT (created_hour, creator) DO UPDATE SET n = session_counts_created.n + EXCLUDED.n
    ), expires AS (
        INSERT INTO session_counts_expires (expires_hour, creator, n)
        SELECT (CASE WHEN c.expires_us IS NULL THEN 9000000000000 WHEN c.expires_us < 0 THEN -1 ELSE c.expires_us / 3600000000 END), c.creator, SUM(c.n) FROM counted c
        GROUP BY 1, 2 HAVING SUM(c.n) <> 0 ORDER BY 2, 1
        ON CONFLICT (expires_hour, creator) DO UPDATE SET n = session_counts_expires.n + EXCLUDED.n
    )
    INSERT INTO session_counts_grid (creator, level, a, b, n)
    SELECT c.creator, g.level, g.a, g.b, SUM(c.n) FROM counted c, lanyard_grid_cells(c.created_us, c.expires_us) g
    GROUP BY 1, 2, 3, 4 HAVING SUM(c.n) <> 0 ORDER BY 1, 2, 3, 4
    ON CONFLICT (creator, level, a, b) DO UPDATE SET n = session_counts_grid.n + EXCLUDED.n;
    RETURN NULL;
END
$$;

CREATE TRIGGER sessions_counted_insert AFTER INSERT ON sessions
    REFERENCING NEW TABLE AS new_sessions
    FOR EACH STATEMENT EXECUTE FUNCTION lanyard_count_session_inserts();
CREATE TRIGGER sessions_counted_delete AFTER DELETE ON sessions
    REFERENCING OLD TABLE AS old_sessions
    FOR EACH STATEMENT EXECUTE FUNCTION lanyard_count_session_deletes();
CREATE TRIGGER sessions_counted_update AFTER UPDATE ON sessions
    REFERENCING OLD TABLE AS old_sessions NEW TABLE AS new_sessions
    FOR EACH STATEMENT EXECUTE FUNCTION lanyard_count_session_updates();
