-- Minute cells: levels 4 (a = creation minute) and 5 (a = expiry minute) of the grid, b = 0,
-- per creator and for all ('*'). A count of a creation or an expiry range reads its whole hours
-- from the 1-D counters as before, the whole minutes of its partial hours from these cells, and
-- counts sessions one by one only in the partial minutes at its ends. At 10M sessions an hour
-- holds ~4,600 creations and up to ~12,000 expiries, and counting a partial hour row by row took
-- 75-190 ms on SQLite; a minute holds ~80 and ~200. See docs/STORAGE.md, "Counting".
--
-- The rows join the grid's statements in the triggers (two more rows in each multi-row upsert)
-- rather than new triggers, so that a write pays no extra trigger or identity probe. Minutes are
-- instant / 60000000 (before 1970: -1); a session that never expires is in expiry minute
-- 540000000000000 (the never-hour x 60). What is counted is what every counter counts: not
-- revoked, identity active or none.

INSERT INTO session_counts_grid (creator, level, a, b, n)
SELECT COALESCE(s.creator, ''), 4, (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 60000000 END), 0, COUNT(*) FROM sessions s
WHERE s.revoked_us IS NULL AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = s.identity_id AND i.state <> 'active') GROUP BY 1, 2, 3, 4
ON CONFLICT (creator, level, a, b) DO UPDATE SET n = n + excluded.n;
INSERT INTO session_counts_grid (creator, level, a, b, n)
SELECT '*', 4, (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 60000000 END), 0, COUNT(*) FROM sessions s
WHERE s.revoked_us IS NULL AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = s.identity_id AND i.state <> 'active') GROUP BY 1, 2, 3, 4
ON CONFLICT (creator, level, a, b) DO UPDATE SET n = n + excluded.n;
INSERT INTO session_counts_grid (creator, level, a, b, n)
SELECT COALESCE(s.creator, ''), 5, (CASE WHEN s.expires_us IS NULL THEN 540000000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 60000000 END), 0, COUNT(*) FROM sessions s
WHERE s.revoked_us IS NULL AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = s.identity_id AND i.state <> 'active') GROUP BY 1, 2, 3, 4
ON CONFLICT (creator, level, a, b) DO UPDATE SET n = n + excluded.n;
INSERT INTO session_counts_grid (creator, level, a, b, n)
SELECT '*', 5, (CASE WHEN s.expires_us IS NULL THEN 540000000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 60000000 END), 0, COUNT(*) FROM sessions s
WHERE s.revoked_us IS NULL AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = s.identity_id AND i.state <> 'active') GROUP BY 1, 2, 3, 4
ON CONFLICT (creator, level, a, b) DO UPDATE SET n = n + excluded.n;

DROP TRIGGER sessions_grid_insert;
DROP TRIGGER sessions_grid_delete;
DROP TRIGGER sessions_grid_update_leave;
DROP TRIGGER sessions_grid_update_enter;
DROP TRIGGER identities_grid_state;

CREATE TRIGGER sessions_grid_insert AFTER INSERT ON sessions
WHEN NEW.revoked_us IS NULL AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = NEW.identity_id AND i.state <> 'active')
BEGIN
    INSERT INTO session_counts_grid (creator, level, a, b, n) VALUES
    (COALESCE(NEW.creator, ''), 0, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 86400000000 END), (CASE WHEN NEW.expires_us IS NULL THEN 375000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 86400000000 END), 1),
    (COALESCE(NEW.creator, ''), 1, (CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 86400000000 END), 1),
    (COALESCE(NEW.creator, ''), 2, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), (CASE WHEN NEW.expires_us IS NULL THEN 375000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 86400000000 END), 1),
    (COALESCE(NEW.creator, ''), 3, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), (CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), 1),
    (COALESCE(NEW.creator, ''), 4, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 60000000 END), 0, 1),
    (COALESCE(NEW.creator, ''), 5, (CASE WHEN NEW.expires_us IS NULL THEN 540000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 60000000 END), 0, 1)
    ON CONFLICT (creator, level, a, b) DO UPDATE SET n = n + excluded.n;
    INSERT INTO session_counts_grid (creator, level, a, b, n) VALUES
    ('*', 0, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 86400000000 END), (CASE WHEN NEW.expires_us IS NULL THEN 375000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 86400000000 END), 1),
    ('*', 1, (CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 86400000000 END), 1),
    ('*', 2, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), (CASE WHEN NEW.expires_us IS NULL THEN 375000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 86400000000 END), 1),
    ('*', 3, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), (CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), 1),
    ('*', 4, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 60000000 END), 0, 1),
    ('*', 5, (CASE WHEN NEW.expires_us IS NULL THEN 540000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 60000000 END), 0, 1)
    ON CONFLICT (creator, level, a, b) DO UPDATE SET n = n + excluded.n;
END;

CREATE TRIGGER sessions_grid_delete AFTER DELETE ON sessions
WHEN OLD.revoked_us IS NULL AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = OLD.identity_id AND i.state <> 'active')
BEGIN
    INSERT INTO session_counts_grid (creator, level, a, b, n) VALUES
    (COALESCE(OLD.creator, ''), 0, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 86400000000 END), (CASE WHEN OLD.expires_us IS NULL THEN 375000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 86400000000 END), -1),
    (COALESCE(OLD.creator, ''), 1, (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END), (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 86400000000 END), -1),
    (COALESCE(OLD.creator, ''), 2, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END), (CASE WHEN OLD.expires_us IS NULL THEN 375000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 86400000000 END), -1),
    (COALESCE(OLD.creator, ''), 3, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END), (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END), -1),
    (COALESCE(OLD.creator, ''), 4, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 60000000 END), 0, -1),
    (COALESCE(OLD.creator, ''), 5, (CASE WHEN OLD.expires_us IS NULL THEN 540000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 60000000 END), 0, -1)
    ON CONFLICT (creator, level, a, b) DO UPDATE SET n = n + excluded.n;
    INSERT INTO session_counts_grid (creator, level, a, b, n) VALUES
    ('*', 0, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 86400000000 END), (CASE WHEN OLD.expires_us IS NULL THEN 375000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 86400000000 END), -1),
    ('*', 1, (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END), (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 86400000000 END), -1),
    ('*', 2, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END), (CASE WHEN OLD.expires_us IS NULL THEN 375000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 86400000000 END), -1),
    ('*', 3, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END), (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END), -1),
    ('*', 4, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 60000000 END), 0, -1),
    ('*', 5, (CASE WHEN OLD.expires_us IS NULL THEN 540000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 60000000 END), 0, -1)
    ON CONFLICT (creator, level, a, b) DO UPDATE SET n = n + excluded.n;
END;

CREATE TRIGGER sessions_grid_update_leave AFTER UPDATE ON sessions
WHEN OLD.revoked_us IS NULL
  AND (OLD.revoked_us IS NOT NEW.revoked_us OR OLD.expires_us IS NOT NEW.expires_us
       OR OLD.created_us IS NOT NEW.created_us OR OLD.creator IS NOT NEW.creator)
  AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = NEW.identity_id AND i.state <> 'active')
BEGIN
    INSERT INTO session_counts_grid (creator, level, a, b, n) VALUES
    (COALESCE(OLD.creator, ''), 0, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 86400000000 END), (CASE WHEN OLD.expires_us IS NULL THEN 375000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 86400000000 END), -1),
    (COALESCE(OLD.creator, ''), 1, (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END), (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 86400000000 END), -1),
    (COALESCE(OLD.creator, ''), 2, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END), (CASE WHEN OLD.expires_us IS NULL THEN 375000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 86400000000 END), -1),
    (COALESCE(OLD.creator, ''), 3, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END), (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END), -1),
    (COALESCE(OLD.creator, ''), 4, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 60000000 END), 0, -1),
    (COALESCE(OLD.creator, ''), 5, (CASE WHEN OLD.expires_us IS NULL THEN 540000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 60000000 END), 0, -1)
    ON CONFLICT (creator, level, a, b) DO UPDATE SET n = n + excluded.n;
    INSERT INTO session_counts_grid (creator, level, a, b, n) VALUES
    ('*', 0, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 86400000000 END), (CASE WHEN OLD.expires_us IS NULL THEN 375000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 86400000000 END), -1),
    ('*', 1, (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END), (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 86400000000 END), -1),
    ('*', 2, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END), (CASE WHEN OLD.expires_us IS NULL THEN 375000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 86400000000 END), -1),
    ('*', 3, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END), (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END), -1),
    ('*', 4, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 60000000 END), 0, -1),
    ('*', 5, (CASE WHEN OLD.expires_us IS NULL THEN 540000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 60000000 END), 0, -1)
    ON CONFLICT (creator, level, a, b) DO UPDATE SET n = n + excluded.n;
END;

CREATE TRIGGER sessions_grid_update_enter AFTER UPDATE ON sessions
WHEN NEW.revoked_us IS NULL
  AND (OLD.revoked_us IS NOT NEW.revoked_us OR OLD.expires_us IS NOT NEW.expires_us
       OR OLD.created_us IS NOT NEW.created_us OR OLD.creator IS NOT NEW.creator)
  AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = NEW.identity_id AND i.state <> 'active')
BEGIN
    INSERT INTO session_counts_grid (creator, level, a, b, n) VALUES
    (COALESCE(NEW.creator, ''), 0, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 86400000000 END), (CASE WHEN NEW.expires_us IS NULL THEN 375000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 86400000000 END), 1),
    (COALESCE(NEW.creator, ''), 1, (CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 86400000000 END), 1),
    (COALESCE(NEW.creator, ''), 2, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), (CASE WHEN NEW.expires_us IS NULL THEN 375000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 86400000000 END), 1),
    (COALESCE(NEW.creator, ''), 3, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), (CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), 1),
    (COALESCE(NEW.creator, ''), 4, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 60000000 END), 0, 1),
    (COALESCE(NEW.creator, ''), 5, (CASE WHEN NEW.expires_us IS NULL THEN 540000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 60000000 END), 0, 1)
    ON CONFLICT (creator, level, a, b) DO UPDATE SET n = n + excluded.n;
    INSERT INTO session_counts_grid (creator, level, a, b, n) VALUES
    ('*', 0, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 86400000000 END), (CASE WHEN NEW.expires_us IS NULL THEN 375000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 86400000000 END), 1),
    ('*', 1, (CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 86400000000 END), 1),
    ('*', 2, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), (CASE WHEN NEW.expires_us IS NULL THEN 375000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 86400000000 END), 1),
    ('*', 3, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), (CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), 1),
    ('*', 4, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 60000000 END), 0, 1),
    ('*', 5, (CASE WHEN NEW.expires_us IS NULL THEN 540000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 60000000 END), 0, 1)
    ON CONFLICT (creator, level, a, b) DO UPDATE SET n = n + excluded.n;
END;

CREATE TRIGGER identities_grid_state AFTER UPDATE OF state ON identities
WHEN (OLD.state = 'active') <> (NEW.state = 'active')
BEGIN
    INSERT INTO session_counts_grid (creator, level, a, b, n)
    SELECT g.creator, g.level, g.a, g.b, (CASE WHEN NEW.state = 'active' THEN 1 ELSE -1 END) * COUNT(*) FROM (
        SELECT COALESCE(s.creator, '') AS creator, 0 AS level, (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 86400000000 END) AS a, (CASE WHEN s.expires_us IS NULL THEN 375000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 86400000000 END) AS b FROM sessions s WHERE s.identity_id = NEW.id AND s.revoked_us IS NULL
        UNION ALL
        SELECT COALESCE(s.creator, '') AS creator, 1 AS level, (CASE WHEN s.expires_us IS NULL THEN 9000000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 3600000000 END) AS a, (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 86400000000 END) AS b FROM sessions s WHERE s.identity_id = NEW.id AND s.revoked_us IS NULL
        UNION ALL
        SELECT COALESCE(s.creator, '') AS creator, 2 AS level, (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 3600000000 END) AS a, (CASE WHEN s.expires_us IS NULL THEN 375000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 86400000000 END) AS b FROM sessions s WHERE s.identity_id = NEW.id AND s.revoked_us IS NULL
        UNION ALL
        SELECT COALESCE(s.creator, '') AS creator, 3 AS level, (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 3600000000 END) AS a, (CASE WHEN s.expires_us IS NULL THEN 9000000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 3600000000 END) AS b FROM sessions s WHERE s.identity_id = NEW.id AND s.revoked_us IS NULL
        UNION ALL
        SELECT COALESCE(s.creator, '') AS creator, 4 AS level, (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 60000000 END) AS a, 0 AS b FROM sessions s WHERE s.identity_id = NEW.id AND s.revoked_us IS NULL
        UNION ALL
        SELECT COALESCE(s.creator, '') AS creator, 5 AS level, (CASE WHEN s.expires_us IS NULL THEN 540000000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 60000000 END) AS a, 0 AS b FROM sessions s WHERE s.identity_id = NEW.id AND s.revoked_us IS NULL
        UNION ALL
        SELECT '*' AS creator, 0 AS level, (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 86400000000 END) AS a, (CASE WHEN s.expires_us IS NULL THEN 375000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 86400000000 END) AS b FROM sessions s WHERE s.identity_id = NEW.id AND s.revoked_us IS NULL
        UNION ALL
        SELECT '*' AS creator, 1 AS level, (CASE WHEN s.expires_us IS NULL THEN 9000000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 3600000000 END) AS a, (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 86400000000 END) AS b FROM sessions s WHERE s.identity_id = NEW.id AND s.revoked_us IS NULL
        UNION ALL
        SELECT '*' AS creator, 2 AS level, (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 3600000000 END) AS a, (CASE WHEN s.expires_us IS NULL THEN 375000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 86400000000 END) AS b FROM sessions s WHERE s.identity_id = NEW.id AND s.revoked_us IS NULL
        UNION ALL
        SELECT '*' AS creator, 3 AS level, (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 3600000000 END) AS a, (CASE WHEN s.expires_us IS NULL THEN 9000000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 3600000000 END) AS b FROM sessions s WHERE s.identity_id = NEW.id AND s.revoked_us IS NULL
        UNION ALL
        SELECT '*' AS creator, 4 AS level, (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 60000000 END) AS a, 0 AS b FROM sessions s WHERE s.identity_id = NEW.id AND s.revoked_us IS NULL
        UNION ALL
        SELECT '*' AS creator, 5 AS level, (CASE WHEN s.expires_us IS NULL THEN 540000000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 60000000 END) AS a, 0 AS b FROM sessions s WHERE s.identity_id = NEW.id AND s.revoked_us IS NULL
    ) g GROUP BY 1, 2, 3, 4
    ON CONFLICT (creator, level, a, b) DO UPDATE SET n = n + excluded.n;
END;
