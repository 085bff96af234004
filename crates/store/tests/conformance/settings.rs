//! Shared settings and the readiness round trip.

use std::sync::Arc;

use lanyard_store::Store;

pub async fn ping_succeeds(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
}

pub async fn setting_or_insert_keeps_the_first_value(store: Arc<dyn Store>) {
    let store = &*store;
    assert_eq!(
        store.setting_or_insert("page_token_secret", "first").await.unwrap(),
        "first"
    );
    for candidate in ["second", "", "first"] {
        assert_eq!(
            store.setting_or_insert("page_token_secret", candidate).await.unwrap(),
            "first"
        );
    }
    // Names are independent and exact.
    assert_eq!(store.setting_or_insert("other", "").await.unwrap(), "");
    assert_eq!(store.setting_or_insert("other", "x").await.unwrap(), "");
    assert_eq!(
        store.setting_or_insert("PAGE_TOKEN_SECRET", "upper").await.unwrap(),
        "upper"
    );
    let long = "v".repeat(10_000) + "ü🚀";
    assert_eq!(store.setting_or_insert("long", &long).await.unwrap(), long);
    assert_eq!(store.setting_or_insert("long", "short").await.unwrap(), long);
}

pub async fn concurrent_setting_or_insert_agrees_on_one_value(store: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for n in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.setting_or_insert("race", &format!("value-{n}")).await.unwrap()
        }));
    }
    let mut values = Vec::new();
    for task in tasks {
        values.push(task.await.unwrap());
    }
    let winner = values[0].clone();
    assert!(winner.starts_with("value-"));
    assert!(values.iter().all(|v| *v == winner), "{values:?}");
    assert_eq!(store.setting_or_insert("race", "late").await.unwrap(), winner);
}
