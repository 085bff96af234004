//! Sessions: round trips, token digests, sequences, optimistic updates, revocation, deletion.

use std::collections::BTreeMap;
use std::sync::Arc;

use lanyard_domain::{Aal, Device, Factor, IdentityState, Method, Session, TokenDigest};
use lanyard_store::{ConflictOn, RevokeTarget, SessionRow, Store, StoreError};
use uuid::Uuid;

use crate::common::*;

fn device(created_at: lanyard_domain::Micros, fingerprint: Option<&str>) -> Device {
    Device {
        id: Uuid::now_v7(),
        ip_address: Some("2001:db8::1".to_owned()),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0".to_owned()),
        location: Some("Berlin, DE".to_owned()),
        fingerprint_id: fingerprint.map(str::to_owned),
        headers: BTreeMap::from([
            ("accept-language".to_owned(), vec!["de".to_owned(), "en".to_owned()]),
            ("x-forwarded-for".to_owned(), vec!["198.51.100.7".to_owned()]),
        ]),
        created_at,
    }
}

fn row(session: &Session, identity_state: Option<IdentityState>) -> Option<SessionRow> {
    Some(SessionRow {
        session: session.clone(),
        identity_state,
    })
}

pub async fn session_round_trips_every_field(store: Arc<dyn Store>) {
    let store = &*store;
    let owner = insert_identity(store, identity(&["owner@example.com"])).await;

    let mut s = session(Some(owner.id), at(-HOUR));
    s.changed_at = at(-30 * MINUTE + 1);
    s.authenticated_at = at(-45 * MINUTE + 2);
    s.expires_at = Some(at(23 * HOUR + 3));
    s.user_checked_at = Some(at(-HOUR + 4));
    s.factors = vec![
        Factor::new(Method::Password, at(-HOUR + 5)),
        Factor {
            method: Method::Oidc,
            aal: Aal::Aal2,
            completed_at: at(-HOUR + 6),
            provider: Some("google".to_owned()),
            organization: Some("acme".to_owned()),
            user_verified: false,
        },
        Factor {
            method: Method::Webauthn,
            aal: Aal::Aal2,
            completed_at: at(-HOUR + 7),
            provider: None,
            organization: None,
            user_verified: true,
        },
        Factor::new(Method::OtpEmail, at(-HOUR + 8)),
    ];
    // Given newest first; stored and returned in creation order.
    let late = device(at(-HOUR + 10), Some("fp-late"));
    let mut early = device(at(-HOUR + 1), None);
    early.ip_address = None;
    early.user_agent = None;
    early.location = None;
    early.headers = BTreeMap::new();
    s.devices = vec![late.clone(), early.clone()];
    s.metadata = BTreeMap::from([
        ("bytes".to_owned(), vec![0, 1, 2, 127, 128, 254, 255]),
        ("empty".to_owned(), vec![]),
        ("text".to_owned(), b"hello \xF0\x9F\x9A\x80".to_vec()),
    ]);
    s.creator = Some("key-7f3a".to_owned());
    let stored = insert(store, s).await;

    let mut expected = stored.clone();
    expected.devices = vec![early, late];
    assert_eq!(get(store, stored.id).await, row(&expected, Some(IdentityState::Active)));
    assert_eq!(
        store.session_by_digest(&token_for(stored.id)).await.unwrap(),
        row(&expected, Some(IdentityState::Active))
    );
    // whoami's single read: the same session, and the identity exactly as read on its own.
    let owner_as_stored = store.identity(owner.id).await.unwrap();
    assert!(owner_as_stored.is_some());
    assert_eq!(
        store
            .session_and_identity_by_digest(&token_for(stored.id))
            .await
            .unwrap(),
        row(&expected, Some(IdentityState::Active)).map(|r| (r, owner_as_stored))
    );

    // The identity's state comes with the session.
    let mut inactive = owner.clone();
    inactive.state = IdentityState::Inactive;
    assert!(store.update_identity(&inactive).await.unwrap());
    assert_eq!(
        get(store, stored.id).await,
        row(&expected, Some(IdentityState::Inactive))
    );
}

pub async fn session_without_identity_round_trips(store: Arc<dyn Store>) {
    let store = &*store;
    let mut bare = session(None, at(-MINUTE));
    bare.user_checked_at = None;
    let bare = insert(store, bare).await;
    assert_eq!(bare.expires_at, None);
    assert_eq!(get(store, bare.id).await, row(&bare, None));
    assert_eq!(
        store.session_by_digest(&token_for(bare.id)).await.unwrap(),
        row(&bare, None)
    );
    assert_eq!(
        store.session_and_identity_by_digest(&token_for(bare.id)).await.unwrap(),
        row(&bare, None).map(|r| (r, None))
    );

    let mut revoked = session(None, at(-2 * MINUTE));
    revoked.revoked_at = Some(at(-MINUTE));
    revoked.changed_at = at(-MINUTE);
    revoked.creator = Some("identity:someone".to_owned());
    let revoked = insert(store, revoked).await;
    assert_eq!(get(store, revoked.id).await, row(&revoked, None));
}

pub async fn missing_sessions_are_none(store: Arc<dyn Store>) {
    let store = &*store;
    let present = insert(store, session(None, at(0))).await;
    assert_eq!(get(store, Uuid::now_v7()).await, None);
    assert_eq!(
        store.session_by_digest(&TokenDigest::of("never issued")).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .session_and_identity_by_digest(&TokenDigest::of("never issued"))
            .await
            .unwrap(),
        None
    );
    // Lookup is by the exact digest: another token of the same session id finds nothing.
    assert_eq!(
        store
            .session_by_digest(&TokenDigest::of(&format!("token-{} ", present.id)))
            .await
            .unwrap(),
        None
    );
}

pub async fn token_digests_are_unique(store: Arc<dyn Store>) {
    let store = &*store;
    let a = insert(store, session(None, at(0))).await;

    let b = session(None, at(1));
    match store.insert_session(&b, &token_for(a.id)).await {
        Err(StoreError::Conflict(ConflictOn::TokenDigest)) => {}
        other => panic!("expected a token digest conflict, got {other:?}"),
    }
    assert_eq!(get(store, b.id).await, None);

    // The same id twice is a conflict on the id.
    let mut same_id = session(None, at(3));
    same_id.id = a.id;
    match store.insert_session(&same_id, &TokenDigest::of("fresh")).await {
        Err(StoreError::Conflict(ConflictOn::Id)) => {}
        other => panic!("expected an id conflict, got {other:?}"),
    }

    // Rotating onto a digest in use fails and leaves the session as it was.
    let b = insert(store, b).await;
    let mut changed = b.clone();
    changed.changed_at = at(10);
    match store.update_session(&changed, b.sequence, Some(&token_for(a.id))).await {
        Err(StoreError::Conflict(ConflictOn::TokenDigest)) => {}
        other => panic!("expected a token digest conflict, got {other:?}"),
    }
    assert_eq!(store.session_by_digest(&token_for(b.id)).await.unwrap(), row(&b, None));
    assert_eq!(store.session_by_digest(&token_for(a.id)).await.unwrap(), row(&a, None));
}

pub async fn sequence_strictly_increases_across_writes(store: Arc<dyn Store>) {
    let store = &*store;
    let owner = insert_identity(store, identity(&["seq@example.com"])).await;
    let mut seen = Vec::new();

    let a = insert(store, session(Some(owner.id), at(-3))).await;
    seen.push(a.sequence);
    let b = insert(store, session(Some(owner.id), at(-2))).await;
    seen.push(b.sequence);

    let mut a2 = a.clone();
    a2.changed_at = at(0);
    let q = store
        .update_session(&a2, a.sequence, None)
        .await
        .unwrap()
        .expect("update applies");
    assert_eq!(get(store, a.id).await.unwrap().session.sequence, q);
    seen.push(q);

    assert_eq!(
        store.revoke_sessions(RevokeTarget::Session(b.id), at(1)).await.unwrap(),
        vec![b.id]
    );
    seen.push(get(store, b.id).await.unwrap().session.sequence);

    let c = insert(store, session(Some(owner.id), at(-1))).await;
    seen.push(c.sequence);

    assert_eq!(
        sorted_ids(
            store
                .revoke_sessions(
                    RevokeTarget::IdentityActive {
                        identity_id: owner.id,
                        except: None
                    },
                    at(2)
                )
                .await
                .unwrap()
        ),
        sorted_ids(vec![a.id, c.id])
    );
    let after_a = get(store, a.id).await.unwrap().session.sequence;
    let after_c = get(store, c.id).await.unwrap().session.sequence;
    assert!(after_a > c.sequence && after_c > c.sequence);
    seen.push(after_a.max(after_c));

    // A rejected update takes no number away from later writes' ordering.
    assert_eq!(store.update_session(&a2, a.sequence, None).await.unwrap(), None);
    let d = insert(store, session(None, at(3))).await;
    seen.push(d.sequence);

    for pair in seen.windows(2) {
        assert!(pair[0] < pair[1], "sequences not increasing: {seen:?}");
    }
}

pub async fn concurrent_inserts_get_distinct_sequences(store: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            for n in 0..5 {
                let s = insert(&*store, session(None, at(n))).await;
                mine.push((s.id, s.sequence));
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let mut sequences: Vec<i64> = all.iter().map(|(_, q)| *q).collect();
    sequences.sort();
    sequences.dedup();
    assert_eq!(sequences.len(), 40, "sequences must be distinct");
    for (id, sequence) in all {
        assert_eq!(get(&*store, id).await.unwrap().session.sequence, sequence);
    }
}

pub async fn update_session_writes_the_mutable_fields(store: Arc<dyn Store>) {
    let store = &*store;
    let owner = insert_identity(store, identity(&["later@example.com"])).await;
    let mut s = session(None, at(-HOUR));
    s.user_checked_at = None;
    s.expires_at = Some(at(HOUR));
    s.creator = Some("key-1".to_owned());
    s.devices = vec![device(at(-HOUR), Some("fp-1"))];
    let s = insert(store, s).await;

    // A ZITADEL set: the user is checked, a factor added, metadata written, lifetime removed.
    let mut set = s.clone();
    set.identity_id = Some(owner.id);
    set.user_checked_at = Some(at(-MINUTE));
    set.authenticated_at = at(-MINUTE);
    set.changed_at = at(0);
    set.expires_at = None;
    set.factors = vec![Factor::new(Method::Password, at(-MINUTE))];
    set.metadata = BTreeMap::from([("k".to_owned(), vec![1, 2, 3])]);
    set.sequence = store
        .update_session(&set, s.sequence, None)
        .await
        .unwrap()
        .expect("update applies");
    assert!(set.sequence > s.sequence);
    assert_eq!(get(store, s.id).await, row(&set, Some(IdentityState::Active)));
    assert_eq!(
        store.session_by_digest(&token_for(s.id)).await.unwrap(),
        row(&set, Some(IdentityState::Active))
    );

    // Everything mutable can change again, including back to absent values.
    let mut again = set.clone();
    again.changed_at = at(1);
    again.expires_at = Some(at(2 * HOUR));
    again.revoked_at = Some(at(1));
    again.factors.push(Factor::new(Method::Totp, at(1)));
    again.metadata = BTreeMap::new();
    again.sequence = store
        .update_session(&again, set.sequence, None)
        .await
        .unwrap()
        .expect("update applies");
    assert!(again.sequence > set.sequence);
    assert_eq!(get(store, s.id).await, row(&again, Some(IdentityState::Active)));
}

pub async fn stale_update_changes_nothing(store: Arc<dyn Store>) {
    let store = &*store;
    let s = insert(store, session(None, at(-HOUR))).await;

    let mut fresh = s.clone();
    fresh.changed_at = at(0);
    fresh.expires_at = Some(at(HOUR));
    fresh.sequence = store
        .update_session(&fresh, s.sequence, None)
        .await
        .unwrap()
        .expect("update applies");
    let current = get(store, s.id).await;
    assert_eq!(current, row(&fresh, None));

    // An update based on the old sequence is rejected and changes nothing, token included.
    let mut stale = s.clone();
    stale.changed_at = at(5);
    stale.expires_at = Some(at(-HOUR));
    stale.revoked_at = Some(at(5));
    stale.metadata = BTreeMap::from([("stale".to_owned(), vec![1])]);
    let rotated = TokenDigest::of("rotated-by-a-stale-writer");
    assert_eq!(
        store.update_session(&stale, s.sequence, Some(&rotated)).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .update_session(&stale, fresh.sequence + 1000, Some(&rotated))
            .await
            .unwrap(),
        None
    );
    assert_eq!(get(store, s.id).await, current);
    assert_eq!(store.session_by_digest(&token_for(s.id)).await.unwrap(), current);
    assert_eq!(store.session_by_digest(&rotated).await.unwrap(), None);

    // A session that does not exist is not created by an update.
    let ghost = session(None, at(0));
    assert_eq!(store.update_session(&ghost, 1, None).await.unwrap(), None);
    assert_eq!(get(store, ghost.id).await, None);

    // The current sequence still works.
    let q = store
        .update_session(&stale, fresh.sequence, None)
        .await
        .unwrap()
        .expect("update applies");
    assert!(q > fresh.sequence);
}

pub async fn concurrent_updates_from_one_sequence_let_exactly_one_win(store: Arc<dyn Store>) {
    let s = insert(&*store, session(None, at(0))).await;
    let mut tasks = Vec::new();
    for n in 1..=8 {
        let store = store.clone();
        let mut mine = s.clone();
        mine.changed_at = at(n);
        tasks.push(tokio::spawn(async move {
            let result = store.update_session(&mine, s.sequence, None).await.unwrap();
            result.map(|q| (n, q))
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        winners.extend(task.await.unwrap());
    }
    assert_eq!(winners.len(), 1, "exactly one writer wins: {winners:?}");
    let (n, q) = winners[0];
    let stored = get(&*store, s.id).await.unwrap().session;
    assert_eq!((stored.changed_at, stored.sequence), (at(n), q));
}

pub async fn new_digest_replaces_the_token(store: Arc<dyn Store>) {
    let store = &*store;
    let s = insert(store, session(None, at(0))).await;
    let old = token_for(s.id);
    let first = TokenDigest::of("rotated-1");
    let second = TokenDigest::of("rotated-2");

    let mut v1 = s.clone();
    v1.changed_at = at(1);
    v1.sequence = store
        .update_session(&v1, s.sequence, Some(&first))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.session_by_digest(&old).await.unwrap(), None);
    assert_eq!(store.session_by_digest(&first).await.unwrap(), row(&v1, None));

    // Without a new digest the current token stays.
    let mut v2 = v1.clone();
    v2.changed_at = at(2);
    v2.sequence = store.update_session(&v2, v1.sequence, None).await.unwrap().unwrap();
    assert_eq!(store.session_by_digest(&first).await.unwrap(), row(&v2, None));

    let mut v3 = v2.clone();
    v3.changed_at = at(3);
    v3.sequence = store
        .update_session(&v3, v2.sequence, Some(&second))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.session_by_digest(&old).await.unwrap(), None);
    assert_eq!(store.session_by_digest(&first).await.unwrap(), None);
    assert_eq!(store.session_by_digest(&second).await.unwrap(), row(&v3, None));
    assert_eq!(get(store, s.id).await, row(&v3, None));

    // The retired digest can be given to another session.
    let other = session(None, at(4));
    let q = store.insert_session(&other, &old).await.unwrap();
    assert_eq!(
        store
            .session_by_digest(&old)
            .await
            .unwrap()
            .map(|r| (r.session.id, r.session.sequence)),
        Some((other.id, q))
    );
}

pub async fn revoking_one_session_reports_it_once(store: Arc<dyn Store>) {
    let store = &*store;
    let owner = insert_identity(store, identity(&["revoke@example.com"])).await;
    let mut live = session(Some(owner.id), at(-HOUR));
    live.expires_at = Some(at(HOUR));
    let live = insert(store, live).await;
    let mut expired = session(Some(owner.id), at(-2 * HOUR));
    expired.expires_at = Some(at(-HOUR));
    let expired = insert(store, expired).await;
    let no_user = insert(store, session(None, at(-HOUR))).await;

    assert_eq!(
        store
            .revoke_sessions(RevokeTarget::Session(live.id), NOW)
            .await
            .unwrap(),
        vec![live.id]
    );
    let revoked = get(store, live.id).await.unwrap();
    let mut expected = live.clone();
    expected.revoked_at = Some(NOW);
    expected.changed_at = NOW;
    expected.sequence = revoked.session.sequence;
    assert!(revoked.session.sequence > live.sequence);
    assert_eq!(revoked.session, expected);
    assert!(!revoked.is_active(NOW));

    // Revoking again reports nothing and changes nothing.
    assert_eq!(
        store
            .revoke_sessions(RevokeTarget::Session(live.id), at(MINUTE))
            .await
            .unwrap(),
        Vec::<Uuid>::new()
    );
    assert_eq!(get(store, live.id).await, Some(revoked));

    // Any state can be revoked by id: expired, without a user.
    for id in [expired.id, no_user.id] {
        assert_eq!(
            store.revoke_sessions(RevokeTarget::Session(id), NOW).await.unwrap(),
            vec![id]
        );
        assert_eq!(get(store, id).await.unwrap().session.revoked_at, Some(NOW));
    }
    assert_eq!(
        store
            .revoke_sessions(RevokeTarget::Session(Uuid::now_v7()), NOW)
            .await
            .unwrap(),
        Vec::<Uuid>::new()
    );
}

pub async fn revoking_an_identitys_active_sessions_keeps_the_exception(store: Arc<dyn Store>) {
    let store = &*store;
    let alice = insert_identity(store, identity(&["alice@example.com"])).await;
    let bob = insert_identity(store, identity(&["bob@example.com"])).await;
    let with = |identity_id: Option<Uuid>, expires: Option<i64>, revoked: Option<i64>| {
        let mut s = session(identity_id, at(-2 * HOUR));
        s.expires_at = expires.map(at);
        s.revoked_at = revoked.map(at);
        s
    };
    let a1 = insert(store, with(Some(alice.id), Some(HOUR), None)).await;
    let current = insert(store, with(Some(alice.id), Some(HOUR), None)).await;
    let a3 = insert(store, with(Some(alice.id), None, None)).await;
    let expired = insert(store, with(Some(alice.id), Some(-HOUR), None)).await;
    let expiring_now = insert(store, with(Some(alice.id), Some(0), None)).await;
    let revoked = insert(store, with(Some(alice.id), Some(HOUR), Some(-MINUTE))).await;
    let bobs = insert(store, with(Some(bob.id), Some(HOUR), None)).await;
    let no_user = insert(store, with(None, Some(HOUR), None)).await;

    let touched = store
        .revoke_sessions(
            RevokeTarget::IdentityActive {
                identity_id: alice.id,
                except: Some(current.id),
            },
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(sorted_ids(touched), sorted_ids(vec![a1.id, a3.id]));
    for s in [&a1, &a3] {
        let now = get(store, s.id).await.unwrap().session;
        assert_eq!((now.revoked_at, now.changed_at), (Some(NOW), NOW));
        assert!(now.sequence > s.sequence);
    }
    for s in [&current, &expired, &expiring_now, &revoked, &bobs, &no_user] {
        assert_eq!(get(store, s.id).await.unwrap().session, *s, "untouched");
    }

    // Without an exception the remaining active one goes too; then nothing is left.
    let target = RevokeTarget::IdentityActive {
        identity_id: alice.id,
        except: None,
    };
    assert_eq!(store.revoke_sessions(target, at(1)).await.unwrap(), vec![current.id]);
    assert_eq!(store.revoke_sessions(target, at(2)).await.unwrap(), Vec::<Uuid>::new());
    assert_eq!(get(store, expired.id).await.unwrap().session, expired);
    assert_eq!(get(store, bobs.id).await.unwrap().session, bobs);
}

pub async fn delete_sessions_of_identity_removes_only_theirs(store: Arc<dyn Store>) {
    let store = &*store;
    let alice = insert_identity(store, identity(&["alice@example.com"])).await;
    let bob = insert_identity(store, identity(&["bob@example.com"])).await;
    let reused_device = device(at(-HOUR), Some("fp"));
    let mut with_device = session(Some(alice.id), at(-HOUR));
    with_device.devices = vec![reused_device.clone()];
    let mut revoked = session(Some(alice.id), at(-HOUR));
    revoked.revoked_at = Some(at(-MINUTE));
    let alices = [
        insert(store, with_device).await,
        insert(store, revoked).await,
        insert(store, session(Some(alice.id), at(-MINUTE))).await,
    ];
    let bobs = insert(store, session(Some(bob.id), at(-MINUTE))).await;
    let no_user = insert(store, session(None, at(-MINUTE))).await;

    assert_eq!(
        sorted_ids(store.delete_sessions_of_identity(alice.id).await.unwrap()),
        sorted_ids(alices.iter().map(|s| s.id).collect())
    );
    for s in &alices {
        assert_eq!(get(store, s.id).await, None);
        assert_eq!(store.session_by_digest(&token_for(s.id)).await.unwrap(), None);
    }
    assert_eq!(get(store, bobs.id).await.unwrap().session, bobs);
    assert_eq!(get(store, no_user.id).await.unwrap().session, no_user);
    assert_eq!(store.identity(alice.id).await.unwrap(), Some(alice.clone()));
    assert_eq!(
        store.delete_sessions_of_identity(alice.id).await.unwrap(),
        Vec::<Uuid>::new()
    );

    // Devices went with their sessions: the device id can be used again.
    let mut again = session(Some(alice.id), at(0));
    again.devices = vec![reused_device];
    let again = insert(store, again).await;
    assert_eq!(get(store, again.id).await.unwrap().session, again);
}

/// Many creates at once (SQLite writes concurrent creates in shared transactions): every one
/// lands with its devices, under the sequence its caller got, and the sequences are distinct.
pub async fn many_concurrent_inserts_land_with_their_devices(store: Arc<dyn Store>) {
    let owner = insert_identity(&*store, identity(&["many@example.com"])).await;
    let before = store.current_sequence().await.unwrap();
    let mut tasks = Vec::new();
    for n in 0..300 {
        let store = store.clone();
        let mut new = session(if n % 2 == 0 { Some(owner.id) } else { None }, at(-n));
        new.devices = (0..n % 3).map(|d| device(at(-n + d), Some("fp"))).collect();
        tasks.push(tokio::spawn(async move { insert(&*store, new).await }));
    }
    let mut created = Vec::new();
    for task in tasks {
        created.push(task.await.unwrap());
    }
    let mut sequences: Vec<i64> = created.iter().map(|s| s.sequence).collect();
    sequences.sort();
    sequences.dedup();
    assert_eq!(sequences.len(), 300, "sequences must be distinct");
    assert!(sequences[0] > before);
    assert_eq!(store.current_sequence().await.unwrap(), sequences[299]);
    for s in &created {
        assert_eq!(get(&*store, s.id).await.unwrap().session, *s);
    }
    // Later writes still come after all of them.
    let later = insert(&*store, session(None, at(1))).await;
    assert!(later.sequence > sequences[299]);
}

/// Creates that fail (unknown identity, digest in use, id in use) while others are created at
/// the same moment fail alone, and take no sequence number.
pub async fn failing_concurrent_inserts_fail_only_themselves(store: Arc<dyn Store>) {
    let owner = insert_identity(&*store, identity(&["mixed@example.com"])).await;
    let existing = insert(&*store, session(Some(owner.id), at(-HOUR))).await;
    let before = store.current_sequence().await.unwrap();

    let mut tasks = Vec::new();
    for n in 0..40 {
        let store = store.clone();
        let mut new = session(Some(owner.id), at(-n));
        new.devices = vec![device(at(-n), None)];
        let digest = token_for(new.id);
        let expect_ok = match n {
            10 => {
                new.identity_id = Some(Uuid::now_v7());
                false
            }
            20 => {
                new.id = existing.id;
                false
            }
            _ => true,
        };
        let digest = if n == 30 { token_for(existing.id) } else { digest };
        let expect_ok = expect_ok && n != 30;
        tasks.push(tokio::spawn(async move {
            let result = store.insert_session(&new, &digest).await;
            (n, new, expect_ok, result)
        }));
    }
    let mut sequences = Vec::new();
    for task in tasks {
        let (n, mut new, expect_ok, result) = task.await.unwrap();
        match (n, result) {
            (_, Ok(sequence)) if expect_ok => {
                new.sequence = sequence;
                sequences.push(sequence);
                assert_eq!(get(&*store, new.id).await.unwrap().session, new);
            }
            (10, Err(StoreError::Database(_))) => assert_eq!(get(&*store, new.id).await, None),
            (20, Err(StoreError::Conflict(ConflictOn::Id))) => {}
            (30, Err(StoreError::Conflict(ConflictOn::TokenDigest))) => assert_eq!(get(&*store, new.id).await, None),
            (n, other) => panic!("insert {n}: unexpected {other:?}"),
        }
    }
    // The 37 that succeeded took exactly the next 37 numbers: failures gave theirs back.
    sequences.sort();
    assert_eq!(sequences, ((before + 1)..=(before + 37)).collect::<Vec<_>>());
    assert_eq!(get(&*store, existing.id).await.unwrap().session, existing);
}

pub async fn lists_read_devices_only_when_asked(store: Arc<dyn Store>) {
    let store = &*store;
    let owner = insert_identity(store, identity(&["lister@example.com"])).await;
    let mut s = session(Some(owner.id), at(-MINUTE));
    s.devices = vec![device(at(-MINUTE), Some("fp"))];
    let stored = insert(store, s).await;
    let list = |with_devices| async move {
        let query = lanyard_domain::SessionQuery {
            with_devices,
            filter: lanyard_domain::SessionFilter::default(),
            sort: lanyard_domain::SessionSort::CreatedDesc,
            page: lanyard_domain::SessionPage::Keyset { after: None, size: 10 },
        };
        store.list_sessions(&query, at(0)).await.expect("list")
    };
    let with = list(true).await;
    assert_eq!(with.len(), 1);
    assert_eq!(with[0].session, stored);
    let without = list(false).await;
    assert_eq!(without.len(), 1);
    assert!(without[0].session.devices.is_empty());
    assert_eq!(without[0].session.id, stored.id);
}
