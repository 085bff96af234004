use std::collections::HashSet;

use proptest::prelude::*;
use reqwest::Method;
use uuid::Uuid;

use crate::harness::*;

/// Walks `/admin/sessions` through its `next` links; returns the ids in order.
async fn walk(
    app: &TestApp,
    first: &str,
    mut between_pages: impl FnMut(usize) -> Option<Uuid>,
) -> (Vec<String>, Vec<Uuid>) {
    let mut seen = Vec::new();
    let mut inserted_meanwhile = Vec::new();
    let mut url = first.to_owned();
    for page in 0.. {
        let response = app.admin(Method::GET, &url).send().await.expect("request");
        assert_eq!(response.status(), 200, "{url}");
        assert!(link(&response, "first").is_some(), "every page links to the first");
        let next = link(&response, "next");
        let body: serde_json::Value = response.json().await.expect("JSON");
        seen.extend(
            body.as_array()
                .expect("array")
                .iter()
                .map(|s| s["id"].as_str().expect("id").to_owned()),
        );
        if let Some(identity) = between_pages(page) {
            inserted_meanwhile.push(app.issue_fast(identity).await);
        }
        match next {
            Some(next) => url = next,
            None => break,
        }
    }
    (seen, inserted_meanwhile)
}

#[tokio::test]
async fn two_thousand_sessions_with_one_timestamp_are_each_listed_exactly_once() {
    // The manual clock stands still, so every session shares one created_at.
    let app = TestApp::start().await;
    let identity = app.create_identity_id().await;
    let mut created = HashSet::new();
    for _ in 0..2000 {
        created.insert(app.issue_fast(identity).await.to_string());
    }
    let (seen, _) = walk(&app, "/admin/sessions?page_size=250", |_| None).await;
    assert_eq!(seen.len(), 2000, "no duplicates, nothing skipped");
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), created);
}

#[tokio::test]
async fn sessions_created_while_paging_neither_shift_nor_repeat_the_walk() {
    let app = TestApp::start_on_system_clock().await;
    let identity = app.create_identity_id().await;
    let mut created = HashSet::new();
    for _ in 0..60 {
        created.insert(app.issue_fast(identity).await.to_string());
    }
    let (seen, inserted) = walk(&app, "/admin/sessions?page_size=7", |_| Some(identity)).await;
    let unique: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no session listed twice");
    assert!(
        created.is_subset(&unique),
        "no session that existed before the walk was skipped"
    );
    assert!(
        inserted.iter().all(|id| !unique.contains(&id.to_string())),
        "newer sessions are not in a newest-first walk"
    );
}

#[tokio::test]
async fn the_page_size_rules_of_kratos_apply() {
    let app = TestApp::start().await;
    let identity = app.create_identity_id().await;
    for _ in 0..3 {
        app.issue_fast(identity).await;
    }
    for (query, expected) in [("page_size=1000", "1000"), ("page_size=1", "1"), ("", "250")] {
        let response = app
            .admin(Method::GET, &format!("/admin/sessions?{query}"))
            .send()
            .await
            .unwrap();
        let first = link(&response, "first").expect("first link");
        assert!(first.contains(&format!("page_size={expected}")), "{query}: {first}");
    }
    // Outside 1..=1000 is refused, not quietly served as another size (the README's range).
    for path in [
        "/admin/sessions?page_size=ten",
        "/admin/sessions?page_size=0",
        "/admin/sessions?page_size=-1",
        "/admin/sessions?page_size=",
        "/admin/sessions?page_size=1001",
        &format!("/admin/identities/{identity}/sessions?per_page=-5"),
        &format!("/admin/identities/{identity}/sessions?page_size=0"),
    ] {
        let (status, body) = exchange(app.admin(Method::GET, path)).await;
        let error = assert_kratos_error(status, &body, 400);
        let reason = error["reason"].as_str().unwrap();
        assert!(reason.contains("page") && reason.contains("1 to"), "{path}: {reason}");
    }
}

#[tokio::test]
async fn malformed_or_tampered_page_tokens_are_400_never_a_first_page() {
    let app = TestApp::start().await;
    let identity = app.create_identity_id().await;
    for _ in 0..3 {
        app.issue_fast(identity).await;
    }
    let response = app
        .admin(Method::GET, "/admin/sessions?page_size=1")
        .send()
        .await
        .unwrap();
    let next = link(&response, "next").expect("next");
    let token = next
        .split("page_token=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let mut tampered = token.clone().into_bytes();
    let last = tampered.len() - 3;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    for bad in [tampered.as_str(), "garbage!!", "aWQ9bm9wZQ", "%ff%fe"] {
        let (status, body) = exchange(app.admin(Method::GET, &format!("/admin/sessions?page_token={bad}"))).await;
        let error = assert_kratos_error(status, &body, 400);
        assert_eq!(
            error["reason"], "The page token is invalid, do not craft your own page tokens",
            "{bad}"
        );
    }
}

#[tokio::test]
async fn kratos_format_page_tokens_are_still_accepted() {
    let app = TestApp::start().await;
    let identity = app.create_identity_id().await;
    app.issue_fast(identity).await;
    // Kratos's own first-page token, standard base64 without padding.
    let token = "aWQ9MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAwL2NyZWF0ZWRfYXQ9MjIwMC0xMi0zMSAyMzo1OTo1OQ";
    let (status, body) = exchange(app.admin(Method::GET, &format!("/admin/sessions?page_token={token}"))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.as_array().unwrap().len(), 1);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, .. ProptestConfig::default() })]

    /// Any mix of tied and distinct timestamps, any page size, with or without the active
    /// filter: the walk returns each matching session exactly once, newest first.
    #[test]
    fn every_walk_returns_each_session_exactly_once(
        gaps in proptest::collection::vec(0i64..3, 1..60),
        page_size in 1u32..12,
        revoke_every in 2usize..6,
        active_only in any::<bool>(),
    ) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let app = TestApp::start().await;
            let identity = app.create_identity_id().await;
            let mut expected = Vec::new();
            for (n, gap) in gaps.iter().enumerate() {
                app.advance(time::Duration::microseconds(*gap));
                let id = app.issue_fast(identity).await;
                let revoke = n % revoke_every == 0;
                if revoke {
                    app.admin(Method::DELETE, &format!("/admin/sessions/{id}")).send().await.unwrap();
                }
                if !(active_only && revoke) {
                    expected.push(id);
                }
            }
            let filter = if active_only { "&active=true" } else { "" };
            let (seen, _) = walk(&app, &format!("/admin/sessions?page_size={page_size}{filter}"), |_| None).await;
            let seen: Vec<Uuid> = seen.iter().map(|s| Uuid::parse_str(s).unwrap()).collect();
            assert_eq!(seen.len(), expected.len());
            assert_eq!(seen.iter().collect::<HashSet<_>>(), expected.iter().collect::<HashSet<_>>());
            let order: Vec<(i64, Uuid)> = {
                let mut v = Vec::new();
                for id in &seen {
                    let s = app.service.session(*id, false).await.unwrap().session;
                    v.push((s.created_at.0, *id));
                }
                v
            };
            let mut sorted = order.clone();
            sorted.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            assert_eq!(order, sorted, "newest first, ties by id ascending");
        });
    }
}
