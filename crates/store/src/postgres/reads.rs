//! What PostgreSQL's reads share: binding a built query's parameters, loading the devices of a
//! page of sessions, a search's read transaction.

use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{PgConnection, Postgres};
use uuid::Uuid;

use crate::rows::{attach_devices, decode_device};
use crate::sql::{reads, Dialect, Param};
use crate::{SessionRow, StoreResult};

pub(super) fn bind_all<'q>(
    mut query: Query<'q, Postgres, PgArguments>,
    params: &'q [Param],
) -> Query<'q, Postgres, PgArguments> {
    for param in params {
        query = match param {
            Param::I64(v) => query.bind(*v),
            Param::Text(v) => query.bind(v.as_str()),
            Param::Uuid(v) => query.bind(*v),
        };
    }
    query
}

/// Loads the devices of a page of sessions on `conn` (inside a read transaction, when it has
/// one), with one query.
pub(super) async fn devices_into(conn: &mut PgConnection, mut rows: Vec<SessionRow>) -> StoreResult<Vec<SessionRow>> {
    if rows.is_empty() {
        return Ok(rows);
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.session.id).collect();
    let devices = sqlx::query(&reads::devices_of_sessions(Dialect::Postgres, ids.len()))
        .bind(&ids)
        .fetch_all(&mut *conn)
        .await?;
    let devices = devices.iter().map(decode_device).collect::<StoreResult<Vec<_>>>()?;
    attach_devices(&mut rows, devices);
    Ok(rows)
}

crate::search::impl_search_tx!(sqlx::Postgres, bind_all, devices_into);
