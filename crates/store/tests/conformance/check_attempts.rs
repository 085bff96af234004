//! Per-identity check-attempt counters: reservations that count checks in flight, settled by
//! their verdict, shared through the database by every node.

use std::sync::Arc;

use lanyard_store::{AttemptLimits, AttemptOutcome, AttemptReservation, Store};

use crate::common::*;

fn limits(per_window: u32, max_password_attempts: u32) -> AttemptLimits {
    AttemptLimits {
        per_window,
        window: time::Duration::minutes(5),
        max_password_attempts,
    }
}

fn granted(reservation: AttemptReservation) -> lanyard_domain::Micros {
    match reservation {
        AttemptReservation::Granted { window_start } => window_start,
        other => panic!("expected a granted reservation, got {other:?}"),
    }
}

pub async fn reservations_count_in_flight_checks_until_the_window_ends(store: Arc<dyn Store>) {
    let store = &*store;
    let user = insert_identity(store, identity(&["burst@example.org"])).await;
    let other = insert_identity(store, identity(&["bystander@example.org"])).await;
    let limits = limits(3, 0);
    for _ in 0..3 {
        granted(store.reserve_check_attempt(user.id, false, limits, NOW).await.unwrap());
    }
    let refused = store
        .reserve_check_attempt(user.id, false, limits, at(SECOND))
        .await
        .unwrap();
    assert_eq!(
        refused,
        AttemptReservation::WindowFull {
            window_ends: at(5 * MINUTE)
        },
        "three unsettled reservations take the window"
    );
    granted(
        store
            .reserve_check_attempt(other.id, false, limits, at(SECOND))
            .await
            .unwrap(),
    );
    let next_window = granted(
        store
            .reserve_check_attempt(user.id, false, limits, at(5 * MINUTE))
            .await
            .unwrap(),
    );
    assert_eq!(
        next_window,
        at(5 * MINUTE),
        "a new window starts when the old one is over"
    );
}

pub async fn passed_checks_give_their_attempt_back_and_failed_ones_keep_it(store: Arc<dyn Store>) {
    let store = &*store;
    let user = insert_identity(store, identity(&["settle@example.org"])).await;
    let limits = limits(2, 0);
    let first = granted(store.reserve_check_attempt(user.id, false, limits, NOW).await.unwrap());
    let second = granted(store.reserve_check_attempt(user.id, false, limits, NOW).await.unwrap());
    store
        .settle_check_attempt(user.id, first, AttemptOutcome::Passed { password: false })
        .await
        .unwrap();
    store
        .settle_check_attempt(user.id, second, AttemptOutcome::Failed)
        .await
        .unwrap();
    let third = granted(store.reserve_check_attempt(user.id, false, limits, NOW).await.unwrap());
    assert!(
        matches!(
            store.reserve_check_attempt(user.id, false, limits, NOW).await.unwrap(),
            AttemptReservation::WindowFull { .. }
        ),
        "one failure and one running check fill a window of two"
    );
    store
        .settle_check_attempt(user.id, third, AttemptOutcome::NotRun { password: false })
        .await
        .unwrap();
    granted(store.reserve_check_attempt(user.id, false, limits, NOW).await.unwrap());

    // Settling into a window that has since ended gives nothing back in the new one.
    let old = granted(
        store
            .reserve_check_attempt(user.id, false, limits, at(6 * MINUTE))
            .await
            .unwrap(),
    );
    let new = granted(
        store
            .reserve_check_attempt(user.id, false, limits, at(12 * MINUTE))
            .await
            .unwrap(),
    );
    granted(
        store
            .reserve_check_attempt(user.id, false, limits, at(12 * MINUTE))
            .await
            .unwrap(),
    );
    store
        .settle_check_attempt(user.id, old, AttemptOutcome::Passed { password: false })
        .await
        .unwrap();
    assert_ne!(old, new);
    assert!(matches!(
        store
            .reserve_check_attempt(user.id, false, limits, at(12 * MINUTE))
            .await
            .unwrap(),
        AttemptReservation::WindowFull { .. }
    ));
}

pub async fn a_concurrent_burst_gets_exactly_the_limit(store: Arc<dyn Store>) {
    let user = insert_identity(&*store, identity(&["race@example.org"])).await;
    let limits = limits(10, 0);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.reserve_check_attempt(user.id, false, limits, NOW).await })
        })
        .collect();
    let mut granted_count = 0;
    for task in tasks {
        if let AttemptReservation::Granted { .. } = task.await.unwrap().unwrap() {
            granted_count += 1;
        }
    }
    assert_eq!(granted_count, 10);
}

pub async fn password_lockout_holds_until_unlocked_and_resets_on_success(store: Arc<dyn Store>) {
    let store = &*store;
    let user = insert_identity(store, identity(&["lockout@example.org"])).await;
    let limits = limits(0, 3);
    // Two failures, then a pass: the consecutive count starts again.
    for _ in 0..2 {
        let window = granted(store.reserve_check_attempt(user.id, true, limits, NOW).await.unwrap());
        store
            .settle_check_attempt(user.id, window, AttemptOutcome::Failed)
            .await
            .unwrap();
    }
    let window = granted(store.reserve_check_attempt(user.id, true, limits, NOW).await.unwrap());
    store
        .settle_check_attempt(user.id, window, AttemptOutcome::Passed { password: true })
        .await
        .unwrap();
    for _ in 0..3 {
        let window = granted(store.reserve_check_attempt(user.id, true, limits, NOW).await.unwrap());
        store
            .settle_check_attempt(user.id, window, AttemptOutcome::Failed)
            .await
            .unwrap();
    }
    let much_later = at(24 * HOUR);
    assert_eq!(
        store
            .reserve_check_attempt(user.id, true, limits, much_later)
            .await
            .unwrap(),
        AttemptReservation::PasswordLocked,
        "a lockout does not end with the window"
    );
    granted(
        store
            .reserve_check_attempt(user.id, false, limits, much_later)
            .await
            .unwrap(),
    );
    assert!(store.unlock_password_checks(user.id).await.unwrap());
    assert!(
        !store.unlock_password_checks(user.id).await.unwrap(),
        "nothing left to unlock"
    );
    granted(
        store
            .reserve_check_attempt(user.id, true, limits, much_later)
            .await
            .unwrap(),
    );
}

pub async fn deleting_the_identity_deletes_its_counters(store: Arc<dyn Store>) {
    let store = &*store;
    let user = insert_identity(store, identity(&["gone@example.org"])).await;
    granted(
        store
            .reserve_check_attempt(user.id, true, limits(1, 1), NOW)
            .await
            .unwrap(),
    );
    assert!(store.delete_identity(user.id).await.unwrap());
    assert!(!store.unlock_password_checks(user.id).await.unwrap());
}
