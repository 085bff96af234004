-- Every read of the counters names a creator ('*' for all) and a range of hours, so the
-- tables are keyed (creator, hour): a count or the per-hour cells of a search are then one
-- range of the primary key, with `n` in it. Keyed (hour, creator) with a secondary index
-- (creator, hour), SQLite either read every creator's row of each hour (~48 at 1M sessions,
-- where self-created sessions have one creator per identity) or looked up `n` in the primary
-- key for each row of the index. Same columns, same order: the triggers' upserts are
-- unchanged. `legacy_alter_table` lets the rename leave the triggers' text alone; they name
-- the tables, which exist again once the migration commits.
PRAGMA legacy_alter_table = ON;

CREATE TABLE session_counts_created_next (
    created_hour INTEGER NOT NULL,
    creator      TEXT NOT NULL,
    n            INTEGER NOT NULL,
    PRIMARY KEY (creator, created_hour)
) WITHOUT ROWID;
INSERT INTO session_counts_created_next (created_hour, creator, n)
SELECT created_hour, creator, n FROM session_counts_created;
DROP TABLE session_counts_created;
ALTER TABLE session_counts_created_next RENAME TO session_counts_created;

CREATE TABLE session_counts_expires_next (
    expires_hour INTEGER NOT NULL,
    creator      TEXT NOT NULL,
    n            INTEGER NOT NULL,
    PRIMARY KEY (creator, expires_hour)
) WITHOUT ROWID;
INSERT INTO session_counts_expires_next (expires_hour, creator, n)
SELECT expires_hour, creator, n FROM session_counts_expires;
DROP TABLE session_counts_expires;
ALTER TABLE session_counts_expires_next RENAME TO session_counts_expires;

PRAGMA legacy_alter_table = OFF;
