//! The catalog's structure through the whole platform: the category tree (create, list as a
//! tree, rename, move with cycle refusal, archive with the not-empty refusal, restore), tax
//! rates (validation, filters), per-location variant overrides (upsert, the price-changed
//! event, sold out until local midnight, no-op PUTs), permissions, and tenant isolation
//! (another tenant's ids are 404 in paths, 422 in bodies, and change nothing).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{Owner, TestPlatform, audit_count, problem, sign_up};
use olympus::testing::tokens;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

async fn get(platform: &TestPlatform, path: &str, token: &str) -> reqwest::Response {
    platform
        .request(Method::GET, path, token)
        .send()
        .await
        .unwrap()
}

async fn post(platform: &TestPlatform, path: &str, token: &str, body: &Value) -> reqwest::Response {
    platform
        .request(Method::POST, path, token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn send(
    platform: &TestPlatform,
    method: Method,
    path: &str,
    token: &str,
    if_match: Option<&str>,
    body: Option<&Value>,
) -> reqwest::Response {
    let mut builder = platform.request(method, path, token);
    if let Some(if_match) = if_match {
        builder = builder.header("if-match", if_match);
    }
    if let Some(body) = body {
        builder = builder.json(body);
    }
    builder.send().await.unwrap()
}

async fn patch(
    platform: &TestPlatform,
    path: &str,
    token: &str,
    if_match: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    send(platform, Method::PATCH, path, token, if_match, Some(body)).await
}

async fn delete(
    platform: &TestPlatform,
    path: &str,
    token: &str,
    if_match: Option<&str>,
) -> reqwest::Response {
    send(platform, Method::DELETE, path, token, if_match, None).await
}

async fn put(
    platform: &TestPlatform,
    path: &str,
    token: &str,
    if_match: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    send(platform, Method::PUT, path, token, if_match, Some(body)).await
}

async fn json_ok(response: reqwest::Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "{text}");
    serde_json::from_str(&text).unwrap()
}

fn id(value: &Value) -> Uuid {
    value["id"].as_str().unwrap().parse().unwrap()
}

async fn create_category(platform: &TestPlatform, token: &str, body: Value) -> Value {
    json_ok(post(platform, "/v1/categories", token, &body).await, 201).await
}

/// A token of `owner`'s tenant with `perms`, limited to `locations` (None: everywhere).
fn token_at(
    platform: &TestPlatform,
    owner: &Owner,
    perms: &[&str],
    locations: Option<Vec<Uuid>>,
) -> String {
    let config = platform.platform.state.config();
    let mut claims = tokens::claims(
        owner.tenant,
        owner.user,
        perms,
        &config.auth_issuer,
        &config.auth_audience,
    );
    claims.locs = locations;
    platform.keys.mint(&claims).unwrap()
}

/// The names of a tree level, in order.
fn names(items: &Value) -> Vec<&str> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect()
}

async fn tree(platform: &TestPlatform, token: &str, query: &str) -> Value {
    json_ok(
        get(platform, &format!("/v1/categories{query}"), token).await,
        200,
    )
    .await
}

/// A product in `category` (None: none) with one variant priced `price`, written with admin
/// SQL; returns (product, variant).
async fn product(
    platform: &TestPlatform,
    tenant: Uuid,
    category: Option<Uuid>,
    price: i64,
) -> (Uuid, Uuid) {
    let admin = platform.admin().await;
    let product = Uuid::now_v7();
    let variant = Uuid::now_v7();
    admin
        .execute(
            "INSERT INTO catalog.products (id, tenant_id, category_id, name)
             VALUES ($1, $2, $3, 'Flat white')",
            &[&product, &tenant, &category],
        )
        .await
        .unwrap();
    admin
        .execute(
            "INSERT INTO catalog.variants (id, tenant_id, product_id, name, price_minor)
             VALUES ($1, $2, $3, 'Regular', $4)",
            &[&variant, &tenant, &product, &price],
        )
        .await
        .unwrap();
    (product, variant)
}

/// A second location of `tenant` in `time_zone`, written with admin SQL.
async fn location(platform: &TestPlatform, tenant: Uuid, time_zone: &str) -> Uuid {
    let id = Uuid::now_v7();
    platform
        .admin()
        .await
        .execute(
            "INSERT INTO platform.locations (id, tenant_id, name, time_zone, currency)
             VALUES ($1, $2, 'Annex', $3, 'EUR')",
            &[&id, &tenant, &time_zone],
        )
        .await
        .unwrap();
    id
}

async fn scalar_i64(platform: &TestPlatform, sql: &str, id: Uuid) -> i64 {
    platform
        .admin()
        .await
        .query_one(sql, &[&id])
        .await
        .unwrap()
        .get(0)
}

/// The `catalog.price.changed` payloads of `variant`'s outbox rows, oldest first.
async fn price_events(platform: &TestPlatform, variant: Uuid) -> Vec<Value> {
    platform
        .admin()
        .await
        .query(
            "SELECT envelope->'payload' FROM events.outbox
             WHERE event_type = 'catalog.price.changed'
               AND envelope->'payload'->>'variant_id' = $1
             ORDER BY seq",
            &[&variant.to_string()],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_category_tree_is_built_ordered_and_edited_with_its_rules() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "bistro").await;
    let token = &owner.token;

    assert_eq!(tree(&platform, token, "").await, json!({"items": []}));

    // Creation: 201 with Location and ETag; positions default to after the siblings.
    let response = post(
        &platform,
        "/v1/categories",
        token,
        &json!({"name": " Drinks ", "key": "drinks"}),
    )
    .await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["etag"], "\"1\"");
    let drinks: Value = response.json().await.unwrap();
    let drinks_id = id(&drinks);
    assert_eq!(drinks["name"], "Drinks");
    assert_eq!(drinks["position"], 0);
    assert_eq!(drinks["external_key"], "drinks");
    assert_eq!(drinks["parent_id"], Value::Null);
    let food = create_category(&platform, token, json!({"name": "Food"})).await;
    assert_eq!(food["position"], 1);
    let starters =
        create_category(&platform, token, json!({"name": "Starters", "position": 0})).await;
    create_category(
        &platform,
        token,
        json!({"name": "Desserts", "parent_id": id(&food), "position": 5}),
    )
    .await;
    let hot = create_category(
        &platform,
        token,
        json!({"name": "Hot", "parent_id": drinks_id}),
    )
    .await;
    let cold = create_category(
        &platform,
        token,
        json!({"name": "Cold", "parent_id": drinks_id}),
    )
    .await;
    assert_eq!(hot["position"], 0);
    assert_eq!(cold["position"], 1);
    let tea = create_category(
        &platform,
        token,
        json!({"name": "Tea", "parent_id": id(&hot)}),
    )
    .await;
    create_category(
        &platform,
        token,
        json!({"name": "Mains", "parent_id": id(&food), "position": 1}),
    )
    .await;
    assert_eq!(
        audit_count(&platform, owner.tenant, "catalog.category.created").await,
        8
    );

    // The tree: roots by position then id (Drinks and Starters share position 0).
    let listed = tree(&platform, token, "").await;
    let items = &listed["items"];
    let (first, second) = if drinks_id < id(&starters) {
        ("Drinks", "Starters")
    } else {
        ("Starters", "Drinks")
    };
    assert_eq!(names(items), [first, second, "Food"]);
    let drinks_node = items
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Drinks")
        .unwrap();
    assert_eq!(names(&drinks_node["children"]), ["Hot", "Cold"]);
    assert_eq!(names(&drinks_node["children"][0]["children"]), ["Tea"]);
    assert_eq!(
        drinks_node["children"][0]["children"][0]["children"],
        json!([])
    );
    assert_eq!(drinks_node["version"], 1);
    assert_eq!(names(&items[2]["children"]), ["Mains", "Desserts"]);
    assert!(listed.get("truncated").is_none());

    // Creation errors.
    problem(
        post(
            &platform,
            "/v1/categories",
            token,
            &json!({"name": "X", "parent_id": Uuid::now_v7()}),
        )
        .await,
        422,
        "unknown_parent",
    )
    .await;
    let body = problem(
        post(
            &platform,
            "/v1/categories",
            token,
            &json!({"name": "Again", "key": "drinks"}),
        )
        .await,
        409,
        "already_exists",
    )
    .await;
    assert_eq!(body["constraint"], "categories_tenant_id_external_key_key");
    let body = problem(
        post(&platform, "/v1/categories", token, &json!({"name": ""})).await,
        422,
        "invalid_name",
    )
    .await;
    assert_eq!(body["field"], "name");
    problem(
        post(
            &platform,
            "/v1/categories",
            token,
            &json!({"name": "X", "colour": "red"}),
        )
        .await,
        422,
        "invalid_body",
    )
    .await;

    // PATCH: If-Match is required and must be current.
    let path = format!("/v1/categories/{}", id(&hot));
    problem(
        patch(&platform, &path, token, None, &json!({"name": "Warm"})).await,
        428,
        "precondition_required",
    )
    .await;
    let body = problem(
        patch(
            &platform,
            &path,
            token,
            Some("\"7\""),
            &json!({"name": "Warm"}),
        )
        .await,
        412,
        "version_mismatch",
    )
    .await;
    assert_eq!(body["current_version"], 1);
    let response = patch(
        &platform,
        &path,
        token,
        Some("\"1\""),
        &json!({"name": "Warm"}),
    )
    .await;
    assert_eq!(response.headers()["etag"], "\"2\"");
    let warm = json_ok(response, 200).await;
    assert_eq!(warm["name"], "Warm");
    assert_eq!(warm["version"], 2);

    // A PATCH that changes nothing keeps the version and the change feed position.
    let unchanged = json_ok(
        patch(
            &platform,
            &path,
            token,
            Some("2"),
            &json!({"name": "Warm", "position": 0}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(unchanged["version"], 2);
    assert_eq!(unchanged["change_seq"], warm["change_seq"]);
    assert_eq!(
        audit_count(&platform, owner.tenant, "catalog.category.updated").await,
        1
    );

    // Cycles: under itself, under its child, under its grandchild.
    for target in [id(&hot), id(&tea)] {
        problem(
            patch(
                &platform,
                &path,
                token,
                Some("2"),
                &json!({"parent_id": target}),
            )
            .await,
            422,
            "category_cycle",
        )
        .await;
    }
    let drinks_path = format!("/v1/categories/{drinks_id}");
    let body = problem(
        patch(
            &platform,
            &drinks_path,
            token,
            Some("1"),
            &json!({"parent_id": id(&tea)}),
        )
        .await,
        422,
        "category_cycle",
    )
    .await;
    assert_eq!(body["field"], "parent_id");
    problem(
        patch(
            &platform,
            &path,
            token,
            Some("2"),
            &json!({"parent_id": Uuid::now_v7()}),
        )
        .await,
        422,
        "unknown_parent",
    )
    .await;
    problem(
        patch(
            &platform,
            &path,
            token,
            Some("2"),
            &json!({"archived": true}),
        )
        .await,
        422,
        "invalid_archived",
    )
    .await;

    // A move under Food lands after its live children; `null` moves to the root.
    let moved = json_ok(
        patch(
            &platform,
            &path,
            token,
            Some("2"),
            &json!({"parent_id": id(&food)}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(moved["parent_id"], food["id"]);
    assert_eq!(moved["position"], 6);
    let listed = tree(&platform, token, "").await;
    let food_node = &listed["items"][2];
    assert_eq!(names(&food_node["children"]), ["Mains", "Desserts", "Warm"]);
    assert_eq!(names(&food_node["children"][2]["children"]), ["Tea"]);
    let rooted = json_ok(
        patch(
            &platform,
            &path,
            token,
            Some("3"),
            &json!({"parent_id": null, "position": -1}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(rooted["parent_id"], Value::Null);
    assert_eq!(names(&tree(&platform, token, "").await["items"])[0], "Warm");

    // DELETE refuses a category with live subcategories or products, counting them.
    let body = problem(
        delete(&platform, &path, token, None).await,
        409,
        "category_not_empty",
    )
    .await;
    assert_eq!(body["live_children"], 1);
    assert_eq!(body["live_products"], 0);
    let tea_path = format!("/v1/categories/{}", id(&tea));
    let (product_id, _) = product(&platform, owner.tenant, Some(id(&tea)), 350).await;
    let body = problem(
        delete(&platform, &tea_path, token, None).await,
        409,
        "category_not_empty",
    )
    .await;
    assert_eq!(body["live_children"], 0);
    assert_eq!(body["live_products"], 1);
    platform
        .admin()
        .await
        .execute(
            "UPDATE catalog.products SET archived_at = now() WHERE id = $1",
            &[&product_id],
        )
        .await
        .unwrap();
    let body = problem(
        delete(&platform, &tea_path, token, Some("\"9\"")).await,
        412,
        "version_mismatch",
    )
    .await;
    assert_eq!(body["current_version"], 1);
    let response = delete(&platform, &tea_path, token, Some("\"1\"")).await;
    assert_eq!(response.status(), 204);
    // Again: already archived, still 204, nothing changes.
    assert_eq!(
        delete(&platform, &tea_path, token, Some("\"1\""))
            .await
            .status(),
        204
    );
    assert_eq!(
        delete(&platform, &tea_path, token, None).await.status(),
        204
    );
    assert_eq!(
        scalar_i64(
            &platform,
            "SELECT version::int8 FROM catalog.categories WHERE id = $1 AND archived_at IS NOT NULL",
            id(&tea),
        )
        .await,
        2
    );
    assert_eq!(
        audit_count(&platform, owner.tenant, "catalog.category.archived").await,
        1
    );
    assert_eq!(delete(&platform, &path, token, None).await.status(), 204);

    // Archived ones leave the tree unless asked for.
    let listed = tree(&platform, token, "").await;
    assert!(!names(&listed["items"]).contains(&"Warm"));
    let all = tree(&platform, token, "?include_archived=true").await;
    let warm_node = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Warm")
        .unwrap();
    assert!(warm_node["archived_at"].is_string());
    assert_eq!(names(&warm_node["children"]), ["Tea"]);
    problem(
        get(&platform, "/v1/categories?include_archived=maybe", token).await,
        400,
        "invalid_query",
    )
    .await;

    // An archived category cannot be a parent, nor be edited, until restored.
    problem(
        post(
            &platform,
            "/v1/categories",
            token,
            &json!({"name": "Green", "parent_id": id(&tea)}),
        )
        .await,
        422,
        "unknown_parent",
    )
    .await;
    problem(
        patch(
            &platform,
            &tea_path,
            token,
            Some("2"),
            &json!({"name": "Teas"}),
        )
        .await,
        409,
        "category_archived",
    )
    .await;
    // Restoring Tea needs a live parent: its own (Warm) is archived.
    problem(
        patch(
            &platform,
            &tea_path,
            token,
            Some("2"),
            &json!({"archived": false}),
        )
        .await,
        422,
        "unknown_parent",
    )
    .await;
    let restored = json_ok(
        patch(
            &platform,
            &tea_path,
            token,
            Some("2"),
            &json!({"archived": false, "parent_id": drinks_id}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(restored["archived_at"], Value::Null);
    assert_eq!(restored["version"], 3);
    let listed = tree(&platform, token, "").await;
    let drinks_node = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Drinks")
        .unwrap();
    assert_eq!(names(&drinks_node["children"]), ["Cold", "Tea"]);

    // Unknown ids are 404.
    let unknown = format!("/v1/categories/{}", Uuid::now_v7());
    problem(
        patch(&platform, &unknown, token, Some("1"), &json!({"name": "X"})).await,
        404,
        "not_found",
    )
    .await;
    problem(
        delete(&platform, &unknown, token, None).await,
        404,
        "not_found",
    )
    .await;
    problem(
        delete(&platform, "/v1/categories/not-a-uuid", token, None).await,
        404,
        "not_found",
    )
    .await;

    // A catalog:read token reads but cannot write.
    let reader = platform.token(owner.tenant, &["catalog:read"]);
    assert_eq!(
        tree(&platform, &reader, "").await["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let body = problem(
        post(
            &platform,
            "/v1/categories",
            &reader,
            &json!({"name": "Nope"}),
        )
        .await,
        403,
        "permission_denied",
    )
    .await;
    assert_eq!(body["permission"], "catalog:write");
    problem(
        patch(
            &platform,
            &drinks_path,
            &reader,
            Some("1"),
            &json!({"name": "Nope"}),
        )
        .await,
        403,
        "permission_denied",
    )
    .await;
    problem(
        delete(&platform, &drinks_path, &reader, None).await,
        403,
        "permission_denied",
    )
    .await;
    let nobody = platform.token(owner.tenant, &["orders:read"]);
    problem(
        get(&platform, "/v1/categories", &nobody).await,
        403,
        "permission_denied",
    )
    .await;
    assert_eq!(
        scalar_i64(
            &platform,
            "SELECT count(*) FROM catalog.categories WHERE tenant_id = $1 AND name = 'Nope'",
            owner.tenant,
        )
        .await,
        0
    );

    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tax_rates_are_validated_and_filtered() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "taverna").await;
    let token = &owner.token;
    let annex = location(&platform, owner.tenant, "Europe/Paris").await;

    assert_eq!(
        json_ok(get(&platform, "/v1/tax-rates", token).await, 200).await,
        json!({"items": []})
    );
    let response = post(
        &platform,
        "/v1/tax-rates",
        token,
        &json!({"name": "VAT standard", "tax_category": "standard", "rate_bps": 2000}),
    )
    .await;
    assert_eq!(response.headers()["etag"], "\"1\"");
    let standard = json_ok(response, 201).await;
    assert_eq!(standard["inclusive"], false);
    assert_eq!(standard["location_id"], Value::Null);
    assert_eq!(standard["rate_bps"], 2000);
    let food_main = json_ok(
        post(
            &platform,
            "/v1/tax-rates",
            token,
            &json!({"name": "Food", "tax_category": "food", "rate_bps": 550,
                    "inclusive": true, "location_id": owner.location}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(food_main["inclusive"], true);
    let food_annex = json_ok(
        post(
            &platform,
            "/v1/tax-rates",
            token,
            &json!({"name": "Food annex", "tax_category": "food", "rate_bps": 1000,
                    "location_id": annex}),
        )
        .await,
        201,
    )
    .await;
    json_ok(
        post(
            &platform,
            "/v1/tax-rates",
            token,
            &json!({"name": "Alcohol", "tax_category": "alcohol", "rate_bps": 100_000}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(
        audit_count(&platform, owner.tenant, "catalog.tax_rate.created").await,
        4
    );

    // Validation.
    for (body, status, code) in [
        (
            json!({"name": "X", "tax_category": "food", "rate_bps": 100_001}),
            422,
            "invalid_rate",
        ),
        (
            json!({"name": "X", "tax_category": "food", "rate_bps": -1}),
            422,
            "invalid_rate",
        ),
        (
            json!({"name": "X", "tax_category": "Food!", "rate_bps": 1}),
            422,
            "invalid_tax_category",
        ),
        (
            json!({"name": "", "tax_category": "food", "rate_bps": 1}),
            422,
            "invalid_name",
        ),
        (json!({"name": "X", "rate_bps": 1}), 422, "invalid_body"),
        (
            json!({"name": "X", "tax_category": "food", "rate_bps": 1, "location_id": Uuid::now_v7()}),
            422,
            "unknown_location",
        ),
    ] {
        problem(
            post(&platform, "/v1/tax-rates", token, &body).await,
            status,
            code,
        )
        .await;
    }

    // Ordered by category then name; the location filter keeps that location's and the
    // all-location rates.
    let rate_names = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = json_ok(get(&platform, "/v1/tax-rates", token).await, 200).await;
    assert_eq!(
        rate_names(&all),
        ["Alcohol", "Food", "Food annex", "VAT standard"]
    );
    let at_main = json_ok(
        get(
            &platform,
            &format!("/v1/tax-rates?location_id={}", owner.location),
            token,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(rate_names(&at_main), ["Alcohol", "Food", "VAT standard"]);
    let food_at_annex = json_ok(
        get(
            &platform,
            &format!("/v1/tax-rates?location_id={annex}&tax_category=food"),
            token,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(rate_names(&food_at_annex), ["Food annex"]);
    assert_eq!(food_at_annex["items"][0]["id"], food_annex["id"]);
    problem(
        get(&platform, "/v1/tax-rates?tax_category=Bad!", token).await,
        422,
        "invalid_tax_category",
    )
    .await;
    problem(
        get(&platform, "/v1/tax-rates?location_id=nope", token).await,
        400,
        "invalid_query",
    )
    .await;
    problem(
        get(
            &platform,
            &format!("/v1/tax-rates?location_id={}", Uuid::now_v7()),
            token,
        )
        .await,
        422,
        "unknown_location",
    )
    .await;

    // Archived rates only when asked for.
    platform
        .admin()
        .await
        .execute(
            "UPDATE catalog.tax_rates SET archived_at = now() WHERE id = $1",
            &[&id(&food_main)],
        )
        .await
        .unwrap();
    let live = json_ok(
        get(&platform, "/v1/tax-rates?tax_category=food", token).await,
        200,
    )
    .await;
    assert_eq!(rate_names(&live), ["Food annex"]);
    let with_archived = json_ok(
        get(
            &platform,
            "/v1/tax-rates?tax_category=food&include_archived=true",
            token,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(rate_names(&with_archived), ["Food", "Food annex"]);

    // A principal limited to the annex: the annex and all-location rates only, no other
    // location in a filter or a body.
    let limited = token_at(
        &platform,
        &owner,
        &["catalog:read", "catalog:write"],
        Some(vec![annex]),
    );
    let seen = json_ok(
        get(&platform, "/v1/tax-rates?include_archived=true", &limited).await,
        200,
    )
    .await;
    assert_eq!(rate_names(&seen), ["Alcohol", "Food annex", "VAT standard"]);
    problem(
        get(
            &platform,
            &format!("/v1/tax-rates?location_id={}", owner.location),
            &limited,
        )
        .await,
        403,
        "location_denied",
    )
    .await;
    problem(
        post(
            &platform,
            "/v1/tax-rates",
            &limited,
            &json!({"name": "X", "tax_category": "food", "rate_bps": 1, "location_id": owner.location}),
        )
        .await,
        403,
        "location_denied",
    )
    .await;

    // Read-only tokens cannot create.
    let reader = platform.token(owner.tenant, &["catalog:read"]);
    problem(
        post(
            &platform,
            "/v1/tax-rates",
            &reader,
            &json!({"name": "X", "tax_category": "food", "rate_bps": 1}),
        )
        .await,
        403,
        "permission_denied",
    )
    .await;
    assert_eq!(
        scalar_i64(
            &platform,
            "SELECT count(*) FROM catalog.tax_rates WHERE tenant_id = $1",
            owner.tenant,
        )
        .await,
        4
    );

    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn variant_overrides_upsert_emit_price_changes_and_sell_out_until_local_midnight() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "noodles").await;
    let token = &owner.token;
    let (product_id, variant) = product(&platform, owner.tenant, None, 450).await;
    let tokyo = location(&platform, owner.tenant, "Asia/Tokyo").await;
    let path = format!("/v1/variants/{variant}/locations/{}", owner.location);

    // Creation with defaults for what is absent; a price equal to the variant's is no change.
    let response = put(&platform, &path, token, None, &json!({"price_minor": 450})).await;
    assert_eq!(response.headers()["etag"], "\"1\"");
    let created = json_ok(response, 201).await;
    assert_eq!(created["price_minor"], 450);
    assert_eq!(created["hidden"], false);
    assert_eq!(created["sold_out_until"], Value::Null);
    assert_eq!(created["variant_id"], variant.to_string());
    assert_eq!(created["location_id"], owner.location.to_string());
    assert!(price_events(&platform, variant).await.is_empty());

    // A new price: one event with the location and the old and new effective prices.
    let updated = json_ok(
        put(&platform, &path, token, None, &json!({"price_minor": 500})).await,
        200,
    )
    .await;
    assert_eq!(updated["version"], 2);
    let events = price_events(&platform, variant).await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0],
        json!({"product_id": product_id, "variant_id": variant, "location_id": owner.location,
               "old_price_minor": 450, "new_price_minor": 500})
    );

    // Absent fields keep their values; an unchanged PUT changes nothing (not even change_seq).
    let hidden = json_ok(
        put(
            &platform,
            &path,
            token,
            Some("\"2\""),
            &json!({"hidden": true}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(hidden["price_minor"], 500);
    assert_eq!(hidden["hidden"], true);
    assert_eq!(hidden["version"], 3);
    let same = json_ok(
        put(
            &platform,
            &path,
            token,
            Some("3"),
            &json!({"hidden": true, "price_minor": 500}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(same["version"], 3);
    assert_eq!(same["change_seq"], hidden["change_seq"]);
    assert_eq!(same["updated_at"], hidden["updated_at"]);
    let body = problem(
        put(
            &platform,
            &path,
            token,
            Some("\"1\""),
            &json!({"hidden": false}),
        )
        .await,
        412,
        "version_mismatch",
    )
    .await;
    assert_eq!(body["current_version"], 3);

    // `null` price: back to the variant's price, which is a price change too.
    let reset = json_ok(
        put(&platform, &path, token, None, &json!({"price_minor": null})).await,
        200,
    )
    .await;
    assert_eq!(reset["price_minor"], Value::Null);
    let events = price_events(&platform, variant).await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["old_price_minor"], 500);
    assert_eq!(events[1]["new_price_minor"], 450);
    assert_eq!(
        audit_count(&platform, owner.tenant, "catalog.variant_location.updated").await,
        3
    );
    assert_eq!(
        audit_count(&platform, owner.tenant, "catalog.variant_location.created").await,
        1
    );

    // Sold out today at the Tokyo location: until the next midnight in Tokyo.
    let tokyo_path = format!("/v1/variants/{variant}/locations/{tokyo}");
    let sold_out = json_ok(
        put(
            &platform,
            &tokyo_path,
            token,
            None,
            &json!({"sold_out_today": true, "price_minor": 480}),
        )
        .await,
        201,
    )
    .await;
    assert!(sold_out["sold_out_until"].is_string());
    let row = platform
        .admin()
        .await
        .query_one(
            "SELECT (sold_out_until AT TIME ZONE 'Asia/Tokyo')::time = '00:00',
                    sold_out_until > now(),
                    sold_out_until <= now() + interval '24 hours'
             FROM catalog.variant_locations WHERE id = $1",
            &[&id(&sold_out)],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0), "not a Tokyo midnight: {sold_out}");
    assert!(row.get::<_, bool>(1));
    assert!(row.get::<_, bool>(2));
    let events = price_events(&platform, variant).await;
    assert_eq!(events.len(), 3);
    assert_eq!(events[2]["location_id"], tokyo.to_string());
    assert_eq!(events[2]["old_price_minor"], 450);
    assert_eq!(events[2]["new_price_minor"], 480);
    // Sold out today again the same day is no change; `false` clears it.
    let again = json_ok(
        put(
            &platform,
            &tokyo_path,
            token,
            None,
            &json!({"sold_out_today": true}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(again["version"], 1);
    let cleared = json_ok(
        put(
            &platform,
            &tokyo_path,
            token,
            None,
            &json!({"sold_out_today": false}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(cleared["sold_out_until"], Value::Null);
    assert_eq!(cleared["version"], 2);
    let until = json_ok(
        put(
            &platform,
            &tokyo_path,
            token,
            None,
            &json!({"sold_out_until": "2030-01-01T12:00:00+09:00"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        until["sold_out_until"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap(),
        "2030-01-01T03:00:00Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
    );

    // Validation.
    for (body, code) in [
        (json!({"price_minor": -5}), "invalid_price"),
        (json!({"sold_out_until": "soon"}), "invalid_sold_out_until"),
        (
            json!({"sold_out_until": null, "sold_out_today": true}),
            "conflicting_fields",
        ),
        (json!({"stock": 3}), "invalid_body"),
    ] {
        problem(put(&platform, &path, token, None, &body).await, 422, code).await;
    }

    // Unknown, archived variants and unknown locations are 404.
    for missing in [
        format!(
            "/v1/variants/{}/locations/{}",
            Uuid::now_v7(),
            owner.location
        ),
        format!("/v1/variants/{variant}/locations/{}", Uuid::now_v7()),
        format!("/v1/variants/x/locations/{}", owner.location),
    ] {
        problem(
            put(&platform, &missing, token, None, &json!({"hidden": true})).await,
            404,
            "not_found",
        )
        .await;
    }
    let (_, archived) = product(&platform, owner.tenant, None, 100).await;
    platform
        .admin()
        .await
        .execute(
            "UPDATE catalog.variants SET archived_at = now() WHERE id = $1",
            &[&archived],
        )
        .await
        .unwrap();
    problem(
        put(
            &platform,
            &format!("/v1/variants/{archived}/locations/{}", owner.location),
            token,
            None,
            &json!({"hidden": true}),
        )
        .await,
        404,
        "not_found",
    )
    .await;

    // Location-limited and read-only principals.
    let limited = token_at(&platform, &owner, &["catalog:write"], Some(vec![tokyo]));
    problem(
        put(&platform, &path, &limited, None, &json!({"hidden": false})).await,
        403,
        "location_denied",
    )
    .await;
    json_ok(
        put(
            &platform,
            &tokyo_path,
            &limited,
            None,
            &json!({"hidden": true}),
        )
        .await,
        200,
    )
    .await;
    let reader = platform.token(owner.tenant, &["catalog:read"]);
    problem(
        put(&platform, &path, &reader, None, &json!({"hidden": false})).await,
        403,
        "permission_denied",
    )
    .await;
    assert_eq!(
        scalar_i64(
            &platform,
            "SELECT count(*) FROM catalog.variant_locations WHERE tenant_id = $1",
            owner.tenant,
        )
        .await,
        2
    );

    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_categories_variants_and_locations_are_out_of_reach() {
    let platform = TestPlatform::start(None).await;
    let ours = sign_up(&platform, "ours").await;
    let theirs = sign_up(&platform, "theirs").await;
    let their_category = create_category(
        &platform,
        &theirs.token,
        json!({"name": "Secret", "key": "k"}),
    )
    .await;
    let their_id = id(&their_category);
    let (_, their_variant) = product(&platform, theirs.tenant, Some(their_id), 900).await;
    let (_, our_variant) = product(&platform, ours.tenant, None, 100).await;
    let our_category =
        create_category(&platform, &ours.token, json!({"name": "Mine", "key": "k"})).await;
    let token = &ours.token;

    // Their tree is not ours; the same key is free in another tenant.
    assert_eq!(names(&tree(&platform, token, "").await["items"]), ["Mine"]);

    // Path ids: 404.
    let their_path = format!("/v1/categories/{their_id}");
    problem(
        patch(
            &platform,
            &their_path,
            token,
            Some("1"),
            &json!({"name": "Mine now"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    problem(
        delete(&platform, &their_path, token, None).await,
        404,
        "not_found",
    )
    .await;
    problem(
        put(
            &platform,
            &format!("/v1/variants/{their_variant}/locations/{}", ours.location),
            token,
            None,
            &json!({"price_minor": 1}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    problem(
        put(
            &platform,
            &format!("/v1/variants/{our_variant}/locations/{}", theirs.location),
            token,
            None,
            &json!({"price_minor": 1}),
        )
        .await,
        404,
        "not_found",
    )
    .await;

    // Body ids: 422.
    problem(
        post(
            &platform,
            "/v1/categories",
            token,
            &json!({"name": "X", "parent_id": their_id}),
        )
        .await,
        422,
        "unknown_parent",
    )
    .await;
    problem(
        patch(
            &platform,
            &format!("/v1/categories/{}", id(&our_category)),
            token,
            Some("1"),
            &json!({"parent_id": their_id}),
        )
        .await,
        422,
        "unknown_parent",
    )
    .await;
    problem(
        post(
            &platform,
            "/v1/tax-rates",
            token,
            &json!({"name": "X", "tax_category": "food", "rate_bps": 1, "location_id": theirs.location}),
        )
        .await,
        422,
        "unknown_location",
    )
    .await;
    problem(
        get(
            &platform,
            &format!("/v1/tax-rates?location_id={}", theirs.location),
            token,
        )
        .await,
        422,
        "unknown_location",
    )
    .await;

    // Nothing changed anywhere.
    let admin = platform.admin().await;
    let row = admin
        .query_one(
            "SELECT name, version, archived_at IS NULL FROM catalog.categories WHERE id = $1",
            &[&their_id],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "Secret");
    assert_eq!(row.get::<_, i32>(1), 1);
    assert!(row.get::<_, bool>(2));
    let row = admin
        .query_one(
            "SELECT parent_id, version FROM catalog.categories WHERE id = $1",
            &[&id(&our_category)],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, Option<Uuid>>(0), None);
    assert_eq!(row.get::<_, i32>(1), 1);
    for (sql, expected) in [
        ("SELECT count(*) FROM catalog.variant_locations", 0_i64),
        ("SELECT count(*) FROM catalog.tax_rates", 0),
        ("SELECT count(*) FROM catalog.categories", 2),
        (
            "SELECT count(*) FROM events.outbox WHERE event_type = 'catalog.price.changed'",
            0,
        ),
    ] {
        let count: i64 = admin.query_one(sql, &[]).await.unwrap().get(0);
        assert_eq!(count, expected, "{sql}");
    }
    assert_eq!(
        names(&tree(&platform, &theirs.token, "").await["items"]),
        ["Secret"]
    );

    platform.stop().await;
}
