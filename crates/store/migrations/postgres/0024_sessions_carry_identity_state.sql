-- Each session row says whether its identity is not active (as SQLite's 0020), so that session
-- reads probe `identities_not_active` only for the sessions whose flag is set: the join's key
-- is NULL for every other row (crate::sql::sessions_from), and an index condition on NULL
-- reads nothing. A Kratos admin page of 250 spent most of PostgreSQL's time on its 251 probes
-- (pgbench at 1M sessions: 0.49 ms a page with the probes, 0.33 ms without).
--
-- Kept in the writing transaction, safe under concurrent writers (READ COMMITTED):
-- - an inserting statement locks its sessions' identities FOR SHARE, then marks the sessions
--   of non-active identities in a new statement. A concurrent change of such an identity's
--   state holds its row FOR NO KEY UPDATE: either it commits first, and the lock waits for it
--   and the next statement (a new snapshot) reads the new state, or it waits for the inserting
--   transaction and its own pass below (a new snapshot) sees the new sessions. The foreign key's
--   FOR KEY SHARE alone would not wait for a state change;
-- - a change of an identity's state between active and not active marks or clears its sessions
--   (the counter trigger makes the same pass);
-- - a session's identity never changes, and a session without identity keeps false.
-- The flag is not a counted field, so the counter triggers' update function returns at once:
-- since this migration it tells so in time linear in the statement's rows (below).
ALTER TABLE sessions ADD COLUMN identity_not_active BOOLEAN NOT NULL DEFAULT false;

-- The backfill changes no counted field, so the counter trigger is off while it runs: its test
-- for counted changes joins the statement's old and new rows, and with none to find it compares
-- every pair (200,000 rows at 10M sessions: over ten minutes, with the table locked). ADD
-- COLUMN already holds the table's exclusive lock, so no other writer can slip past it.
ALTER TABLE sessions DISABLE TRIGGER sessions_counted_update;
UPDATE sessions SET identity_not_active = true
WHERE identity_id IN (SELECT id FROM identities WHERE state <> 'active');
ALTER TABLE sessions ENABLE TRIGGER sessions_counted_update;

CREATE FUNCTION lanyard_mark_new_sessions_of_inactive_identities() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM identities WHERE id IN (SELECT identity_id FROM new_sessions) ORDER BY id FOR SHARE;
    IF EXISTS (SELECT 1 FROM new_sessions n JOIN identities i ON i.id = n.identity_id WHERE i.state <> 'active') THEN
        UPDATE sessions s SET identity_not_active = true
        FROM new_sessions n JOIN identities i ON i.id = n.identity_id
        WHERE s.id = n.id AND i.state <> 'active';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER sessions_mark_identity_not_active AFTER INSERT ON sessions
    REFERENCING NEW TABLE AS new_sessions
    FOR EACH STATEMENT EXECUTE FUNCTION lanyard_mark_new_sessions_of_inactive_identities();

CREATE FUNCTION lanyard_mark_sessions_of_identity() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE sessions SET identity_not_active = (NEW.state <> 'active')
    WHERE identity_id = NEW.id AND identity_not_active IS DISTINCT FROM (NEW.state <> 'active');
    RETURN NULL;
END
$$;

CREATE TRIGGER identities_state_marks_sessions AFTER UPDATE OF state ON identities
    FOR EACH ROW WHEN ((OLD.state = 'active') IS DISTINCT FROM (NEW.state = 'active'))
    EXECUTE FUNCTION lanyard_mark_sessions_of_identity();

-- 0020's test for "this update changes nothing counted" was an EXISTS over a join of the two
-- transition tables. EXISTS plans for its first row, a nested loop, which compares every pair of
-- rows when no row changed a counted field: marking the 100,000 sessions of a deactivated
-- identity would be 10^10 comparisons. Now the counted fields of the live rows before and after
-- are compared as multisets (EXCEPT ALL, hashed or sorted: linear in the rows); they are equal
-- exactly when the old test found no pair (a row that stays live with the same fields is in both,
-- a row revoked or changed is in one only, a row revoked before and after in neither).
CREATE OR REPLACE FUNCTION lanyard_count_session_updates() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (
        SELECT id, expires_us, created_us, creator FROM old_sessions WHERE revoked_us IS NULL
        EXCEPT ALL
        SELECT id, expires_us, created_us, creator FROM new_sessions WHERE revoked_us IS NULL
    ) AND NOT EXISTS (
        SELECT id, expires_us, created_us, creator FROM new_sessions WHERE revoked_us IS NULL
        EXCEPT ALL
        SELECT id, expires_us, created_us, creator FROM old_sessions WHERE revoked_us IS NULL
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
