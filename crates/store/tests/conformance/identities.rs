//! Identities: round trips, uniqueness of login identifiers and external ids, updates,
//! lookups, keyset listing and cascading deletes.

use std::collections::BTreeMap;
use std::sync::Arc;

use lanyard_domain::{Credential, CredentialType, Device, Factor, IdentityState, Method};
use lanyard_store::{ConflictOn, IdentityFilter, Store, StoreError};
use serde_json::json;
use uuid::Uuid;

use crate::common::*;

fn full_identity() -> lanyard_domain::Identity {
    let mut credentials = BTreeMap::new();
    credentials.insert(
        CredentialType::Password,
        Credential {
            kind: CredentialType::Password,
            identifiers: vec!["Alice@Example.com".to_owned()],
            config: json!({ "hashed_password": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA" }),
            version: 1,
            created_at: at(-2 * HOUR),
            updated_at: at(-HOUR),
        },
    );
    credentials.insert(
        CredentialType::Code,
        Credential {
            kind: CredentialType::Code,
            identifiers: vec!["+4915112345678".to_owned(), "alice@example.com".to_owned()],
            config: json!({ "addresses": [{ "channel": "sms", "address": "+4915112345678" }] }),
            version: 0,
            created_at: at(-2 * HOUR + 1),
            updated_at: at(-2 * HOUR + 1),
        },
    );
    credentials.insert(
        CredentialType::Totp,
        Credential {
            kind: CredentialType::Totp,
            identifiers: vec![],
            config: json!({ "totp_url": "otpauth://totp/Lanyard:alice?secret=JBSWY3DPEHPK3PXP" }),
            version: 0,
            created_at: at(-HOUR + 7),
            updated_at: at(-HOUR + 7),
        },
    );
    credentials.insert(
        CredentialType::Oidc,
        Credential {
            kind: CredentialType::Oidc,
            identifiers: vec!["google:1234567890".to_owned()],
            config: json!({ "providers": [{ "subject": "1234567890", "provider": "google" }] }),
            version: 0,
            created_at: at(-HOUR + 9),
            updated_at: at(-HOUR + 9),
        },
    );
    lanyard_domain::Identity {
        id: Uuid::now_v7(),
        schema_id: "customer.v2".to_owned(),
        traits: json!({
            "email": "Alice@Example.com",
            "name": { "first": "Zoë", "last": "Ångström 🚀" },
            "age": 42,
            "ratio": 0.5,
            "newsletter": true,
            "nickname": null,
            "tags": ["a", "b", "\"quoted\" \\ back"],
        }),
        state: IdentityState::Inactive,
        state_changed_at: Some(at(-MINUTE + 3)),
        metadata_public: Some(json!({ "plan": "pro", "seats": [1, 2, 3] })),
        metadata_admin: Some(json!({ "note": "vip", "nested": { "deep": [{}] } })),
        organization_id: Some(Uuid::now_v7()),
        external_id: Some("crm-0001".to_owned()),
        // Unsorted, mixed case and repeated: stored as `login_identifiers()`.
        identifiers: vec![
            "Alice@Example.com".to_owned(),
            "+4915112345678".to_owned(),
            "alice@example.com".to_owned(),
        ],
        credentials,
        created_at: at(-2 * HOUR + 123),
        updated_at: at(-MINUTE + 456),
    }
}

fn conflict(result: Result<(), StoreError>) -> ConflictOn {
    match result {
        Err(StoreError::Conflict(on)) => on,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

pub async fn identity_round_trips_every_field(store: Arc<dyn Store>) {
    let store = &*store;
    let full = insert_identity(store, full_identity()).await;
    assert_eq!(full.identifiers, vec!["+4915112345678", "alice@example.com"]);
    let minimal = insert_identity(store, identity(&[])).await;
    // Already normalised identifiers come back exactly as given.
    let canonical = identity(&["a@example.com", "b@example.com"]);
    let canonical_stored = insert_identity(store, canonical.clone()).await;
    assert_eq!(canonical_stored, canonical);

    for expected in [&full, &minimal, &canonical] {
        assert_eq!(store.identity(expected.id).await.unwrap().as_ref(), Some(expected));
    }
    let mut both = store
        .identities_by_ids(&[minimal.id, full.id, Uuid::now_v7()])
        .await
        .unwrap();
    both.sort_by_key(|i| i.id);
    assert_eq!(both, vec![full.clone(), minimal.clone()]);
    assert_eq!(
        store.identity_by_external_id("crm-0001").await.unwrap(),
        Some(full.clone())
    );
    assert_eq!(
        store.identity_by_identifier("alice@example.com").await.unwrap(),
        Some(full.clone())
    );
    assert_eq!(
        store.identity_by_identifier("+4915112345678").await.unwrap(),
        Some(full.clone())
    );
}

pub async fn missing_identities_are_none(store: Arc<dyn Store>) {
    let store = &*store;
    insert_identity(store, identity(&["someone@example.com"])).await;
    let unknown = Uuid::now_v7();
    assert_eq!(store.identity(unknown).await.unwrap(), None);
    assert_eq!(store.identities_by_ids(&[unknown]).await.unwrap(), vec![]);
    assert_eq!(store.identities_by_ids(&[]).await.unwrap(), vec![]);
    assert_eq!(store.identity_by_identifier("nobody@example.com").await.unwrap(), None);
    assert_eq!(store.identity_by_external_id("nope").await.unwrap(), None);
    assert!(!store.delete_identity(unknown).await.unwrap());
}

pub async fn duplicate_login_identifier_conflicts_case_insensitively(store: Arc<dyn Store>) {
    let store = &*store;
    // The same identifier twice in one identity, in two cases, is one identifier.
    let alice = insert_identity(
        store,
        identity(&["alice@example.com", "ALICE@example.com", "alice.smith"]),
    )
    .await;
    assert_eq!(alice.identifiers, vec!["alice.smith", "alice@example.com"]);

    for taken in [vec!["ALICE@Example.COM"], vec!["bob@example.com", "Alice.Smith"]] {
        let intruder = identity(&taken);
        assert_eq!(
            conflict(store.insert_identity(&intruder).await),
            ConflictOn::Identifier,
            "{taken:?}"
        );
        assert_eq!(store.identity(intruder.id).await.unwrap(), None);
    }
    // The failed insert took nothing: bob's own identifier is still free.
    let bob = insert_identity(store, identity(&["bob@example.com"])).await;

    // Only `identifiers` are unique: identifiers inside credentials are not login identifiers.
    let mut federated = identity(&["carol@example.com"]);
    federated.credentials.insert(
        CredentialType::Oidc,
        credential(CredentialType::Oidc, &["alice@example.com"]),
    );
    federated.credentials.insert(
        CredentialType::Password,
        credential(CredentialType::Password, &["alice@example.com"]),
    );
    let federated = insert_identity(store, federated).await;
    assert_eq!(store.identity(federated.id).await.unwrap(), Some(federated));

    assert_eq!(
        store.identity_by_identifier("alice@example.com").await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(store.identity_by_identifier("alice.smith").await.unwrap(), Some(alice));
    assert_eq!(
        store.identity_by_identifier("bob@example.com").await.unwrap(),
        Some(bob)
    );
}

pub async fn duplicate_external_id_conflicts(store: Arc<dyn Store>) {
    let store = &*store;
    let mut first = identity(&["first@example.com"]);
    first.external_id = Some("ext-1".to_owned());
    let first = insert_identity(store, first).await;

    let mut second = identity(&["second@example.com"]);
    second.external_id = Some("ext-1".to_owned());
    assert_eq!(conflict(store.insert_identity(&second).await), ConflictOn::ExternalId);
    assert_eq!(store.identity(second.id).await.unwrap(), None);
    assert_eq!(store.identity_by_identifier("second@example.com").await.unwrap(), None);
    assert_eq!(store.identity_by_external_id("ext-1").await.unwrap(), Some(first));

    // Any number of identities may have no external id.
    let none_a = insert_identity(store, identity(&["a@example.com"])).await;
    let none_b = insert_identity(store, identity(&["b@example.com"])).await;
    assert!(store.identity(none_a.id).await.unwrap().is_some());
    assert!(store.identity(none_b.id).await.unwrap().is_some());
}

pub async fn duplicate_identity_id_conflicts(store: Arc<dyn Store>) {
    let store = &*store;
    let original = insert_identity(store, identity(&["one@example.com"])).await;
    let mut copy = identity(&["two@example.com"]);
    copy.id = original.id;
    assert_eq!(conflict(store.insert_identity(&copy).await), ConflictOn::Id);
    assert_eq!(store.identity(original.id).await.unwrap(), Some(original));
    assert_eq!(store.identity_by_identifier("two@example.com").await.unwrap(), None);
}

pub async fn update_replaces_fields_and_frees_old_identifiers(store: Arc<dyn Store>) {
    let store = &*store;
    let before = insert_identity(store, full_identity()).await;

    let mut after = before.clone();
    after.schema_id = "default".to_owned();
    after.traits = json!({ "email": "New@Example.com" });
    after.state = IdentityState::Active;
    after.state_changed_at = Some(at(5));
    after.metadata_public = None;
    after.metadata_admin = Some(json!({ "changed": true }));
    after.organization_id = None;
    after.external_id = Some("crm-0002".to_owned());
    after.identifiers = vec!["New@Example.com".to_owned()];
    after.credentials = BTreeMap::from([(
        CredentialType::Password,
        credential(CredentialType::Password, &["New@Example.com"]),
    )]);
    after.updated_at = at(6);
    assert!(store.update_identity(&after).await.unwrap());
    let after = stored(&after);
    assert_eq!(after.identifiers, vec!["new@example.com"]);

    assert_eq!(store.identity(after.id).await.unwrap(), Some(after.clone()));
    assert_eq!(
        store.identity_by_identifier("new@example.com").await.unwrap(),
        Some(after.clone())
    );
    for old in ["alice@example.com", "+4915112345678"] {
        assert_eq!(store.identity_by_identifier(old).await.unwrap(), None, "{old}");
    }
    assert_eq!(store.identity_by_external_id("crm-0001").await.unwrap(), None);
    assert_eq!(
        store.identity_by_external_id("crm-0002").await.unwrap(),
        Some(after.clone())
    );

    // The old identifier and external id are free for someone else.
    let mut heir = identity(&["ALICE@example.com"]);
    heir.external_id = Some("crm-0001".to_owned());
    let heir = insert_identity(store, heir).await;
    assert_eq!(
        store.identity_by_identifier("alice@example.com").await.unwrap(),
        Some(heir)
    );

    // Updating an identity that does not exist creates nothing.
    let ghost = identity(&["ghost@example.com"]);
    assert!(!store.update_identity(&ghost).await.unwrap());
    assert_eq!(store.identity(ghost.id).await.unwrap(), None);
    assert_eq!(store.identity_by_identifier("ghost@example.com").await.unwrap(), None);
}

pub async fn update_that_would_steal_a_unique_value_changes_nothing(store: Arc<dyn Store>) {
    let store = &*store;
    let mut alice = identity(&["alice@example.com"]);
    alice.external_id = Some("ext-alice".to_owned());
    let alice = insert_identity(store, alice).await;
    let mut bob = identity(&["bob@example.com"]);
    bob.external_id = Some("ext-bob".to_owned());
    let bob = insert_identity(store, bob).await;

    let mut steal_identifier = bob.clone();
    steal_identifier.traits = json!({ "email": "changed" });
    steal_identifier.identifiers = vec!["bob@example.com".to_owned(), "Alice@Example.com".to_owned()];
    assert_eq!(
        conflict(store.update_identity(&steal_identifier).await.map(|_| ())),
        ConflictOn::Identifier
    );

    let mut steal_external = bob.clone();
    steal_external.traits = json!({ "email": "changed" });
    steal_external.external_id = Some("ext-alice".to_owned());
    assert_eq!(
        conflict(store.update_identity(&steal_external).await.map(|_| ())),
        ConflictOn::ExternalId
    );

    assert_eq!(store.identity(bob.id).await.unwrap(), Some(bob.clone()));
    assert_eq!(
        store.identity_by_identifier("bob@example.com").await.unwrap(),
        Some(bob)
    );
    assert_eq!(
        store.identity_by_identifier("alice@example.com").await.unwrap(),
        Some(alice)
    );
}

pub async fn identity_by_identifier_is_case_insensitive(store: Arc<dyn Store>) {
    let store = &*store;
    let carol = insert_identity(store, identity(&["Carol.Smith@Example.COM", "Carol"])).await;
    let dave = insert_identity(store, identity(&["dave@example.com"])).await;

    for query in [
        "carol.smith@example.com",
        "CAROL.SMITH@EXAMPLE.COM",
        "Carol.Smith@Example.COM",
        "carol",
        "CAROL",
    ] {
        assert_eq!(
            store.identity_by_identifier(query).await.unwrap(),
            Some(carol.clone()),
            "{query}"
        );
    }
    assert_eq!(
        store.identity_by_identifier("DAVE@example.com").await.unwrap(),
        Some(dave)
    );
    // Exact match only: neither a prefix nor a longer string finds anything.
    for query in ["carol.smith", "carol.smith@example.com.", "car"] {
        assert_eq!(store.identity_by_identifier(query).await.unwrap(), None, "{query}");
    }
}

pub async fn list_identities_pages_by_id_with_every_filter(store: Arc<dyn Store>) {
    let store = &*store;
    let org = Uuid::now_v7();
    let other_org = Uuid::now_v7();
    // Ids are created first and inserted in another order, so id order is not insert order.
    let specs: [(&[&str], Option<Uuid>); 8] = [
        (&["user0@example.com"], Some(org)),
        (&["user1@example.com", "admin1@corp.example"], None),
        (&["user2@example.com"], Some(org)),
        (&["a_b@example.com"], Some(other_org)),
        (&["axb@example.com", "admin4@corp.example"], Some(org)),
        (&["user5@example.com"], None),
        (&[], Some(org)),
        (&["USER7@example.com"], None),
    ];
    let identities: Vec<lanyard_domain::Identity> = specs
        .iter()
        .map(|(identifiers, organization)| {
            let mut i = identity(identifiers);
            i.organization_id = *organization;
            i
        })
        .collect();
    for index in [5, 2, 7, 0, 3, 6, 1, 4] {
        store.insert_identity(&identities[index]).await.unwrap();
    }
    let id = |index: usize| identities[index].id;

    let list = |filter: IdentityFilter, after: Option<Uuid>, limit: u32| async move {
        store
            .list_identities(&filter, after, limit)
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.id)
            .collect::<Vec<_>>()
    };
    // Walks the filter with pages of `limit`, each page starting after the last id seen.
    let walk = |filter: IdentityFilter, limit: u32| async move {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = list(filter.clone(), after, limit).await;
            assert!(page.len() <= limit as usize);
            all.extend(page.iter().copied());
            if page.len() < limit as usize {
                return all;
            }
            after = page.last().copied();
        }
    };
    let expect = |indices: &[usize]| {
        let mut ids: Vec<Uuid> = indices.iter().map(|i| id(*i)).collect();
        ids.sort();
        ids
    };

    // All, with full rows in id order.
    let mut by_id: Vec<lanyard_domain::Identity> = identities.iter().map(stored).collect();
    by_id.sort_by_key(|i| i.id);
    assert_eq!(
        store.list_identities(&IdentityFilter::All, None, 100).await.unwrap(),
        by_id
    );
    for limit in [1, 3, 8, 20] {
        assert_eq!(
            walk(IdentityFilter::All, limit).await,
            expect(&[0, 1, 2, 3, 4, 5, 6, 7]),
            "limit {limit}"
        );
    }
    let sorted_all = expect(&[0, 1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(
        list(IdentityFilter::All, Some(sorted_all[2]), 3).await,
        sorted_all[3..6].to_vec()
    );
    assert_eq!(
        list(IdentityFilter::All, Some(sorted_all[7]), 3).await,
        Vec::<Uuid>::new()
    );

    // Ids: unknown ids are ignored, the result is in id order and pages by id.
    let wanted = IdentityFilter::Ids(vec![id(6), Uuid::now_v7(), id(1), id(3), id(0)]);
    assert_eq!(walk(wanted.clone(), 10).await, expect(&[0, 1, 3, 6]));
    assert_eq!(walk(wanted.clone(), 1).await, expect(&[0, 1, 3, 6]));
    let wanted_ids = expect(&[0, 1, 3, 6]);
    assert_eq!(
        list(wanted.clone(), Some(wanted_ids[1]), 10).await,
        wanted_ids[2..].to_vec()
    );
    assert_eq!(walk(IdentityFilter::Ids(vec![]), 10).await, Vec::<Uuid>::new());

    // Identifier: exact and case-insensitive.
    assert_eq!(
        walk(IdentityFilter::Identifier("USER2@Example.com".into()), 10).await,
        expect(&[2])
    );
    assert_eq!(
        walk(IdentityFilter::Identifier("user7@example.com".into()), 10).await,
        expect(&[7])
    );
    assert_eq!(
        walk(IdentityFilter::Identifier("user".into()), 10).await,
        Vec::<Uuid>::new()
    );
    assert_eq!(
        list(IdentityFilter::Identifier("user2@example.com".into()), Some(id(2)), 10).await,
        Vec::<Uuid>::new()
    );

    // IdentifierPrefix: case-insensitive, literal (no wildcards), each identity once.
    assert_eq!(
        walk(IdentityFilter::IdentifierPrefix("USER".into()), 10).await,
        expect(&[0, 1, 2, 5, 7])
    );
    assert_eq!(
        walk(IdentityFilter::IdentifierPrefix("user".into()), 2).await,
        expect(&[0, 1, 2, 5, 7])
    );
    assert_eq!(
        walk(IdentityFilter::IdentifierPrefix("admin".into()), 10).await,
        expect(&[1, 4])
    );
    assert_eq!(
        walk(IdentityFilter::IdentifierPrefix("a".into()), 10).await,
        expect(&[1, 3, 4])
    );
    assert_eq!(
        walk(IdentityFilter::IdentifierPrefix("a_".into()), 10).await,
        expect(&[3])
    );
    assert_eq!(
        walk(IdentityFilter::IdentifierPrefix("a%".into()), 10).await,
        Vec::<Uuid>::new()
    );
    assert_eq!(
        walk(IdentityFilter::IdentifierPrefix("zzz".into()), 10).await,
        Vec::<Uuid>::new()
    );

    // Organization.
    assert_eq!(walk(IdentityFilter::Organization(org), 10).await, expect(&[0, 2, 4, 6]));
    assert_eq!(walk(IdentityFilter::Organization(org), 1).await, expect(&[0, 2, 4, 6]));
    assert_eq!(walk(IdentityFilter::Organization(other_org), 10).await, expect(&[3]));
    assert_eq!(
        walk(IdentityFilter::Organization(Uuid::now_v7()), 10).await,
        Vec::<Uuid>::new()
    );

    // Limits are respected exactly.
    assert_eq!(list(IdentityFilter::All, None, 0).await, Vec::<Uuid>::new());
    assert_eq!(list(IdentityFilter::All, None, 1).await, expect(&[0]));
}

pub async fn delete_identity_cascades_its_sessions(store: Arc<dyn Store>) {
    let store = &*store;
    let doomed = insert_identity(store, identity(&["doomed@example.com"])).await;
    let survivor = insert_identity(store, identity(&["survivor@example.com"])).await;

    let mut with_device = session(Some(doomed.id), at(-MINUTE));
    with_device.devices = vec![Device {
        id: Uuid::now_v7(),
        ip_address: Some("192.0.2.1".into()),
        user_agent: Some("curl/8".into()),
        location: None,
        fingerprint_id: Some("fp".into()),
        headers: BTreeMap::new(),
        created_at: at(-MINUTE),
    }];
    with_device.factors = vec![Factor::new(Method::Password, at(-MINUTE))];
    let doomed_sessions = [
        insert(store, with_device).await,
        insert(store, session(Some(doomed.id), at(-2 * MINUTE))).await,
    ];
    let kept = insert(store, session(Some(survivor.id), at(-MINUTE))).await;

    assert!(store.delete_identity(doomed.id).await.unwrap());
    assert_eq!(store.identity(doomed.id).await.unwrap(), None);
    assert_eq!(store.identity_by_identifier("doomed@example.com").await.unwrap(), None);
    for s in &doomed_sessions {
        assert_eq!(get(store, s.id).await, None);
        assert_eq!(store.session_by_digest(&token_for(s.id)).await.unwrap(), None);
    }
    let everything = lanyard_domain::SessionFilter {
        scope: lanyard_domain::query::Scope::NotRevoked,
        ..Default::default()
    };
    assert_eq!(
        ids(&list_all(store, &everything, Default::default(), NOW).await),
        vec![kept.id]
    );
    assert_eq!(count(store, &everything, NOW).await, 1);
    assert_eq!(get(store, kept.id).await.map(|r| r.session), Some(kept.clone()));
    assert!(!store.delete_identity(doomed.id).await.unwrap());

    // The identifier is free again.
    insert_identity(store, identity(&["Doomed@example.com"])).await;
}
