//! Leases: how nodes sharing a database coordinate (migrations, cleanup) without advisory locks.

use std::sync::Arc;

use lanyard_store::Store;

use crate::common::*;

fn ttl(micros: i64) -> time::Duration {
    time::Duration::microseconds(micros)
}

pub async fn lease_is_exclusive_until_it_expires_and_renewable_by_its_holder(store: Arc<dyn Store>) {
    let store = &*store;
    // A free lease is taken; until it expires, nobody else gets it.
    assert!(store
        .try_acquire_lease("cleanup", "node-a", ttl(MINUTE), NOW)
        .await
        .unwrap());
    assert!(!store
        .try_acquire_lease("cleanup", "node-b", ttl(MINUTE), at(30 * SECOND))
        .await
        .unwrap());
    assert!(!store
        .try_acquire_lease("cleanup", "node-b", ttl(MINUTE), at(MINUTE - 1))
        .await
        .unwrap());

    // The holder renews it: the expiry moves to the renewal instant plus the ttl.
    assert!(store
        .try_acquire_lease("cleanup", "node-a", ttl(MINUTE), at(30 * SECOND))
        .await
        .unwrap());
    assert!(!store
        .try_acquire_lease("cleanup", "node-b", ttl(MINUTE), at(MINUTE))
        .await
        .unwrap());
    assert!(!store
        .try_acquire_lease("cleanup", "node-b", ttl(MINUTE), at(90 * SECOND - 1))
        .await
        .unwrap());

    // Names are independent and exact.
    assert!(store
        .try_acquire_lease("Cleanup", "node-b", ttl(MINUTE), at(SECOND))
        .await
        .unwrap());
    assert!(store
        .try_acquire_lease("migrations", "node-b", ttl(MINUTE), at(SECOND))
        .await
        .unwrap());

    // At its expiry instant the lease is free for anyone, and then belongs to the taker.
    assert!(store
        .try_acquire_lease("cleanup", "node-b", ttl(MINUTE), at(90 * SECOND))
        .await
        .unwrap());
    assert!(!store
        .try_acquire_lease("cleanup", "node-a", ttl(MINUTE), at(91 * SECOND))
        .await
        .unwrap());

    // Only the holder can release it; afterwards it is free at once.
    assert!(!store.release_lease("cleanup", "node-a").await.unwrap());
    assert!(!store
        .try_acquire_lease("cleanup", "node-a", ttl(MINUTE), at(92 * SECOND))
        .await
        .unwrap());
    assert!(store.release_lease("cleanup", "node-b").await.unwrap());
    assert!(!store.release_lease("cleanup", "node-b").await.unwrap());
    assert!(store
        .try_acquire_lease("cleanup", "node-a", ttl(MINUTE), at(93 * SECOND))
        .await
        .unwrap());

    // Releasing an expired lease one still holds is fine; releasing an unknown lease is not an error.
    assert!(store.release_lease("migrations", "node-b").await.unwrap());
    assert!(!store.release_lease("never-taken", "node-a").await.unwrap());
}

pub async fn concurrent_takers_of_one_lease_agree_on_one_holder(store: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for n in 0..12 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let holder = format!("node-{n}");
            let won = store
                .try_acquire_lease("race", &holder, ttl(MINUTE), NOW)
                .await
                .unwrap();
            won.then_some(holder)
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        winners.extend(task.await.unwrap());
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    // The winner, and only the winner, renews it.
    assert!(store
        .try_acquire_lease("race", &winners[0], ttl(MINUTE), at(SECOND))
        .await
        .unwrap());
    let loser = if winners[0] == "node-0" { "node-1" } else { "node-0" };
    assert!(!store
        .try_acquire_lease("race", loser, ttl(MINUTE), at(SECOND))
        .await
        .unwrap());
}
