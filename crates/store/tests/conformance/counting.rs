//! Exact counts from the counter cells: after random writes, revocations, expiry changes,
//! identity deactivations and deletions, deletions of sessions and cleanup — some of them
//! concurrent — every broad count equals a brute-force count of the same filter (the rows the
//! list query returns).

use std::sync::Arc;

use lanyard_domain::query::Scope;
use lanyard_domain::{DateFilter, DateMethod, IdentityState, Micros, OwnedBy, SessionFilter, SessionSort};
use lanyard_store::{RevokeTarget, Store};
use uuid::Uuid;

use crate::common::*;

/// A small deterministic generator (SplitMix64), so a failure names a seed that reproduces it.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// An instant within six hours of `NOW` (which is two hours before midnight), often right
    /// on or next to an hour or a minute boundary, and now and then a few days away, so that
    /// ranges hold whole days as well as hours, minutes and pieces of them.
    fn instant(&mut self) -> Micros {
        let days = match self.below(4) {
            0 => self.below(5) as i64 - 2,
            _ => 0,
        };
        let hour = NOW.0 / HOUR * HOUR + (self.below(6) as i64 - 2) * HOUR + days * 24 * HOUR;
        let offset = match self.below(6) {
            0 => 0,
            1 => HOUR - 1,
            2 => 1,
            // On or next to a minute boundary inside the hour (the minute cells' edges).
            3 => self.below(60) as i64 * MINUTE,
            4 => self.below(60) as i64 * MINUTE + MINUTE - 1,
            _ => self.below(HOUR as u64) as i64,
        };
        Micros(hour + offset)
    }
}

const CREATORS: [&str; 3] = ["key-login-ui", "key-other", "someone"];

struct World {
    identities: Vec<Uuid>,
    sessions: Vec<Uuid>,
}

async fn random_write(store: &dyn Store, world: &mut World, rng: &mut Rng) {
    match rng.below(10) {
        0..=4 => {
            let identity = if rng.below(5) == 0 || world.identities.is_empty() {
                None
            } else {
                Some(*rng.pick(&world.identities))
            };
            let mut s = session(identity, rng.instant());
            s.expires_at = match rng.below(4) {
                0 => None,
                _ => Some(Micros(s.created_at.0 + rng.below(5 * HOUR as u64) as i64)),
            };
            s.creator = Some((*rng.pick(&CREATORS)).to_owned());
            if rng.below(8) == 0 {
                s.revoked_at = Some(s.created_at);
            }
            // The identity may have been deleted meanwhile; then the insert fails, as it should.
            if let Ok(sequence) = store.insert_session(&s, &token_for(s.id)).await {
                assert!(sequence > 0);
                world.sessions.push(s.id);
            }
        }
        5 if !world.sessions.is_empty() => {
            let id = *rng.pick(&world.sessions);
            store
                .revoke_sessions(RevokeTarget::Session(id), rng.instant())
                .await
                .expect("revoke");
        }
        6 if !world.sessions.is_empty() => {
            let id = *rng.pick(&world.sessions);
            if let Some(row) = store.session(id).await.expect("read") {
                let mut changed = row.session.clone();
                changed.expires_at = match rng.below(3) {
                    0 => None,
                    _ => Some(rng.instant()),
                };
                store
                    .update_session(&changed, row.session.sequence, None)
                    .await
                    .expect("update");
            }
        }
        7 if !world.identities.is_empty() => {
            let id = *rng.pick(&world.identities);
            if let Some(mut identity) = store.identity(id).await.expect("read identity") {
                identity.state = match identity.state {
                    IdentityState::Active => IdentityState::Inactive,
                    _ => IdentityState::Active,
                };
                store.update_identity(&identity).await.expect("update identity");
            }
        }
        8 if !world.identities.is_empty() => {
            let id = *rng.pick(&world.identities);
            if rng.below(2) == 0 {
                store.delete_identity(id).await.expect("delete identity");
                world.identities.retain(|i| *i != id);
            } else {
                store.delete_sessions_of_identity(id).await.expect("delete sessions");
            }
        }
        _ => {
            store
                .delete_expired_sessions(rng.instant(), rng.instant(), rng.below(4) as u32)
                .await
                .expect("cleanup");
        }
    }
}

fn random_broad_filter(rng: &mut Rng) -> SessionFilter {
    let methods = [
        DateMethod::Equals,
        DateMethod::Greater,
        DateMethod::GreaterOrEquals,
        DateMethod::Less,
        DateMethod::LessOrEquals,
    ];
    let dates = |rng: &mut Rng| -> Vec<DateFilter> {
        (0..rng.below(3))
            .map(|_| DateFilter {
                method: *rng.pick(&methods),
                at: rng.instant(),
            })
            .collect()
    };
    let created = dates(rng);
    let expires = dates(rng);
    let creator = (rng.below(3) == 0).then(|| (*rng.pick(&CREATORS)).to_owned());
    let owned_by = (rng.below(4) == 0).then(|| OwnedBy {
        identity_id: None,
        creator: (*rng.pick(&CREATORS)).to_owned(),
    });
    SessionFilter {
        scope: Scope::NotRevoked,
        created,
        expires,
        creator,
        owned_by,
        ..Default::default()
    }
}

async fn assert_counts_match(store: &dyn Store, rng: &mut Rng, seed: u64, round: usize) {
    for probe in 0..12 {
        let filter = if probe == 0 {
            SessionFilter {
                scope: Scope::NotRevoked,
                ..Default::default()
            }
        } else {
            random_broad_filter(rng)
        };
        let sort = if rng.below(2) == 0 {
            SessionSort::CreatedDesc
        } else {
            SessionSort::CreatedAsc
        };
        let everything = ids(&list_all(store, &filter, sort, NOW).await);
        let brute = everything.len() as u64;
        assert_eq!(
            count(store, &filter, NOW).await,
            brute,
            "seed {seed}, round {round}: {filter:?}"
        );
        // The page of a search (which starts its walk at the hour the counter cells point to)
        // is the same slice of the brute-force list.
        let offset = rng.below(brute + 3);
        let limit = 1 + rng.below(7) as u32;
        let context = format!("seed {seed}, round {round}");
        assert_search_page_is_the_slice(store, &filter, sort, (offset, limit), &everything, &context).await;
    }
}

/// The search's offset page of `filter` is `everything[offset..][..limit]` (the brute-force list
/// in `sort` order), and its total is the length of that list.
async fn assert_search_page_is_the_slice(
    store: &dyn Store,
    filter: &SessionFilter,
    sort: SessionSort,
    (offset, limit): (u64, u32),
    everything: &[Uuid],
    context: &str,
) {
    let page = store
        .search_sessions(
            &lanyard_domain::SessionQuery {
                with_devices: false,
                filter: filter.clone(),
                sort,
                page: lanyard_domain::SessionPage::Offset { offset, limit },
            },
            NOW,
        )
        .await
        .expect("search");
    let expected: Vec<Uuid> = everything
        .iter()
        .skip(offset as usize)
        .take(limit as usize)
        .copied()
        .collect();
    assert_eq!(
        ids(&page.rows),
        expected,
        "{context}: {sort:?} {offset}+{limit} {filter:?}"
    );
    assert_eq!(page.total, everything.len() as u64, "{context}: {filter:?}");
}

pub async fn broad_counts_equal_a_brute_force_count_after_random_operations(store: Arc<dyn Store>) {
    for seed in 1..=4u64 {
        let mut rng = Rng(seed);
        let mut world = World {
            identities: Vec::new(),
            sessions: Vec::new(),
        };
        for i in 0..5 {
            let created = insert_identity(&*store, identity(&[&format!("count-{seed}-{i}@example.org")])).await;
            world.identities.push(created.id);
        }
        for round in 0..6 {
            for _ in 0..25 {
                random_write(&*store, &mut world, &mut rng).await;
            }
            assert_counts_match(&*store, &mut rng, seed, round).await;
        }
    }
}

pub async fn counts_stay_exact_under_concurrent_writers(store: Arc<dyn Store>) {
    let mut identities = Vec::new();
    for i in 0..4 {
        identities.push(
            insert_identity(&*store, identity(&[&format!("concurrent-{i}@example.org")]))
                .await
                .id,
        );
    }
    let writers: Vec<_> = (0..6u64)
        .map(|writer| {
            let store = store.clone();
            let identities = identities.clone();
            tokio::spawn(async move {
                let mut rng = Rng(1000 + writer);
                let mut world = World {
                    identities,
                    sessions: Vec::new(),
                };
                for _ in 0..100 {
                    random_write(&*store, &mut world, &mut rng).await;
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer");
    }
    let mut rng = Rng(99);
    assert_counts_match(&*store, &mut rng, 99, 0).await;
}

/// A search reads its page, its count and the sequence from one snapshot: while writers insert
/// and revoke, a page big enough for everything always holds exactly `total` rows, none newer
/// than the sequence it reports.
pub async fn search_reads_count_rows_and_sequence_from_one_snapshot(store: Arc<dyn Store>) {
    let user = insert_identity(&*store, identity(&["snapshot@example.org"])).await;
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for n in 0..300 {
                let mut s = session(Some(user.id), at(n * SECOND));
                s.creator = Some("key-login-ui".to_owned());
                let s = insert(&*store, s).await;
                if n % 3 == 0 {
                    store
                        .revoke_sessions(RevokeTarget::Session(s.id), at(n * SECOND))
                        .await
                        .expect("revoke");
                }
            }
        })
    };
    let query = lanyard_domain::SessionQuery {
        with_devices: true,
        filter: SessionFilter {
            scope: Scope::NotRevoked,
            ..Default::default()
        },
        sort: SessionSort::CreatedDesc,
        page: lanyard_domain::SessionPage::Offset {
            offset: 0,
            limit: 100_000,
        },
    };
    let mut searches = 0;
    while !writer.is_finished() || searches == 0 {
        let page = store.search_sessions(&query, NOW).await.expect("search");
        assert_eq!(page.rows.len() as u64, page.total, "after {searches} searches");
        assert!(page.rows.iter().all(|r| r.session.sequence <= page.sequence));
        searches += 1;
    }
    writer.await.expect("writer");
    let page = store.search_sessions(&query, NOW).await.expect("search");
    assert_eq!(page.total, 200);
    assert_eq!(page.sequence, store.current_sequence().await.expect("sequence"));
}

/// A session extended by a node whose clock runs behind could get an expiry before its
/// creation; searches by expiry walk only the creation dates an expiry allows, so the store
/// keeps expiry ≥ creation and such a session is still found, by count and by page.
pub async fn a_session_never_expires_before_it_was_created(store: Arc<dyn Store>) {
    let user = insert_identity(&*store, identity(&["skew@example.org"])).await;
    let mut s = session(Some(user.id), at(10 * HOUR));
    s.expires_at = Some(at(9 * HOUR));
    let s = insert(&*store, s).await;
    let row = store.session(s.id).await.expect("read").expect("stored");
    let mut extended = row.session.clone();
    extended.expires_at = Some(at(8 * HOUR));
    store
        .update_session(&extended, row.session.sequence, None)
        .await
        .expect("update");
    let stored = store.session(s.id).await.expect("read").expect("stored");
    assert_eq!(stored.session.expires_at, Some(at(10 * HOUR)));
    let expiring_by = |hour_tenths: i64| lanyard_domain::SessionQuery {
        with_devices: false,
        filter: SessionFilter {
            scope: Scope::NotRevoked,
            expires: vec![DateFilter {
                method: DateMethod::LessOrEquals,
                at: at(hour_tenths * HOUR / 10),
            }],
            ..Default::default()
        },
        sort: SessionSort::CreatedDesc,
        page: lanyard_domain::SessionPage::Offset { offset: 0, limit: 10 },
    };
    for (by, expected) in [(95, vec![]), (100, vec![s.id])] {
        let page = store.search_sessions(&expiring_by(by), NOW).await.expect("search");
        assert_eq!((ids(&page.rows), page.total), (expected.clone(), expected.len() as u64));
    }
}

/// A creation and an expiry range that cut an hour: the sessions of the cut hour are counted
/// either as the matches or as all of them less the rest, whichever the cells say is fewer.
/// Each filter below makes one side the smaller one (most of the piece matching, or few), with
/// a revoked session, one of a deactivated identity and one of another creator in the piece;
/// every count equals the list's.
pub async fn a_cut_hour_is_counted_exactly_from_either_side(store: Arc<dyn Store>) {
    let hour = NOW.0 / HOUR * HOUR - 5 * HOUR;
    let day = 24 * HOUR;
    let deactivated = insert_identity(&*store, identity(&["cut-hour@example.org"])).await;
    let write = |created: i64, expires: i64, i: i64| {
        let mut s = session(None, Micros(created));
        s.expires_at = Some(Micros(expires));
        s.creator = Some(if i == 5 { "key-other" } else { "key-login-ui" }.to_owned());
        if i == 1 {
            s.revoked_at = Some(s.created_at);
        }
        if i == 2 {
            s.identity_id = Some(deactivated.id);
            s.user_checked_at = Some(s.created_at);
        }
        s
    };
    let mut sessions = Vec::new();
    for i in 0..40 {
        let created = hour + i * MINUTE + 7 * SECOND;
        // Three in four live for three days, the rest for two hours.
        let expires = if i % 4 == 0 {
            created + 2 * HOUR
        } else {
            hour + 3 * day + i * MINUTE
        };
        sessions.push(write(created, expires, i));
    }
    // Created ten days earlier, expiring in the same hour as most of the above.
    for i in 0..6 {
        sessions.push(write(
            hour - 10 * day + i * HOUR,
            hour + 3 * day + (30 + i) * MINUTE,
            100 + i,
        ));
    }
    for s in sessions {
        insert(&*store, s).await;
    }
    let mut deactivated = deactivated;
    deactivated.state = IdentityState::Inactive;
    store.update_identity(&deactivated).await.expect("deactivate");

    let date = |method, at| DateFilter { method, at: Micros(at) };
    let cut = hour + 10 * MINUTE + 3 * SECOND;
    let shapes = [
        // A piece of a creation hour whose sessions mostly expire in the whole days of the range.
        (
            vec![date(DateMethod::GreaterOrEquals, cut)],
            vec![date(DateMethod::GreaterOrEquals, hour + day)],
        ),
        // The same piece, where few do.
        (
            vec![date(DateMethod::GreaterOrEquals, cut)],
            vec![date(DateMethod::Less, hour + day)],
        ),
        // A piece of an expiry hour whose sessions were mostly created in the range's whole days.
        (
            vec![date(DateMethod::GreaterOrEquals, hour - 2 * day)],
            vec![date(
                DateMethod::GreaterOrEquals,
                hour + 3 * day + 5 * MINUTE + 2 * SECOND,
            )],
        ),
        // The same piece, where few were.
        (
            vec![
                date(DateMethod::GreaterOrEquals, hour - 20 * day),
                date(DateMethod::Less, hour - 5 * day),
            ],
            vec![date(
                DateMethod::GreaterOrEquals,
                hour + 3 * day + 5 * MINUTE + 2 * SECOND,
            )],
        ),
    ];
    for filter in zitadel_filters(shapes) {
        let brute = list_all(&*store, &filter, SessionSort::CreatedDesc, NOW).await.len() as u64;
        assert!(brute > 0, "{filter:?} matches nothing: the shape tests nothing");
        assert_eq!(count(&*store, &filter, NOW).await, brute, "{filter:?}");
    }
}

/// A search for sessions that expired before a date, newest first: the newest sessions created
/// before that date rarely match, so the page is found from the creation × expiry hour cells
/// and the expiry hours they point to rather than by walking creation order (on SQLite, see
/// `narrow_to_sure_matches` in the store's `search.rs`). Sessions created every 20 minutes over
/// twelve days, living from minutes to days, a few revoked, of another creator or never
/// expiring: every page, at every offset and with a creator, is the brute-force list's slice.
pub async fn a_page_of_long_expired_sessions_is_the_slice_of_the_full_list(store: Arc<dyn Store>) {
    let start = NOW.0 / HOUR * HOUR - 12 * 24 * HOUR;
    let mut sessions = Vec::new();
    for i in 0..(12 * 24 * 3) {
        let created = start + i * 20 * MINUTE + (i % 7) * SECOND;
        let mut s = session(None, Micros(created));
        // Lifetimes from 3 minutes to about five days, in a scrambled order.
        let lifetime = ((i * 7919) % 2400) * 3 * MINUTE + 3 * MINUTE;
        s.expires_at = (i % 23 != 0).then_some(Micros(created + lifetime));
        s.creator = Some(if i % 5 == 0 { "key-other" } else { "key-login-ui" }.to_owned());
        if i % 11 == 0 {
            s.revoked_at = Some(s.created_at);
        }
        sessions.push(s);
    }
    for s in sessions {
        insert(&*store, s).await;
    }
    let date = |method, at| DateFilter { method, at: Micros(at) };
    let before = |at| vec![date(DateMethod::Less, at)];
    let shapes = [
        (Vec::new(), before(NOW.0 - 3 * 24 * HOUR)),
        (Vec::new(), before(NOW.0 - 3 * 24 * HOUR + 17 * MINUTE)),
        (Vec::new(), vec![date(DateMethod::LessOrEquals, NOW.0 - 6 * 24 * HOUR)]),
        (
            vec![date(DateMethod::GreaterOrEquals, start + 24 * HOUR)],
            before(NOW.0 - 2 * 24 * HOUR),
        ),
        (
            Vec::new(),
            vec![
                date(DateMethod::Greater, NOW.0 - 8 * 24 * HOUR),
                date(DateMethod::Less, NOW.0 - 4 * 24 * HOUR),
            ],
        ),
    ];
    for filter in zitadel_filters(shapes) {
        let everything = ids(&list_all(&*store, &filter, SessionSort::CreatedDesc, NOW).await);
        assert!(
            everything.len() > 60,
            "{filter:?} matches {}: too few to page",
            everything.len()
        );
        for (offset, limit) in [
            (0, 1),
            (0, 10),
            (0, 100),
            (7, 5),
            (40, 20),
            (everything.len() as u64 - 3, 10),
        ] {
            assert_search_page_is_the_slice(
                &*store,
                &filter,
                SessionSort::CreatedDesc,
                (offset, limit),
                &everything,
                "long expired",
            )
            .await;
        }
    }
}

/// Each creation and expiry range of `shapes` as a ZITADEL filter, for all creators and for the
/// login UI alone.
fn zitadel_filters(shapes: impl IntoIterator<Item = (Vec<DateFilter>, Vec<DateFilter>)>) -> Vec<SessionFilter> {
    let mut filters = Vec::new();
    for (created, expires) in shapes {
        for creator in [None, Some("key-login-ui".to_owned())] {
            filters.push(SessionFilter {
                scope: Scope::NotRevoked,
                created: created.clone(),
                expires: expires.clone(),
                creator,
                ..Default::default()
            });
        }
    }
    filters
}

/// Expiry and creation dates at the ends of what a client can send (and beyond, to the ends of
/// the integer) take every path of a broad search, the expiry-hour pages included, without an
/// error, and each page is still the slice of the full list.
pub async fn searches_at_the_ends_of_time_answer_exact_pages(store: Arc<dyn Store>) {
    for i in 0..30 {
        let created = NOW.0 - 40 * 24 * HOUR + i * 29 * HOUR;
        let mut s = session(None, Micros(created));
        s.expires_at = Some(Micros(created + (i % 7 + 1) * 5 * HOUR));
        insert(&*store, s).await;
    }
    // 0001-01-01 and 9999-12-31, the RFC 3339 range, and the integer's own ends.
    let (year_1, year_9999) = (-62_135_596_800_000_000, 253_402_300_799_000_000);
    let instants = [
        i64::MIN,
        i64::MIN + 1,
        year_1,
        -1,
        0,
        NOW.0 - 30 * 24 * HOUR,
        year_9999,
        i64::MAX,
    ];
    let date = |method, at| DateFilter { method, at: Micros(at) };
    for &at in &instants {
        for &since in &instants {
            let filter = SessionFilter {
                scope: Scope::NotRevoked,
                created: vec![date(DateMethod::GreaterOrEquals, since)],
                expires: vec![date(DateMethod::Less, at)],
                ..Default::default()
            };
            let everything = ids(&list_all(&*store, &filter, SessionSort::CreatedDesc, NOW).await);
            let context = format!("expiry < {at}, creation ≥ {since}");
            for slice in [(0, 1), (0, 10), (3, 5)] {
                assert_search_page_is_the_slice(
                    &*store,
                    &filter,
                    SessionSort::CreatedDesc,
                    slice,
                    &everything,
                    &context,
                )
                .await;
            }
        }
    }
}
