//! Leases (`lanyard_leases`): how nodes sharing the database take turns at work that one node
//! does at a time (migrations, cleanup), without advisory locks.

statement!(
    /// Gives the lease `?1` to `?2` until `?3`, when nobody else holds it or the holder's lease
    /// expired at or before `?4` (now). Returns the holder when given, no row when refused.
    acquire = "INSERT INTO lanyard_leases (name, holder, expires_us) VALUES (?1, ?2, ?3) \
     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_us = excluded.expires_us \
     WHERE lanyard_leases.holder = excluded.holder OR lanyard_leases.expires_us <= ?4 \
     RETURNING holder"
);

statement!(
    /// Gives up the lease `?1` if `?2` holds it, expired or not.
    release = "DELETE FROM lanyard_leases WHERE name = ?1 AND holder = ?2"
);

statement!(
    /// Who holds the lease `?1`, and until when.
    holder = "SELECT holder, expires_us FROM lanyard_leases WHERE name = ?1"
);
