-- Each session row says whether its identity is not active, so that a walk over sessions (a
-- Kratos `active=false` page reads ~1,400 sessions for 250 matches) tests a column of the row
-- it already has instead of probing `identities_not_active` once per row. Those probes were
-- most of the page's time at 10M sessions (0.67 of 1.04 ms: the partial index grew to 66,000
-- entries and left the CPU caches) and the reason it grew with the table. The list query keys
-- its join on the flag (crate::sql::sessions_from): a session whose flag is 0 skips the probe.
--
-- The flag follows the identity's state in the same transaction as every change: a session
-- inserted for a non-active identity is marked by the insert trigger, a change of an
-- identity's state between active and not active marks or clears its sessions (the same pass
-- over an identity's sessions the counter triggers already make), and a session's identity
-- never changes. A session without identity keeps 0. SQLite only: one writer, so the flag
-- cannot race a concurrent state change; PostgreSQL's probe met its bar (see docs/STORAGE.md).
ALTER TABLE sessions ADD COLUMN identity_not_active INTEGER NOT NULL DEFAULT 0;

UPDATE sessions SET identity_not_active = 1
WHERE identity_id IN (SELECT id FROM identities WHERE state <> 'active');

CREATE TRIGGER sessions_mark_identity_not_active AFTER INSERT ON sessions
WHEN EXISTS (SELECT 1 FROM identities i WHERE i.id = NEW.identity_id AND i.state <> 'active')
BEGIN
    UPDATE sessions SET identity_not_active = 1 WHERE rowid = NEW.rowid;
END;

CREATE TRIGGER identities_state_marks_sessions AFTER UPDATE OF state ON identities
WHEN (OLD.state = 'active') <> (NEW.state = 'active')
BEGIN
    UPDATE sessions SET identity_not_active = (NEW.state <> 'active') WHERE identity_id = NEW.id;
END;
