-- The three statement-level counter triggers of 0015 (inserts, deletes, updates) each carried
-- the same identity lock, grouping and grid upsert; they now hand their changed sessions (+1 for
-- a session that starts counting, -1 for one that stops) to one function that does it once.
-- The cells and counts written are the same (see 0015 for why grouping by creator and by the
-- minutes of creation and expiry gives every grid cell).

CREATE TYPE lanyard_count_change AS (
    identity_id UUID,
    creator     TEXT,
    created_us  BIGINT,
    expires_us  BIGINT,
    n           BIGINT
);

CREATE FUNCTION lanyard_apply_count_changes(changes lanyard_count_change[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF cardinality(changes) = 0 THEN
        RETURN;
    END IF;
    -- Waits for a concurrent change of these identities' state (FOR NO KEY UPDATE), so that the
    -- next statement, a new snapshot, reads the state that change committed.
    PERFORM 1 FROM identities WHERE id IN (SELECT c.identity_id FROM unnest(changes) c) ORDER BY id FOR SHARE;
    WITH counted AS MATERIALIZED (
        -- Every cell of a session follows from its creation and expiry minutes: one row per
        -- creator and pair of minutes, which the sessions of a batch mostly share.
        SELECT COALESCE(c.creator, '') AS creator,
               (CASE WHEN c.created_us < 0 THEN -1 ELSE c.created_us / 60000000 END) AS created_minute,
               (CASE WHEN c.expires_us < 0 THEN -1 ELSE c.expires_us / 60000000 END) AS expires_minute,
               SUM(c.n) AS n
        FROM unnest(changes) c
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
END
$$;

CREATE OR REPLACE FUNCTION lanyard_count_session_inserts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM lanyard_apply_count_changes(ARRAY(
        SELECT ROW(identity_id, creator, created_us, expires_us, 1)::lanyard_count_change
        FROM new_sessions WHERE revoked_us IS NULL));
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION lanyard_count_session_deletes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM lanyard_apply_count_changes(ARRAY(
        SELECT ROW(identity_id, creator, created_us, expires_us, -1)::lanyard_count_change
        FROM old_sessions WHERE revoked_us IS NULL));
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION lanyard_count_session_updates() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Most updates (a new token, new factors) change nothing that is counted.
    IF NOT EXISTS (
        SELECT 1 FROM old_sessions o JOIN new_sessions n ON n.id = o.id
        WHERE (o.revoked_us IS NULL OR n.revoked_us IS NULL)
          AND (o.revoked_us IS DISTINCT FROM n.revoked_us OR o.expires_us IS DISTINCT FROM n.expires_us
               OR o.created_us IS DISTINCT FROM n.created_us OR o.creator IS DISTINCT FROM n.creator)
    ) THEN
        RETURN NULL;
    END IF;
    PERFORM lanyard_apply_count_changes(ARRAY(
        SELECT ROW(identity_id, creator, created_us, expires_us, -1)::lanyard_count_change
        FROM old_sessions WHERE revoked_us IS NULL
        UNION ALL
        SELECT ROW(identity_id, creator, created_us, expires_us, 1)::lanyard_count_change
        FROM new_sessions WHERE revoked_us IS NULL));
    RETURN NULL;
END
$$;
