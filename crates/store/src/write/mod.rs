//! The writes, written once for both backends: the same statements of [`crate::sql`], in the
//! same steps and transactions, on either database. Both backends write through sqlx, so what
//! one supplies is small ([`Backend`]): running a statement with its [`Value`]s (the same code
//! for both, [`run_statements!`]) and the one write whose binding differs.

pub(crate) mod api_keys;
pub(crate) mod identities;
pub(crate) mod idp_intents;
pub(crate) mod leases;
pub(crate) mod otp_challenges;
pub(crate) mod pending_enrolments;
pub(crate) mod sessions;
pub(crate) mod settings;
pub(crate) mod webauthn_challenges;

use std::borrow::Cow;
use std::future::Future;

use lanyard_domain::Identity;
use sqlx::query::Query;
use sqlx::{Database, Encode, Pool, Transaction, Type};
use uuid::Uuid;

use crate::rows::{self, ReadRow};
use crate::sql::{self, Dialect};
use crate::{Invalidation, StoreResult};

/// A value bound to a parameter. Each variant binds as the Rust type it holds would (`Some(v)`
/// exactly as `v`), so the database sees the same types as with direct binding.
pub(crate) enum Value<'a> {
    Int(Option<i64>),
    Int32(i32),
    Uuid(Option<Uuid>),
    Text(Option<Cow<'a, str>>),
    Bytes(Option<&'a [u8]>),
}

/// What a backend supplies to the writes.
pub(crate) trait Backend: Database<Row: ReadRow> {
    const DIALECT: Dialect;

    /// Runs `sql` with `values`; returns how many rows it changed.
    fn execute(
        conn: &mut Self::Connection,
        sql: &str,
        values: &[Value<'_>],
    ) -> impl Future<Output = StoreResult<u64>> + Send;

    /// The first row that `sql` returns, if any.
    fn fetch_optional(
        conn: &mut Self::Connection,
        sql: &str,
        values: &[Value<'_>],
    ) -> impl Future<Output = StoreResult<Option<Self::Row>>> + Send;

    /// Every row that `sql` returns.
    fn fetch_all(
        conn: &mut Self::Connection,
        sql: &str,
        values: &[Value<'_>],
    ) -> impl Future<Output = StoreResult<Vec<Self::Row>>> + Send;

    /// Gives the identity its login identifiers (its old ones are deleted already), with
    /// [`sql::identities::insert_identifiers`], whose binding differs.
    fn insert_identifiers(
        conn: &mut Self::Connection,
        identity: &Identity,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

/// [`Backend::execute`], [`Backend::fetch_optional`] and [`Backend::fetch_all`] for a sqlx
/// database: the same code for both, inside `impl Backend for <database>`.
macro_rules! run_statements {
    () => {
        async fn execute(
            conn: &mut Self::Connection,
            sql: &str,
            values: &[$crate::write::Value<'_>],
        ) -> $crate::StoreResult<u64> {
            let done = $crate::write::bind(sqlx::query(sql), values).execute(conn).await?;
            Ok(done.rows_affected())
        }

        $crate::write::run_statements!(fetch_optional -> Option<Self::Row>);
        $crate::write::run_statements!(fetch_all -> Vec<Self::Row>);
    };
    ($fetch:ident -> $rows:ty) => {
        async fn $fetch(
            conn: &mut Self::Connection,
            sql: &str,
            values: &[$crate::write::Value<'_>],
        ) -> $crate::StoreResult<$rows> {
            Ok($crate::write::bind(sqlx::query(sql), values).$fetch(conn).await?)
        }
    };
}
pub(crate) use run_statements;

/// `query` with `values` bound in order.
pub(crate) fn bind<'q, DB: Database>(
    mut query: Query<'q, DB, DB::Arguments<'q>>,
    values: &'q [Value<'_>],
) -> Query<'q, DB, DB::Arguments<'q>>
where
    Option<i64>: Encode<'q, DB> + Type<DB>,
    i32: Encode<'q, DB> + Type<DB>,
    Option<Uuid>: Encode<'q, DB> + Type<DB>,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
    Option<&'q [u8]>: Encode<'q, DB> + Type<DB>,
{
    for value in values {
        query = match value {
            Value::Int(v) => query.bind(*v),
            Value::Int32(v) => query.bind(*v),
            Value::Uuid(v) => query.bind(*v),
            Value::Text(v) => query.bind(v.as_deref()),
            Value::Bytes(v) => query.bind(*v),
        };
    }
    query
}

/// [`Backend::execute`] on a connection of `pool`, in a transaction of its own (autocommit).
pub(crate) async fn execute<DB: Backend>(pool: &Pool<DB>, sql: &str, values: &[Value<'_>]) -> StoreResult<u64> {
    DB::execute(&mut *pool.acquire().await?, sql, values).await
}

/// [`Backend::fetch_optional`] on a connection of `pool`, in a transaction of its own.
pub(crate) async fn fetch_optional<DB: Backend>(
    pool: &Pool<DB>,
    sql: &str,
    values: &[Value<'_>],
) -> StoreResult<Option<DB::Row>> {
    DB::fetch_optional(&mut *pool.acquire().await?, sql, values).await
}

/// A write transaction that took the next session sequence first, as every write that changes
/// what whoami answers does: one lock order (the counter, then rows), so no deadlocks (a delete
/// cascading to sessions against a revocation of them, say). Dropped without
/// [`Sequenced::commit`], it rolls back, which also returns the number.
pub(crate) struct Sequenced<DB: Database> {
    tx: Transaction<'static, DB>,
    pub(crate) sequence: i64,
}

impl<DB: Backend> Sequenced<DB> {
    pub(crate) async fn begin(pool: &Pool<DB>) -> StoreResult<Self> {
        let mut tx = pool.begin().await?;
        let row = DB::fetch_optional(&mut tx, sql::sessions::NEXT_SEQUENCE, &[])
            .await?
            .ok_or(sqlx::Error::RowNotFound)?;
        let sequence = rows::int(&row, 0)?;
        Ok(Sequenced { tx, sequence })
    }

    pub(crate) fn conn(&mut self) -> &mut DB::Connection {
        &mut self.tx
    }

    /// Records `change` in the change feed under this transaction's sequence, and commits.
    pub(crate) async fn commit(mut self, change: Invalidation) -> StoreResult<()> {
        crate::changes::record::<DB>(&mut self.tx, self.sequence, change).await?;
        self.tx.commit().await?;
        Ok(())
    }
}

/// The ids in the first column of `rows` (a `RETURNING id`).
pub(crate) fn ids<R: ReadRow>(rows: &[R]) -> StoreResult<Vec<Uuid>> {
    rows.iter().map(|row| rows::uuid(row, 0)).collect()
}

/// `Value::from` for each Rust type the stores bind.
macro_rules! value_from {
    ($lt:lifetime: $($ty:ty => $value:expr),* $(,)?) => {
        $(
            impl<$lt> From<$ty> for Value<$lt> {
                fn from(v: $ty) -> Self {
                    $value(v)
                }
            }
        )*
    };
}

value_from!('a:
    i64 => |v| Value::Int(Some(v)),
    Option<i64> => Value::Int,
    i32 => Value::Int32,
    Uuid => |v| Value::Uuid(Some(v)),
    Option<Uuid> => Value::Uuid,
    &'a str => |v| Value::Text(Some(Cow::Borrowed(v))),
    String => |v| Value::Text(Some(Cow::Owned(v))),
    Option<&'a str> => |v: Option<&'a str>| Value::Text(v.map(Cow::Borrowed)),
    Option<String> => |v: Option<String>| Value::Text(v.map(Cow::Owned)),
    &'a [u8] => |v| Value::Bytes(Some(v)),
    Option<&'a [u8]> => Value::Bytes,
);
