//! Builders and helpers shared by the conformance tests.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use lanyard_domain::{
    Credential, CredentialType, Cursor, Identity, IdentityState, Micros, Session, SessionFilter, SessionPage,
    SessionQuery, SessionSort, TokenDigest,
};
use lanyard_store::{SessionRow, Store};
use serde_json::json;
use uuid::Uuid;

/// The instant the tests call "now".
pub const NOW: Micros = Micros(1_700_000_000_000_000);
pub const SECOND: i64 = 1_000_000;
pub const MINUTE: i64 = 60 * SECOND;
pub const HOUR: i64 = 60 * MINUTE;

/// `NOW` shifted by `offset` microseconds.
pub fn at(offset: i64) -> Micros {
    Micros(NOW.0 + offset)
}

/// The token digest a test session was inserted with.
pub fn token_for(id: Uuid) -> TokenDigest {
    TokenDigest::of(&format!("token-{id}"))
}

pub fn credential(kind: CredentialType, identifiers: &[&str]) -> Credential {
    Credential {
        kind,
        identifiers: identifiers.iter().map(|i| (*i).to_owned()).collect(),
        config: json!({ "kind": kind.as_str() }),
        version: 0,
        created_at: at(-HOUR),
        updated_at: at(-HOUR),
    }
}

/// An active identity with these login identifiers (as given, not normalised), which its
/// password credential carries too.
pub fn identity(identifiers: &[&str]) -> Identity {
    let mut credentials = BTreeMap::new();
    if !identifiers.is_empty() {
        credentials.insert(
            CredentialType::Password,
            credential(CredentialType::Password, identifiers),
        );
    }
    Identity {
        id: Uuid::now_v7(),
        schema_id: "default".to_owned(),
        traits: json!({ "email": identifiers.first().copied().unwrap_or("") }),
        state: IdentityState::Active,
        state_changed_at: None,
        metadata_public: None,
        metadata_admin: None,
        organization_id: None,
        external_id: None,
        identifiers: identifiers.iter().map(|i| (*i).to_owned()).collect(),
        credentials,
        created_at: at(-HOUR),
        updated_at: at(-HOUR),
    }
}

/// How a store hands `identity` back: login identifiers lower-cased, sorted and de-duplicated
/// (`Identity::login_identifiers`), everything else exactly as written.
pub fn stored(identity: &Identity) -> Identity {
    Identity {
        identifiers: identity.login_identifiers(),
        ..identity.clone()
    }
}

/// Inserts `identity`; returns it as the store will hand it back (see [`stored`]).
pub async fn insert_identity(store: &dyn Store, identity: Identity) -> Identity {
    store.insert_identity(&identity).await.expect("insert identity");
    stored(&identity)
}

/// A bare session: no factors, devices or metadata, never expires.
pub fn session(identity_id: Option<Uuid>, created_at: Micros) -> Session {
    Session {
        id: Uuid::now_v7(),
        identity_id,
        created_at,
        changed_at: created_at,
        authenticated_at: created_at,
        expires_at: None,
        revoked_at: None,
        user_checked_at: identity_id.map(|_| created_at),
        factors: Vec::new(),
        devices: Vec::new(),
        metadata: BTreeMap::new(),
        creator: None,
        sequence: 0,
    }
}

/// Inserts `session` with the token [`token_for`] its id; returns it as stored (with its sequence).
pub async fn insert(store: &dyn Store, mut session: Session) -> Session {
    session.sequence = store
        .insert_session(&session, &token_for(session.id))
        .await
        .expect("insert session");
    session
}

pub async fn get(store: &dyn Store, id: Uuid) -> Option<SessionRow> {
    store.session(id).await.expect("read session")
}

pub fn ids(rows: &[SessionRow]) -> Vec<Uuid> {
    rows.iter().map(|r| r.session.id).collect()
}

pub fn sorted_ids(mut ids: Vec<Uuid>) -> Vec<Uuid> {
    ids.sort();
    ids
}

/// The order of two (created_at, id) keys under `sort`.
pub fn compare(sort: SessionSort, a: (Micros, Uuid), b: (Micros, Uuid)) -> Ordering {
    match sort {
        SessionSort::CreatedDesc => b.0.cmp(&a.0).then(a.1.cmp(&b.1)),
        SessionSort::CreatedAsc => a.0.cmp(&b.0).then(b.1.cmp(&a.1)),
    }
}

/// The ids of `keys` in the order `sort` defines.
pub fn in_order(sort: SessionSort, mut keys: Vec<(Micros, Uuid)>) -> Vec<Uuid> {
    keys.sort_by(|a, b| compare(sort, *a, *b));
    keys.into_iter().map(|(_, id)| id).collect()
}

pub fn key(session: &Session) -> (Micros, Uuid) {
    (session.created_at, session.id)
}

/// Everything matching `filter`, in one page big enough for any test.
pub async fn list_all(store: &dyn Store, filter: &SessionFilter, sort: SessionSort, now: Micros) -> Vec<SessionRow> {
    let rows = store
        .list_sessions(
            &SessionQuery {
                with_devices: true,
                filter: filter.clone(),
                sort,
                page: SessionPage::Keyset {
                    after: None,
                    size: 100_000,
                },
            },
            now,
        )
        .await
        .expect("list sessions");
    assert!(rows.len() < 100_000, "list_all page overflowed");
    rows
}

pub async fn count(store: &dyn Store, filter: &SessionFilter, now: Micros) -> u64 {
    store.count_sessions(filter, now).await.expect("count sessions")
}

/// One keyset page as a client sees it: at most `size` rows kept, whether more exist, and the
/// cursor for the next page.
pub struct Page {
    pub rows: Vec<SessionRow>,
    /// The `size + 1`-th row, which only says that more exist.
    pub lookahead: Option<SessionRow>,
}

impl Page {
    pub fn next_cursor(&self) -> Option<Cursor> {
        self.lookahead.as_ref()?;
        let last = &self.rows.last()?.session;
        Some(Cursor {
            created_at: last.created_at,
            id: last.id,
        })
    }
}

pub async fn keyset_page(
    store: &dyn Store,
    filter: &SessionFilter,
    sort: SessionSort,
    after: Option<Cursor>,
    size: u32,
    now: Micros,
) -> Page {
    let mut rows = store
        .list_sessions(
            &SessionQuery {
                with_devices: true,
                filter: filter.clone(),
                sort,
                page: SessionPage::Keyset { after, size },
            },
            now,
        )
        .await
        .expect("list sessions");
    assert!(
        rows.len() <= size as usize + 1,
        "a keyset page of size {size} returned {} rows",
        rows.len()
    );
    let lookahead = if rows.len() > size as usize { rows.pop() } else { None };
    Page { rows, lookahead }
}

/// Walks every keyset page of `filter` and returns all kept rows in the order received.
/// Checks that each look-ahead row is exactly the first row of the next page.
pub async fn walk_keyset(
    store: &dyn Store,
    filter: &SessionFilter,
    sort: SessionSort,
    size: u32,
    now: Micros,
) -> Vec<SessionRow> {
    let mut all = Vec::new();
    let mut page = keyset_page(store, filter, sort, None, size, now).await;
    loop {
        let next = page.next_cursor();
        let lookahead = page.lookahead.as_ref().map(|r| r.session.id);
        all.extend(page.rows);
        let Some(cursor) = next else {
            return all;
        };
        page = keyset_page(store, filter, sort, Some(cursor), size, now).await;
        assert_eq!(
            page.rows.first().map(|r| r.session.id),
            lookahead,
            "the look-ahead row must open the next page"
        );
    }
}

/// Walks every offset page of `filter` with `limit` rows each.
pub async fn walk_offset(
    store: &dyn Store,
    filter: &SessionFilter,
    sort: SessionSort,
    limit: u32,
    now: Micros,
) -> Vec<SessionRow> {
    let mut all: Vec<SessionRow> = Vec::new();
    loop {
        let rows = store
            .list_sessions(
                &SessionQuery {
                    with_devices: true,
                    filter: filter.clone(),
                    sort,
                    page: SessionPage::Offset {
                        offset: all.len() as u64,
                        limit,
                    },
                },
                now,
            )
            .await
            .expect("list sessions");
        assert!(rows.len() <= limit as usize);
        let done = rows.len() < limit as usize;
        all.extend(rows);
        if done {
            return all;
        }
    }
}
