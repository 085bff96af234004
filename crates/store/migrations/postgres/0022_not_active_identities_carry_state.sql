-- The partial index of non-active identities carries their state, so that joining a session to
-- its identity's state (the session reads' LEFT JOIN LATERAL, see sessions_from) is answered from
-- the index alone. Without it the planner, which takes the index for cheap because identity ids
-- follow the table's order, merged 1,000 sessions of an idsQuery with a full scan of that index
-- and fetched every non-active identity's row to read its state: 66,000 rows on 62,817 heap pages
-- at 10M sessions (3.3M identities), 348 ms for a page of 100; index-only, 12 ms.
-- Building it reads every identity while writes to identities wait (0.6 s at 3.3M identities).
DROP INDEX identities_not_active;
CREATE INDEX identities_not_active ON identities (id) INCLUDE (state) WHERE state <> 'active';
