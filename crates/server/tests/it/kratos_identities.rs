use reqwest::Method;
use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn create_with_a_password_hashes_it_and_never_shows_it() {
    let app = TestApp::start().await;
    let (status, body) = exchange(app.admin(Method::POST, "/admin/identities").json(
        &json!({"schema_id": "default", "traits": {"email": "Ada@Example.org", "name": "Ada"},
                "metadata_public": {"plan": "pro"}, "metadata_admin": {"note": "vip"}, "external_id": "crm-1",
                "credentials": {"password": {"config": {"password": "correct horse battery"}}}}),
    ))
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["state"], "active");
    assert_eq!(body["metadata_public"]["plan"], "pro");
    assert_eq!(body["metadata_admin"]["note"], "vip");
    assert_eq!(body["organization_id"], serde_json::Value::Null);
    assert_eq!(
        body["credentials"]["password"]["identifiers"],
        json!(["ada@example.org"])
    );
    assert_eq!(body["credentials"]["password"]["config"], json!({}));
    assert!(!body.to_string().contains("argon2"), "no hash leaves the service");

    let id = identity_id(&body);
    let stored = app.service.identity(id).await.unwrap();
    let hash = stored.credentials[&lanyard_domain::CredentialType::Password].config["hashed_password"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");

    let (status, by_external) = exchange(app.admin(Method::GET, "/admin/identities/by/external/crm-1")).await;
    assert_eq!(status, 200);
    assert_eq!(by_external["id"], id.to_string());
}

#[tokio::test]
async fn identifiers_are_unique_regardless_of_case() {
    let app = TestApp::start().await;
    app.create_identity("Grace@Example.org").await;
    let (status, body) = exchange(
        app.admin(Method::POST, "/admin/identities")
            .json(&json!({"schema_id": "default", "traits": {"email": "grace@EXAMPLE.org"}})),
    )
    .await;
    assert_kratos_error(status, &body, 409);
}

#[tokio::test]
async fn traits_are_validated_against_the_schema() {
    let app = TestApp::start().await;
    for (schema, traits, needle) in [
        ("default", json!({"email": "not-an-email"}), "/traits/email"),
        ("default", json!({"username": "x"}), "email"),
        ("default", json!({"email": "a@b.co", "shoe_size": 44}), "shoe_size"),
        ("nope", json!({"email": "a@b.co"}), "nope"),
    ] {
        let (status, body) = exchange(
            app.admin(Method::POST, "/admin/identities")
                .json(&json!({"schema_id": schema, "traits": traits})),
        )
        .await;
        let error = assert_kratos_error(status, &body, 400);
        assert!(error["reason"].as_str().unwrap().contains(needle), "{body}");
    }
}

#[tokio::test]
async fn imported_bcrypt_hashes_are_kept_and_unknown_credential_types_refused() {
    let app = TestApp::start().await;
    let (status, _) = exchange(app.admin(Method::POST, "/admin/identities")
            .json(&json!({"schema_id": "default", "traits": {"email": "b@example.org"},
                "credentials": {"password": {"config": {"hashed_password": "$2a$04$5vqDrN8B9GUCYV.B4ZdnxuG0NbGEqi4M0obmJRBGhxyH3Htq7SCoa"}}}}))).await;
    assert_eq!(status, 201);
    let (status, body) = exchange(
        app.admin(Method::POST, "/admin/identities")
            .json(&json!({"schema_id": "default", "traits": {"email": "c@example.org"},
                "credentials": {"telepathy": {"config": {}}}})),
    )
    .await;
    let error = assert_kratos_error(status, &body, 400);
    assert!(error["reason"].as_str().unwrap().contains("telepathy"));
    let identity = app.create_identity_id().await;
    let (status, body) = exchange(app.admin(
        Method::DELETE,
        &format!("/admin/identities/{identity}/credentials/telepathy"),
    ))
    .await;
    assert_kratos_error(status, &body, 400);
    let (status, body) = exchange(app.admin(
        Method::DELETE,
        &format!("/admin/identities/{identity}/credentials/totp"),
    ))
    .await;
    assert_kratos_error(status, &body, 404);
}

#[tokio::test]
async fn put_and_patch_replace_fields_and_free_old_identifiers() {
    let app = TestApp::start().await;
    let identity = app.create_identity("old@example.org").await;
    let id = identity_id(&identity);
    let (status, body) = exchange(
        app.admin(Method::PUT, &format!("/admin/identities/{id}"))
            .json(&json!({"schema_id": "default", "traits": {"email": "new@example.org"}})),
    )
    .await;
    let error = assert_kratos_error(status, &body, 400);
    assert!(error["reason"].as_str().unwrap().contains("state"));
    let (status, body) = exchange(
        app.admin(Method::PUT, &format!("/admin/identities/{id}"))
            .json(&json!({"schema_id": "default", "state": "active", "traits": {"email": "new@example.org"}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["traits"]["email"], "new@example.org");
    app.create_identity("old@example.org").await; // the old identifier is free again

    let (status, body) = exchange(app.admin(Method::PATCH, &format!("/admin/identities/{id}"))
            .json(&json!([{"op": "add", "path": "/traits/name", "value": "Neo"}, {"op": "replace", "path": "/metadata_public", "value": {"a": 1}}]))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["traits"]["name"], "Neo");
    assert_eq!(body["metadata_public"]["a"], 1);
    let (status, body) = exchange(
        app.admin(Method::PATCH, &format!("/admin/identities/{id}"))
            .json(&json!([{"op": "replace", "path": "/id", "value": "x"}])),
    )
    .await;
    assert_kratos_error(status, &body, 400);
}

#[tokio::test]
async fn identities_are_keyset_paged_by_id() {
    let app = TestApp::start().await;
    let mut created = Vec::new();
    for n in 0..7 {
        created.push(identity_id(&app.create_identity(&format!("p{n}@example.org")).await).to_string());
    }
    let mut seen = Vec::new();
    let mut url = "/admin/identities?page_size=3".to_owned();
    loop {
        let response = app.admin(Method::GET, &url).send().await.unwrap();
        let next = link(&response, "next");
        let (_, body) = read(response).await;
        seen.extend(
            body.as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_owned()),
        );
        match next {
            Some(n) => url = n,
            None => break,
        }
    }
    assert_eq!(seen, created, "UUIDv7 ids ascend in creation order");
    let (_, found) = exchange(app.admin(Method::GET, "/admin/identities?credentials_identifier=P3@EXAMPLE.ORG")).await;
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["id"], created[3].as_str());
}

#[tokio::test]
async fn deactivating_an_identity_ends_its_sessions_and_reactivating_restores_them() {
    let app = TestApp::start().await;
    let id = app.create_identity_id().await;
    let (_, token) = app.issue(id, json!({})).await;
    let patch = |state: &'static str| {
        app.admin(Method::PATCH, &format!("/admin/identities/{id}"))
            .json(&json!([{"op": "replace", "path": "/state", "value": state}]))
    };
    assert_eq!(patch("inactive").send().await.unwrap().status(), 200);
    assert_eq!(app.whoami_status(&token).await, 401);
    assert_eq!(patch("active").send().await.unwrap().status(), 200);
    assert_eq!(app.whoami_status(&token).await, 200);
}

#[tokio::test]
async fn deleting_an_identity_deletes_its_sessions() {
    let app = TestApp::start().await;
    let id = app.create_identity_id().await;
    let (session, token) = app.issue(id, json!({})).await;
    assert_eq!(
        app.admin(Method::DELETE, &format!("/admin/identities/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(app.whoami_status(&token).await, 401);
    let r = app
        .admin(Method::GET, &format!("/admin/sessions/{}", session_id(&session)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        app.admin(Method::DELETE, &format!("/admin/identities/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn schemas_are_served_on_both_ports_by_id_and_by_schema_url() {
    let app = TestApp::start().await;
    let identity = app.create_identity("s@example.org").await;
    let schema_url = identity["schema_url"].as_str().unwrap().to_owned();
    assert!(schema_url.starts_with(&app.public));
    let (status, schema) = exchange(app.http.get(&schema_url)).await;
    assert_eq!(status, 200);
    assert_eq!(schema["properties"]["traits"]["required"], json!(["email"]));
    let (_, all) = exchange(app.admin(Method::GET, "/schemas")).await;
    assert_eq!(all[0]["id"], "default");
    let (status, body) = exchange(app.public(Method::GET, "/schemas/unknown")).await;
    assert_kratos_error(status, &body, 404);
}
