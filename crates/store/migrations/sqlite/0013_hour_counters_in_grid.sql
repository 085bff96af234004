-- The hour counters move into the grid: level 6 (a = creation hour) and level 7 (a = expiry
-- hour), b = 0, per creator and for all ('*'), replace session_counts_created and
-- session_counts_expires, which are dropped with their triggers.
--
-- Why: the write path. Each counter table had its own trigger, its own probe of the identity
-- and four single-row upserts per session; two more rows in the grid's two multi-row upserts
-- cost a fraction of that. Measured on a session insert (SQLite 3.40, 20,000 inserts, one
-- transaction each): 231 us with the separate counters, 197 us with them in the grid, 199 us
-- before the grid existed (docs/BENCHMARKS.md, "The write path"). What is counted does not
-- change: sessions not revoked whose identity is active or none; hours are instant / 3600000000
-- (before 1970: -1), and a session that never expires is in expiry hour 9000000000000.

INSERT INTO session_counts_grid (creator, level, a, b, n)
SELECT creator, 6, created_hour, 0, n FROM session_counts_created WHERE n <> 0;
INSERT INTO session_counts_grid (creator, level, a, b, n)
SELECT creator, 7, expires_hour, 0, n FROM session_counts_expires WHERE n <> 0;

DROP TRIGGER sessions_counted_insert;
DROP TRIGGER sessions_counted_delete;
DROP TRIGGER sessions_counted_update;
DROP TRIGGER identities_counted_state;
DROP TRIGGER sessions_grid_insert;
DROP TRIGGER sessions_grid_delete;
DROP TRIGGER sessions_grid_update_leave;
DROP TRIGGER sessions_grid_update_enter;
DROP TRIGGER identities_grid_state;
DROP TABLE session_counts_created;
DROP TABLE session_counts_expires;

CREATE TRIGGER sessions_grid_insert AFTER INSERT ON sessions
WHEN NEW.revoked_us IS NULL AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = NEW.identity_id AND i.state <> 'active')
BEGIN
    INSERT INTO session_counts_grid (creator, level, a, b, n) VALUES
    (COALESCE(NEW.creator, ''), 0, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 86400000000 END), (CASE WHEN NEW.expires_us IS NULL THEN 375000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 86400000000 END), 1),
    (COALESCE(NEW.creator, ''), 1, (CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 86400000000 END), 1),
    (COALESCE(NEW.creator, ''), 2, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), (CASE WHEN NEW.expires_us IS NULL THEN 375000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 86400000000 END), 1),
    (COALESCE(NEW.creator, ''), 3, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), (CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), 1),
    (COALESCE(NEW.creator, ''), 4, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 60000000 END), 0, 1),
    (COALESCE(NEW.creator, ''), 5, (CASE WHEN NEW.expires_us IS NULL THEN 540000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 60000000 END), 0, 1),
    (COALESCE(NEW.creator, ''), 6, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), 0, 1),
    (COALESCE(NEW.creator, ''), 7, (CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), 0, 1)
    ON CONFLICT (creator, level, a, b) DO UPDATE SET n = n + excluded.n;
    INSERT INTO session_counts_grid (creator, level, a, b, n) VALUES
    ('*', 0, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 86400000000 END), (CASE WHEN NEW.expires_us IS NULL THEN 375000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 86400000000 END), 1),
    ('*', 1, (CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 86400000000 END), 1),
    ('*', 2, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), (CASE WHEN NEW.expires_us IS NULL THEN 375000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 86400000000 END), 1),
    ('*', 3, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), (CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), 1),
    ('*', 4, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 60000000 END), 0, 1),
    ('*', 5, (CASE WHEN NEW.expires_us IS NULL THEN 540000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 60000000 END), 0, 1),
    ('*', 6, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), 0, 1),
    ('*', 7, (CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), 0, 1)
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
    (COALESCE(OLD.creator, ''), 5, (CASE WHEN OLD.expires_us IS NULL THEN 540000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 60000000 END), 0, -1),
    (COALESCE(OLD.creator, ''), 6, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END), 0, -1),
    (COALESCE(OLD.creator, ''), 7, (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END), 0, -1)
    ON CONFLICT (creator, level, a, b) DO UPDATE SET n = n + excluded.n;
    INSERT INTO session_counts_grid (creator, level, a, b, n) VALUES
    ('*', 0, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 86400000000 END), (CASE WHEN OLD.expires_us IS NULL THEN 375000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 86400000000 END), -1),
    ('*', 1, (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END), (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 86400000000 END), -1),
    ('*', 2, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END), (CASE WHEN OLD.expires_us IS NULL THEN 375000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 86400000000 END), -1),
    ('*', 3, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END), (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END), -1),
    ('*', 4, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 60000000 END), 0, -1),
    ('*', 5, (CASE WHEN OLD.expires_us IS NULL THEN 540000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 60000000 END), 0, -1),
    ('*', 6, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END), 0, -1),
    ('*', 7, (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END), 0, -1)
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
    (COALESCE(OLD.creator, ''), 5, (CASE WHEN OLD.expires_us IS NULL THEN 540000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 60000000 END), 0, -1),
    (COALESCE(OLD.creator, ''), 6, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END), 0, -1),
    (COALESCE(OLD.creator, ''), 7, (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END), 0, -1)
    ON CONFLICT (creator, level, a, b) DO UPDATE SET n = n + excluded.n;
    INSERT INTO session_counts_grid (creator, level, a, b, n) VALUES
    ('*', 0, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 86400000000 END), (CASE WHEN OLD.expires_us IS NULL THEN 375000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 86400000000 END), -1),
    ('*', 1, (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END), (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 86400000000 END), -1),
    ('*', 2, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END), (CASE WHEN OLD.expires_us IS NULL THEN 375000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 86400000000 END), -1),
    ('*', 3, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END), (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END), -1),
    ('*', 4, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 60000000 END), 0, -1),
    ('*', 5, (CASE WHEN OLD.expires_us IS NULL THEN 540000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 60000000 END), 0, -1),
    ('*', 6, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END), 0, -1),
    ('*', 7, (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END), 0, -1)
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
    (COALESCE(NEW.creator, ''), 5, (CASE WHEN NEW.expires_us IS NULL THEN 540000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 60000000 END), 0, 1),
    (COALESCE(NEW.creator, ''), 6, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), 0, 1),
    (COALESCE(NEW.creator, ''), 7, (CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), 0, 1)
    ON CONFLICT (creator, level, a, b) DO UPDATE SET n = n + excluded.n;
    INSERT INTO session_counts_grid (creator, level, a, b, n) VALUES
    ('*', 0, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 86400000000 END), (CASE WHEN NEW.expires_us IS NULL THEN 375000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 86400000000 END), 1),
    ('*', 1, (CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 86400000000 END), 1),
    ('*', 2, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), (CASE WHEN NEW.expires_us IS NULL THEN 375000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 86400000000 END), 1),
    ('*', 3, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), (CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), 1),
    ('*', 4, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 60000000 END), 0, 1),
    ('*', 5, (CASE WHEN NEW.expires_us IS NULL THEN 540000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 60000000 END), 0, 1),
    ('*', 6, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), 0, 1),
    ('*', 7, (CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), 0, 1)
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
        SELECT COALESCE(s.creator, '') AS creator, 6 AS level, (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 3600000000 END) AS a, 0 AS b FROM sessions s WHERE s.identity_id = NEW.id AND s.revoked_us IS NULL
        UNION ALL
        SELECT COALESCE(s.creator, '') AS creator, 7 AS level, (CASE WHEN s.expires_us IS NULL THEN 9000000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 3600000000 END) AS a, 0 AS b FROM sessions s WHERE s.identity_id = NEW.id AND s.revoked_us IS NULL
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
        UNION ALL
        SELECT '*' AS creator, 6 AS level, (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 3600000000 END) AS a, 0 AS b FROM sessions s WHERE s.identity_id = NEW.id AND s.revoked_us IS NULL
        UNION ALL
        SELECT '*' AS creator, 7 AS level, (CASE WHEN s.expires_us IS NULL THEN 9000000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 3600000000 END) AS a, 0 AS b FROM sessions s WHERE s.identity_id = NEW.id AND s.revoked_us IS NULL
    ) g GROUP BY 1, 2, 3, 4
    ON CONFLICT (creator, level, a, b) DO UPDATE SET n = n + excluded.n;
END;
