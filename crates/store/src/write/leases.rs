//! Leases: how nodes sharing the database take turns at work one node does at a time.

use lanyard_domain::Micros;
use sqlx::Pool;

use super::Backend;
use crate::sql::leases as sql;
use crate::StoreResult;

/// Takes or renews the lease `name` for `holder` until `now + ttl`; `false` while another
/// holder's lease runs, i.e. until `now` reaches its expiry.
pub(crate) async fn acquire<DB: Backend>(
    pool: &Pool<DB>,
    name: &str,
    holder: &str,
    ttl: time::Duration,
    now: Micros,
) -> StoreResult<bool> {
    let expires = now
        .0
        .saturating_add(i64::try_from(ttl.whole_microseconds()).unwrap_or(i64::MAX));
    let values = [name.into(), holder.into(), expires.into(), now.0.into()];
    let row = super::fetch_optional(pool, sql::acquire(DB::DIALECT), &values).await?;
    Ok(row.is_some())
}

/// Gives up the lease `name` if `holder` holds it (expired or not); returns whether it did.
pub(crate) async fn release<DB: Backend>(pool: &Pool<DB>, name: &str, holder: &str) -> StoreResult<bool> {
    let done = super::execute(pool, sql::release(DB::DIALECT), &[name.into(), holder.into()]).await?;
    Ok(done > 0)
}
