//! The token cache across nodes: two apps on one SQLite file, on one manual clock. SQLite has
//! no notifications, so what one node changes reaches the other only through the change feed
//! or the trust bound: a change shows within `cache.ttl` (5 s) with or without polls, and an
//! unchanged token stays cached past `cache.ttl` for as long as the polls confirm it.

use lanyard_service::CacheStats;
use reqwest::Method;
use serde_json::json;

use crate::harness::{session_id, test_settings, TestApp};

/// The default `cache.ttl`, the bound under test.
const TTL: time::Duration = time::Duration::seconds(5);

fn stats(app: &TestApp) -> CacheStats {
    app.service.cache_stats().expect("the token cache is on")
}

async fn two_nodes() -> (TestApp, TestApp) {
    let a = TestApp::start().await;
    assert_eq!(a.service.settings().token_cache_ttl, TTL, "the default");
    let b = a.another_node(test_settings()).await;
    (a, b)
}

async fn revoke(app: &TestApp, session: uuid::Uuid) {
    let response = app
        .admin(Method::DELETE, &format!("/admin/sessions/{session}"))
        .send()
        .await
        .expect("revoke");
    assert_eq!(response.status(), 204);
}

#[tokio::test]
async fn a_revocation_reaches_another_node_within_ttl_without_notifications_or_polls() {
    let (a, b) = two_nodes().await;
    let (session, token) = a.issue(a.create_identity_id().await, json!({})).await;
    assert_eq!(b.whoami_status(&token).await, 200, "B caches the token");
    revoke(&a, session_id(&session)).await;
    assert_eq!(
        a.whoami_status(&token).await,
        401,
        "at once on the node that revoked it"
    );
    a.advance(TTL - time::Duration::milliseconds(1));
    assert_eq!(
        b.whoami_status(&token).await,
        200,
        "B has heard nothing yet: within the bound"
    );
    a.advance(time::Duration::milliseconds(1));
    assert_eq!(
        b.whoami_status(&token).await,
        401,
        "cache.ttl after B last confirmed it"
    );
}

#[tokio::test]
async fn a_poll_of_the_change_feed_carries_a_revocation_to_another_node_at_once() {
    let (a, b) = two_nodes().await;
    b.service.refresh_token_cache().await.expect("first poll");
    let (session, token) = a.issue(a.create_identity_id().await, json!({})).await;
    assert_eq!(b.whoami_status(&token).await, 200);
    revoke(&a, session_id(&session)).await;
    let polled = b.service.refresh_token_cache().await.expect("poll");
    assert_eq!(polled.changes, 1);
    assert_eq!(b.whoami_status(&token).await, 401, "no time passed");
}

#[tokio::test]
async fn unchanged_tokens_stay_cached_past_ttl_and_only_changed_ones_are_read_again() {
    let (a, b) = two_nodes().await;
    let (first, second) = (a.create_identity_id().await, a.create_identity_id().await);
    let (_, kept) = a.issue(first, json!({})).await;
    let (_, changed) = a.issue(second, json!({})).await;
    b.service.refresh_token_cache().await.expect("first poll");
    assert_eq!(b.whoami_status(&kept).await, 200);
    assert_eq!(b.whoami_status(&changed).await, 200);
    let loaded = stats(&b);
    assert_eq!((loaded.hits, loaded.misses), (0, 2));

    // Six polls, three times cache.ttl: nothing changed, nothing is read again.
    for _ in 0..6 {
        a.advance(TTL / 2);
        let polled = b.service.refresh_token_cache().await.expect("poll");
        assert_eq!((polled.changes, polled.flushed), (0, false));
        assert_eq!(b.whoami_status(&kept).await, 200);
        assert_eq!(b.whoami_status(&changed).await, 200);
    }
    let confirmed = stats(&b);
    assert_eq!((confirmed.hits, confirmed.misses, confirmed.stale), (12, 2, 0));

    // The second identity is deactivated on A: the next poll drops its token only.
    let response = a
        .admin(Method::PATCH, &format!("/admin/identities/{second}"))
        .json(&json!([{"op": "replace", "path": "/state", "value": "inactive"}]))
        .send()
        .await
        .expect("deactivate");
    assert_eq!(response.status(), 200);
    a.advance(TTL / 2);
    assert_eq!(b.service.refresh_token_cache().await.expect("poll").changes, 1);
    assert_eq!(
        b.whoami_status(&changed).await,
        401,
        "read again: the identity is inactive"
    );
    assert_eq!(b.whoami_status(&kept).await, 200);
    let after = stats(&b);
    assert_eq!((after.hits - confirmed.hits, after.misses - confirmed.misses), (1, 1));

    // Without polls the bound still holds: ttl after the last one, the token is read again.
    a.advance(TTL);
    assert_eq!(b.whoami_status(&kept).await, 200);
    let lapsed = stats(&b);
    assert_eq!((lapsed.misses - after.misses, lapsed.stale - after.stale), (1, 1));
}

#[tokio::test]
async fn identity_changes_on_another_node_reach_every_cached_session_of_it() {
    let (a, b) = two_nodes().await;
    let owner = a.create_identity_id().await;
    let (_, one) = a.issue(owner, json!({})).await;
    let (_, two) = a.issue(owner, json!({})).await;
    let (_, bystander) = a.issue(a.create_identity_id().await, json!({})).await;
    b.service.refresh_token_cache().await.expect("first poll");
    for token in [&one, &two, &bystander] {
        assert_eq!(b.whoami_status(token).await, 200);
    }
    let response = a
        .admin(Method::DELETE, &format!("/admin/identities/{owner}/sessions"))
        .send()
        .await
        .expect("delete the identity's sessions");
    assert_eq!(response.status(), 204);
    assert_eq!(b.service.refresh_token_cache().await.expect("poll").changes, 1);
    assert_eq!(b.whoami_status(&one).await, 401);
    assert_eq!(b.whoami_status(&two).await, 401);
    let before = stats(&b);
    assert_eq!(b.whoami_status(&bystander).await, 200);
    assert_eq!(stats(&b).hits, before.hits + 1, "the bystander stays cached");
}

#[tokio::test]
async fn a_node_that_could_not_poll_for_long_starts_over_with_an_empty_cache() {
    let (a, b) = two_nodes().await;
    let polled = b.service.refresh_token_cache().await.expect("first poll");
    assert!(polled.flushed, "the first poll starts from an empty cache");
    let (_, token) = a.issue(a.create_identity_id().await, json!({})).await;
    assert_eq!(b.whoami_status(&token).await, 200);
    a.advance(lanyard_service::CHANGES_RETENTION / 2);
    let polled = b.service.refresh_token_cache().await.expect("poll");
    assert!(polled.flushed, "changes may have been pruned meanwhile");
    let flushed = stats(&b);
    assert_eq!(b.whoami_status(&token).await, 200);
    assert_eq!(stats(&b).misses, flushed.misses + 1, "read again");
}
