//! IdP intents: recorded, read back, used up exactly once, forgotten when expired or when
//! their identity goes.

use std::sync::Arc;

use lanyard_domain::{IdpIntent, TokenDigest};
use lanyard_store::Store;
use uuid::Uuid;

use crate::common::*;

fn intent(identity_id: Uuid, name: &str, expires: i64) -> IdpIntent {
    IdpIntent {
        id: Uuid::now_v7(),
        digest: TokenDigest::of(&format!("lanyard_it_{name}")),
        identity_id,
        idp_id: "google".into(),
        idp_user_id: format!("{name}-at-google"),
        created_at: at(-MINUTE),
        expires_at: at(expires),
    }
}

pub async fn idp_intents_round_trip_and_are_used_up_once(store: Arc<dyn Store>) {
    let store = &*store;
    let ada = insert_identity(store, identity(&["ada@example.com"])).await;
    let recorded = intent(ada.id, "ada", 10 * MINUTE);
    store.insert_idp_intent(&recorded, NOW).await.unwrap();
    assert_eq!(store.idp_intent(recorded.id).await.unwrap().as_ref(), Some(&recorded));
    assert_eq!(store.idp_intent(Uuid::now_v7()).await.unwrap(), None);

    let wrong = TokenDigest::of("lanyard_it_guess");
    assert!(!store.consume_idp_intent(recorded.id, &wrong).await.unwrap());
    assert!(
        store.idp_intent(recorded.id).await.unwrap().is_some(),
        "a wrong digest leaves the intent"
    );
    assert!(store.consume_idp_intent(recorded.id, &recorded.digest).await.unwrap());
    assert!(!store.consume_idp_intent(recorded.id, &recorded.digest).await.unwrap());
    assert_eq!(store.idp_intent(recorded.id).await.unwrap(), None);
}

pub async fn concurrent_uses_of_one_intent_let_exactly_one_win(store: Arc<dyn Store>) {
    let ada = insert_identity(&*store, identity(&["ada@example.com"])).await;
    let recorded = intent(ada.id, "ada", 10 * MINUTE);
    store.insert_idp_intent(&recorded, NOW).await.unwrap();
    let attempts = (0..8).map(|_| {
        let store = store.clone();
        let (id, digest) = (recorded.id, recorded.digest);
        tokio::spawn(async move { store.consume_idp_intent(id, &digest).await.unwrap() })
    });
    let mut wins = 0;
    for attempt in attempts {
        wins += usize::from(attempt.await.unwrap());
    }
    assert_eq!(wins, 1);
}

pub async fn recording_an_intent_forgets_the_expired_ones(store: Arc<dyn Store>) {
    let store = &*store;
    let ada = insert_identity(store, identity(&["ada@example.com"])).await;
    let expired = intent(ada.id, "old", -SECOND);
    let at_now = intent(ada.id, "edge", 0);
    let live = intent(ada.id, "live", MINUTE);
    for recorded in [&expired, &at_now, &live] {
        store.insert_idp_intent(recorded, at(-HOUR)).await.unwrap();
    }
    let fresh = intent(ada.id, "fresh", 10 * MINUTE);
    store.insert_idp_intent(&fresh, NOW).await.unwrap();
    assert_eq!(store.idp_intent(expired.id).await.unwrap(), None);
    assert_eq!(store.idp_intent(at_now.id).await.unwrap(), None, "expired at now");
    assert!(store.idp_intent(live.id).await.unwrap().is_some());
    assert!(store.idp_intent(fresh.id).await.unwrap().is_some());
}

pub async fn deleting_the_identity_deletes_its_intents(store: Arc<dyn Store>) {
    let store = &*store;
    let ada = insert_identity(store, identity(&["ada@example.com"])).await;
    let recorded = intent(ada.id, "ada", 10 * MINUTE);
    store.insert_idp_intent(&recorded, NOW).await.unwrap();
    assert!(store.delete_identity(ada.id).await.unwrap());
    assert_eq!(store.idp_intent(recorded.id).await.unwrap(), None);
}
