//! What only the SQLite store does: its planner statistics.

use std::sync::Arc;

use lanyard_store::{SqliteOptions, SqliteStore, Store};
use sqlx::{ConnectOptions, SqliteConnection};

use crate::common::*;

async fn count(connection: &mut SqliteConnection, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(connection)
        .await
        .expect("count")
}

/// With `sqlite_stat4` samples SQLite re-prepares lookups by digest or id on every call, so
/// migrating (done at every start) keeps `sqlite_stat1` and drops the samples, even those an
/// operator's plain `ANALYZE` wrote.
#[tokio::test]
async fn sqlite_start_keeps_table_statistics_but_drops_value_samples() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("db.sqlite");
    let store = Arc::new(
        SqliteStore::open_and_migrate(&SqliteOptions::new(&path))
            .await
            .expect("open and migrate SQLite"),
    );
    for n in 0..50 {
        insert(store.as_ref() as &dyn Store, session(None, at(-n * MINUTE))).await;
    }
    let mut operator = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .connect()
        .await
        .expect("second connection");
    sqlx::query("ANALYZE").execute(&mut operator).await.expect("ANALYZE");
    assert!(
        count(&mut operator, "sqlite_stat4").await > 0,
        "ANALYZE wrote no samples"
    );

    store.migrate().await.expect("migrate again");
    assert_eq!(count(&mut operator, "sqlite_stat4").await, 0);
    assert!(count(&mut operator, "sqlite_stat1").await > 0);
}
