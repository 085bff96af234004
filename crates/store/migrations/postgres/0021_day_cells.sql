-- Day cells: levels 8 (a = creation day) and 9 (a = expiry day; a session that never expires
-- is in expiry day 375000000000, the never-hour / 24), b = 0, per creator and for all ('*').
-- A count of a creation or an expiry range sums its whole days from these cells, the runs of
-- whole hours outside them (at most 46 at each end) from levels 6 and 7, and its partial hours
-- as before. Why: this heap keeps a row where it was first written, so the 2,160 hour cells of
-- 90 days under one creator lie on about as many pages of session_counts_grid (each hour's row
-- appears among the cells of the sessions written that hour); at 10M sessions the table no
-- longer fits shared_buffers, and the "no query" count read 2,173 buffers for 2,161 rows
-- (17.7 ms against 6.2 ms at 1M). 90 day cells read a twenty-fourth of that. An offset search
-- descends days, then hours, then minutes. SQLite keeps its rows in primary-key order, where
-- one creator's hours are neighbours, so it has no day levels (see docs/STORAGE.md, "Counting").
--
-- The cells of every write come from lanyard_grid_cells, so two more rows there are all the
-- triggers need. Days are instant / 86400000000 (before 1970: -1).

-- Writers wait (readers do not) until the backfill below has committed, so that no session is
-- counted by the old cells function after the backfill read the hour cells.
LOCK TABLE session_counts_grid IN EXCLUSIVE MODE;

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
        (7::SMALLINT, (CASE WHEN $2 IS NULL THEN 9000000000000 WHEN $2 < 0 THEN -1 ELSE $2 / 3600000000 END), 0::BIGINT),
        (8::SMALLINT, (CASE WHEN $1 < 0 THEN -1 ELSE $1 / 86400000000 END), 0::BIGINT),
        (9::SMALLINT, (CASE WHEN $2 IS NULL THEN 375000000000 WHEN $2 < 0 THEN -1 ELSE $2 / 86400000000 END), 0::BIGINT)
    ) AS cells (level, a, b)
$$;

-- The day cells are the sums of the hour cells they hold (hour -1 is day -1, the never-hour
-- 9000000000000 is the never-day 375000000000): one pass over levels 6 and 7, not over sessions.
INSERT INTO session_counts_grid (creator, level, a, b, n)
SELECT creator, level + 2, (CASE WHEN a < 0 THEN -1 ELSE a / 24 END), 0, SUM(n)
FROM session_counts_grid
WHERE level IN (6, 7)
GROUP BY 1, 2, 3
HAVING SUM(n) <> 0
ORDER BY 1, 2, 3;
