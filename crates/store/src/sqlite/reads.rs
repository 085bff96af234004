//! Every SQLite read, run on the read pool ([`super::read_pool`]): one job per read, which
//! runs its statements, decodes the rows and hands back the result.

use std::future::Future;
use std::task::{Context, Poll, Waker};

use lanyard_domain::{Identity, Micros, SessionFilter, SessionQuery, TokenDigest};
use rusqlite::{Connection, Params, Row, ToSql};
use uuid::Uuid;

use super::SqliteStore;
use crate::rows::{
    attach_devices, decode_api_key, decode_device, decode_identity, decode_session, decode_session_view,
};
use crate::sql::reads::{self, SQLITE_IDS_PER_STATEMENT};
use crate::sql::{self, BuiltQuery, Dialect, HourCells, Param};
use crate::{Change, IdentityFilter, SearchPage, SessionRow, StoreError, StoreResult};

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
fn all<T>(
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

fn built(connection: &Connection, query: &BuiltQuery) -> StoreResult<Vec<SessionRow>> {
    all(
        connection,
        &query.sql,
        rusqlite::params_from_iter(&query.params),
        |row| decode_session(row),
    )
}

fn count(connection: &Connection, query: &BuiltQuery) -> StoreResult<u64> {
    let count = first(
        connection,
        &query.sql,
        rusqlite::params_from_iter(&query.params),
        |row| Ok(row.get::<_, i64>(0)?),
    )?;
    Ok(count.map_or(0, |n| u64::try_from(n).unwrap_or(0)))
}

fn sequence(connection: &Connection) -> StoreResult<i64> {
    first(connection, reads::CURRENT_SEQUENCE, [], |row| Ok(row.get(0)?))?
        .ok_or_else(|| StoreError::Corrupt("the session sequence counter is missing".into()))
}

/// Loads the devices of `rows`, in chunks of ids.
fn with_devices(connection: &Connection, mut rows: Vec<SessionRow>) -> StoreResult<Vec<SessionRow>> {
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

fn identities_by_ids(connection: &Connection, ids: &[Uuid]) -> StoreResult<Vec<Identity>> {
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
struct SearchTx<'c>(&'c mut Connection);

#[async_trait::async_trait]
impl crate::search::ReadTx for SearchTx<'_> {
    async fn count(&mut self, query: &BuiltQuery) -> StoreResult<u64> {
        count(self.0, query)
    }

    async fn hours(&mut self, query: &BuiltQuery) -> StoreResult<Vec<HourCells>> {
        all(self.0, &query.sql, rusqlite::params_from_iter(&query.params), |row| {
            Ok(HourCells {
                hour: row.get(0)?,
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
fn ready<T>(future: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => Err(StoreError::Corrupt("a synchronous read was not ready".into())),
    }
}

impl SqliteStore {
    pub(super) async fn ping_reader(&self) -> StoreResult<()> {
        self.reader
            .read(|connection| Ok(connection.query_row("SELECT 1", [], |_| Ok(()))?))
            .await
    }

    pub(super) async fn read_current_sequence(&self) -> StoreResult<i64> {
        self.reader.read(|connection| sequence(connection)).await
    }

    pub(super) async fn read_session_by_digest(&self, digest: &TokenDigest) -> StoreResult<Option<SessionRow>> {
        let digest = digest.0;
        self.reader
            .read(move |connection| {
                let row = first(connection, reads::session_by_digest(SQLITE), [&digest[..]], |row| {
                    decode_session(row)
                })?;
                Ok(with_devices(connection, row.into_iter().collect())?.pop())
            })
            .await
    }

    pub(super) async fn read_session_view(
        &self,
        digest: &TokenDigest,
    ) -> StoreResult<Option<(SessionRow, Option<Identity>)>> {
        let digest = digest.0;
        self.reader
            .read(move |connection| {
                first(connection, sql::session_view_by_digest(SQLITE), [&digest[..]], |row| {
                    decode_session_view(row)
                })
            })
            .await
    }

    pub(super) async fn read_session(&self, id: Uuid) -> StoreResult<Option<SessionRow>> {
        self.reader
            .read(move |connection| {
                let row = first(connection, reads::session_by_id(SQLITE), [id], |row| {
                    decode_session(row)
                })?;
                Ok(with_devices(connection, row.into_iter().collect())?.pop())
            })
            .await
    }

    pub(super) async fn read_sessions(&self, query: &SessionQuery, now: Micros) -> StoreResult<Vec<SessionRow>> {
        let built_query = sql::list_sessions(SQLITE, query, now);
        let devices = query.with_devices;
        self.reader
            .read(move |connection| {
                let rows = built(connection, &built_query)?;
                if devices {
                    return with_devices(connection, rows);
                }
                Ok(rows)
            })
            .await
    }

    pub(super) async fn read_session_count(&self, filter: &SessionFilter, now: Micros) -> StoreResult<u64> {
        let query = sql::count_sessions(SQLITE, filter, now);
        self.reader.read(move |connection| count(connection, &query)).await
    }

    /// One search from one snapshot: a deferred transaction, whose first read fixes the WAL
    /// snapshot that every later statement in it sees.
    pub(super) async fn read_search(&self, query: &SessionQuery, now: Micros) -> StoreResult<SearchPage> {
        let query = query.clone();
        self.reader
            .read(move |connection| {
                connection.execute_batch("BEGIN DEFERRED")?;
                let page = ready(crate::search::search(&mut SearchTx(connection), SQLITE, &query, now));
                // A read-only transaction has nothing to keep: ending it either way is the same.
                let ended = connection.execute_batch(if page.is_ok() { "COMMIT" } else { "ROLLBACK" });
                let page = page?;
                ended?;
                Ok(page)
            })
            .await
    }

    pub(super) async fn read_identity(&self, id: Uuid) -> StoreResult<Option<Identity>> {
        self.reader
            .read(move |connection| {
                first(connection, reads::identity_by_id(SQLITE), [id], |row| {
                    decode_identity(row)
                })
            })
            .await
    }

    pub(super) async fn read_identities_by_ids(&self, ids: &[Uuid]) -> StoreResult<Vec<Identity>> {
        let ids = ids.to_vec();
        self.reader
            .read(move |connection| identities_by_ids(connection, &ids))
            .await
    }

    pub(super) async fn read_identity_by_identifier(&self, identifier: &str) -> StoreResult<Option<Identity>> {
        let identifier = identifier.to_lowercase();
        self.reader
            .read(move |connection| {
                first(connection, reads::identity_by_identifier(SQLITE), [identifier], |row| {
                    decode_identity(row)
                })
            })
            .await
    }

    pub(super) async fn read_identity_by_external_id(&self, external_id: &str) -> StoreResult<Option<Identity>> {
        let external_id = external_id.to_owned();
        self.reader
            .read(move |connection| {
                first(
                    connection,
                    reads::identity_by_external_id(SQLITE),
                    [external_id],
                    |row| decode_identity(row),
                )
            })
            .await
    }

    pub(super) async fn read_identities(
        &self,
        filter: &IdentityFilter,
        after: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<Identity>> {
        let filter = filter.clone();
        let after = after.unwrap_or(Uuid::nil());
        let limit = i64::from(limit);
        self.reader
            .read(move |connection| {
                let decode = |row: &Row<'_>| decode_identity(row);
                match filter {
                    IdentityFilter::All => all(
                        connection,
                        reads::identities_after(SQLITE),
                        rusqlite::params![after, limit],
                        decode,
                    ),
                    IdentityFilter::Organization(organization) => all(
                        connection,
                        reads::identities_of_organization(SQLITE),
                        rusqlite::params![organization, after, limit],
                        decode,
                    ),
                    IdentityFilter::Identifier(identifier) => all(
                        connection,
                        reads::identities_with_identifier(SQLITE),
                        rusqlite::params![identifier.to_lowercase(), after, limit],
                        decode,
                    ),
                    IdentityFilter::IdentifierPrefix(prefix) => {
                        // Every identifier that starts with the prefix, and no other, sorts in
                        // [prefix, prefix U+10FFFF).
                        let low = prefix.to_lowercase();
                        let high = format!("{low}\u{10FFFF}");
                        all(
                            connection,
                            reads::identities_with_identifier_in(SQLITE),
                            rusqlite::params![low, high, after, limit],
                            decode,
                        )
                    }
                    IdentityFilter::Ids(ids) => {
                        let mut found = identities_by_ids(connection, &ids)?;
                        found.retain(|identity| identity.id > after);
                        found.sort_by_key(|identity| identity.id);
                        found.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
                        Ok(found)
                    }
                }
            })
            .await
    }

    pub(super) async fn read_api_key(&self, digest: &TokenDigest) -> StoreResult<Option<lanyard_domain::ApiKey>> {
        let digest = digest.0;
        self.reader
            .read(move |connection| {
                first(connection, reads::api_key_by_digest(SQLITE), [&digest[..]], |row| {
                    decode_api_key(row)
                })
            })
            .await
    }

    pub(super) async fn read_api_keys(&self) -> StoreResult<Vec<lanyard_domain::ApiKey>> {
        self.reader
            .read(|connection| all(connection, reads::api_keys(SQLITE), [], |row| decode_api_key(row)))
            .await
    }

    pub(super) async fn read_changes(&self, after: i64, limit: u32) -> StoreResult<Vec<Change>> {
        self.reader
            .read(move |connection| {
                all(
                    connection,
                    sql::changes::since(SQLITE),
                    rusqlite::params![after, i64::from(limit)],
                    |row| {
                        let kind: String = row.get(1)?;
                        Ok(Change::decode(row.get(0)?, &kind, row.get(2)?))
                    },
                )
            })
            .await
    }
}
