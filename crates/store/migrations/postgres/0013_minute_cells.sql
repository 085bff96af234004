-- Minute cells: levels 4 (a = creation minute) and 5 (a = expiry minute) of the grid, b = 0,
-- per creator and for all ('*'). A count of a creation or an expiry range reads its whole hours
-- from the 1-D counters as before, the whole minutes of its partial hours from these cells, and
-- counts sessions one by one only in the partial minutes at its ends. At 10M sessions an hour
-- holds ~4,600 creations and up to ~12,000 expiries; counting a partial hour row by row took
-- 20-34 ms on PostgreSQL (75-190 ms on SQLite); a minute holds ~80 and ~200. See
-- docs/STORAGE.md, "Counting".
--
-- The statement-level triggers of 0012 and the identity-state trigger take a session's cells
-- from lanyard_grid_cells, so two more rows there are all a write needs. Minutes are
-- instant / 60000000 (before 1970: -1); a session that never expires is in expiry minute
-- 540000000000000 (the never-hour x 60).

CREATE OR REPLACE FUNCTION lanyard_grid_cells(created_us BIGINT, expires_us BIGINT)
RETURNS TABLE (level SMALLINT, a BIGINT, b BIGINT) LANGUAGE sql IMMUTABLE AS $$
    SELECT * FROM (VALUES
        (0::SMALLINT, (CASE WHEN $1 < 0 THEN -1 ELSE $1 / 86400000000 END), (CASE WHEN $2 IS NULL THEN 375000000000 WHEN $2 < 0 THEN -1 ELSE $2 / 86400000000 END)),
        (1::SMALLINT, (CASE WHEN $2 IS NULL THEN 9000000000000 WHEN $2 < 0 THEN -1 ELSE $2 / 3600000000 END), (CASE WHEN $1 < 0 THEN -1 ELSE $1 / 86400000000 END)),
        (2::SMALLINT, (CASE WHEN $1 < 0 THEN -1 ELSE $1 / 3600000000 END), (CASE WHEN $2 IS NULL THEN 375000000000 WHEN $2 < 0 THEN -1 ELSE $2 / 86400000000 END)),
        (3::SMALLINT, (CASE WHEN $1 < 0 THEN -1 ELSE $1 / 3600000000 END), (CASE WHEN $2 IS NULL THEN 9000000000000 WHEN $2 < 0 THEN -1 ELSE $2 / 3600000000 END)),
        (4::SMALLINT, (CASE WHEN $1 < 0 THEN -1 ELSE $1 / 60000000 END), 0::BIGINT),
        (5::SMALLINT, (CASE WHEN $2 IS NULL THEN 540000000000000 WHEN $2 < 0 THEN -1 ELSE $2 / 60000000 END), 0::BIGINT)
    ) AS cells (level, a, b)
$$;

-- The same sessions as the other cells count; a creator literally called '*' only under '*'
-- (as in 0012). Cells in key order, the order the triggers write them in.
INSERT INTO session_counts_grid (creator, level, a, b, n)
SELECT who.creator, g.level, g.a, g.b, COUNT(*)
FROM sessions s
CROSS JOIN LATERAL (SELECT * FROM lanyard_grid_cells(s.created_us, s.expires_us) WHERE level >= 4) AS g
CROSS JOIN LATERAL (SELECT COALESCE(s.creator, '') WHERE COALESCE(s.creator, '') <> '*' UNION ALL SELECT '*') AS who (creator)
WHERE s.revoked_us IS NULL
  AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = s.identity_id AND i.state <> 'active')
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3, 4
ON CONFLICT (creator, level, a, b) DO UPDATE SET n = session_counts_grid.n + EXCLUDED.n;
