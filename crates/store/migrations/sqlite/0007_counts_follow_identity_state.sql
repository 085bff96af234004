-- The session counters (0006) now count only what a broad ZITADEL search counts: sessions that
-- are not revoked AND whose identity is active (or that have none). 0006 counted every
-- not-revoked session and each count subtracted the sessions of non-active identities, a term
-- that grows with the table (2 % of identities inactive: 20,000 sessions to count at 1M,
-- 200,000 at 10M). Now a change of an identity's state moves its sessions in or out of the
-- counters, in the same transaction, and a count reads counter rows only. See docs/STORAGE.md,
-- "Counting".
--
-- A session is counted when: revoked_us IS NULL AND NOT EXISTS (a non-active identity with
-- its identity_id). Every trigger below applies that test to OLD and NEW.
DROP TRIGGER sessions_counted_insert;
DROP TRIGGER sessions_counted_delete;
DROP TRIGGER sessions_counted_update;

DELETE FROM session_counts_created;
DELETE FROM session_counts_expires;

INSERT INTO session_counts_created (created_hour, creator, n)
SELECT (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 3600000000 END), COALESCE(s.creator, ''), COUNT(*) FROM sessions s
WHERE s.revoked_us IS NULL AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = s.identity_id AND i.state <> 'active') GROUP BY 1, 2;
INSERT INTO session_counts_created (created_hour, creator, n)
SELECT created_hour, '*', SUM(n) FROM session_counts_created GROUP BY created_hour;
INSERT INTO session_counts_expires (expires_hour, creator, n)
SELECT (CASE WHEN s.expires_us IS NULL THEN 9000000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 3600000000 END), COALESCE(s.creator, ''), COUNT(*) FROM sessions s
WHERE s.revoked_us IS NULL AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = s.identity_id AND i.state <> 'active') GROUP BY 1, 2;
INSERT INTO session_counts_expires (expires_hour, creator, n)
SELECT expires_hour, '*', SUM(n) FROM session_counts_expires GROUP BY expires_hour;

CREATE TRIGGER sessions_counted_insert AFTER INSERT ON sessions
WHEN NEW.revoked_us IS NULL AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = NEW.identity_id AND i.state <> 'active')
BEGIN
    INSERT INTO session_counts_created (created_hour, creator, n) VALUES ((CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), COALESCE(NEW.creator, ''), 1)
    ON CONFLICT (created_hour, creator) DO UPDATE SET n = n + 1;
    INSERT INTO session_counts_created (created_hour, creator, n) VALUES ((CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), '*', 1)
    ON CONFLICT (created_hour, creator) DO UPDATE SET n = n + 1;
    INSERT INTO session_counts_expires (expires_hour, creator, n) VALUES ((CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), COALESCE(NEW.creator, ''), 1)
    ON CONFLICT (expires_hour, creator) DO UPDATE SET n = n + 1;
    INSERT INTO session_counts_expires (expires_hour, creator, n) VALUES ((CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), '*', 1)
    ON CONFLICT (expires_hour, creator) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER sessions_counted_delete AFTER DELETE ON sessions
WHEN OLD.revoked_us IS NULL AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = OLD.identity_id AND i.state <> 'active')
BEGIN
    UPDATE session_counts_created SET n = n - 1 WHERE created_hour = (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END) AND creator = COALESCE(OLD.creator, '');
    UPDATE session_counts_created SET n = n - 1 WHERE created_hour = (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END) AND creator = '*';
    UPDATE session_counts_expires SET n = n - 1 WHERE expires_hour = (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END) AND creator = COALESCE(OLD.creator, '');
    UPDATE session_counts_expires SET n = n - 1 WHERE expires_hour = (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END) AND creator = '*';
END;

-- A session's identity never changes, so the identity test is the same for OLD and NEW: it is
-- part of the WHEN, and the bodies only compare revocation, hours and creator.
CREATE TRIGGER sessions_counted_update AFTER UPDATE ON sessions
WHEN (OLD.revoked_us IS NULL OR NEW.revoked_us IS NULL)
  AND (OLD.revoked_us IS NOT NEW.revoked_us OR OLD.expires_us IS NOT NEW.expires_us
       OR OLD.created_us IS NOT NEW.created_us OR OLD.creator IS NOT NEW.creator)
  AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = NEW.identity_id AND i.state <> 'active')
BEGIN
    UPDATE session_counts_created SET n = n - 1 WHERE OLD.revoked_us IS NULL AND created_hour = (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END) AND creator = COALESCE(OLD.creator, '');
    UPDATE session_counts_created SET n = n - 1 WHERE OLD.revoked_us IS NULL AND created_hour = (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END) AND creator = '*';
    UPDATE session_counts_expires SET n = n - 1 WHERE OLD.revoked_us IS NULL AND expires_hour = (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END) AND creator = COALESCE(OLD.creator, '');
    UPDATE session_counts_expires SET n = n - 1 WHERE OLD.revoked_us IS NULL AND expires_hour = (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END) AND creator = '*';
    INSERT INTO session_counts_created (created_hour, creator, n) SELECT (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), COALESCE(NEW.creator, ''), 1 WHERE NEW.revoked_us IS NULL
    ON CONFLICT (created_hour, creator) DO UPDATE SET n = n + 1;
    INSERT INTO session_counts_created (created_hour, creator, n) SELECT (CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), '*', 1 WHERE NEW.revoked_us IS NULL
    ON CONFLICT (created_hour, creator) DO UPDATE SET n = n + 1;
    INSERT INTO session_counts_expires (expires_hour, creator, n) SELECT (CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), COALESCE(NEW.creator, ''), 1 WHERE NEW.revoked_us IS NULL
    ON CONFLICT (expires_hour, creator) DO UPDATE SET n = n + 1;
    INSERT INTO session_counts_expires (expires_hour, creator, n) SELECT (CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), '*', 1 WHERE NEW.revoked_us IS NULL
    ON CONFLICT (expires_hour, creator) DO UPDATE SET n = n + 1;
END;

-- An identity turning non-active takes its not-revoked sessions out of the counters; turning
-- active again puts them back. Cost: one pass over that identity's sessions, at the write.
CREATE TRIGGER identities_counted_state AFTER UPDATE OF state ON identities
WHEN (OLD.state = 'active') <> (NEW.state = 'active')
BEGIN
    INSERT INTO session_counts_created (created_hour, creator, n)
    SELECT (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 3600000000 END), COALESCE(s.creator, ''), (CASE WHEN NEW.state = 'active' THEN 1 ELSE -1 END) * COUNT(*)
    FROM sessions s WHERE s.identity_id = NEW.id AND s.revoked_us IS NULL GROUP BY 1, 2
    ON CONFLICT (created_hour, creator) DO UPDATE SET n = n + excluded.n;
    INSERT INTO session_counts_created (created_hour, creator, n)
    SELECT (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 3600000000 END), '*', (CASE WHEN NEW.state = 'active' THEN 1 ELSE -1 END) * COUNT(*)
    FROM sessions s WHERE s.identity_id = NEW.id AND s.revoked_us IS NULL GROUP BY 1, 2
    ON CONFLICT (created_hour, creator) DO UPDATE SET n = n + excluded.n;
    INSERT INTO session_counts_expires (expires_hour, creator, n)
    SELECT (CASE WHEN s.expires_us IS NULL THEN 9000000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 3600000000 END), COALESCE(s.creator, ''), (CASE WHEN NEW.state = 'active' THEN 1 ELSE -1 END) * COUNT(*)
    FROM sessions s WHERE s.identity_id = NEW.id AND s.revoked_us IS NULL GROUP BY 1, 2
    ON CONFLICT (expires_hour, creator) DO UPDATE SET n = n + excluded.n;
    INSERT INTO session_counts_expires (expires_hour, creator, n)
    SELECT (CASE WHEN s.expires_us IS NULL THEN 9000000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 3600000000 END), '*', (CASE WHEN NEW.state = 'active' THEN 1 ELSE -1 END) * COUNT(*)
    FROM sessions s WHERE s.identity_id = NEW.id AND s.revoked_us IS NULL GROUP BY 1, 2
    ON CONFLICT (expires_hour, creator) DO UPDATE SET n = n + excluded.n;
END;

-- Deleting a non-active identity deletes its sessions first, while the identity still says
-- they are not counted (the foreign key's cascade would run when it no longer exists).
CREATE TRIGGER identities_delete_uncounted_sessions BEFORE DELETE ON identities
WHEN OLD.state <> 'active'
BEGIN
    DELETE FROM sessions WHERE identity_id = OLD.id;
END;
