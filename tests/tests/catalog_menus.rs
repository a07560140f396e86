//! Menus (day parts) through the whole platform: creation with validation, availability on each
//! location's own clock, If-Match, archive and restore, the change feed stamp, and tenant
//! isolation (another tenant's categories, locations and menus do not exist).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{TestPlatform, audit_count, problem, sign_up, sign_up_with, signup_body};
use serde_json::{Value, json};
use uuid::Uuid;

async fn category(platform: &TestPlatform, tenant: Uuid, name: &str) -> Uuid {
    let id = Uuid::now_v7();
    platform
        .admin()
        .await
        .execute(
            "INSERT INTO catalog.categories (id, tenant_id, name) VALUES ($1, $2, $3)",
            &[&id, &tenant, &name],
        )
        .await
        .unwrap();
    id
}

async fn send(
    platform: &TestPlatform,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<&Value>,
    if_match: Option<i64>,
) -> reqwest::Response {
    let mut request = platform
        .http
        .request(method, platform.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(body);
    }
    if let Some(version) = if_match {
        request = request.header("If-Match", format!("\"{version}\""));
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn menus_are_offered_on_each_locations_own_clock() {
    let platform = TestPlatform::start(None).await;
    let mut body = signup_body("menu-paris", "Menu Paris");
    body["plan"] = json!("pro");
    body["location"] = json!({"name": "Paris", "time_zone": "Europe/Paris"});
    let owner = sign_up_with(&platform, &body).await;
    let paris = owner.location;
    let created = send(
        &platform,
        reqwest::Method::POST,
        "/v1/locations",
        &owner.token,
        Some(&json!({"name": "New York", "time_zone": "America/New_York", "currency": "USD"})),
        None,
    )
    .await;
    assert_eq!(created.status(), 201);
    let new_york: Value = created.json().await.unwrap();
    let new_york = Uuid::try_parse(new_york["id"].as_str().unwrap()).unwrap();
    let drinks = category(&platform, owner.tenant, "Drinks").await;

    let breakfast = send(
        &platform,
        reqwest::Method::POST,
        "/v1/menus",
        &owner.token,
        Some(&json!({
            "name": "Breakfast", "category_ids": [drinks, drinks],
            "hours": {"mon": [["07:00", "11:00"]], "tue": [["07:00", "11:00"]]}
        })),
        None,
    )
    .await;
    assert_eq!(breakfast.status(), 201);
    assert_eq!(breakfast.headers()["etag"], "\"1\"");
    let breakfast: Value = breakfast.json().await.unwrap();
    assert_eq!(breakfast["category_ids"], json!([drinks]));
    let paris_only = send(
        &platform,
        reqwest::Method::POST,
        "/v1/menus",
        &owner.token,
        Some(&json!({"name": "Apéro", "location_ids": [paris]})),
        None,
    )
    .await;
    assert_eq!(paris_only.status(), 201);
    assert_eq!(
        audit_count(&platform, owner.tenant, "catalog.menu.created").await,
        2
    );

    // Monday 2026-11-30 06:30 UTC: 07:30 in Paris, 01:30 in New York.
    let at = "2026-11-30T06:30:00Z";
    let list = |location: Uuid| {
        let platform = &platform;
        let token = owner.token.clone();
        async move {
            let response = send(
                platform,
                reqwest::Method::GET,
                &format!("/v1/menus?location_id={location}&at={at}"),
                &token,
                None,
                None,
            )
            .await;
            assert_eq!(response.status(), 200);
            let body: Value = response.json().await.unwrap();
            body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| {
                    (
                        m["name"].as_str().unwrap().to_owned(),
                        m["available"].as_bool().unwrap(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        list(paris).await,
        vec![("Breakfast".to_owned(), true), ("Apéro".to_owned(), true)]
    );
    assert_eq!(list(new_york).await, vec![("Breakfast".to_owned(), false)]);

    // Validation: hours shape, another tenant's category, unknown location.
    let other = sign_up(&platform, "menu-other").await;
    let foreign = category(&platform, other.tenant, "Foreign").await;
    for (body, code) in [
        (
            json!({"name": "X", "hours": {"monday": []}}),
            "invalid_hours",
        ),
        (
            json!({"name": "X", "category_ids": [foreign]}),
            "unknown_category",
        ),
        (
            json!({"name": "X", "location_ids": [other.location]}),
            "unknown_location",
        ),
        (json!({"name": " "}), "invalid_name"),
    ] {
        let response = send(
            &platform,
            reqwest::Method::POST,
            "/v1/menus",
            &owner.token,
            Some(&body),
            None,
        )
        .await;
        problem(response, 422, code).await;
    }
    platform.stop().await;
}

#[tokio::test]
async fn menus_change_with_if_match_and_stay_within_their_tenant() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "menu-patch").await;
    let created: Value = send(
        &platform,
        reqwest::Method::POST,
        "/v1/menus",
        &owner.token,
        Some(&json!({"name": "Lunch", "hours": {"fri": [["11:30", "15:00"]]}})),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/menus/{id}");
    let seq = created["change_seq"].as_i64().unwrap();

    let missing = send(
        &platform,
        reqwest::Method::PATCH,
        &path,
        &owner.token,
        Some(&json!({"name": "Late lunch"})),
        None,
    )
    .await;
    problem(missing, 428, "precondition_required").await;
    let stale = send(
        &platform,
        reqwest::Method::PATCH,
        &path,
        &owner.token,
        Some(&json!({"name": "Late lunch"})),
        Some(7),
    )
    .await;
    let stale = problem(stale, 412, "version_mismatch").await;
    assert_eq!(stale["current_version"], 1);

    // Unchanged: same version, no new change stamp.
    let same = send(
        &platform,
        reqwest::Method::PATCH,
        &path,
        &owner.token,
        Some(&json!({"name": "Lunch"})),
        Some(1),
    )
    .await;
    assert_eq!(same.status(), 200);
    let same: Value = same.json().await.unwrap();
    assert_eq!(same["version"], 1);
    assert_eq!(same["change_seq"].as_i64().unwrap(), seq);

    let changed = send(
        &platform,
        reqwest::Method::PATCH,
        &path,
        &owner.token,
        Some(&json!({"hours": null, "archived": true})),
        Some(1),
    )
    .await;
    assert_eq!(changed.status(), 200);
    assert_eq!(changed.headers()["etag"], "\"2\"");
    let changed: Value = changed.json().await.unwrap();
    assert_eq!(changed["hours"], Value::Null);
    assert!(changed["archived_at"].is_string());
    assert!(changed["change_seq"].as_i64().unwrap() > seq);
    assert_eq!(
        audit_count(&platform, owner.tenant, "catalog.menu.updated").await,
        1
    );

    // The offline feed brings the archive to tills, once.
    let feed: Value = send(
        &platform,
        reqwest::Method::GET,
        &format!("/v1/catalog/changes?since={seq}"),
        &owner.token,
        None,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    let items = feed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{feed}");
    assert_eq!(items[0]["kind"], "menu");
    assert_eq!(items[0]["id"], json!(id));
    assert_eq!(items[0]["archived"], true);
    assert_eq!(items[0]["object"]["name"], "Lunch");

    let listed: Value = send(
        &platform,
        reqwest::Method::GET,
        "/v1/menus",
        &owner.token,
        None,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(listed["items"], json!([]));
    let all: Value = send(
        &platform,
        reqwest::Method::GET,
        "/v1/menus?include_archived=true",
        &owner.token,
        None,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(all["items"].as_array().unwrap().len(), 1);

    // Another tenant: the menu does not exist for it, nor its location for us.
    let other = sign_up(&platform, "menu-intruder").await;
    let foreign = send(
        &platform,
        reqwest::Method::PATCH,
        &path,
        &other.token,
        Some(&json!({"name": "Mine"})),
        Some(2),
    )
    .await;
    problem(foreign, 404, "not_found").await;
    let foreign_list = send(
        &platform,
        reqwest::Method::GET,
        &format!("/v1/menus?location_id={}", owner.location),
        &other.token,
        None,
        None,
    )
    .await;
    problem(foreign_list, 404, "not_found").await;
    let reader = platform.token(owner.tenant, &["catalog:read"]);
    let denied = send(
        &platform,
        reqwest::Method::POST,
        "/v1/menus",
        &reader,
        Some(&json!({"name": "Nope"})),
        None,
    )
    .await;
    problem(denied, 403, "permission_denied").await;
    let name: String = platform
        .admin()
        .await
        .query_one(
            "SELECT name FROM catalog.menus WHERE id = $1",
            &[&Uuid::try_parse(&id).unwrap()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(name, "Lunch");
    platform.stop().await;
}
