-- Cleanup (`lanyard cleanup`, the [cleanup] job) deletes sessions revoked before a cutoff in
-- batches: this index serves that condition, as sessions_expires serves the expiry one. Only
-- revoked sessions are in it (a comparison on revoked_us implies it is not NULL, so SQLite
-- uses the partial index).
CREATE INDEX sessions_revoked ON sessions (revoked_us) WHERE revoked_us IS NOT NULL;
