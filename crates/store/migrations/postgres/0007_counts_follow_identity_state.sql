-- The session counters (0006) now count only what a broad ZITADEL search counts: sessions that
-- are not revoked AND whose identity is active (or that have none). 0006 counted every
-- not-revoked session and each count subtracted the sessions of non-active identities, a term
-- that grows with the table (2 % of identities inactive: 20,000 sessions to count at 1M,
-- 200,000 at 10M). Now a change of an identity's state moves its sessions in or out of the
-- counters, in the same transaction, and a count reads counter rows only. See docs/STORAGE.md,
-- "Counting".
LOCK TABLE sessions, identities IN SHARE ROW EXCLUSIVE MODE;

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

-- Whether a session of `identity` is counted as far as its identity goes. FOR SHARE waits for a
-- concurrent change of the identity's state to commit and then reads the new state (READ
-- COMMITTED re-reads a row it had to wait for); a state change that comes second waits for
-- this transaction, and its recount (a new snapshot) sees this session. Either way the
-- session is counted exactly when its identity is active. The foreign key's own check takes
-- only FOR KEY SHARE, which a state change does not wait for.
CREATE FUNCTION lanyard_identity_counts(identity UUID) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    identity_state TEXT;
BEGIN
    IF identity IS NULL THEN
        RETURN true;
    END IF;
    SELECT state INTO identity_state FROM identities WHERE id = identity FOR SHARE;
    RETURN identity_state IS NULL OR identity_state = 'active';
END
$$;

CREATE OR REPLACE FUNCTION lanyard_count_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A session's identity never changes: one test serves OLD and NEW.
    IF NOT lanyard_identity_counts(CASE WHEN TG_OP = 'DELETE' THEN OLD.identity_id ELSE NEW.identity_id END) THEN
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' AND OLD.revoked_us IS NULL THEN
        UPDATE session_counts_created SET n = n - 1 WHERE created_hour = (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END) AND creator = COALESCE(OLD.creator, '');
        UPDATE session_counts_created SET n = n - 1 WHERE created_hour = (CASE WHEN OLD.created_us < 0 THEN -1 ELSE OLD.created_us / 3600000000 END) AND creator = '*';
        UPDATE session_counts_expires SET n = n - 1 WHERE expires_hour = (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END) AND creator = COALESCE(OLD.creator, '');
        UPDATE session_counts_expires SET n = n - 1 WHERE expires_hour = (CASE WHEN OLD.expires_us IS NULL THEN 9000000000000 WHEN OLD.expires_us < 0 THEN -1 ELSE OLD.expires_us / 3600000000 END) AND creator = '*';
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.revoked_us IS NULL THEN
        INSERT INTO session_counts_created (created_hour, creator, n) VALUES ((CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), COALESCE(NEW.creator, ''), 1)
        ON CONFLICT (created_hour, creator) DO UPDATE SET n = session_counts_created.n + 1;
        INSERT INTO session_counts_created (created_hour, creator, n) VALUES ((CASE WHEN NEW.created_us < 0 THEN -1 ELSE NEW.created_us / 3600000000 END), '*', 1)
        ON CONFLICT (created_hour, creator) DO UPDATE SET n = session_counts_created.n + 1;
        INSERT INTO session_counts_expires (expires_hour, creator, n) VALUES ((CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), COALESCE(NEW.creator, ''), 1)
        ON CONFLICT (expires_hour, creator) DO UPDATE SET n = session_counts_expires.n + 1;
        INSERT INTO session_counts_expires (expires_hour, creator, n) VALUES ((CASE WHEN NEW.expires_us IS NULL THEN 9000000000000 WHEN NEW.expires_us < 0 THEN -1 ELSE NEW.expires_us / 3600000000 END), '*', 1)
        ON CONFLICT (expires_hour, creator) DO UPDATE SET n = session_counts_expires.n + 1;
    END IF;
    RETURN NULL;
END
$$;

-- An identity turning non-active takes its not-revoked sessions out of the counters; turning
-- active again puts them back. Cost: one pass over that identity's sessions, at the write.
-- Rows are changed in key order, as every session write changes its own, so that two state
-- changes cannot deadlock on counter rows.
CREATE FUNCTION lanyard_count_identity_state() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    delta BIGINT := CASE WHEN NEW.state = 'active' THEN 1 ELSE -1 END;
BEGIN
    INSERT INTO session_counts_created (created_hour, creator, n)
    SELECT (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 3600000000 END), COALESCE(s.creator, ''), delta * COUNT(*)
    FROM sessions s WHERE s.identity_id = NEW.id AND s.revoked_us IS NULL GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (created_hour, creator) DO UPDATE SET n = session_counts_created.n + EXCLUDED.n;
    INSERT INTO session_counts_created (created_hour, creator, n)
    SELECT (CASE WHEN s.created_us < 0 THEN -1 ELSE s.created_us / 3600000000 END), '*', delta * COUNT(*)
    FROM sessions s WHERE s.identity_id = NEW.id AND s.revoked_us IS NULL GROUP BY 1 ORDER BY 1
    ON CONFLICT (created_hour, creator) DO UPDATE SET n = session_counts_created.n + EXCLUDED.n;
    INSERT INTO session_counts_expires (expires_hour, creator, n)
    SELECT (CASE WHEN s.expires_us IS NULL THEN 9000000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 3600000000 END), COALESCE(s.creator, ''), delta * COUNT(*)
    FROM sessions s WHERE s.identity_id = NEW.id AND s.revoked_us IS NULL GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (expires_hour, creator) DO UPDATE SET n = session_counts_expires.n + EXCLUDED.n;
    INSERT INTO session_counts_expires (expires_hour, creator, n)
    SELECT (CASE WHEN s.expires_us IS NULL THEN 9000000000000 WHEN s.expires_us < 0 THEN -1 ELSE s.expires_us / 3600000000 END), '*', delta * COUNT(*)
    FROM sessions s WHERE s.identity_id = NEW.id AND s.revoked_us IS NULL GROUP BY 1 ORDER BY 1
    ON CONFLICT (expires_hour, creator) DO UPDATE SET n = session_counts_expires.n + EXCLUDED.n;
    RETURN NULL;
END
$$;

CREATE TRIGGER identities_counted_state AFTER UPDATE OF state ON identities
    FOR EACH ROW WHEN ((OLD.state = 'active') IS DISTINCT FROM (NEW.state = 'active'))
    EXECUTE FUNCTION lanyard_count_identity_state();

-- Deleting a non-active identity deletes its sessions first, while the identity still says
-- they are not counted (the foreign key's cascade runs after the identity row is gone).
CREATE FUNCTION lanyard_delete_uncounted_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM sessions WHERE identity_id = OLD.id;
    RETURN OLD;
END
$$;

CREATE TRIGGER identities_delete_uncounted_sessions BEFORE DELETE ON identities
    FOR EACH ROW WHEN (OLD.state <> 'active')
    EXECUTE FUNCTION lanyard_delete_uncounted_sessions();
