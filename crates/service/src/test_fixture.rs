//! A service over a real SQLite file in a temporary directory, with a clock the test moves:
//! the fixture of the service's unit tests.

use std::sync::Arc;

use lanyard_domain::PageTokenKeys;
use lanyard_store::{SqliteOptions, SqliteStore, Store};
use time::macros::datetime;

use crate::{Lanyard, ManualClock, SchemaRegistry, Settings};

pub(crate) struct Fixture {
    pub service: Arc<Lanyard>,
    pub clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

/// The service on a fresh, migrated database; its clock reads 2024-05-01 12:00:10 UTC.
pub(crate) async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_and_migrate(&SqliteOptions::new(dir.path().join("service.db")))
        .await
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    let clock = Arc::new(ManualClock::new(datetime!(2024-05-01 12:00:10 UTC)));
    let keys = PageTokenKeys::new(vec![b"service-tests".to_vec()]).unwrap();
    let service = Arc::new(Lanyard::new(
        store,
        clock.clone(),
        Settings::default(),
        SchemaRegistry::builtin(),
        keys,
    ));
    Fixture {
        service,
        clock,
        _dir: dir,
    }
}
