//! The change feed: every write that can change a cached whoami answer is recorded, once, in
//! commit order; nothing else is; old rows can be pruned.

use std::sync::Arc;

use lanyard_domain::IdentityState;
use lanyard_store::{Change, Invalidation, RevokeTarget, Store};
use uuid::Uuid;

use crate::common::*;

async fn feed_after(store: &dyn Store, after: i64) -> Vec<Change> {
    store.changes_since(after, 1_000).await.expect("read the change feed")
}

fn invalidations(changes: &[Change]) -> Vec<Invalidation> {
    changes.iter().map(|c| c.invalidation).collect()
}

pub async fn every_write_that_changes_whoami_is_in_the_feed_in_order(store: Arc<dyn Store>) {
    let store = &*store;
    let start = store.current_sequence().await.unwrap();
    let mut alice = insert_identity(store, identity(&["feed-alice@example.com"])).await;
    let bob = insert_identity(store, identity(&["feed-bob@example.com"])).await;
    let mut one = insert(store, session(Some(alice.id), at(-HOUR))).await;
    let two = insert(store, session(Some(alice.id), at(-HOUR))).await;
    let three = insert(store, session(Some(alice.id), at(-HOUR))).await;
    let bobs = insert(store, session(Some(bob.id), at(-HOUR))).await;
    assert_eq!(
        feed_after(store, start).await,
        Vec::<Change>::new(),
        "creating records nothing"
    );

    one.metadata.insert("step".into(), b"1".to_vec());
    let stale = one.sequence;
    one.sequence = store.update_session(&one, stale, None).await.unwrap().expect("updated");
    assert_eq!(
        store.update_session(&one, stale, None).await.unwrap(),
        None,
        "a stale update"
    );
    assert_eq!(
        store.revoke_sessions(RevokeTarget::Session(two.id), NOW).await.unwrap(),
        vec![two.id]
    );
    assert_eq!(
        store.revoke_sessions(RevokeTarget::Session(two.id), NOW).await.unwrap(),
        Vec::<Uuid>::new(),
        "revoking it again changes nothing"
    );
    let others = RevokeTarget::IdentityActive {
        identity_id: alice.id,
        except: Some(one.id),
    };
    assert_eq!(store.revoke_sessions(others, NOW).await.unwrap(), vec![three.id]);
    assert_eq!(
        store.revoke_sessions(others, NOW).await.unwrap(),
        Vec::<Uuid>::new(),
        "none left to revoke"
    );
    alice.state = IdentityState::Inactive;
    assert!(store.update_identity(&alice).await.unwrap());
    let mut ghost = identity(&["feed-ghost@example.com"]);
    ghost.id = Uuid::now_v7();
    assert!(!store.update_identity(&ghost).await.unwrap(), "an unknown identity");
    assert_eq!(store.delete_sessions_of_identity(bob.id).await.unwrap(), vec![bobs.id]);
    assert_eq!(
        store.delete_sessions_of_identity(bob.id).await.unwrap(),
        Vec::<Uuid>::new(),
        "none left"
    );
    assert!(store.delete_identity(alice.id).await.unwrap());
    assert!(!store.delete_identity(alice.id).await.unwrap(), "already gone");
    // Cleanup deletes only sessions that whoami already refuses: nothing to record.
    let mut expired = session(Some(bob.id), at(-2 * HOUR));
    expired.expires_at = Some(at(-HOUR));
    insert(store, expired).await;
    assert_eq!(store.delete_expired_sessions(NOW, NOW, 100).await.unwrap(), 1);

    let feed = feed_after(store, start).await;
    assert_eq!(
        invalidations(&feed),
        vec![
            Invalidation::Session(one.id),
            Invalidation::Session(two.id),
            Invalidation::Identity(alice.id),
            Invalidation::Identity(alice.id),
            Invalidation::Identity(bob.id),
            Invalidation::Identity(alice.id),
        ]
    );
    assert_eq!(
        feed[0].sequence, one.sequence,
        "an update's change carries the session's new sequence"
    );
    assert!(feed.windows(2).all(|w| w[0].sequence < w[1].sequence), "{feed:?}");
    assert!(feed.iter().all(|c| c.sequence > start));
    let latest = store.current_sequence().await.unwrap();
    assert!(feed.last().unwrap().sequence <= latest);
    assert_eq!(
        feed_after(store, feed[2].sequence).await,
        feed[3..].to_vec(),
        "after a number"
    );
    assert!(feed_after(store, latest).await.is_empty());
}

pub async fn the_feed_is_read_in_pages(store: Arc<dyn Store>) {
    let store = &*store;
    let start = store.current_sequence().await.unwrap();
    let owner = insert_identity(store, identity(&["feed-pages@example.com"])).await;
    let mut revoked = Vec::new();
    for n in 0..5 {
        let s = insert(store, session(Some(owner.id), at(-n))).await;
        store.revoke_sessions(RevokeTarget::Session(s.id), NOW).await.unwrap();
        revoked.push(Invalidation::Session(s.id));
    }
    let mut read = Vec::new();
    let mut cursor = start;
    let mut pages = 0;
    loop {
        let page = store.changes_since(cursor, 2).await.unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        cursor = last.sequence;
        read.extend(invalidations(&page));
        pages += 1;
    }
    assert_eq!(read, revoked);
    assert_eq!(pages, 3);
}

pub async fn pruning_forgets_only_old_changes(store: Arc<dyn Store>) {
    let store = &*store;
    let start = store.current_sequence().await.unwrap();
    let owner = insert_identity(store, identity(&["feed-prune@example.com"])).await;
    let s = insert(store, session(Some(owner.id), at(-HOUR))).await;
    store.revoke_sessions(RevokeTarget::Session(s.id), NOW).await.unwrap();
    assert!(store.delete_identity(owner.id).await.unwrap());
    assert_eq!(
        store.prune_changes(time::Duration::hours(1)).await.unwrap(),
        0,
        "recorded just now"
    );
    assert_eq!(feed_after(store, start).await.len(), 2);
    assert_eq!(store.prune_changes(time::Duration::ZERO).await.unwrap(), 2);
    assert!(feed_after(store, start).await.is_empty());
}
