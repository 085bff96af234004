//! Migrations that carry data over, checked on a file migrated in two steps: the schema before
//! the migration, rows written through the store of that time, then the rest.

use std::borrow::Cow;
use std::collections::BTreeMap;

use lanyard_domain::{
    Identity, IdentityState, Micros, Session, SessionFilter, SessionPage, SessionQuery, SessionSort, TokenDigest,
};
use serde_json::json;
use sqlx::migrate::Migrator;
use uuid::Uuid;

use crate::sqlite::{SqliteOptions, SqliteStore, MIGRATOR};
use crate::Store;

const NOW: Micros = Micros(1_800_000_000_000_000);

fn identity(state: IdentityState) -> Identity {
    Identity {
        id: Uuid::now_v7(),
        schema_id: "default".to_owned(),
        traits: json!({}),
        state,
        state_changed_at: None,
        metadata_public: None,
        metadata_admin: None,
        organization_id: None,
        external_id: None,
        identifiers: Vec::new(),
        credentials: BTreeMap::new(),
        created_at: NOW,
        updated_at: NOW,
    }
}

fn session(identity_id: Uuid) -> Session {
    Session {
        id: Uuid::now_v7(),
        identity_id: Some(identity_id),
        created_at: NOW,
        changed_at: NOW,
        authenticated_at: NOW,
        expires_at: None,
        revoked_at: None,
        user_checked_at: Some(NOW),
        factors: Vec::new(),
        devices: Vec::new(),
        metadata: BTreeMap::new(),
        creator: None,
        sequence: 0,
    }
}

/// The migrations up to (not including) `version`.
fn migrations_before(version: i64) -> Migrator {
    Migrator {
        migrations: Cow::Owned(
            MIGRATOR
                .migrations
                .iter()
                .filter(|m| m.version < version)
                .cloned()
                .collect(),
        ),
        ..Migrator::DEFAULT
    }
}

async fn listed(store: &SqliteStore, active: bool) -> Vec<Uuid> {
    let query = SessionQuery {
        filter: SessionFilter {
            active: Some(active),
            ..Default::default()
        },
        sort: SessionSort::CreatedDesc,
        page: SessionPage::Keyset { after: None, size: 100 },
        with_devices: false,
    };
    let mut ids: Vec<Uuid> = store
        .list_sessions(&query, NOW)
        .await
        .expect("list sessions")
        .iter()
        .map(|row| row.session.id)
        .collect();
    ids.sort();
    ids
}

/// 0020 gives each session row its identity's state (`identity_not_active`), which the list
/// query trusts: a session of an identity deactivated before the migration must still list as
/// inactive after it, and one of an active identity as active.
#[tokio::test]
async fn sessions_of_identities_inactive_before_0020_stay_inactive() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open(&SqliteOptions::new(dir.path().join("db.sqlite")))
        .await
        .expect("open SQLite");
    migrations_before(20).run(&store.writer).await.expect("migrate to 0019");

    let active = identity(IdentityState::Active);
    let deactivated = identity(IdentityState::Active);
    let born_inactive = identity(IdentityState::Inactive);
    for identity in [&active, &deactivated, &born_inactive] {
        store.insert_identity(identity).await.expect("insert identity");
    }
    let sessions: Vec<Session> = [active.id, deactivated.id, born_inactive.id]
        .into_iter()
        .map(session)
        .collect();
    for s in &sessions {
        store
            .insert_session(s, &TokenDigest::of(&s.id.to_string()))
            .await
            .expect("insert session");
    }
    let mut deactivated = deactivated;
    deactivated.state = IdentityState::Inactive;
    assert!(store.update_identity(&deactivated).await.expect("deactivate"));

    store.migrate().await.expect("migrate the rest");

    assert_eq!(listed(&store, true).await, vec![sessions[0].id]);
    let mut inactive = vec![sessions[1].id, sessions[2].id];
    inactive.sort();
    assert_eq!(listed(&store, false).await, inactive);
    store.close().await;
}
