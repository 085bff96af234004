-- The creation index also carries each session's expiry, so that a search walking sessions in
-- creation order with an expiry condition tests it as an index condition and fetches the heap
-- row only for a match. "Expired more than 30 days ago" walks ~27,000 sessions created before
-- then for its 100 newest matches (70 ms at 1M with a heap fetch per step; 319 ms at 10M,
-- where the heap no longer fits in memory). The same columns lead, so keyset pages and every
-- other walk use it as before. Building it locks out writes to sessions for its duration
-- (seconds at 1M sessions; see docs/STORAGE.md, "Migrations that rebuild an index").
DROP INDEX sessions_created;
CREATE INDEX sessions_created ON sessions (created_us DESC, id ASC, expires_us);
