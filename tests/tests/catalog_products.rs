//! Products and variants through the whole platform: creation (the default variant, options
//! with variants, the validation codes), reads scoped to the tenant, search (typos, exact
//! SKUs, category subtrees, tags, availability at a location, archived products, keyset
//! pagination that walks every match once), versioned PATCHes (428/412, unchanged PATCH keeps
//! the version, options still fitting the variants), soft and idempotent archiving, variants
//! added and patched with their events in the outbox, and permissions (tokens and API keys
//! with `catalog:read` only).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::HashSet;

use common::{Owner, TestPlatform, audit_count, problem, sign_up};
use serde_json::{Value, json};
use uuid::Uuid;

async fn get(platform: &TestPlatform, token: &str, path: &str) -> reqwest::Response {
    platform
        .request(reqwest::Method::GET, path, token)
        .send()
        .await
        .unwrap()
}

async fn post(platform: &TestPlatform, token: &str, path: &str, body: &Value) -> reqwest::Response {
    platform
        .request(reqwest::Method::POST, path, token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn patch(
    platform: &TestPlatform,
    token: &str,
    path: &str,
    if_match: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut builder = platform
        .request(reqwest::Method::PATCH, path, token)
        .json(body);
    if let Some(if_match) = if_match {
        builder = builder.header("if-match", if_match);
    }
    builder.send().await.unwrap()
}

async fn delete(
    platform: &TestPlatform,
    token: &str,
    path: &str,
    if_match: Option<&str>,
) -> reqwest::Response {
    let mut builder = platform.request(reqwest::Method::DELETE, path, token);
    if let Some(if_match) = if_match {
        builder = builder.header("if-match", if_match);
    }
    builder.send().await.unwrap()
}

/// Asserts `status` and returns the JSON body.
async fn ok(response: reqwest::Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "{text}");
    serde_json::from_str(&text).unwrap()
}

fn id(value: &Value) -> Uuid {
    value["id"].as_str().unwrap().parse().unwrap()
}

fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Creates a product (expects 201) and returns it.
async fn product(platform: &TestPlatform, owner: &Owner, body: Value) -> Value {
    ok(
        post(platform, &owner.token, "/v1/products", &body).await,
        201,
    )
    .await
}

/// A simple product named `name` at `price` with `extra` fields merged in.
async fn simple(platform: &TestPlatform, owner: &Owner, name: &str, extra: Value) -> Value {
    let mut body = json!({"name": name, "price_minor": 300});
    for (key, value) in extra.as_object().unwrap() {
        body[key] = value.clone();
    }
    product(platform, owner, body).await
}

/// A category of `tenant` (admin SQL: categories are another function's business).
async fn category(platform: &TestPlatform, tenant: Uuid, name: &str, parent: Option<Uuid>) -> Uuid {
    let id = Uuid::now_v7();
    platform
        .admin()
        .await
        .execute(
            "INSERT INTO catalog.categories (id, tenant_id, name, parent_id)
             VALUES ($1, $2, $3, $4)",
            &[&id, &tenant, &name, &parent],
        )
        .await
        .unwrap();
    id
}

/// A modifier group of `tenant` (admin SQL).
async fn modifier_group(platform: &TestPlatform, tenant: Uuid, name: &str) -> Uuid {
    let id = Uuid::now_v7();
    platform
        .admin()
        .await
        .execute(
            "INSERT INTO catalog.modifier_groups (id, tenant_id, name) VALUES ($1, $2, $3)",
            &[&id, &tenant, &name],
        )
        .await
        .unwrap();
    id
}

/// The payloads of the tenant's outbox events of `event_type`, oldest first.
async fn events(platform: &TestPlatform, tenant: Uuid, event_type: &str) -> Vec<Value> {
    platform
        .admin()
        .await
        .query(
            "SELECT envelope FROM events.outbox WHERE tenant_id = $1 AND event_type = $2
             ORDER BY seq",
            &[&tenant, &event_type],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get::<_, Value>(0)["payload"].clone())
        .collect()
}

fn latte_body() -> Value {
    json!({
        "name": "Latte",
        "options": [{"name": "Size", "values": ["S", "L"]}, {"name": "Milk", "values": ["Whole", "Oat"]}],
        "variants": [
            {"option_values": {"Size": "S", "Milk": "Whole"}, "price_minor": 350, "sku": "LAT-SW"},
            {"option_values": {"Size": "L", "Milk": "Oat"}, "price_minor": 450, "sku": "LAT-LO"}
        ]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn products_are_created_with_their_variants_and_validated() {
    let platform = TestPlatform::start(None).await;
    let a = sign_up(&platform, "prod-a").await;
    let b = sign_up(&platform, "prod-b").await;
    let drinks = category(&platform, a.tenant, "Drinks", None).await;
    let group = modifier_group(&platform, a.tenant, "Extras").await;

    // Without options: one default variant from the product-level fields.
    let response = post(
        &platform,
        &a.token,
        "/v1/products",
        &json!({"name": " Espresso ", "price_minor": 250, "sku": "ESP-1",
                "barcode": "4006381333931", "cost_minor": 60, "category_id": drinks,
                "dietary_tags": ["Vegan", "vegan"], "modifier_group_ids": [group],
                "image_urls": ["https://cdn.example/espresso.png"]}),
    )
    .await;
    assert_eq!(response.headers()["etag"], "\"1\"");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let espresso = ok(response, 201).await;
    assert_eq!(location, format!("/v1/products/{}", id(&espresso)));
    assert_eq!(espresso["name"], "Espresso");
    assert_eq!(espresso["category_id"], json!(drinks));
    assert_eq!(espresso["tax_category"], "standard");
    assert_eq!(espresso["dietary_tags"], json!(["vegan"]));
    assert_eq!(espresso["modifier_group_ids"], json!([group]));
    assert_eq!(espresso["options"], json!([]));
    let variants = espresso["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 1);
    assert_eq!(variants[0]["name"], "Espresso");
    assert_eq!(variants[0]["option_values"], json!({}));
    assert_eq!(variants[0]["price_minor"], 250);
    assert_eq!(variants[0]["cost_minor"], 60);
    assert_eq!(variants[0]["sku"], "ESP-1");
    assert_eq!(variants[0]["barcode"], "4006381333931");
    assert_eq!(variants[0]["track_inventory"], true);

    // With options: the listed variants, named by their option values in option order.
    let latte = product(&platform, &a, latte_body()).await;
    let variants = latte["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 2);
    assert_eq!(variants[0]["name"], "S / Whole");
    assert_eq!(variants[1]["name"], "L / Oat");
    assert_eq!(variants[1]["price_minor"], 450);

    // What GET answers is what POST answered.
    let fetched = ok(
        get(&platform, &a.token, &format!("/v1/products/{}", id(&latte))).await,
        200,
    )
    .await;
    assert_eq!(fetched, latte);

    // Validation, each with its code and field.
    let cases = [
        (json!({"name": "No price"}), "missing_price", "price_minor"),
        (
            json!({"name": "Bad", "options": {"Size": ["S"]}, "variants": [{"price_minor": 1}]}),
            "invalid_options",
            "options",
        ),
        (
            json!({"name": "Bad", "options": [{"name": "Size", "values": ["S"]}],
                   "variants": [{"option_values": {"Size": "XL"}, "price_minor": 1}]}),
            "invalid_option_values",
            "option_values",
        ),
        (
            json!({"name": "Bad", "options": [{"name": "Size", "values": ["S", "L"]}],
                   "variants": [{"option_values": {"Size": "S"}, "price_minor": 1},
                                {"option_values": {"Size": "S"}, "price_minor": 2}]}),
            "duplicate_variant",
            "variants",
        ),
        (
            json!({"name": "Bad", "price_minor": 1, "barcode": "4006381333932"}),
            "invalid_barcode",
            "barcode",
        ),
        (
            json!({"name": "Bad", "price_minor": -1}),
            "invalid_price",
            "price_minor",
        ),
    ];
    for (body, code, field) in cases {
        let problem_body = problem(
            post(&platform, &a.token, "/v1/products", &body).await,
            422,
            code,
        )
        .await;
        assert_eq!(problem_body["field"], field, "{body}");
    }
    // Another tenant's category and modifier group do not exist here.
    let b_category = category(&platform, b.tenant, "Theirs", None).await;
    let body = problem(
        post(
            &platform,
            &a.token,
            "/v1/products",
            &json!({"name": "Bad", "price_minor": 1, "category_id": b_category}),
        )
        .await,
        422,
        "unknown_category",
    )
    .await;
    assert_eq!(body["field"], "category_id");
    let b_group = modifier_group(&platform, b.tenant, "Theirs").await;
    problem(
        post(
            &platform,
            &a.token,
            "/v1/products",
            &json!({"name": "Bad", "price_minor": 1, "modifier_group_ids": [b_group]}),
        )
        .await,
        422,
        "unknown_modifier_group",
    )
    .await;
    // A SKU in use is a conflict.
    problem(
        post(
            &platform,
            &a.token,
            "/v1/products",
            &json!({"name": "Again", "price_minor": 1, "sku": "ESP-1"}),
        )
        .await,
        409,
        "already_exists",
    )
    .await;
    // Unknown body fields are refused.
    problem(
        post(
            &platform,
            &a.token,
            "/v1/products",
            &json!({"name": "X", "price_minor": 1, "tenant_id": b.tenant}),
        )
        .await,
        422,
        "invalid_body",
    )
    .await;

    // Nothing of the failures was written: two products, two events, two audit records.
    let count: i64 = platform
        .admin()
        .await
        .query_one(
            "SELECT count(*) FROM catalog.products WHERE tenant_id = $1",
            &[&a.tenant],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 2);
    let created = events(&platform, a.tenant, "catalog.product.created").await;
    assert_eq!(created.len(), 2);
    assert_eq!(created[1]["product_id"], json!(id(&latte)));
    assert_eq!(created[1]["name"], "Latte");
    assert_eq!(
        created[1]["variant_ids"],
        json!([variants[0]["id"], variants[1]["id"]])
    );
    assert_eq!(
        audit_count(&platform, a.tenant, "catalog.product.created").await,
        2
    );

    // Idempotency-Key replays the first answer.
    let send = || {
        platform
            .request(reqwest::Method::POST, "/v1/products", &a.token)
            .header("idempotency-key", "create-mocha-1")
            .json(&json!({"name": "Mocha", "price_minor": 420}))
            .send()
    };
    let first = ok(send().await.unwrap(), 201).await;
    let again = send().await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(id(&ok(again, 201).await), id(&first));
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn products_are_read_within_their_tenant_only() {
    let platform = TestPlatform::start(None).await;
    let a = sign_up(&platform, "read-a").await;
    let b = sign_up(&platform, "read-b").await;
    let espresso = simple(&platform, &a, "Espresso", json!({})).await;
    let path = format!("/v1/products/{}", id(&espresso));

    let response = get(&platform, &a.token, &path).await;
    assert_eq!(response.headers()["etag"], "\"1\"");
    assert_eq!(ok(response, 200).await, espresso);
    let reader = platform.token(a.tenant, &["catalog:read"]);
    assert_eq!(
        ok(get(&platform, &reader, &path).await, 200).await,
        espresso
    );

    // Another tenant's, unknown and malformed ids are all simply not found.
    problem(get(&platform, &b.token, &path).await, 404, "not_found").await;
    problem(
        get(
            &platform,
            &a.token,
            &format!("/v1/products/{}", Uuid::now_v7()),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    problem(
        get(&platform, &a.token, "/v1/products/not-an-id").await,
        404,
        "not_found",
    )
    .await;
    // And absent from their list.
    let page = ok(get(&platform, &b.token, "/v1/products").await, 200).await;
    assert_eq!(page["items"], json!([]));
    let page = ok(
        get(&platform, &b.token, "/v1/products?q=espresso").await,
        200,
    )
    .await;
    assert_eq!(page["items"], json!([]));

    // A token without catalog:read reads nothing.
    let other = platform.token(a.tenant, &["orders:read"]);
    problem(
        get(&platform, &other, &path).await,
        403,
        "permission_denied",
    )
    .await;
    problem(
        get(&platform, &other, "/v1/products").await,
        403,
        "permission_denied",
    )
    .await;
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_typos_and_codes_filters_and_pages_every_match_once() {
    let platform = TestPlatform::start(None).await;
    let a = sign_up(&platform, "search-a").await;
    let b = sign_up(&platform, "search-b").await;
    let drinks = category(&platform, a.tenant, "Drinks", None).await;
    let coffee = category(&platform, a.tenant, "Coffee", Some(drinks)).await;
    let food = category(&platform, a.tenant, "Food", None).await;

    let cappuccino = simple(
        &platform,
        &a,
        "Cappuccino",
        json!({"category_id": coffee, "dietary_tags": ["vegetarian"]}),
    )
    .await;
    let chai = simple(
        &platform,
        &a,
        "Chai",
        json!({"category_id": drinks, "sku": "X9-7781", "barcode": "96385074",
               "dietary_tags": ["vegan", "gluten-free"]}),
    )
    .await;
    let bagel = simple(
        &platform,
        &a,
        "Bagel",
        json!({"category_id": food, "dietary_tags": ["vegan"]}),
    )
    .await;
    let deal = simple(&platform, &a, "100% Arabica Deal", json!({})).await;
    let mut lattes = Vec::new();
    for name in [
        "Latte",
        "Iced Latte",
        "Oat Latte",
        "Vanilla Latte",
        "Caramel Latte",
        "Latte Macchiato",
        "Matcha Latte",
    ] {
        lattes.push(id(&simple(&platform, &a, name, json!({})).await));
    }
    // Another tenant's latte never shows up.
    simple(&platform, &b, "Latte", json!({"sku": "X9-7781"})).await;

    // A typo still finds the product, first.
    let page = ok(
        get(&platform, &a.token, "/v1/products?q=capucino").await,
        200,
    )
    .await;
    assert_eq!(
        names(&page).first().map(String::as_str),
        Some("Cappuccino"),
        "{page}"
    );
    assert_eq!(page["items"][0]["variants"].as_array().unwrap().len(), 1);
    // An exact SKU or barcode finds its product (only this tenant's).
    let page = ok(
        get(&platform, &a.token, "/v1/products?q=X9-7781").await,
        200,
    )
    .await;
    assert_eq!(names(&page), ["Chai"]);
    assert_eq!(page["items"][0]["id"], chai["id"]);
    let page = ok(
        get(&platform, &a.token, "/v1/products?q=96385074").await,
        200,
    )
    .await;
    assert_eq!(names(&page), ["Chai"]);
    // LIKE metacharacters are literal: "%" finds the name containing it, not everything.
    let page = ok(get(&platform, &a.token, "/v1/products?q=%25").await, 200).await;
    assert_eq!(names(&page), ["100% Arabica Deal"]);
    assert_eq!(page["items"][0]["id"], deal["id"]);
    let page = ok(get(&platform, &a.token, "/v1/products?q=_").await, 200).await;
    assert_eq!(names(&page), Vec::<String>::new());
    // The exact name ranks above names that merely contain it.
    let page = ok(
        get(&platform, &a.token, "/v1/products?q=latte&limit=100").await,
        200,
    )
    .await;
    assert_eq!(names(&page)[0], "Latte");
    let all_lattes: HashSet<Uuid> = page["items"].as_array().unwrap().iter().map(id).collect();
    assert_eq!(all_lattes, lattes.iter().copied().collect::<HashSet<_>>());

    // Relevance pages walk every match exactly once, in the order of the single page.
    let single: Vec<Uuid> = page["items"].as_array().unwrap().iter().map(id).collect();
    let mut walked = Vec::new();
    let mut path = "/v1/products?q=latte&limit=2".to_owned();
    loop {
        let page = ok(get(&platform, &a.token, &path).await, 200).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        walked.extend(items.iter().map(id));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/products?q=latte&limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(walked, single);
    // Newest-first pages walk every product exactly once too.
    let mut walked = Vec::new();
    let mut path = "/v1/products?limit=3".to_owned();
    loop {
        let page = ok(get(&platform, &a.token, &path).await, 200).await;
        walked.extend(page["items"].as_array().unwrap().iter().map(id));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/products?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(walked.len(), 11);
    let mut sorted = walked.clone();
    sorted.sort_by(|x, y| y.cmp(x));
    sorted.dedup();
    assert_eq!(walked, sorted, "newest first, no repeats");

    // Bad cursors and limits.
    for query in [
        "cursor=nope",
        "q=latte&cursor=nope",
        &format!("q=latte&cursor={}", lattes[0]),
    ] {
        let body = problem(
            get(&platform, &a.token, &format!("/v1/products?{query}")).await,
            400,
            "invalid_cursor",
        )
        .await;
        assert_eq!(body["field"], "cursor");
    }
    problem(
        get(&platform, &a.token, "/v1/products?limit=0").await,
        422,
        "invalid_limit",
    )
    .await;
    problem(
        get(&platform, &a.token, "/v1/products?limit=101").await,
        422,
        "invalid_limit",
    )
    .await;
    problem(
        get(&platform, &a.token, "/v1/products?category_id=x").await,
        400,
        "invalid_query",
    )
    .await;

    // Category filter takes the subtree.
    let page = ok(
        get(
            &platform,
            &a.token,
            &format!("/v1/products?category_id={drinks}"),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(names(&page), ["Chai", "Cappuccino"]);
    let page = ok(
        get(
            &platform,
            &a.token,
            &format!("/v1/products?category_id={coffee}"),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(names(&page), ["Cappuccino"]);
    let page = ok(
        get(
            &platform,
            &a.token,
            &format!("/v1/products?q=chai&category_id={food}"),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(names(&page), Vec::<String>::new());

    // Tags: every tag given, repeated or as a comma list.
    let page = ok(
        get(&platform, &a.token, "/v1/products?tag=vegan").await,
        200,
    )
    .await;
    assert_eq!(names(&page), ["Bagel", "Chai"]);
    let page = ok(
        get(
            &platform,
            &a.token,
            "/v1/products?tag=vegan&tag=Gluten-Free",
        )
        .await,
        200,
    )
    .await;
    assert_eq!(names(&page), ["Chai"]);
    let page = ok(
        get(&platform, &a.token, "/v1/products?tag=vegan,gluten-free").await,
        200,
    )
    .await;
    assert_eq!(names(&page), ["Chai"]);
    problem(
        get(&platform, &a.token, "/v1/products?tag=no!").await,
        422,
        "invalid_tags",
    )
    .await;

    // Availability at a location: hidden there, or sold out there right now, is left out.
    let variant = |p: &Value| -> Uuid { p["variants"][0]["id"].as_str().unwrap().parse().unwrap() };
    let admin = platform.admin().await;
    admin
        .execute(
            "INSERT INTO catalog.variant_locations (id, tenant_id, variant_id, location_id, hidden)
             VALUES ($1, $2, $3, $4, true)",
            &[&Uuid::now_v7(), &a.tenant, &variant(&bagel), &a.location],
        )
        .await
        .unwrap();
    admin
        .execute(
            "INSERT INTO catalog.variant_locations (id, tenant_id, variant_id, location_id,
                                                    sold_out_until)
             VALUES ($1, $2, $3, $4, now() + interval '1 hour'),
                    ($5, $2, $6, $4, now() - interval '1 hour')",
            &[
                &Uuid::now_v7(),
                &a.tenant,
                &variant(&chai),
                &a.location,
                &Uuid::now_v7(),
                &variant(&cappuccino),
            ],
        )
        .await
        .unwrap();
    let at = |query: &str| format!("/v1/products?location_id={}&{query}", a.location);
    let offered = ok(get(&platform, &a.token, &at("tag=vegan")).await, 200).await;
    assert_eq!(names(&offered), ["Chai"]);
    let available = ok(
        get(&platform, &a.token, &at("tag=vegan&available=true")).await,
        200,
    )
    .await;
    assert_eq!(names(&available), Vec::<String>::new());
    let available = ok(
        get(
            &platform,
            &a.token,
            &at(&format!("available=true&category_id={drinks}")),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(names(&available), ["Cappuccino"]);
    problem(
        get(&platform, &a.token, "/v1/products?available=true").await,
        422,
        "missing_location",
    )
    .await;
    problem(
        get(
            &platform,
            &a.token,
            &format!("/v1/products?location_id={}", b.location),
        )
        .await,
        422,
        "unknown_location",
    )
    .await;

    // Archived products only with include_archived.
    ok(
        delete(
            &platform,
            &a.token,
            &format!("/v1/products/{}", id(&bagel)),
            None,
        )
        .await,
        200,
    )
    .await;
    let page = ok(
        get(&platform, &a.token, "/v1/products?tag=vegan").await,
        200,
    )
    .await;
    assert_eq!(names(&page), ["Chai"]);
    let page = ok(
        get(
            &platform,
            &a.token,
            "/v1/products?tag=vegan&include_archived=true",
        )
        .await,
        200,
    )
    .await;
    assert_eq!(names(&page), ["Bagel", "Chai"]);
    assert!(page["items"][0]["archived_at"].is_string());
    let page = ok(get(&platform, &a.token, "/v1/products?q=bagle").await, 200).await;
    assert_eq!(names(&page), Vec::<String>::new());
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn product_patches_are_versioned_and_keep_variants_fitting() {
    let platform = TestPlatform::start(None).await;
    let a = sign_up(&platform, "patch-a").await;
    let b = sign_up(&platform, "patch-b").await;
    let latte = product(&platform, &a, latte_body()).await;
    let path = format!("/v1/products/{}", id(&latte));
    let drinks = category(&platform, a.tenant, "Drinks", None).await;
    let group = modifier_group(&platform, a.tenant, "Syrups").await;

    // If-Match is required and must be current.
    problem(
        patch(
            &platform,
            &a.token,
            &path,
            None,
            &json!({"name": "Caffè Latte"}),
        )
        .await,
        428,
        "precondition_required",
    )
    .await;
    let body = problem(
        patch(
            &platform,
            &a.token,
            &path,
            Some("\"7\""),
            &json!({"name": "Caffè Latte"}),
        )
        .await,
        412,
        "version_mismatch",
    )
    .await;
    assert_eq!(body["current_version"], 1);

    // An unchanged PATCH answers the product as it is: same version, no event, no audit.
    let response = patch(
        &platform,
        &a.token,
        &path,
        Some("\"1\""),
        &json!({"name": " Latte ", "options": latte["options"], "dietary_tags": []}),
    )
    .await;
    assert_eq!(response.headers()["etag"], "\"1\"");
    let same = ok(response, 200).await;
    assert_eq!(same, latte);
    assert!(
        events(&platform, a.tenant, "catalog.product.updated")
            .await
            .is_empty()
    );

    // A change bumps the version and names the changed fields.
    let response = patch(
        &platform,
        &a.token,
        &path,
        Some("1"),
        &json!({"name": "Caffè Latte", "category_id": drinks, "dietary_tags": ["Vegetarian"],
                "modifier_group_ids": [group], "description": "Double shot."}),
    )
    .await;
    assert_eq!(response.headers()["etag"], "\"2\"");
    let changed = ok(response, 200).await;
    assert_eq!(changed["version"], 2);
    assert_eq!(changed["name"], "Caffè Latte");
    assert_eq!(changed["category_id"], json!(drinks));
    assert_eq!(changed["modifier_group_ids"], json!([group]));
    assert_eq!(changed["variants"], latte["variants"]);
    assert!(changed["change_seq"].as_i64().unwrap() > latte["change_seq"].as_i64().unwrap());
    let updated = events(&platform, a.tenant, "catalog.product.updated").await;
    assert_eq!(updated.len(), 1);
    assert_eq!(
        updated[0],
        json!({"product_id": id(&latte), "version": 2,
               "changed": ["name", "description", "category_id", "dietary_tags", "modifier_group_ids"]})
    );
    let audit = platform
        .admin()
        .await
        .query_one(
            "SELECT before, after FROM audit.events
             WHERE tenant_id = $1 AND action = 'catalog.product.updated'",
            &[&a.tenant],
        )
        .await
        .unwrap();
    assert_eq!(audit.get::<_, Value>(0)["name"], "Latte");
    assert_eq!(audit.get::<_, Value>(1)["name"], "Caffè Latte");
    assert_eq!(audit.get::<_, Value>(1)["version"], 2);

    // Options must keep fitting every live variant.
    let body = problem(
        patch(
            &platform,
            &a.token,
            &path,
            Some("2"),
            &json!({"options": [{"name": "Size", "values": ["S", "M"]}, {"name": "Milk", "values": ["Whole", "Oat"]}]}),
        )
        .await,
        422,
        "options_in_use",
    )
    .await;
    assert_eq!(body["variant_id"], latte["variants"][1]["id"]);
    let widened = ok(
        patch(
            &platform,
            &a.token,
            &path,
            Some("2"),
            &json!({"options": [{"name": "Size", "values": ["S", "M", "L"]}, {"name": "Milk", "values": ["Whole", "Oat"]}]}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(widened["options"][0]["values"], json!(["S", "M", "L"]));

    // Ids from another tenant do not exist here; null takes the product out of its category.
    let b_category = category(&platform, b.tenant, "Theirs", None).await;
    problem(
        patch(
            &platform,
            &a.token,
            &path,
            Some("3"),
            &json!({"category_id": b_category}),
        )
        .await,
        422,
        "unknown_category",
    )
    .await;
    let b_group = modifier_group(&platform, b.tenant, "Theirs").await;
    problem(
        patch(
            &platform,
            &a.token,
            &path,
            Some("3"),
            &json!({"modifier_group_ids": [b_group]}),
        )
        .await,
        422,
        "unknown_modifier_group",
    )
    .await;
    let cleared = ok(
        patch(
            &platform,
            &a.token,
            &path,
            Some("3"),
            &json!({"category_id": null, "modifier_group_ids": []}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(cleared["category_id"], Value::Null);
    assert_eq!(cleared["modifier_group_ids"], json!([]));
    assert_eq!(cleared["version"], 4);

    // Field validation and unknown fields.
    problem(
        patch(&platform, &a.token, &path, Some("4"), &json!({"name": ""})).await,
        422,
        "invalid_name",
    )
    .await;
    problem(
        patch(
            &platform,
            &a.token,
            &path,
            Some("4"),
            &json!({"variants": []}),
        )
        .await,
        422,
        "invalid_body",
    )
    .await;
    // Another tenant's product is not found and stays as it is.
    problem(
        patch(
            &platform,
            &b.token,
            &path,
            Some("4"),
            &json!({"name": "Hijacked"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    let current = ok(get(&platform, &a.token, &path).await, 200).await;
    assert_eq!(current["name"], "Caffè Latte");
    assert_eq!(current["version"], 4);
    assert_eq!(
        audit_count(&platform, a.tenant, "catalog.product.updated").await,
        3
    );
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archiving_is_soft_idempotent_and_reversible() {
    let platform = TestPlatform::start(None).await;
    let a = sign_up(&platform, "arch-a").await;
    let b = sign_up(&platform, "arch-b").await;
    let espresso = simple(&platform, &a, "Espresso", json!({"sku": "ESP-1"})).await;
    let path = format!("/v1/products/{}", id(&espresso));

    problem(
        delete(&platform, &b.token, &path, None).await,
        404,
        "not_found",
    )
    .await;
    let body = problem(
        delete(&platform, &a.token, &path, Some("\"2\"")).await,
        412,
        "version_mismatch",
    )
    .await;
    assert_eq!(body["current_version"], 1);

    let response = delete(&platform, &a.token, &path, Some("\"1\"")).await;
    assert_eq!(response.headers()["etag"], "\"2\"");
    let archived = ok(response, 200).await;
    assert!(archived["archived_at"].is_string());
    assert_eq!(archived["version"], 2);
    assert_eq!(archived["variants"], espresso["variants"]);

    // Again: unchanged, no second event.
    let again = ok(delete(&platform, &a.token, &path, None).await, 200).await;
    assert_eq!(again, archived);
    let archived_events = events(&platform, a.tenant, "catalog.product.archived").await;
    assert_eq!(
        archived_events,
        [json!({"product_id": id(&espresso), "version": 2})]
    );
    assert_eq!(
        audit_count(&platform, a.tenant, "catalog.product.archived").await,
        1
    );

    // Still there for the orders that reference it.
    let fetched = ok(get(&platform, &a.token, &path).await, 200).await;
    assert_eq!(fetched, archived);
    let rows: i64 = platform
        .admin()
        .await
        .query_one(
            "SELECT count(*) FROM catalog.products WHERE id = $1",
            &[&id(&espresso)],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 1);
    // No variants are added to an archived product.
    problem(
        post(
            &platform,
            &a.token,
            &format!("{path}/variants"),
            &json!({"option_values": {}, "price_minor": 1}),
        )
        .await,
        409,
        "product_archived",
    )
    .await;

    // PATCH archived:false restores it.
    let restored = ok(
        patch(
            &platform,
            &a.token,
            &path,
            Some("2"),
            &json!({"archived": false}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(restored["archived_at"], Value::Null);
    assert_eq!(restored["version"], 3);
    let updated = events(&platform, a.tenant, "catalog.product.updated").await;
    assert_eq!(updated.last().unwrap()["changed"], json!(["archived"]));
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn variants_are_added_and_patched_with_price_events() {
    let platform = TestPlatform::start(None).await;
    let a = sign_up(&platform, "var-a").await;
    let b = sign_up(&platform, "var-b").await;
    let latte = product(&platform, &a, latte_body()).await;
    let latte_id = id(&latte);
    let variants_path = format!("/v1/products/{latte_id}/variants");

    // Adding a variant.
    let response = post(
        &platform,
        &a.token,
        &variants_path,
        &json!({"option_values": {"Size": "L", "Milk": "Whole"}, "price_minor": 420,
                "sku": "LAT-LW", "barcode": "036000291452"}),
    )
    .await;
    assert_eq!(response.headers()["etag"], "\"1\"");
    let large = ok(response, 201).await;
    assert_eq!(large["name"], "L / Whole");
    assert_eq!(large["product_id"], json!(latte_id));
    assert_eq!(large["position"], 2);
    let product_now = ok(
        get(&platform, &a.token, &format!("/v1/products/{latte_id}")).await,
        200,
    )
    .await;
    assert_eq!(product_now["variants"].as_array().unwrap().len(), 3);
    let updated = events(&platform, a.tenant, "catalog.product.updated").await;
    assert_eq!(
        updated,
        [
            json!({"product_id": latte_id, "variant_id": id(&large), "changed": ["variants"], "version": 1})
        ]
    );

    // Its codes.
    let cases = [
        (
            json!({"option_values": {"Size": "L", "Milk": "Whole"}, "price_minor": 1}),
            "duplicate_variant",
        ),
        (
            json!({"option_values": {"Size": "XL", "Milk": "Whole"}, "price_minor": 1}),
            "invalid_option_values",
        ),
        (
            json!({"option_values": {"Size": "S", "Milk": "Oat"}, "price_minor": 1,
                   "barcode": "036000291453"}),
            "invalid_barcode",
        ),
    ];
    for (body, code) in cases {
        problem(
            post(&platform, &a.token, &variants_path, &body).await,
            422,
            code,
        )
        .await;
    }
    problem(
        post(
            &platform,
            &a.token,
            &variants_path,
            &json!({"option_values": {"Size": "S", "Milk": "Oat"}, "price_minor": 1, "sku": "LAT-SW"}),
        )
        .await,
        409,
        "already_exists",
    )
    .await;
    let espresso = simple(&platform, &a, "Espresso", json!({})).await;
    problem(
        post(
            &platform,
            &a.token,
            &format!("/v1/products/{}/variants", id(&espresso)),
            &json!({"option_values": {}, "price_minor": 1}),
        )
        .await,
        422,
        "missing_options",
    )
    .await;
    problem(
        post(
            &platform,
            &b.token,
            &variants_path,
            &json!({"option_values": {"Size": "S", "Milk": "Oat"}, "price_minor": 1}),
        )
        .await,
        404,
        "not_found",
    )
    .await;

    // Patching a variant: versioned by the variant's own version.
    let small = &latte["variants"][0];
    let small_path = format!("/v1/variants/{}", id(small));
    problem(
        patch(
            &platform,
            &a.token,
            &small_path,
            None,
            &json!({"price_minor": 380}),
        )
        .await,
        428,
        "precondition_required",
    )
    .await;
    let body = problem(
        patch(
            &platform,
            &a.token,
            &small_path,
            Some("\"3\""),
            &json!({"price_minor": 380}),
        )
        .await,
        412,
        "version_mismatch",
    )
    .await;
    assert_eq!(body["current_version"], 1);
    let unchanged = ok(
        patch(
            &platform,
            &a.token,
            &small_path,
            Some("1"),
            &json!({"price_minor": 350, "sku": "LAT-SW"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(unchanged["version"], 1);
    assert!(
        events(&platform, a.tenant, "catalog.price.changed")
            .await
            .is_empty()
    );

    let response = patch(
        &platform,
        &a.token,
        &small_path,
        Some("\"1\""),
        &json!({"price_minor": 380, "cost_minor": null, "name": "Small whole"}),
    )
    .await;
    assert_eq!(response.headers()["etag"], "\"2\"");
    let repriced = ok(response, 200).await;
    assert_eq!(repriced["price_minor"], 380);
    assert_eq!(repriced["name"], "Small whole");
    assert_eq!(repriced["version"], 2);
    let prices = events(&platform, a.tenant, "catalog.price.changed").await;
    assert_eq!(
        prices,
        [json!({"product_id": latte_id, "variant_id": id(small),
                "old_price_minor": 350, "new_price_minor": 380})]
    );
    let updated = events(&platform, a.tenant, "catalog.product.updated").await;
    assert_eq!(
        updated.last().unwrap(),
        &json!({"product_id": latte_id, "variant_id": id(small),
                "changed": ["name", "price_minor"], "version": 2})
    );
    assert_eq!(
        audit_count(&platform, a.tenant, "catalog.variant.updated").await,
        1
    );

    // A SKU or barcode in use by another live variant is a conflict; option values must stay
    // distinct.
    let body = problem(
        patch(
            &platform,
            &a.token,
            &small_path,
            Some("2"),
            &json!({"sku": "LAT-LO"}),
        )
        .await,
        409,
        "already_exists",
    )
    .await;
    assert_eq!(body["constraint"], "variants_sku");
    problem(
        patch(
            &platform,
            &a.token,
            &small_path,
            Some("2"),
            &json!({"barcode": "036000291452"}),
        )
        .await,
        409,
        "already_exists",
    )
    .await;
    problem(
        patch(
            &platform,
            &a.token,
            &small_path,
            Some("2"),
            &json!({"option_values": {"Size": "L", "Milk": "Oat"}}),
        )
        .await,
        422,
        "duplicate_variant",
    )
    .await;
    // Archiving the large oat variant frees its SKU and its option values.
    let large_oat_path = format!(
        "/v1/variants/{}",
        latte["variants"][1]["id"].as_str().unwrap()
    );
    let archived = ok(
        patch(
            &platform,
            &a.token,
            &large_oat_path,
            Some("1"),
            &json!({"archived": true}),
        )
        .await,
        200,
    )
    .await;
    assert!(archived["archived_at"].is_string());
    let moved = ok(
        patch(
            &platform,
            &a.token,
            &small_path,
            Some("2"),
            &json!({"sku": "LAT-LO", "option_values": {"Size": "L", "Milk": "Oat"}}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(moved["sku"], "LAT-LO");
    assert_eq!(moved["version"], 3);
    // Restoring the archived one would now duplicate option values and SKU.
    problem(
        patch(
            &platform,
            &a.token,
            &large_oat_path,
            Some("2"),
            &json!({"archived": false}),
        )
        .await,
        422,
        "duplicate_variant",
    )
    .await;
    // Another tenant's variant is not found.
    problem(
        patch(
            &platform,
            &b.token,
            &small_path,
            Some("3"),
            &json!({"price_minor": 1}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        events(&platform, a.tenant, "catalog.price.changed")
            .await
            .len(),
        1
    );
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalog_read_token_cannot_write() {
    let platform = TestPlatform::start(None).await;
    let a = sign_up(&platform, "perm-a").await;
    let latte = product(&platform, &a, latte_body()).await;
    let product_path = format!("/v1/products/{}", id(&latte));
    let variant_path = format!(
        "/v1/variants/{}",
        latte["variants"][0]["id"].as_str().unwrap()
    );
    let reader = platform.token(a.tenant, &["catalog:read"]);

    ok(get(&platform, &reader, &product_path).await, 200).await;
    ok(get(&platform, &reader, "/v1/products?q=latte").await, 200).await;
    let denied = [
        post(
            &platform,
            &reader,
            "/v1/products",
            &json!({"name": "X", "price_minor": 1}),
        )
        .await,
        patch(
            &platform,
            &reader,
            &product_path,
            Some("1"),
            &json!({"name": "X"}),
        )
        .await,
        delete(&platform, &reader, &product_path, None).await,
        post(
            &platform,
            &reader,
            &format!("{product_path}/variants"),
            &json!({"option_values": {"Size": "S", "Milk": "Oat"}, "price_minor": 1}),
        )
        .await,
        patch(
            &platform,
            &reader,
            &variant_path,
            Some("1"),
            &json!({"price_minor": 1}),
        )
        .await,
    ];
    for response in denied {
        let body = problem(response, 403, "permission_denied").await;
        assert_eq!(body["permission"], "catalog:write");
    }
    // Nothing changed.
    let current = ok(get(&platform, &a.token, &product_path).await, 200).await;
    assert_eq!(current, latte);
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_key_with_catalog_read_cannot_write() {
    let platform = TestPlatform::start(None).await;
    let a = sign_up(&platform, "apikey-a").await;
    let espresso = simple(&platform, &a, "Espresso", json!({})).await;
    let created = ok(
        post(
            &platform,
            &a.token,
            "/v1/api-keys",
            &json!({"name": "Menu board", "scopes": ["catalog:read"]}),
        )
        .await,
        201,
    )
    .await;
    let key = created["key"].as_str().unwrap().to_owned();

    let fetched = ok(
        get(&platform, &key, &format!("/v1/products/{}", id(&espresso))).await,
        200,
    )
    .await;
    assert_eq!(fetched, espresso);
    let response = platform
        .http
        .get(platform.url("/v1/products?q=espresso"))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(names(&ok(response, 200).await), ["Espresso"]);

    let body = problem(
        post(
            &platform,
            &key,
            "/v1/products",
            &json!({"name": "Mocha", "price_minor": 420}),
        )
        .await,
        403,
        "permission_denied",
    )
    .await;
    assert_eq!(body["permission"], "catalog:write");
    let page = ok(get(&platform, &a.token, "/v1/products").await, 200).await;
    assert_eq!(names(&page), ["Espresso"]);
    platform.stop().await;
}
