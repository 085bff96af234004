-- The expiry index also carries each session's creation time, so that the count of a creation
-- and an expiry range tests the creation range on the index entry for the sessions of a piece
-- of an expiry hour, and reads the heap row only for those it counts. Such a piece holds up to
-- an hour of expiries (1,540 sessions in the hour before "now" at 10M, 8 of the 15 ms such a
-- count took); the count now reads the rows outside the creation range instead whenever the
-- cells say those are fewer (crates/store/src/sql/session_count.rs, `CellCount::expiry_piece`),
-- and this index is what makes either side cheap to single out. Cleanup's walk of expired
-- sessions uses it as before (the same column leads). Building it locks out writes to sessions
-- for its duration (see docs/STORAGE.md, "Migrations that rebuild an index").
DROP INDEX sessions_expires;
CREATE INDEX sessions_expires ON sessions (expires_us ASC, created_us);
