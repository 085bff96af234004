//! Pending enrolments: one per identity and kind, replaced by the next, used up exactly once,
//! forgotten when expired or when their identity goes.

use std::sync::Arc;

use lanyard_domain::{EnrolmentKind, PendingEnrolment};
use lanyard_store::Store;
use uuid::Uuid;

use crate::common::*;

fn pending(identity_id: Uuid, kind: EnrolmentKind, state: &str, expires: i64) -> PendingEnrolment {
    PendingEnrolment {
        id: Uuid::now_v7(),
        identity_id,
        kind,
        state: state.into(),
        created_at: NOW,
        expires_at: at(expires),
    }
}

pub async fn pending_enrolments_are_kept_per_kind_replaced_and_used_up_once(store: Arc<dyn Store>) {
    let store = &*store;
    let ada = insert_identity(store, identity(&["ada@example.com"])).await;
    let totp = pending(ada.id, EnrolmentKind::Totp, r#"{"secret":"A"}"#, 10 * MINUTE);
    let passkey = pending(ada.id, EnrolmentKind::Passkey, r#"{"rs":1}"#, 5 * MINUTE);
    store.put_pending_enrolment(&totp, NOW).await.unwrap();
    store.put_pending_enrolment(&passkey, NOW).await.unwrap();
    let read = |kind| store.pending_enrolment(ada.id, kind);
    assert_eq!(read(EnrolmentKind::Totp).await.unwrap().as_ref(), Some(&totp));
    assert_eq!(read(EnrolmentKind::Passkey).await.unwrap().as_ref(), Some(&passkey));
    assert_eq!(read(EnrolmentKind::U2f).await.unwrap(), None);

    let newer = pending(ada.id, EnrolmentKind::Totp, r#"{"secret":"B"}"#, 10 * MINUTE);
    store.put_pending_enrolment(&newer, NOW).await.unwrap();
    assert_eq!(read(EnrolmentKind::Totp).await.unwrap().as_ref(), Some(&newer));
    assert!(
        !store.consume_pending_enrolment(totp.id).await.unwrap(),
        "the replaced registration is gone"
    );
    assert!(store.consume_pending_enrolment(newer.id).await.unwrap());
    assert!(!store.consume_pending_enrolment(newer.id).await.unwrap());
    assert_eq!(read(EnrolmentKind::Totp).await.unwrap(), None);
    assert_eq!(
        read(EnrolmentKind::Passkey).await.unwrap().as_ref(),
        Some(&passkey),
        "other kinds are left alone"
    );
}

pub async fn concurrent_verifications_of_one_registration_let_exactly_one_win(store: Arc<dyn Store>) {
    let ada = insert_identity(&*store, identity(&["ada@example.com"])).await;
    let registration = pending(ada.id, EnrolmentKind::Passkey, "{}", 5 * MINUTE);
    store.put_pending_enrolment(&registration, NOW).await.unwrap();
    let attempts = (0..8).map(|_| {
        let store = store.clone();
        let id = registration.id;
        tokio::spawn(async move { store.consume_pending_enrolment(id).await.unwrap() })
    });
    let mut wins = 0;
    for attempt in attempts {
        wins += usize::from(attempt.await.unwrap());
    }
    assert_eq!(wins, 1);
}

pub async fn recording_a_registration_forgets_the_expired_ones_and_identities_take_theirs(store: Arc<dyn Store>) {
    let store = &*store;
    let ada = insert_identity(store, identity(&["ada@example.com"])).await;
    let bob = insert_identity(store, identity(&["bob@example.com"])).await;
    let stale = pending(ada.id, EnrolmentKind::U2f, "{}", MINUTE);
    store.put_pending_enrolment(&stale, NOW).await.unwrap();
    let bobs = pending(bob.id, EnrolmentKind::Totp, "{}", 10 * MINUTE);
    store.put_pending_enrolment(&bobs, at(2 * MINUTE)).await.unwrap();
    assert_eq!(store.pending_enrolment(ada.id, EnrolmentKind::U2f).await.unwrap(), None);

    assert!(store.delete_identity(bob.id).await.unwrap());
    assert_eq!(
        store.pending_enrolment(bob.id, EnrolmentKind::Totp).await.unwrap(),
        None
    );
}

pub async fn webauthn_challenges_are_replaced_and_taken_once(store: Arc<dyn Store>) {
    use lanyard_domain::WebauthnChallenge;
    let s = insert(&*store, session(None, NOW)).await;
    let first = WebauthnChallenge {
        session_id: s.id,
        state: r#"{"challenge":"a"}"#.into(),
        expires_at: at(5 * MINUTE),
    };
    store.put_webauthn_challenge(&first, NOW).await.unwrap();
    let second = WebauthnChallenge {
        state: r#"{"challenge":"b"}"#.into(),
        ..first.clone()
    };
    store.put_webauthn_challenge(&second, NOW).await.unwrap();
    let takers = (0..8).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.take_webauthn_challenge(s.id).await.unwrap() })
    });
    let mut taken = Vec::new();
    for taker in takers {
        taken.extend(taker.await.unwrap());
    }
    assert_eq!(taken, vec![second], "the newer challenge, to exactly one caller");

    let other = insert(&*store, session(None, NOW)).await;
    let stale = WebauthnChallenge {
        session_id: other.id,
        state: "{}".into(),
        expires_at: at(MINUTE),
    };
    store.put_webauthn_challenge(&stale, NOW).await.unwrap();
    store.put_webauthn_challenge(&first, at(2 * MINUTE)).await.unwrap();
    assert_eq!(
        store.take_webauthn_challenge(other.id).await.unwrap(),
        None,
        "expired ones are forgotten"
    );
}
