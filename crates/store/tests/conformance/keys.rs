//! API keys: round trip by digest, listing, revocation.

use std::sync::Arc;

use lanyard_domain::{ApiKey, Scope, TokenDigest};
use lanyard_store::{ConflictOn, Store, StoreError};
use uuid::Uuid;

use crate::common::*;

fn key(name: &str, scopes: &[Scope], created: i64) -> ApiKey {
    ApiKey {
        id: Uuid::now_v7(),
        name: name.to_owned(),
        digest: TokenDigest::of(&format!("lanyard_ak_{name}")),
        scopes: scopes.to_vec(),
        created_at: at(created),
        revoked_at: None,
    }
}

pub async fn api_keys_round_trip_list_and_revoke(store: Arc<dyn Store>) {
    let store = &*store;
    assert_eq!(store.list_api_keys().await.unwrap(), vec![]);
    // Inserted out of creation order; scopes keep the order they were given in.
    let admin = key(
        "admin",
        &[
            Scope::IdentityWrite,
            Scope::SessionRead,
            Scope::SessionWrite,
            Scope::SessionDelete,
            Scope::IdentityRead,
        ],
        -HOUR,
    );
    let reader = key("reader", &[Scope::SessionRead], -3 * HOUR);
    let mut nothing = key("nothing", &[], -2 * HOUR);
    nothing.revoked_at = Some(at(-MINUTE));
    for k in [&admin, &reader, &nothing] {
        store.insert_api_key(k).await.unwrap();
    }

    for k in [&admin, &reader, &nothing] {
        assert_eq!(store.api_key_by_digest(&k.digest).await.unwrap().as_ref(), Some(k));
    }
    assert_eq!(
        store
            .api_key_by_digest(&TokenDigest::of("lanyard_ak_unknown"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.list_api_keys().await.unwrap(),
        vec![reader.clone(), nothing.clone(), admin.clone()]
    );

    assert!(store.revoke_api_key(reader.id, NOW).await.unwrap());
    let mut revoked = reader.clone();
    revoked.revoked_at = Some(NOW);
    assert_eq!(
        store.api_key_by_digest(&reader.digest).await.unwrap(),
        Some(revoked.clone())
    );
    assert!(!revoked.allows(Scope::SessionRead));

    // A second revocation reports false and keeps the first instant.
    assert!(!store.revoke_api_key(reader.id, at(MINUTE)).await.unwrap());
    assert!(!store.revoke_api_key(nothing.id, NOW).await.unwrap());
    assert!(!store.revoke_api_key(Uuid::now_v7(), NOW).await.unwrap());
    assert_eq!(store.list_api_keys().await.unwrap(), vec![revoked, nothing, admin]);
}

pub async fn duplicate_api_key_digest_conflicts(store: Arc<dyn Store>) {
    let store = &*store;
    let first = key("first", &[Scope::SessionRead], 0);
    store.insert_api_key(&first).await.unwrap();
    let mut second = key("second", &[Scope::SessionWrite], 1);
    second.digest = first.digest;
    match store.insert_api_key(&second).await {
        Err(StoreError::Conflict(ConflictOn::TokenDigest)) => {}
        other => panic!("expected a digest conflict, got {other:?}"),
    }
    assert_eq!(store.list_api_keys().await.unwrap(), vec![first.clone()]);
    assert_eq!(store.api_key_by_digest(&first.digest).await.unwrap(), Some(first));
}
