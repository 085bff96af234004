-- Leases coordinate work between processes sharing a database (the same table as on
-- PostgreSQL, where several nodes share one). A lease is held by `holder` until `expires_us`.
CREATE TABLE lanyard_leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_us INTEGER NOT NULL
) WITHOUT ROWID;
