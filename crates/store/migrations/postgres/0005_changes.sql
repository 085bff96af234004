-- The change feed behind every node's token cache (docs/STORAGE.md, "Change feed").
--
-- Every write that can make a cached whoami answer wrong (a session updated, revoked or
-- deleted; an identity updated or deleted) adds one row here in its own transaction, numbered
-- with the session_sequence value that transaction takes. That counter row stays locked until
-- the transaction ends, so numbers are handed out in commit order: a reader never sees a
-- number while a smaller one is still to come. Each node reads the rows after the last number
-- it saw every cache.ttl / 2, drops exactly those sessions and identities from its cache, and
-- trusts the rest for another cache.ttl. Creating a session adds nothing: no cache can hold a
-- token before it exists.
-- kind: 's' = target_id is a session, 'i' = an identity (all of its sessions).
-- recorded_us is the database's clock; the nodes prune rows older than an hour.
CREATE TABLE lanyard_changes (
    sequence    BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    target_id   UUID NOT NULL,
    recorded_us BIGINT NOT NULL,
    CONSTRAINT lanyard_changes_pkey PRIMARY KEY (sequence)
);
CREATE INDEX lanyard_changes_recorded ON lanyard_changes (recorded_us);
