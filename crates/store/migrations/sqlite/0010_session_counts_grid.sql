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

CREATE TABLE session_counts_grid (
    creator TEXT NOT NULL,
    level   INTEGER NOT NULL,
    a       INTEGER NOT NULL,
    b       INTEGER NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (creator, level, a, b)
) WITHOUT ROWID;

INSERT INTO session_counts_grid (creator, level, a, b, n)
SELECT COALESCE(s.creator, ''), 0, (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 86400000000 END), (CASE WHEN s.expires_us IS NULL THEN 375000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 86400000000 END), COUNT(*) FROM sessions s
WHERE s.revoked_us IS NULL AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = s.identity_id AND i.state <> 'active') GROUP BY 1, 2, 3, 4
ON CONFLICT (creator, level, a, b) DO UPDATE SET n = n + excluded.n;
INSERT INTO session_counts_grid (creator, level, a, b, n)
SELECT COALESCE(s.creator, ''), 1, (CASE WHEN s.expires_us IS NULL THEN 9000000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 3600000000 END), (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 86400000000 END), COUNT(*) FROM sessions s
WHERE s.revoked_us IS NULL AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = s.identity_id AND i.state <> 'active') GROUP BY 1, 2, 3, 4
ON CONFLICT (creator, level, a, b) DO UPDATE SET n = n + excluded.n;
INSERT INTO session_counts_grid (creator, level, a, b, n)
SELECT COALESCE(s.creator, ''), 2, (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 3600000000 END), (CASE WHEN s.expires_us IS NULL THEN 375000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 86400000000 END), COUNT(*) FROM sessions s
WHERE s.revoked_us IS NULL AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = s.identity_id AND i.state <> 'active') GROUP BY 1, 2, 3, 4
ON CONFLICT (creator, level, a, b) DO UPDATE SET n = n + excluded.n;
INSERT INTO session_counts_grid (creator, level, a, b, n)
SELECT COALESCE(s.creator, ''), 3, (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 3600000000 END), (CASE WHEN s.expires_us IS NULL THEN 9000000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 3600000000 END), COUNT(*) FROM sessions s
WHERE s.revoked_us IS NULL AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = s.identity_id AND i.state <> 'active') GROUP BY 1, 2, 3, 4
ON CONFLICT (creator, level, a, b) DO UPDATE SET n = n + excluded.n;
INSERT INTO session_counts_grid (creator, level, a, b, n)
SELECT '*', 0, (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 86400000000 END), (CASE WHEN s.expires_us IS NULL THEN 375000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 86400000000 END), COUNT(*) FROM sessions s
WHERE s.revoked_us IS NULL AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = s.identity_id AND i.state <> 'active') GROUP BY 1, 2, 3, 4
ON CONFLICT (creator, level, a, b) DO UPDATE SET n = n + excluded.n;
INSERT INTO session_counts_grid (creator, level, a, b, n)
SELECT '*', 1, (CASE WHEN s.expires_us IS NULL THEN 9000000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 3600000000 END), (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 86400000000 END), COUNT(*) FROM sessions s
WHERE s.revoked_us IS NULL AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = s.identity_id AND i.state <> 'active') GROUP BY 1, 2, 3, 4
ON CONFLICT (creator, level, a, b) DO UPDATE SET n = n + excluded.n;
INSERT INTO session_counts_grid (creator, level, a, b, n)
SELECT '*', 2, (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 3600000000 END), (CASE WHEN s.expires_us IS NULL THEN 375000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 86400000000 END), COUNT(*) FROM sessions s
WHERE s.revoked_us IS NULL AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = s.identity_id AND i.state <> 'active') GROUP BY 1, 2, 3, 4
ON CONFLICT (creator, level, a, b) DO UPDATE SET n = n + excluded.n;
INSERT INTO session_counts_grid (creator, level, a, b, n)
SELECT '*', 3, (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 3600000000 END), (CASE WHEN s.expires_us IS NULL THEN 9000000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 3600000000 END), COUNT(*) FROM sessions s
WHERE s.revoked_us IS NULL AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = s.identity_id AND i.state <> 'active') GROUP BY 1, 2, 3, 4
ON CONFLICT (creator, level, a, b) DO UPDATE SET n = n + excluded.n;

-- The same WHEN conditions as the 1-D counters' triggers (0007).
CREATE TRIGGER sessions_grid_insert AFTER INSERT ON sessions
WHEN NEW.revoked_us IS NULL AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = NEW.identity_id AND i.state <> 'active')
BEGIN
    INSERT INTO session_counts_grid (creator, level, a, b, n) VALUES
    (COALESCE(NEW.creator, ''), 0, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 86400000000 END), (CASE WHEN NEW.expires_us IS NULL THEN 375000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 86400000000 END), 1),
    (COALESCE(NEW.creator, ''), 1, (CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 86400000000 END), 1),
    (COALESCE(NEW.creator, ''), 2, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), (CASE WHEN NEW.expires_us IS NULL THEN 375000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 86400000000 END), 1),
    (COALESCE(NEW.creator, ''), 3, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), (CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), 1)
    ON CONFLICT (creator, level, a, b) DO UPDATE SET n = n + excluded.n;
    INSERT INTO session_counts_grid (creator, level, a, b, n) VALUES
    ('*', 0, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 86400000000 END), (CASE WHEN NEW.expires_us IS NULL THEN 375000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 86400000000 END), 1),
    ('*', 1, (CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 86400000000 END), 1),
    ('*', 2, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), (CASE WHEN NEW.expires_us IS NULL THEN 375000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 86400000000 END), 1),
    ('*', 3, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), (CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), 1)
    ON CONFLICT (creator, level, a, b) DO UPDATE SET n = n + excluded.n;
END;

CREATE TRIGGER sessions_grid_delete AFTER DELETE ON sessions
WHEN OLD.revoked_us IS NULL AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = OLD.identity_id AND i.state <> 'active')
BEGIN
    INSERT INTO session_counts_grid (creator, level, a, b, n) VALUES
    (COALESCE(OLD.creator, ''), 0, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 86400000000 END), (CASE WHEN OLD.expires_us IS NULL THEN 375000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 86400000000 END), -1),
    (COALESCE(OLD.creator, ''), 1, (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END), (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 86400000000 END), -1),
    (COALESCE(OLD.creator, ''), 2, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END), (CASE WHEN OLD.expires_us IS NULL THEN 375000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 86400000000 END), -1),
    (COALESCE(OLD.creator, ''), 3, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END), (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END), -1)
    ON CONFLICT (creator, level, a, b) DO UPDATE SET n = n + excluded.n;
    INSERT INTO session_counts_grid (creator, level, a, b, n) VALUES
    ('*', 0, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 86400000000 END), (CASE WHEN OLD.expires_us IS NULL THEN 375000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 86400000000 END), -1),
    ('*', 1, (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END), (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 86400000000 END), -1),
    ('*', 2, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END), (CASE WHEN OLD.expires_us IS NULL THEN 375000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 86400000000 END), -1),
    ('*', 3, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END), (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END), -1)
    ON CONFLICT (creator, level, a, b) DO UPDATE SET n = n + excluded.n;
END;

-- An update leaves the cells of OLD if OLD was counted and enters those of NEW if NEW is: two
-- triggers, each with its condition in its WHEN.
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
    (COALESCE(OLD.creator, ''), 3, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END), (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END), -1)
    ON CONFLICT (creator, level, a, b) DO UPDATE SET n = n + excluded.n;
    INSERT INTO session_counts_grid (creator, level, a, b, n) VALUES
    ('*', 0, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 86400000000 END), (CASE WHEN OLD.expires_us IS NULL THEN 375000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 86400000000 END), -1),
    ('*', 1, (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END), (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 86400000000 END), -1),
    ('*', 2, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END), (CASE WHEN OLD.expires_us IS NULL THEN 375000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 86400000000 END), -1),
    ('*', 3, (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END), (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END), -1)
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
    (COALESCE(NEW.creator, ''), 3, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), (CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), 1)
    ON CONFLICT (creator, level, a, b) DO UPDATE SET n = n + excluded.n;
    INSERT INTO session_counts_grid (creator, level, a, b, n) VALUES
    ('*', 0, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 86400000000 END), (CASE WHEN NEW.expires_us IS NULL THEN 375000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 86400000000 END), 1),
    ('*', 1, (CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 86400000000 END), 1),
    ('*', 2, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), (CASE WHEN NEW.expires_us IS NULL THEN 375000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 86400000000 END), 1),
    ('*', 3, (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), (CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), 1)
    ON CONFLICT (creator, level, a, b) DO UPDATE SET n = n + excluded.n;
END;

-- An identity turning non-active takes its not-revoked sessions out of the grid; turning
-- active again puts them back (as identities_counted_state does for the 1-D counters).
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
        SELECT '*' AS creator, 0 AS level, (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 86400000000 END) AS a, (CASE WHEN s.expires_us IS NULL THEN 375000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 86400000000 END) AS b FROM sessions s WHERE s.identity_id = NEW.id AND s.revoked_us IS NULL
        UNION ALL
        SELECT '*' AS creator, 1 AS level, (CASE WHEN s.expires_us IS NULL THEN 9000000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 3600000000 END) AS a, (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 86400000000 END) AS b FROM sessions s WHERE s.identity_id = NEW.id AND s.revoked_us IS NULL
        UNION ALL
        SELECT '*' AS creator, 2 AS level, (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 3600000000 END) AS a, (CASE WHEN s.expires_us IS NULL THEN 375000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 86400000000 END) AS b FROM sessions s WHERE s.identity_id = NEW.id AND s.revoked_us IS NULL
        UNION ALL
        SELECT '*' AS creator, 3 AS level, (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 3600000000 END) AS a, (CASE WHEN s.expires_us IS NULL THEN 9000000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 3600000000 END) AS b FROM sessions s WHERE s.identity_id = NEW.id AND s.revoked_us IS NULL
    ) g GROUP BY 1, 2, 3, 4
    ON CONFLICT (creator, level, a, b) DO UPDATE SET n = n + excluded.n;
END;
