-- Cleanup (`lanyard cleanup`, the [cleanup] job) deletes sessions revoked before a cutoff in
-- batches: this index serves that condition, as sessions_expires serves the expiry one. Only
-- revoked sessions are in it (a comparison on revoked_us implies it is not NULL, so the planner
-- uses the partial index). Partial indexes are accepted by CockroachDB and YugabyteDB too.
--
-- Numbered 0003 to keep one version per change across the backends: SQLite's 0002 creates the
-- lease table, which PostgreSQL has had since 0001.
CREATE INDEX sessions_revoked ON sessions (revoked_us ASC) WHERE revoked_us IS NOT NULL;
