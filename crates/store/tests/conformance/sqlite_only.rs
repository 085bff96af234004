//! What only the SQLite store does: its planner statistics, and its writer connection when the
//! file stops taking writes.

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

/// Makes files immutable (`chattr +i`: read-only even for root and through descriptors opened
/// before) until dropped.
struct Immutable(Vec<std::path::PathBuf>);

impl Immutable {
    fn set(paths: &[std::path::PathBuf]) -> Self {
        let mut guard = Immutable(Vec::new());
        for path in paths {
            let status = std::process::Command::new("chattr").arg("+i").arg(path).status();
            assert!(
                status.as_ref().is_ok_and(|s| s.success()),
                "`chattr +i {}` failed ({status:?}): this test needs root on a filesystem with \
                 immutable files (ext4, xfs, btrfs); it never skips",
                path.display()
            );
            guard.0.push(path.clone());
        }
        guard
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = std::process::Command::new("chattr").arg("-i").arg(path).status();
        }
    }
}

/// While the file refuses writes, every create fails (and is "unavailable"), none is
/// acknowledged without being in the file, and creates work again as soon as it is writable,
/// without reopening the store. With sqlx 0.8.6 alone, the third create answered Ok and was
/// never written (see `sqlite/writer_pool.rs`), and writes never resumed.
#[tokio::test]
async fn sqlite_acknowledges_no_write_the_file_refused_and_writes_resume() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("db.sqlite");
    let store = SqliteStore::open_and_migrate(&SqliteOptions::new(&path)).await.unwrap();
    insert(&store as &dyn Store, session(None, at(0))).await;

    let immutable = Immutable::set(&[path.clone(), dir.path().join("db.sqlite-wal")]);
    let mut acknowledged = Vec::new();
    for n in 1..=4 {
        let new = session(None, at(n));
        match store.insert_session(&new, &token_for(new.id)).await {
            Ok(_) => acknowledged.push(new.id),
            Err(error) => assert!(error.is_unavailable(), "create {n}: {error:?}"),
        }
    }
    drop(immutable);
    assert!(
        acknowledged.is_empty(),
        "acknowledged while read-only: {acknowledged:?}"
    );

    let after = insert(&store as &dyn Store, session(None, at(10))).await;
    store.close().await;
    let reopened = SqliteStore::open(&SqliteOptions::new(&path)).await.unwrap();
    assert!(
        reopened.session(after.id).await.unwrap().is_some(),
        "the create after recovery is in the file"
    );
}
