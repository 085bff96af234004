//! What SQLite's reads share. Each read is one job on the read pool ([`super::read_pool`]),
//! which runs its statements with these, decodes the rows and hands back the result.

use std::future::Future;
use std::task::{Context, Poll, Waker};

use lanyard_domain::Identity;
use rusqlite::{Connection, Params, Row, ToSql};
use uuid::Uuid;

use super::SqliteStore;
use crate::rows::{attach_devices, decode_device, decode_identity, decode_session};
use crate::sql::reads::{self, SQLITE_IDS_PER_STATEMENT};
use crate::sql::{BuiltQuery, Dialect, Param, TimeCells};
use crate::{SessionRow, StoreError, StoreResult};

const SQLITE: Dialect = Dialect::Sqlite;

impl ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Param::I64(v) => v.to_sql(),
            Param::Text(v) => v.to_sql(),
            Param::Uuid(v) => v.to_sql(),
        }
    }
}

/// The rows of `sql`, each decoded by `decode`.
pub(super) fn all<T>(
    connection: &Connection,
    sql: &str,
    params: impl Params,
    mut decode: impl FnMut(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let mut statement = connection.prepare_cached(sql)?;
    let mut rows = statement.query(params)?;
    let mut found = Vec::new();
    while let Some(row) = rows.next()? {
        found.push(decode(row)?);
    }
    Ok(found)
}

/// The first row of `sql`, decoded by `decode`.
fn first<T>(
    connection: &Connection,
    sql: &str,
    params: impl Params,
    decode: impl FnOnce(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let mut statement = connection.prepare_cached(sql)?;
    let mut rows = statement.query(params)?;
    rows.next()?.map(decode).transpose()
}

pub(super) fn built(connection: &Connection, query: &BuiltQuery) -> StoreResult<Vec<SessionRow>> {
    all(
        connection,
        &query.sql,
        rusqlite::params_from_iter(&query.params),
        |row| decode_session(row),
    )
}

pub(super) fn count(connection: &Connection, query: &BuiltQuery) -> StoreResult<u64> {
    let count = first(
        connection,
        &query.sql,
        rusqlite::params_from_iter(&query.params),
        |row| Ok(row.get::<_, i64>(0)?),
    )?;
    Ok(count.map_or(0, |n| u64::try_from(n).unwrap_or(0)))
}

pub(super) fn sequence(connection: &Connection) -> StoreResult<i64> {
    first(connection, reads::CURRENT_SEQUENCE, [], |row| Ok(row.get(0)?))?
        .ok_or_else(|| StoreError::Corrupt("the session sequence counter is missing".into()))
}

/// Loads the devices of `rows`, in chunks of ids.
pub(super) fn with_devices(connection: &Connection, mut rows: Vec<SessionRow>) -> StoreResult<Vec<SessionRow>> {
    let mut devices = Vec::new();
    for chunk in rows.chunks(SQLITE_IDS_PER_STATEMENT) {
        let ids = chunk.iter().map(|row| row.session.id);
        let sql = reads::devices_of_sessions(SQLITE, chunk.len());
        devices.extend(all(connection, &sql, rusqlite::params_from_iter(ids), |row| {
            decode_device(row)
        })?);
    }
    attach_devices(&mut rows, devices);
    Ok(rows)
}

pub(super) fn identities_by_ids(connection: &Connection, ids: &[Uuid]) -> StoreResult<Vec<Identity>> {
    let mut found = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(SQLITE_IDS_PER_STATEMENT) {
        let sql = reads::identities_by_ids(SQLITE, chunk.len());
        found.extend(all(connection, &sql, rusqlite::params_from_iter(chunk), |row| {
            decode_identity(row)
        })?);
    }
    Ok(found)
}

/// A search's read transaction on the read pool (see [`crate::search`]).
pub(super) struct SearchTx<'c>(pub(super) &'c mut Connection);

#[async_trait::async_trait]
impl crate::search::ReadTx for SearchTx<'_> {
    async fn count(&mut self, query: &BuiltQuery) -> StoreResult<u64> {
        count(self.0, query)
    }

    async fn cells(&mut self, query: &BuiltQuery) -> StoreResult<Vec<TimeCells>> {
        all(self.0, &query.sql, rusqlite::params_from_iter(&query.params), |row| {
            Ok(TimeCells {
                index: row.get(0)?,
                possible: u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0),
                all: u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
            })
        })
    }

    async fn sessions(&mut self, query: &BuiltQuery, with_devices: bool) -> StoreResult<Vec<SessionRow>> {
        let rows = built(self.0, query)?;
        if with_devices {
            return self::with_devices(self.0, rows);
        }
        Ok(rows)
    }

    async fn sequence(&mut self) -> StoreResult<i64> {
        sequence(self.0)
    }
}

/// The output of a future that is ready when first polled: the search runs on [`SearchTx`],
/// whose reads are synchronous, so it never waits.
pub(super) fn ready<T>(future: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => Err(StoreError::Corrupt("a synchronous read was not ready".into())),
    }
}

impl SqliteStore {
    /// The first row of `sql` with the one parameter `key`, decoded, read on the read pool.
    pub(super) async fn read_first<K, T>(
        &self,
        sql: &'static str,
        key: K,
        decode: fn(&Row<'_>) -> StoreResult<T>,
    ) -> StoreResult<Option<T>>
    where
        K: ToSql + Send + 'static,
        T: Send + 'static,
    {
        self.reader
            .read(move |connection| first(connection, sql, [key], decode))
            .await
    }

    /// The session that `sql` reads with the one parameter `key`, with its devices.
    pub(super) async fn read_session<K>(&self, sql: &'static str, key: K) -> StoreResult<Option<SessionRow>>
    where
        K: ToSql + Send + 'static,
    {
        self.reader
            .read(move |connection| {
                let row = first(connection, sql, [key], |row| decode_session(row))?;
                Ok(with_devices(connection, row.into_iter().collect())?.pop())
            })
            .await
    }
}
