-- A session never expires before it was created: from now on the store writes
-- max(expiry, creation) (a node running behind the one that created a session could extend it
-- to a moment before its creation). Searches by expiry rely on it to bound the creation dates
-- they walk (docs/STORAGE.md, "Searching by expiry"). Rows written before may break it only
-- through such clock skew; they have expired either way, and the counter triggers move them.
UPDATE sessions SET expires_us = created_us WHERE expires_us < created_us;
