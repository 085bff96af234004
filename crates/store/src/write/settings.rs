//! Settings: written once, then read by every node.

use sqlx::Pool;

use super::Backend;
use crate::rows;
use crate::sql::settings as sql;
use crate::StoreResult;

/// Stores `value` under `name` unless a value is already there; returns the stored value.
pub(crate) async fn value_or_insert<DB: Backend>(pool: &Pool<DB>, name: &str, value: &str) -> StoreResult<String> {
    // Under READ COMMITTED (PostgreSQL) the insert waits for a concurrent insert of the same
    // name to commit, and the next statement then sees the winner's value.
    super::execute(pool, sql::insert(DB::DIALECT), &[name.into(), value.into()]).await?;
    let row = super::fetch_optional(pool, sql::value(DB::DIALECT), &[name.into()])
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    Ok(rows::text(&row, 0)?.to_owned())
}
