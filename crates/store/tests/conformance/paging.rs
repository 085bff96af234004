//! Paging: keyset pages in both sort orders, through thousands of tied timestamps and while
//! rows are inserted, and offset pages in the same order.

use std::collections::HashSet;
use std::sync::Arc;

use lanyard_domain::query::Scope;
use lanyard_domain::{Cursor, Micros, Session, SessionFilter, SessionPage, SessionQuery, SessionSort};
use lanyard_store::Store;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use uuid::Uuid;

use crate::common::*;

const SORTS: [SessionSort; 2] = [SessionSort::CreatedDesc, SessionSort::CreatedAsc];

/// A base time for paging fixtures; offsets from it are tiny so that many rows tie.
const T: Micros = Micros(1_690_000_000_123_456);

fn t(offset: i64) -> Micros {
    Micros(T.0 + offset)
}

/// Whether `row` comes strictly after `cursor` in `sort` order.
fn after(sort: SessionSort, cursor: Cursor, row: (Micros, Uuid)) -> bool {
    compare(sort, (cursor.created_at, cursor.id), row).is_lt()
}

/// What one keyset page must hold: the first `size + 1` rows of `model` after `cursor`.
fn expected_page(sort: SessionSort, model: &[(Micros, Uuid)], cursor: Option<Cursor>, size: u32) -> Vec<Uuid> {
    let mut rows: Vec<(Micros, Uuid)> = model
        .iter()
        .copied()
        .filter(|row| cursor.is_none_or(|c| after(sort, c, *row)))
        .collect();
    rows.sort_by(|a, b| compare(sort, *a, *b));
    rows.into_iter().take(size as usize + 1).map(|(_, id)| id).collect()
}

async fn seed(store: &dyn Store, specs: &[(Micros, Option<Uuid>)]) -> Vec<Session> {
    let mut out = Vec::with_capacity(specs.len());
    for (created, identity_id) in specs {
        out.push(insert(store, session(*identity_id, *created)).await);
    }
    out
}

fn keys(sessions: &[Session]) -> Vec<(Micros, Uuid)> {
    sessions.iter().map(key).collect()
}

pub async fn keyset_pages_follow_both_sort_orders(store: Arc<dyn Store>) {
    let store = &*store;
    let a = insert_identity(store, identity(&["a@example.com"])).await.id;
    let b = insert_identity(store, identity(&["b@example.com"])).await.id;
    // 25 sessions over 7 distinct timestamps, inserted in no particular time order.
    let offsets = [
        3, 0, 1, 1, 1, 5, 2, 2, 0, 6, 6, 6, 6, 4, 1, 3, 3, 2, 0, 5, 6, 1, 4, 2, 0,
    ];
    let specs: Vec<(Micros, Option<Uuid>)> = offsets
        .iter()
        .enumerate()
        .map(|(n, offset)| (t(*offset), Some(if n % 3 == 0 { b } else { a })))
        .collect();
    let sessions = seed(store, &specs).await;
    let all = SessionFilter::default();

    for sort in SORTS {
        let expected = in_order(sort, keys(&sessions));
        // The rows are the stored sessions, in order.
        let full = list_all(store, &all, sort, NOW).await;
        assert_eq!(ids(&full), expected);
        for row in &full {
            assert!(sessions.contains(&row.session));
        }
        for size in [1, 2, 3, 4, 5, 24, 25, 26, 100] {
            assert_eq!(
                ids(&walk_keyset(store, &all, sort, size, NOW).await),
                expected,
                "{sort:?} size {size}"
            );
            // The first page is the first `size` rows plus a look-ahead row when more exist.
            let first = keyset_page(store, &all, sort, None, size, NOW).await;
            assert_eq!(ids(&first.rows), expected[..expected.len().min(size as usize)]);
            assert_eq!(
                first.lookahead.map(|r| r.session.id),
                expected.get(size as usize).copied()
            );
        }

        // A cursor is a position, not a row: any (created, id) pair pages correctly.
        let mut cursors: Vec<Cursor> = sessions
            .iter()
            .map(|s| Cursor {
                created_at: s.created_at,
                id: s.id,
            })
            .collect();
        for offset in -1..=7 {
            for id in [Uuid::nil(), Uuid::max(), sessions[7].id, Uuid::now_v7()] {
                cursors.push(Cursor {
                    created_at: t(offset),
                    id,
                });
            }
        }
        let model = keys(&sessions);
        for cursor in cursors {
            let page = keyset_page(store, &all, sort, Some(cursor), 1000, NOW).await;
            assert!(page.lookahead.is_none());
            assert_eq!(
                ids(&page.rows),
                expected_page(sort, &model, Some(cursor), 1000),
                "{sort:?} after {cursor:?}"
            );
        }

        // Filters page the same way.
        let of_a = SessionFilter {
            identity_id: Some(a),
            active: Some(true),
            ..Default::default()
        };
        let expected_a = in_order(
            sort,
            sessions.iter().filter(|s| s.identity_id == Some(a)).map(key).collect(),
        );
        for size in [1, 2, 7, 50] {
            assert_eq!(
                ids(&walk_keyset(store, &of_a, sort, size, NOW).await),
                expected_a,
                "{sort:?} size {size} identity a"
            );
        }
    }
}

pub async fn keyset_paging_through_two_thousand_tied_timestamps(store: Arc<dyn Store>) {
    let store = &*store;
    let a = insert_identity(store, identity(&["a@example.com"])).await.id;
    let b = insert_identity(store, identity(&["b@example.com"])).await.id;
    let mut specs = Vec::new();
    for n in 0..5 {
        specs.push((t(-1), Some(a)));
        specs.push((t(1), Some(if n % 2 == 0 { a } else { b })));
    }
    for n in 0..2000 {
        specs.push((T, Some(if n % 2 == 0 { a } else { b })));
    }
    let sessions = seed(store, &specs).await;
    assert_eq!(
        count(store, &SessionFilter::default(), NOW).await,
        2010,
        "every session stored"
    );

    for sort in SORTS {
        let expected = in_order(sort, keys(&sessions));
        for size in [7, 500, 2009, 2010] {
            let walked = ids(&walk_keyset(store, &SessionFilter::default(), sort, size, NOW).await);
            assert_eq!(walked.len(), 2010, "{sort:?} size {size}");
            assert_eq!(walked, expected, "{sort:?} size {size}");
        }
        let of_b = SessionFilter {
            identity_id: Some(b),
            ..Default::default()
        };
        let expected_b = in_order(
            sort,
            sessions.iter().filter(|s| s.identity_id == Some(b)).map(key).collect(),
        );
        assert_eq!(expected_b.len(), 1002);
        assert_eq!(
            ids(&walk_keyset(store, &of_b, sort, 13, NOW).await),
            expected_b,
            "{sort:?} identity b"
        );
        assert_eq!(
            ids(&walk_offset(store, &SessionFilter::default(), sort, 97, NOW).await),
            expected,
            "{sort:?} offset"
        );
    }
}

pub async fn rows_inserted_while_paging_are_never_repeated_or_skipped(store: Arc<dyn Store>) {
    let store = &*store;
    let owner = insert_identity(store, identity(&["pager@example.com"])).await.id;
    let filter = SessionFilter::default();
    let size = 6;

    for sort in SORTS {
        store.delete_sessions_of_identity(owner).await.unwrap();
        let initial = seed(store, &(0..40).map(|n| (t(n % 4), Some(owner))).collect::<Vec<_>>()).await;
        let mut model = keys(&initial);
        // "Behind" is the part of the order the client has already passed, "ahead" the rest.
        // Each new "behind" row goes before, each new "ahead" row after, every row so far.
        let direction = match sort {
            SessionSort::CreatedDesc => 1,
            SessionSort::CreatedAsc => -1,
        };
        let mut behind = HashSet::new();
        let mut ahead = HashSet::new();
        let mut seen: Vec<Uuid> = Vec::new();
        let mut cursor = None;
        let mut pages = 0;
        loop {
            let page = keyset_page(store, &filter, sort, cursor, size, NOW).await;
            let mut got = ids(&page.rows);
            got.extend(page.lookahead.as_ref().map(|r| r.session.id));
            assert_eq!(got, expected_page(sort, &model, cursor, size), "{sort:?} page {pages}");
            seen.extend(ids(&page.rows));
            let Some(next) = page.next_cursor() else {
                break;
            };
            pages += 1;

            // While the client holds its cursor: a row behind it (newer than everything when
            // descending, older when ascending), a row tied with the cursor's timestamp (its id
            // is the largest yet, so it sorts after the cursor when descending and before it
            // when ascending), and a row beyond everything still ahead.
            let newer = insert(store, session(Some(owner), t(direction * (100 + pages)))).await;
            let tied = insert(store, session(Some(owner), next.created_at)).await;
            let later = insert(store, session(Some(owner), t(-direction * (100 + pages)))).await;
            behind.insert(newer.id);
            ahead.insert(later.id);
            match sort {
                SessionSort::CreatedDesc => ahead.insert(tied.id),
                SessionSort::CreatedAsc => behind.insert(tied.id),
            };
            model.extend([key(&newer), key(&tied), key(&later)]);
            cursor = Some(next);
        }
        assert!(pages >= 6, "{sort:?}: the walk must span several pages");

        let unique: HashSet<Uuid> = seen.iter().copied().collect();
        assert_eq!(unique.len(), seen.len(), "{sort:?}: a row was repeated");
        for s in &initial {
            assert!(unique.contains(&s.id), "{sort:?}: an existing row was skipped");
        }
        assert!(
            behind.iter().all(|id| !unique.contains(id)),
            "{sort:?}: a row inserted behind the cursor appeared"
        );
        assert!(
            ahead.iter().all(|id| unique.contains(id)),
            "{sort:?}: a row inserted ahead of the cursor was skipped"
        );
        let order: Vec<(Micros, Uuid)> = seen
            .iter()
            .map(|id| *model.iter().find(|(_, m)| m == id).unwrap())
            .collect();
        assert!(
            order.windows(2).all(|w| compare(sort, w[0], w[1]).is_lt()),
            "{sort:?}: rows out of order"
        );
    }
}

pub async fn offset_paging_returns_the_same_order(store: Arc<dyn Store>) {
    let store = &*store;
    let a = insert_identity(store, identity(&["a@example.com"])).await.id;
    let offsets = [2, 0, 1, 1, 1, 2, 0, 3, 3, 3, 3, 1, 0, 2, 2, 1, 3];
    let mut specs: Vec<(Micros, Option<Uuid>)> = offsets.iter().map(|o| (t(*o), Some(a))).collect();
    specs.push((t(1), None));
    let sessions = seed(store, &specs).await;
    let with_identity: Vec<Session> = sessions.iter().filter(|s| s.identity_id.is_some()).cloned().collect();

    for sort in SORTS {
        let expected = in_order(sort, keys(&with_identity));
        let filter = SessionFilter::default();
        for limit in [1, 2, 3, 5, 16, 17, 100] {
            assert_eq!(
                ids(&walk_offset(store, &filter, sort, limit, NOW).await),
                expected,
                "{sort:?} limit {limit}"
            );
        }
        assert_eq!(ids(&walk_keyset(store, &filter, sort, 4, NOW).await), expected);
        // Any window is the same slice of the order.
        for (offset, limit) in [(0, 5), (3, 4), (10, 10), (16, 1), (17, 5), (100, 5)] {
            let rows = store
                .list_sessions(
                    &SessionQuery {
                        with_devices: true,
                        filter: filter.clone(),
                        sort,
                        page: SessionPage::Offset { offset, limit },
                    },
                    NOW,
                )
                .await
                .unwrap();
            let from = (offset as usize).min(expected.len());
            let to = (from + limit as usize).min(expected.len());
            assert_eq!(ids(&rows), expected[from..to], "{sort:?} {offset}+{limit}");
        }
        // With the other scope the session without identity joins the order.
        let not_revoked = SessionFilter {
            scope: Scope::NotRevoked,
            ..Default::default()
        };
        assert_eq!(
            ids(&walk_offset(store, &not_revoked, sort, 4, NOW).await),
            in_order(sort, keys(&sessions))
        );
    }
}

/// One generated paging scenario.
#[derive(Debug, Clone)]
struct Scenario {
    /// (created offset, belongs to identity a, rank deciding the id order).
    sessions: Vec<(i64, bool, u32)>,
    size: u32,
    ascending: bool,
    only_a: bool,
    /// Rows inserted after each page: (created offset, belongs to identity a).
    inserts: Vec<Vec<(i64, bool)>>,
}

fn scenarios() -> impl Strategy<Value = Scenario> {
    (
        prop::collection::vec((0i64..4, any::<bool>(), any::<u32>()), 0..60),
        1u32..20,
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(prop::collection::vec((-1i64..5, any::<bool>()), 0..4), 0..8),
    )
        .prop_map(|(sessions, size, ascending, only_a, inserts)| Scenario {
            sessions,
            size,
            ascending,
            only_a,
            inserts,
        })
}

async fn run_scenario(store: &dyn Store, a: Uuid, b: Uuid, scenario: Scenario) -> Result<(), TestCaseError> {
    store.delete_sessions_of_identity(a).await.unwrap();
    store.delete_sessions_of_identity(b).await.unwrap();
    let sort = if scenario.ascending {
        SessionSort::CreatedAsc
    } else {
        SessionSort::CreatedDesc
    };
    let filter = SessionFilter {
        identity_id: scenario.only_a.then_some(a),
        ..Default::default()
    };
    let visible = |owner: Uuid| !scenario.only_a || owner == a;

    // Ids are handed out by rank, so their order is unrelated to the insert order.
    let mut pool: Vec<Uuid> = scenario.sessions.iter().map(|_| Uuid::now_v7()).collect();
    pool.sort();
    let mut by_rank: Vec<usize> = (0..scenario.sessions.len()).collect();
    by_rank.sort_by_key(|n| (scenario.sessions[*n].2, *n));
    let mut id_of = vec![Uuid::nil(); scenario.sessions.len()];
    for (rank, n) in by_rank.into_iter().enumerate() {
        id_of[n] = pool[rank];
    }

    let mut model = Vec::new();
    let mut initial = Vec::new();
    for (n, (offset, in_a, _)) in scenario.sessions.iter().enumerate() {
        let owner = if *in_a { a } else { b };
        let mut s = session(Some(owner), t(*offset));
        s.id = id_of[n];
        let s = insert(store, s).await;
        if visible(owner) {
            model.push(key(&s));
            initial.push(s.id);
        }
    }

    let mut cursor = None;
    let mut seen = Vec::new();
    let mut page_number = 0;
    loop {
        let page = keyset_page(store, &filter, sort, cursor, scenario.size, NOW).await;
        let mut got = ids(&page.rows);
        got.extend(page.lookahead.as_ref().map(|r| r.session.id));
        prop_assert_eq!(
            &got,
            &expected_page(sort, &model, cursor, scenario.size),
            "page {}",
            page_number
        );
        seen.extend(ids(&page.rows));
        let Some(next) = page.next_cursor() else {
            break;
        };
        for (offset, in_a) in scenario.inserts.get(page_number).into_iter().flatten() {
            let owner = if *in_a { a } else { b };
            let s = insert(store, session(Some(owner), t(*offset))).await;
            if visible(owner) {
                model.push(key(&s));
            }
        }
        cursor = Some(next);
        page_number += 1;
        prop_assert!(page_number <= 200, "paging does not terminate");
    }

    let unique: HashSet<Uuid> = seen.iter().copied().collect();
    prop_assert_eq!(unique.len(), seen.len(), "a row was repeated");
    for id in &initial {
        prop_assert!(unique.contains(id), "an existing row was skipped");
    }
    if scenario.inserts.is_empty() {
        prop_assert_eq!(&seen, &in_order(sort, model.clone()));
    }
    Ok(())
}

pub async fn keyset_paging_property(store: Arc<dyn Store>) {
    let a = insert_identity(&*store, identity(&["a@example.com"])).await.id;
    let b = insert_identity(&*store, identity(&["b@example.com"])).await.id;
    let handle = tokio::runtime::Handle::current();
    let mut runner = TestRunner::new(Config {
        cases: 16,
        max_shrink_iters: 256,
        failure_persistence: None,
        ..Config::default()
    });
    let result = tokio::task::block_in_place(|| {
        runner.run(&scenarios(), |scenario| {
            handle.block_on(run_scenario(&*store, a, b, scenario))
        })
    });
    if let Err(error) = result {
        panic!("{error}");
    }
}
