-- The expiry index also carries each session's creation time, so that the count of a creation
-- and an expiry range tests the creation range on the index entry for the sessions of a piece
-- of an expiry hour and reads the row only for those it counts (SQLite defers the table seek
-- until a column outside the index is needed). The count reads the rows outside the creation
-- range instead whenever the cells say those are fewer (crates/store/src/sql/session_count.rs,
-- `CellCount::expiry_piece`). Cleanup's walk of expired sessions uses it as before (the same
-- column leads); the entries grow by the creation time (8 bytes).
DROP INDEX sessions_expires;
CREATE INDEX sessions_expires ON sessions (expires_us, created_us);
