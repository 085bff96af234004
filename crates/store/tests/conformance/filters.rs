//! Session filters, through both `list_sessions` and `count_sessions`.
//!
//! One fixture covers every lifecycle state: active, expired (including expiring exactly at
//! `now`), revoked, belonging to an inactive identity, and without a user.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use lanyard_domain::query::Scope;
use lanyard_domain::{DateFilter, DateMethod, Device, IdentityState, Micros, Session, SessionFilter, SessionSort};
use lanyard_store::{SessionRow, Store};
use uuid::Uuid;

use crate::common::*;

/// Creation times of the fixture, ten hours before `NOW`, a minute apart.
fn c(k: i64) -> Micros {
    at(-10 * HOUR + k * MINUTE)
}

struct Fixture {
    a: Uuid,
    b: Uuid,
    inactive: Uuid,
    sessions: BTreeMap<&'static str, Session>,
    states: HashMap<Uuid, IdentityState>,
}

const ALL: [&str; 9] = [
    "a_active",
    "a_future",
    "a_expired",
    "a_boundary",
    "a_revoked",
    "i_session",
    "b_active",
    "n_nouser",
    "n_revoked",
];

fn device(created_at: Micros, fingerprint: &str) -> Device {
    Device {
        id: Uuid::now_v7(),
        ip_address: Some("203.0.113.9".to_owned()),
        user_agent: Some("lanyard-test".to_owned()),
        location: None,
        fingerprint_id: Some(fingerprint.to_owned()),
        headers: BTreeMap::new(),
        created_at,
    }
}

async fn fixture(store: &dyn Store) -> Fixture {
    let a = insert_identity(store, identity(&["a@example.com"])).await;
    let b = insert_identity(store, identity(&["b@example.com"])).await;
    let mut inactive = identity(&["inactive@example.com"]);
    inactive.state = IdentityState::Inactive;
    let inactive = insert_identity(store, inactive).await;

    let make = |identity_id: Option<Uuid>, created: Micros, expires: Option<i64>, revoked: Option<i64>| {
        let mut s = session(identity_id, created);
        s.expires_at = expires.map(at);
        s.revoked_at = revoked.map(at);
        s
    };
    let mut specs: Vec<(&'static str, Session)> = vec![
        ("a_active", make(Some(a.id), c(1), None, None)),
        ("a_future", make(Some(a.id), c(2), Some(HOUR), None)),
        ("a_expired", make(Some(a.id), c(3), Some(-HOUR), None)),
        ("a_boundary", make(Some(a.id), c(3), Some(0), None)),
        ("a_revoked", make(Some(a.id), c(4), Some(2 * HOUR), Some(-5 * MINUTE))),
        ("i_session", make(Some(inactive.id), c(5), Some(HOUR), None)),
        ("b_active", make(Some(b.id), c(6), Some(30 * MINUTE), None)),
        ("n_nouser", make(None, c(6), Some(HOUR), None)),
        ("n_revoked", make(None, c(7), None, Some(-MINUTE))),
    ];
    for (name, s) in &mut specs {
        match *name {
            "b_active" => {
                s.creator = Some("key-1".to_owned());
                s.devices = vec![device(c(6), "fp-1"), device(plus_us(c(6), 1), "fp-2")];
            }
            "n_nouser" => {
                s.creator = Some("key-1".to_owned());
                s.devices = vec![device(c(6), "fp-1")];
            }
            "n_revoked" => s.creator = Some("key-2".to_owned()),
            "a_future" => s.creator = Some(a.id.to_string()),
            _ => {}
        }
    }
    let mut sessions = BTreeMap::new();
    for (name, s) in specs {
        sessions.insert(name, insert(store, s).await);
    }
    Fixture {
        a: a.id,
        b: b.id,
        inactive: inactive.id,
        sessions,
        states: HashMap::from([
            (a.id, IdentityState::Active),
            (b.id, IdentityState::Active),
            (inactive.id, IdentityState::Inactive),
        ]),
    }
}

fn plus_us(at: Micros, us: i64) -> Micros {
    Micros(at.0 + us)
}

fn date_matches(method: DateMethod, value: Micros, at: Micros) -> bool {
    match method {
        DateMethod::Equals => value == at,
        DateMethod::Greater => value > at,
        DateMethod::GreaterOrEquals => value >= at,
        DateMethod::Less => value < at,
        DateMethod::LessOrEquals => value <= at,
    }
}

impl Fixture {
    fn id(&self, name: &str) -> Uuid {
        self.sessions[name].id
    }

    fn state(&self, s: &Session) -> Option<IdentityState> {
        s.identity_id.map(|id| self.states[&id])
    }

    /// The expected rows for `names`, in `sort` order.
    fn rows(&self, sort: SessionSort, names: &[&str]) -> Vec<SessionRow> {
        let mut rows: Vec<SessionRow> = names
            .iter()
            .map(|name| {
                let s = &self.sessions[name];
                SessionRow {
                    session: s.clone(),
                    identity_state: self.state(s),
                }
            })
            .collect();
        rows.sort_by(|x, y| compare(sort, key(&x.session), key(&y.session)));
        rows
    }

    /// The filter semantics, written out over the fixture.
    fn model(&self, filter: &SessionFilter, now: Micros) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = ALL
            .iter()
            .copied()
            .filter(|name| {
                let s = &self.sessions[name];
                let scope = match filter.scope {
                    Scope::WithIdentity => s.identity_id.is_some(),
                    Scope::NotRevoked => {
                        s.revoked_at.is_none()
                            && (s.identity_id.is_none() || self.state(s) == Some(IdentityState::Active))
                    }
                };
                scope
                    && filter.ids.as_ref().is_none_or(|ids| ids.contains(&s.id))
                    && filter.identity_id.is_none_or(|id| s.identity_id == Some(id))
                    && filter.exclude_id.is_none_or(|id| s.id != id)
                    && filter
                        .active
                        .is_none_or(|active| s.is_active(now, self.state(s)) == active)
                    && filter
                        .created
                        .iter()
                        .all(|f| date_matches(f.method, s.created_at, f.at))
                    && filter.expires.iter().all(|f| match s.expires_at {
                        Some(expires) => date_matches(f.method, expires, f.at),
                        None => {
                            matches!(f.method, DateMethod::Greater | DateMethod::GreaterOrEquals)
                        }
                    })
                    && filter
                        .creator
                        .as_ref()
                        .is_none_or(|creator| s.creator.as_ref() == Some(creator))
                    && filter
                        .fingerprint_id
                        .as_ref()
                        .is_none_or(|fp| s.devices.first().and_then(|d| d.fingerprint_id.as_ref()) == Some(fp))
            })
            .collect();
        names.sort();
        names
    }
}

/// Asserts that `filter` at `now` selects exactly `names`: full rows in both sort orders,
/// with keyset and offset pages, and the same number from `count_sessions`.
async fn check(store: &dyn Store, fx: &Fixture, filter: &SessionFilter, now: Micros, names: &[&str]) {
    let mut wanted: Vec<&str> = names.to_vec();
    wanted.sort();
    assert_eq!(fx.model(filter, now), wanted, "model disagrees for {filter:?}");
    for sort in [SessionSort::CreatedDesc, SessionSort::CreatedAsc] {
        let expected = fx.rows(sort, names);
        assert_eq!(
            list_all(store, filter, sort, now).await,
            expected,
            "{sort:?} {filter:?}"
        );
        assert_eq!(
            ids(&walk_keyset(store, filter, sort, 2, now).await),
            ids(&expected),
            "keyset {sort:?} {filter:?}"
        );
        assert_eq!(
            ids(&walk_offset(store, filter, sort, 2, now).await),
            ids(&expected),
            "offset {sort:?} {filter:?}"
        );
    }
    assert_eq!(count(store, filter, now).await, names.len() as u64, "count {filter:?}");
}

fn with_scope(scope: Scope) -> SessionFilter {
    SessionFilter {
        scope,
        ..Default::default()
    }
}

pub async fn scope_with_identity_hides_sessions_without_identity(store: Arc<dyn Store>) {
    let store = &*store;
    let fx = fixture(store).await;
    check(
        store,
        &fx,
        &with_scope(Scope::WithIdentity),
        NOW,
        &[
            "a_active",
            "a_future",
            "a_expired",
            "a_boundary",
            "a_revoked",
            "i_session",
            "b_active",
        ],
    )
    .await;
}

pub async fn scope_not_revoked_hides_revoked_sessions(store: Arc<dyn Store>) {
    let store = &*store;
    let fx = fixture(store).await;
    check(
        store,
        &fx,
        &with_scope(Scope::NotRevoked),
        NOW,
        &[
            "a_active",
            "a_future",
            "a_expired",
            "a_boundary",
            "b_active",
            "n_nouser",
        ],
    )
    .await;
}

pub async fn active_filter_partitions_sessions_by_is_active(store: Arc<dyn Store>) {
    let store = &*store;
    let fx = fixture(store).await;
    let filter = |scope: Scope, active: bool| SessionFilter {
        scope,
        active: Some(active),
        ..Default::default()
    };

    check(
        store,
        &fx,
        &filter(Scope::WithIdentity, true),
        NOW,
        &["a_active", "a_future", "b_active"],
    )
    .await;
    check(
        store,
        &fx,
        &filter(Scope::WithIdentity, false),
        NOW,
        &["a_expired", "a_boundary", "a_revoked", "i_session"],
    )
    .await;
    check(
        store,
        &fx,
        &filter(Scope::NotRevoked, true),
        NOW,
        &["a_active", "a_future", "b_active"],
    )
    .await;
    check(
        store,
        &fx,
        &filter(Scope::NotRevoked, false),
        NOW,
        &["a_expired", "a_boundary", "n_nouser"],
    )
    .await;

    // `now` is the caller's: 45 minutes later b_active has expired, an hour later a_future.
    check(
        store,
        &fx,
        &filter(Scope::WithIdentity, true),
        at(45 * MINUTE),
        &["a_active", "a_future"],
    )
    .await;
    check(store, &fx, &filter(Scope::WithIdentity, true), at(HOUR), &["a_active"]).await;
    check(
        store,
        &fx,
        &filter(Scope::WithIdentity, false),
        at(HOUR),
        &[
            "a_future",
            "a_expired",
            "a_boundary",
            "a_revoked",
            "i_session",
            "b_active",
        ],
    )
    .await;
    // One microsecond before `a_boundary` expires it is still active.
    check(
        store,
        &fx,
        &filter(Scope::WithIdentity, true),
        at(-1),
        &["a_active", "a_future", "a_boundary", "b_active"],
    )
    .await;

    // Whatever the instant, the two halves are disjoint, cover everything, and agree with
    // `SessionRow::is_active` row by row.
    for scope in [Scope::WithIdentity, Scope::NotRevoked] {
        for now in [at(-2 * HOUR), at(-1), NOW, at(45 * MINUTE), at(3 * HOUR)] {
            let everything = ids(&list_all(store, &with_scope(scope), Default::default(), now).await);
            let mut halves = Vec::new();
            for active in [true, false] {
                let rows = list_all(store, &filter(scope, active), Default::default(), now).await;
                for row in &rows {
                    assert_eq!(row.is_active(now), active, "{scope:?} {now:?} {row:?}");
                }
                halves.extend(ids(&rows));
            }
            assert_eq!(sorted_ids(halves), sorted_ids(everything));
        }
    }
}

pub async fn active_filter_follows_identity_state_changes(store: Arc<dyn Store>) {
    let store = &*store;
    let fx = fixture(store).await;
    let active = SessionFilter {
        active: Some(true),
        ..Default::default()
    };
    let mut a = store.identity(fx.a).await.unwrap().unwrap();
    a.state = IdentityState::Inactive;
    assert!(store.update_identity(&a).await.unwrap());
    assert_eq!(
        ids(&list_all(store, &active, Default::default(), NOW).await),
        vec![fx.id("b_active")]
    );
    assert_eq!(count(store, &active, NOW).await, 1);
    assert_eq!(
        get(store, fx.id("a_active")).await.unwrap().identity_state,
        Some(IdentityState::Inactive)
    );

    a.state = IdentityState::Active;
    assert!(store.update_identity(&a).await.unwrap());
    check(store, &fx, &active, NOW, &["a_active", "a_future", "b_active"]).await;

    let mut inactive = store.identity(fx.inactive).await.unwrap().unwrap();
    inactive.state = IdentityState::Active;
    assert!(store.update_identity(&inactive).await.unwrap());
    let listed = ids(&list_all(store, &active, Default::default(), NOW).await);
    assert_eq!(
        sorted_ids(listed),
        sorted_ids(vec![
            fx.id("a_active"),
            fx.id("a_future"),
            fx.id("i_session"),
            fx.id("b_active")
        ])
    );
    assert_eq!(count(store, &active, NOW).await, 4);
}

pub async fn ids_identity_exclude_creator_and_fingerprint_filters(store: Arc<dyn Store>) {
    let store = &*store;
    let fx = fixture(store).await;
    let with = |scope: Scope, change: &dyn Fn(&mut SessionFilter)| {
        let mut filter = with_scope(scope);
        change(&mut filter);
        filter
    };
    use Scope::{NotRevoked, WithIdentity};

    // ids
    let some_ids = vec![fx.id("a_active"), fx.id("n_nouser"), fx.id("a_revoked"), Uuid::now_v7()];
    let by_ids = |scope| with(scope, &|f| f.ids = Some(some_ids.clone()));
    check(store, &fx, &by_ids(WithIdentity), NOW, &["a_active", "a_revoked"]).await;
    check(store, &fx, &by_ids(NotRevoked), NOW, &["a_active", "n_nouser"]).await;
    check(store, &fx, &with(NotRevoked, &|f| f.ids = Some(vec![])), NOW, &[]).await;

    // identity
    let of_a = with(WithIdentity, &|f| f.identity_id = Some(fx.a));
    check(
        store,
        &fx,
        &of_a,
        NOW,
        &["a_active", "a_future", "a_expired", "a_boundary", "a_revoked"],
    )
    .await;
    check(
        store,
        &fx,
        &with(NotRevoked, &|f| f.identity_id = Some(fx.a)),
        NOW,
        &["a_active", "a_future", "a_expired", "a_boundary"],
    )
    .await;
    check(
        store,
        &fx,
        &with(WithIdentity, &|f| f.identity_id = Some(fx.inactive)),
        NOW,
        &["i_session"],
    )
    .await;
    check(
        store,
        &fx,
        &with(WithIdentity, &|f| f.identity_id = Some(Uuid::now_v7())),
        NOW,
        &[],
    )
    .await;

    // exclude
    let a_future = fx.id("a_future");
    check(
        store,
        &fx,
        &with(WithIdentity, &|f| {
            f.identity_id = Some(fx.a);
            f.exclude_id = Some(a_future);
        }),
        NOW,
        &["a_active", "a_expired", "a_boundary", "a_revoked"],
    )
    .await;
    check(
        store,
        &fx,
        &with(WithIdentity, &|f| {
            f.identity_id = Some(fx.a);
            f.active = Some(true);
            f.exclude_id = Some(a_future);
        }),
        NOW,
        &["a_active"],
    )
    .await;
    let n_nouser = fx.id("n_nouser");
    check(
        store,
        &fx,
        &with(NotRevoked, &|f| f.exclude_id = Some(n_nouser)),
        NOW,
        &["a_active", "a_future", "a_expired", "a_boundary", "b_active"],
    )
    .await;

    // creator
    check(
        store,
        &fx,
        &with(NotRevoked, &|f| f.creator = Some("key-1".into())),
        NOW,
        &["b_active", "n_nouser"],
    )
    .await;
    check(
        store,
        &fx,
        &with(WithIdentity, &|f| f.creator = Some("key-1".into())),
        NOW,
        &["b_active"],
    )
    .await;
    let a_text = fx.a.to_string();
    check(
        store,
        &fx,
        &with(WithIdentity, &|f| f.creator = Some(a_text.clone())),
        NOW,
        &["a_future"],
    )
    .await;
    check(
        store,
        &fx,
        &with(NotRevoked, &|f| f.creator = Some("key-2".into())),
        NOW,
        &[],
    )
    .await;
    check(
        store,
        &fx,
        &with(NotRevoked, &|f| f.creator = Some("KEY-1".into())),
        NOW,
        &[],
    )
    .await;

    // fingerprint: the first device's
    check(
        store,
        &fx,
        &with(NotRevoked, &|f| f.fingerprint_id = Some("fp-1".into())),
        NOW,
        &["b_active", "n_nouser"],
    )
    .await;
    check(
        store,
        &fx,
        &with(NotRevoked, &|f| f.fingerprint_id = Some("fp-2".into())),
        NOW,
        &[],
    )
    .await;
    check(
        store,
        &fx,
        &with(WithIdentity, &|f| {
            f.fingerprint_id = Some("fp-1".into());
            f.identity_id = Some(fx.b);
            f.creator = Some("key-1".into());
            f.active = Some(true);
        }),
        NOW,
        &["b_active"],
    )
    .await;
}

pub async fn created_filters_with_every_date_method(store: Arc<dyn Store>) {
    let store = &*store;
    let fx = fixture(store).await;
    let created = |scope: Scope, filters: &[(DateMethod, Micros)]| SessionFilter {
        scope,
        created: filters
            .iter()
            .map(|(method, at)| DateFilter {
                method: *method,
                at: *at,
            })
            .collect(),
        ..Default::default()
    };
    use DateMethod::*;
    use Scope::{NotRevoked, WithIdentity};

    let cases: Vec<(SessionFilter, Vec<&str>)> = vec![
        (
            created(WithIdentity, &[(Equals, c(3))]),
            vec!["a_expired", "a_boundary"],
        ),
        (created(WithIdentity, &[(Less, c(3))]), vec!["a_active", "a_future"]),
        (
            created(WithIdentity, &[(LessOrEquals, c(3))]),
            vec!["a_active", "a_future", "a_expired", "a_boundary"],
        ),
        (
            created(WithIdentity, &[(Greater, c(3))]),
            vec!["a_revoked", "i_session", "b_active"],
        ),
        (
            created(WithIdentity, &[(GreaterOrEquals, c(3))]),
            vec!["a_expired", "a_boundary", "a_revoked", "i_session", "b_active"],
        ),
        (created(NotRevoked, &[(Equals, c(6))]), vec!["b_active", "n_nouser"]),
        (
            created(NotRevoked, &[(GreaterOrEquals, c(6))]),
            vec!["b_active", "n_nouser"],
        ),
        (created(NotRevoked, &[(Greater, c(6))]), vec![]),
        // One microsecond off the stored value matches nothing: no rounding anywhere.
        (created(WithIdentity, &[(Equals, plus_us(c(3), 1))]), vec![]),
        (
            created(WithIdentity, &[(Less, plus_us(c(3), 1))]),
            vec!["a_active", "a_future", "a_expired", "a_boundary"],
        ),
        (
            created(WithIdentity, &[(Greater, plus_us(c(3), -1))]),
            vec!["a_expired", "a_boundary", "a_revoked", "i_session", "b_active"],
        ),
        // Several filters all apply.
        (
            created(WithIdentity, &[(Greater, c(1)), (LessOrEquals, c(4))]),
            vec!["a_future", "a_expired", "a_boundary", "a_revoked"],
        ),
        (created(WithIdentity, &[(GreaterOrEquals, c(5)), (Less, c(2))]), vec![]),
    ];
    for (filter, names) in cases {
        check(store, &fx, &filter, NOW, &names).await;
    }
}

pub async fn expires_filters_treat_no_expiry_as_later_than_any_date(store: Arc<dyn Store>) {
    let store = &*store;
    let fx = fixture(store).await;
    let expires = |scope: Scope, filters: &[(DateMethod, i64)]| SessionFilter {
        scope,
        expires: filters
            .iter()
            .map(|(method, offset)| DateFilter {
                method: *method,
                at: at(*offset),
            })
            .collect(),
        ..Default::default()
    };
    use DateMethod::*;
    use Scope::{NotRevoked, WithIdentity};

    // Expiry times: a_active never, a_future +1h, a_expired -1h, a_boundary 0, a_revoked +2h,
    // i_session +1h, b_active +30m, n_nouser +1h, n_revoked never.
    let cases: Vec<(SessionFilter, Vec<&str>)> = vec![
        (expires(WithIdentity, &[(Equals, HOUR)]), vec!["a_future", "i_session"]),
        (expires(WithIdentity, &[(Greater, HOUR)]), vec!["a_active", "a_revoked"]),
        (
            expires(WithIdentity, &[(GreaterOrEquals, HOUR)]),
            vec!["a_active", "a_future", "a_revoked", "i_session"],
        ),
        (
            expires(WithIdentity, &[(Less, HOUR)]),
            vec!["a_expired", "a_boundary", "b_active"],
        ),
        (
            expires(WithIdentity, &[(LessOrEquals, HOUR)]),
            vec!["a_expired", "a_boundary", "b_active", "a_future", "i_session"],
        ),
        (
            expires(NotRevoked, &[(GreaterOrEquals, HOUR)]),
            vec!["a_active", "a_future", "n_nouser"],
        ),
        (expires(NotRevoked, &[(Greater, 100 * HOUR)]), vec!["a_active"]),
        (expires(NotRevoked, &[(Less, -100 * HOUR)]), vec![]),
        (expires(WithIdentity, &[(Equals, 0)]), vec!["a_boundary"]),
        // "Not expired at NOW" and "expired at NOW" as date filters.
        (
            expires(WithIdentity, &[(Greater, 0)]),
            vec!["a_active", "a_future", "a_revoked", "i_session", "b_active"],
        ),
        (
            expires(WithIdentity, &[(LessOrEquals, 0)]),
            vec!["a_expired", "a_boundary"],
        ),
        (expires(WithIdentity, &[(Greater, 0), (Less, HOUR)]), vec!["b_active"]),
    ];
    for (filter, names) in cases {
        check(store, &fx, &filter, NOW, &names).await;
    }
}

pub async fn every_filter_combination_matches_the_model_and_count(store: Arc<dyn Store>) {
    let store = &*store;
    let fx = fixture(store).await;
    let date = |method, at| DateFilter { method, at };
    let identities = [None, Some(fx.a), Some(fx.inactive), Some(fx.b)];
    let created_sets = [
        vec![],
        vec![date(DateMethod::GreaterOrEquals, c(3))],
        vec![date(DateMethod::Greater, c(3)), date(DateMethod::LessOrEquals, c(6))],
    ];
    let expires_sets = [
        vec![],
        vec![date(DateMethod::Greater, NOW)],
        vec![date(DateMethod::LessOrEquals, at(HOUR))],
    ];
    let extras: [&dyn Fn(&mut SessionFilter); 4] = [
        &|_| {},
        &|f| f.exclude_id = Some(fx.id("a_future")),
        &|f| f.fingerprint_id = Some("fp-1".to_owned()),
        &|f| {
            f.ids = Some(vec![
                fx.id("a_active"),
                fx.id("n_nouser"),
                fx.id("b_active"),
                fx.id("a_revoked"),
            ])
        },
    ];
    let mut checked = 0;
    let mut non_empty = 0;
    for scope in [Scope::WithIdentity, Scope::NotRevoked] {
        for active in [None, Some(true), Some(false)] {
            for identity_id in identities {
                for creator in [None, Some("key-1".to_owned())] {
                    for created in &created_sets {
                        for expires in &expires_sets {
                            for extra in &extras {
                                for now in [NOW, at(45 * MINUTE)] {
                                    let mut filter = SessionFilter {
                                        scope,
                                        active,
                                        identity_id,
                                        creator: creator.clone(),
                                        created: created.clone(),
                                        expires: expires.clone(),
                                        ..Default::default()
                                    };
                                    extra(&mut filter);
                                    let expected: Vec<Uuid> = fx
                                        .rows(SessionSort::CreatedDesc, &fx.model(&filter, now))
                                        .iter()
                                        .map(|r| r.session.id)
                                        .collect();
                                    let listed = ids(&list_all(store, &filter, SessionSort::CreatedDesc, now).await);
                                    assert_eq!(listed, expected, "{filter:?} at {now:?}");
                                    assert_eq!(
                                        count(store, &filter, now).await,
                                        expected.len() as u64,
                                        "count {filter:?} at {now:?}"
                                    );
                                    checked += 1;
                                    non_empty += usize::from(!expected.is_empty());
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    assert_eq!(checked, 2 * 3 * 4 * 2 * 3 * 3 * 4 * 2);
    assert!(non_empty > checked / 10, "the combinations must select something");
}

/// A session inserted while its identity is being deactivated (or reactivated) ends up with
/// the state the identity has once both have committed: the list's `active` filter reads the
/// identity's state from the session row on both stores (`identity_not_active`), which the
/// triggers must keep right whichever of the two writes commits first.
pub async fn sessions_inserted_during_a_state_change_follow_the_final_state(store: Arc<dyn Store>) {
    for round in 0..20 {
        // Even rounds deactivate an active identity, odd rounds reactivate an inactive one.
        let deactivating = round % 2 == 0;
        let mut owner = identity(&[&format!("race-{round}@example.com")]);
        if !deactivating {
            owner.state = IdentityState::Inactive;
        }
        let mut owner = insert_identity(&*store, owner).await;
        owner.state = if deactivating {
            IdentityState::Inactive
        } else {
            IdentityState::Active
        };
        let owner_id = owner.id;
        let writer = {
            let store = store.clone();
            tokio::spawn(async move {
                for k in 0..8 {
                    let s = session(Some(owner_id), at(-HOUR + k));
                    store
                        .insert_session(&s, &token_for(s.id))
                        .await
                        .expect("insert session");
                }
            })
        };
        let changer = {
            let store = store.clone();
            tokio::spawn(async move { store.update_identity(&owner).await.expect("change state") })
        };
        writer.await.unwrap();
        assert!(changer.await.unwrap());

        let (expect_active, expect_inactive) = if deactivating { (0, 8) } else { (8, 0) };
        for (active, expected) in [(true, expect_active), (false, expect_inactive)] {
            let filter = SessionFilter {
                active: Some(active),
                identity_id: Some(owner_id),
                ..Default::default()
            };
            let listed = list_all(&*store, &filter, SessionSort::CreatedDesc, NOW).await.len();
            assert_eq!(listed, expected, "round {round}, active = {active}");
        }
    }
}
