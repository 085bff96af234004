//! Cleanup: batched hard deletes of sessions past their retention.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use lanyard_domain::{Device, Micros};
use lanyard_store::{RevokeTarget, Store};
use uuid::Uuid;

use crate::common::*;

fn device(created_at: Micros) -> Device {
    Device {
        id: Uuid::now_v7(),
        ip_address: Some("192.0.2.1".to_owned()),
        user_agent: Some("cleanup".to_owned()),
        location: None,
        fingerprint_id: None,
        headers: BTreeMap::new(),
        created_at,
    }
}

/// The cutoff both conditions use in these tests: an hour before `NOW`.
const CUTOFF: i64 = -HOUR;

async fn still_there(store: &dyn Store, ids: &[Uuid]) -> BTreeSet<Uuid> {
    let mut found = BTreeSet::new();
    for id in ids {
        if get(store, *id).await.is_some() {
            found.insert(*id);
        }
    }
    found
}

pub async fn delete_expired_sessions_removes_only_sessions_past_the_cutoffs(store: Arc<dyn Store>) {
    let store = &*store;
    let identity = insert_identity(store, identity(&["cleanup@example.org"])).await;
    let owned = |created: i64| session(Some(identity.id), at(created));

    // Gone: expired or revoked strictly before the cutoff (with their devices), with or
    // without an identity, and sessions that are both.
    let mut expired_long_ago = owned(-3 * HOUR);
    expired_long_ago.expires_at = Some(at(-2 * HOUR));
    let expired_device = device(at(-3 * HOUR));
    expired_long_ago.devices = vec![expired_device.clone()];
    let mut revoked_long_ago = owned(-3 * HOUR);
    revoked_long_ago.revoked_at = Some(at(-2 * HOUR));
    revoked_long_ago.devices = vec![device(at(-3 * HOUR))];
    let mut both = owned(-3 * HOUR);
    both.expires_at = Some(at(-2 * HOUR));
    both.revoked_at = Some(at(-150 * MINUTE));
    let mut no_user_expired = session(None, at(-3 * HOUR));
    no_user_expired.expires_at = Some(at(CUTOFF - 1));
    // Revoked long ago, expiry still ahead: revocation alone qualifies it.
    let mut revoked_not_expired = owned(-3 * HOUR);
    revoked_not_expired.revoked_at = Some(at(CUTOFF - 1));
    revoked_not_expired.expires_at = Some(at(10 * HOUR));
    let gone = [
        expired_long_ago.clone(),
        revoked_long_ago,
        both,
        no_user_expired,
        revoked_not_expired,
    ];

    // Kept: expired or revoked inside the retention window or exactly at the cutoff, active,
    // never expiring.
    let mut expired_at_cutoff = owned(-3 * HOUR);
    expired_at_cutoff.expires_at = Some(at(CUTOFF));
    let mut revoked_at_cutoff = owned(-3 * HOUR);
    revoked_at_cutoff.revoked_at = Some(at(CUTOFF));
    let mut expired_recently = owned(-3 * HOUR);
    expired_recently.expires_at = Some(at(-30 * MINUTE));
    let mut revoked_recently = owned(-3 * HOUR);
    revoked_recently.revoked_at = Some(at(-30 * MINUTE));
    revoked_recently.devices = vec![device(at(-3 * HOUR))];
    let mut active = owned(-3 * HOUR);
    active.expires_at = Some(at(HOUR));
    active.devices = vec![device(at(-3 * HOUR))];
    let never_expires = owned(-3 * HOUR);
    let mut no_user_active = session(None, at(-3 * HOUR));
    no_user_active.expires_at = Some(at(HOUR));
    let kept = [
        expired_at_cutoff,
        revoked_at_cutoff,
        expired_recently,
        revoked_recently.clone(),
        active.clone(),
        never_expires,
        no_user_active,
    ];

    let mut inserted = BTreeMap::new();
    for s in gone.iter().chain(&kept) {
        let s = insert(store, s.clone()).await;
        inserted.insert(s.id, s);
    }
    let gone_ids: Vec<Uuid> = gone.iter().map(|s| s.id).collect();
    let kept_ids: Vec<Uuid> = kept.iter().map(|s| s.id).collect();

    let deleted = store
        .delete_expired_sessions(at(CUTOFF), at(CUTOFF), 1000)
        .await
        .expect("delete expired sessions");
    assert_eq!(deleted, gone.len() as u64, "each qualifying session counts once");
    assert!(still_there(store, &gone_ids).await.is_empty());
    assert_eq!(still_there(store, &kept_ids).await, kept_ids.iter().copied().collect());

    // Kept sessions are untouched, devices and sequence included.
    for id in &kept_ids {
        assert_eq!(get(store, *id).await.unwrap().session, inserted[id]);
    }
    assert_eq!(get(store, revoked_recently.id).await.unwrap().session.devices.len(), 1);

    // The deleted sessions' devices went with them: their ids are free again.
    let mut reuse = owned(0);
    reuse.devices = vec![expired_device];
    store
        .insert_session(&reuse, &token_for(reuse.id))
        .await
        .expect("the device of a deleted session was deleted with it");

    // Nothing is left to delete; the cutoffs are independent.
    assert_eq!(
        store
            .delete_expired_sessions(at(CUTOFF), at(CUTOFF), 1000)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .delete_expired_sessions(at(0), Micros(i64::MIN), 1000)
            .await
            .unwrap(),
        2,
        "expired at the cutoff and 30 minutes ago"
    );
    assert_eq!(
        store
            .delete_expired_sessions(Micros(i64::MIN), at(0), 1000)
            .await
            .unwrap(),
        2,
        "revoked at the cutoff and 30 minutes ago"
    );
    assert!(get(store, active.id).await.is_some());
    assert_eq!(
        store
            .session_by_digest(&token_for(active.id))
            .await
            .unwrap()
            .unwrap()
            .session
            .id,
        active.id
    );
}

pub async fn delete_expired_sessions_respects_the_limit(store: Arc<dyn Store>) {
    let store = &*store;
    let identity = insert_identity(store, identity(&["batches@example.org"])).await;
    let mut expired = Vec::new();
    for n in 0..7 {
        let mut s = session(Some(identity.id), at(-3 * HOUR + n));
        s.expires_at = Some(at(-2 * HOUR + n));
        s.devices = vec![device(at(-3 * HOUR))];
        expired.push(insert(store, s).await.id);
    }
    let mut active = session(Some(identity.id), at(-3 * HOUR));
    active.expires_at = Some(at(HOUR));
    let active = insert(store, active).await;

    assert_eq!(
        store.delete_expired_sessions(at(CUTOFF), at(CUTOFF), 0).await.unwrap(),
        0
    );
    assert_eq!(
        still_there(store, &expired).await.len(),
        7,
        "a limit of 0 deletes nothing"
    );

    let mut batches = Vec::new();
    loop {
        let deleted = store.delete_expired_sessions(at(CUTOFF), at(CUTOFF), 3).await.unwrap();
        batches.push(deleted);
        assert_eq!(
            still_there(store, &expired).await.len() as u64,
            7 - batches.iter().sum::<u64>(),
            "reported count matches what went"
        );
        if deleted < 3 {
            break;
        }
    }
    assert_eq!(batches, [3, 3, 1]);
    assert!(get(store, active.id).await.is_some(), "the active session is untouched");
    assert_eq!(
        store.delete_expired_sessions(at(CUTOFF), at(CUTOFF), 3).await.unwrap(),
        0
    );
}

/// Cleanups running beside each other and beside writers touching the same hours all succeed.
/// Each deleted session updates the counter cells of its hours; before cleanup took the
/// session write lock first, a cleanup and a concurrent write could lock those cells in
/// opposite orders, and PostgreSQL aborted one of them as a deadlock.
pub async fn cleanups_beside_writers_of_the_same_hours_all_succeed(store: Arc<dyn Store>) {
    let hours: Vec<i64> = (2..8).collect();
    let mut expired = Vec::new();
    for n in 0..360 {
        // Creation hours in a scattered order, so that a batch of the cleanup spans several.
        let created = Micros(NOW.0 - hours[(n * 5) % hours.len()] * HOUR - n as i64);
        let mut s = session(None, created);
        s.expires_at = Some(Micros(created.0 + MINUTE));
        expired.push(insert(&*store, s).await.id);
    }
    let cleaners: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                clean_until_nothing_is_left(&*store, 7).await;
            })
        })
        .collect();
    let writers: Vec<_> = (0..4usize)
        .map(|writer| {
            let store = store.clone();
            let expired = expired.clone();
            tokio::spawn(async move {
                let mut kept = Vec::new();
                for n in 0..90usize {
                    // Revoke or move to another expired hour a session the cleaners are after:
                    // both update the counter cells of its hours, as the cleaners do.
                    let id = expired[(n * 13 + writer * 7) % expired.len()];
                    if let Some(row) = store.session(id).await.expect("read beside cleanup") {
                        if n % 2 == 0 {
                            store
                                .revoke_sessions(RevokeTarget::Session(id), NOW)
                                .await
                                .expect("revoke beside cleanup");
                        } else {
                            let mut moved = row.session.clone();
                            let hour = ((n + writer) % 5) as i64 + 2;
                            moved.expires_at = Some(Micros(NOW.0 - hour * HOUR + n as i64));
                            moved.created_at = Micros(NOW.0 - 9 * HOUR);
                            store
                                .update_session(&moved, row.session.sequence, None)
                                .await
                                .expect("update beside cleanup");
                        }
                    }
                    if n % 10 == 0 {
                        let s = session(None, Micros(NOW.0 - ((n % 6) as i64 + 2) * HOUR));
                        kept.push(insert(&*store, s).await.id);
                    }
                }
                kept
            })
        })
        .collect();
    for cleaner in cleaners {
        cleaner.await.expect("cleaner");
    }
    let mut kept = Vec::new();
    for writer in writers {
        kept.extend(writer.await.expect("writer"));
    }
    // Whatever a cleaner's last batch raced with, one more pass leaves no expired session.
    clean_until_nothing_is_left(&*store, 100).await;
    assert!(still_there(&*store, &expired).await.is_empty());
    assert_eq!(still_there(&*store, &kept).await.len(), kept.len());
}

/// Cleanup in batches of `batch` until a batch deletes nothing.
async fn clean_until_nothing_is_left(store: &dyn Store, batch: u32) {
    let cutoff = Micros(NOW.0 + CUTOFF);
    while store
        .delete_expired_sessions(cutoff, cutoff, batch)
        .await
        .expect("cleanup")
        > 0
    {}
}
