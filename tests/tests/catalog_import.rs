//! Catalog import (`POST /v1/catalog/import`) through the whole platform: a valid batch creates
//! the category tree (parents by key, in any order), modifier groups and products (groups by
//! key, variants with keys) and records `catalog.product.created`; replaying it changes nothing
//! (no row, no version, no change_seq); a changed row is updated; a batch with bad rows answers
//! every error at once and writes nothing, also when a write fails mid-way; the CSV form; the
//! size cap and body formats; keys are per tenant.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{TestPlatform, audit_count, problem, sign_up};
use serde_json::{Value, json};
use uuid::Uuid;

async fn import(platform: &TestPlatform, token: &str, body: &Value) -> reqwest::Response {
    platform
        .http
        .post(platform.url("/v1/catalog/import"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn import_csv(platform: &TestPlatform, token: &str, csv: &str) -> reqwest::Response {
    platform
        .http
        .post(platform.url("/v1/catalog/import"))
        .bearer_auth(token)
        .header("content-type", "text/csv; charset=utf-8")
        .body(csv.to_owned())
        .send()
        .await
        .unwrap()
}

async fn ok(response: reqwest::Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// (created, updated, unchanged) of an import answer.
fn counts(body: &Value) -> (i64, i64, i64) {
    (
        body["created"].as_i64().unwrap(),
        body["updated"].as_i64().unwrap(),
        body["unchanged"].as_i64().unwrap(),
    )
}

/// The tenant's row counts (categories, groups, modifiers, products, variants, group links) and
/// its change counter, read as the superuser.
async fn footprint(platform: &TestPlatform, tenant: Uuid) -> Vec<i64> {
    let row = platform
        .admin()
        .await
        .query_one(
            "SELECT (SELECT count(*) FROM catalog.categories WHERE tenant_id = $1),
                    (SELECT count(*) FROM catalog.modifier_groups WHERE tenant_id = $1),
                    (SELECT count(*) FROM catalog.modifiers WHERE tenant_id = $1),
                    (SELECT count(*) FROM catalog.products WHERE tenant_id = $1),
                    (SELECT count(*) FROM catalog.variants WHERE tenant_id = $1),
                    (SELECT count(*) FROM catalog.product_modifier_groups WHERE tenant_id = $1),
                    (SELECT COALESCE(max(seq), 0) FROM catalog.change_counters
                     WHERE tenant_id = $1)",
            &[&tenant],
        )
        .await
        .unwrap();
    (0..7).map(|i| row.get(i)).collect()
}

async fn outbox_count(platform: &TestPlatform, tenant: Uuid, event_type: &str) -> i64 {
    platform
        .admin()
        .await
        .query_one(
            "SELECT count(*) FROM events.outbox WHERE tenant_id = $1 AND event_type = $2",
            &[&tenant, &event_type],
        )
        .await
        .unwrap()
        .get(0)
}

fn batch() -> Value {
    json!({
        // The child comes first: parents are resolved by key, not by order.
        "categories": [
            {"key": "burgers", "name": "Burgers", "parent_key": "food"},
            {"key": "food", "name": "Food"},
            {"key": "drinks", "name": "Drinks"}
        ],
        "modifier_groups": [
            {"key": "size", "name": "Size", "min_selections": 1, "max_selections": 1,
             "modifiers": [{"name": "Small"}, {"name": "Large", "price_delta_minor": 50}]}
        ],
        "products": [
            {"key": "cheeseburger", "name": "Cheeseburger", "category_key": "burgers",
             "price_minor": 900, "sku": "CB-1", "dietary_tags": ["halal"]},
            {"key": "cola", "name": "Cola", "category_key": "drinks",
             "modifier_group_keys": ["size"],
             "options": [{"name": "Volume", "values": ["33cl", "50cl"]}],
             "variants": [
                {"key": "cola-33", "option_values": {"Volume": "33cl"}, "price_minor": 250},
                {"key": "cola-50", "option_values": {"Volume": "50cl"}, "price_minor": 350,
                 "sku": "COLA-50"}
             ]}
        ]
    })
}

async fn id_of(platform: &TestPlatform, table: &str, tenant: Uuid, key: &str) -> Uuid {
    platform
        .admin()
        .await
        .query_one(
            &format!("SELECT id FROM catalog.{table} WHERE tenant_id = $1 AND external_key = $2"),
            &[&tenant, &key],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_batch_creates_everything_replays_unchanged_and_updates_what_changed() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "importer").await;
    let (token, tenant) = (&owner.token, owner.tenant);

    let body = ok(import(&platform, token, &batch()).await, 200).await;
    assert_eq!(counts(&body), (6, 0, 0));
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 6);
    assert_eq!(items[0]["section"], "categories");
    assert_eq!(items[0]["key"], "burgers");
    assert!(items.iter().all(|i| i["outcome"] == "created"));
    assert_eq!(items[5]["section"], "products");
    assert_eq!(items[5]["key"], "cola");

    // The tree, the groups and the variants, linked by key.
    let admin = platform.admin().await;
    let food = id_of(&platform, "categories", tenant, "food").await;
    let burgers = id_of(&platform, "categories", tenant, "burgers").await;
    let parent: Option<Uuid> = admin
        .query_one(
            "SELECT parent_id FROM catalog.categories WHERE id = $1",
            &[&burgers],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(parent, Some(food));
    let cola = id_of(&platform, "products", tenant, "cola").await;
    let size = id_of(&platform, "modifier_groups", tenant, "size").await;
    let linked: Vec<Uuid> = admin
        .query(
            "SELECT group_id FROM catalog.product_modifier_groups WHERE product_id = $1",
            &[&cola],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(linked, [size]);
    let burger = id_of(&platform, "products", tenant, "cheeseburger").await;
    let row = admin
        .query_one(
            "SELECT v.product_id, v.sku, v.price_minor, p.category_id
             FROM catalog.variants v JOIN catalog.products p ON p.id = v.product_id
             WHERE v.tenant_id = $1 AND v.external_key = 'cheeseburger'",
            &[&tenant],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, Uuid>(0), burger);
    assert_eq!(row.get::<_, String>(1), "CB-1");
    assert_eq!(row.get::<_, i64>(2), 900);
    assert_eq!(row.get::<_, Option<Uuid>>(3), Some(burgers));
    assert_eq!(footprint(&platform, tenant).await[..6], [3, 1, 2, 2, 3, 1]);
    assert_eq!(
        outbox_count(&platform, tenant, "catalog.product.created").await,
        2
    );

    // Replaying changes nothing: no row, no UPDATE (the change counter stands still).
    let before = footprint(&platform, tenant).await;
    let body = ok(import(&platform, token, &batch()).await, 200).await;
    assert_eq!(counts(&body), (0, 0, 6));
    assert!(
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["outcome"] == "unchanged")
    );
    assert_eq!(body["items"][5]["id"], cola.to_string());
    assert_eq!(footprint(&platform, tenant).await, before);
    assert_eq!(
        outbox_count(&platform, tenant, "catalog.product.created").await,
        2
    );

    // Changed rows are updated (version + 1), the rest left alone.
    let mut changed = batch();
    changed["categories"][2]["name"] = json!("Beverages");
    changed["products"][1]["variants"][1]["price_minor"] = json!(375);
    changed["modifier_groups"][0]["modifiers"][1]["price_delta_minor"] = json!(60);
    let body = ok(import(&platform, token, &changed).await, 200).await;
    assert_eq!(counts(&body), (0, 3, 3));
    let outcome = |key: &str| {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["key"] == key)
            .unwrap()["outcome"]
            .clone()
    };
    assert_eq!(outcome("drinks"), "updated");
    assert_eq!(outcome("size"), "updated");
    assert_eq!(outcome("cola"), "updated");
    assert_eq!(outcome("food"), "unchanged");
    assert_eq!(outcome("cheeseburger"), "unchanged");
    let row = admin
        .query_one(
            "SELECT price_minor, version FROM catalog.variants
             WHERE tenant_id = $1 AND external_key = 'cola-50'",
            &[&tenant],
        )
        .await
        .unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i32>(1)), (375, 2));
    let row = admin
        .query_one(
            "SELECT name, version FROM catalog.categories WHERE tenant_id = $1
             AND external_key = 'drinks'",
            &[&tenant],
        )
        .await
        .unwrap();
    assert_eq!(
        (row.get::<_, String>(0), row.get::<_, i32>(1)),
        ("Beverages".to_owned(), 2)
    );
    // The group kept its modifiers (matched by name), one of them repriced.
    let modifiers: Vec<(String, i64)> = admin
        .query(
            "SELECT name, price_delta_minor FROM catalog.modifiers
             WHERE group_id = $1 AND archived_at IS NULL ORDER BY position",
            &[&size],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        modifiers,
        [("Small".to_owned(), 0), ("Large".to_owned(), 60)]
    );
    assert_eq!(footprint(&platform, tenant).await[..6], before[..6]);
    assert_eq!(
        outbox_count(&platform, tenant, "catalog.price.changed").await,
        1
    );
    assert_eq!(
        outbox_count(&platform, tenant, "catalog.product.updated").await,
        1
    );

    // A variant left out is archived; a product moved to another category.
    let mut fewer = changed.clone();
    fewer["products"][1]["variants"]
        .as_array_mut()
        .unwrap()
        .truncate(1);
    fewer["products"][1]["options"] = json!([{"name": "Volume", "values": ["33cl"]}]);
    fewer["products"][0]["category_key"] = json!("food");
    let body = ok(import(&platform, token, &fewer).await, 200).await;
    assert_eq!(counts(&body), (0, 2, 4));
    let archived: bool = admin
        .query_one(
            "SELECT archived_at IS NOT NULL FROM catalog.variants
             WHERE tenant_id = $1 AND external_key = 'cola-50'",
            &[&tenant],
        )
        .await
        .unwrap()
        .get(0);
    assert!(archived);
    // ...and restored when listed again.
    let body = ok(import(&platform, token, &changed).await, 200).await;
    assert_eq!(counts(&body), (0, 2, 4));
    let archived: bool = admin
        .query_one(
            "SELECT archived_at IS NOT NULL FROM catalog.variants
             WHERE tenant_id = $1 AND external_key = 'cola-50'",
            &[&tenant],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!archived);
    assert_eq!(
        audit_count(&platform, tenant, "catalog.import.completed").await,
        5
    );

    // Permissions: catalog:read cannot import.
    let reader = platform.token(tenant, &["catalog:read"]);
    problem(
        import(&platform, &reader, &batch()).await,
        403,
        "permission_denied",
    )
    .await;
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rows_are_all_reported_and_nothing_is_written() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "bad-import").await;
    let (token, tenant) = (&owner.token, owner.tenant);
    let empty = footprint(&platform, tenant).await;

    // Two bad rows among good ones: exactly those two errors, nothing written.
    let mut body = batch();
    body["categories"][2]["parent_key"] = json!("nowhere");
    body["products"][1]["variants"][0]["price_minor"] = json!(-5);
    let problem_body = problem(import(&platform, token, &body).await, 422, "import_invalid").await;
    let errors = problem_body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(errors[0]["section"], "categories");
    assert_eq!(errors[0]["index"], 2);
    assert_eq!(errors[0]["key"], "drinks");
    assert_eq!(errors[0]["code"], "unknown_parent");
    assert_eq!(errors[0]["field"], "parent_key");
    assert_eq!(errors[1]["section"], "products");
    assert_eq!(errors[1]["index"], 1);
    assert_eq!(errors[1]["key"], "cola");
    assert_eq!(errors[1]["code"], "invalid_price");
    assert_eq!(errors[1]["field"], "variants[0].price_minor");
    assert!(errors[1]["detail"].is_string());
    assert_eq!(footprint(&platform, tenant).await, empty);

    // Many kinds of trouble, all collected in one answer.
    let body = json!({
        "categories": [
            {"key": "a", "name": "A", "parent_key": "b"},
            {"key": "b", "name": "B", "parent_key": "a"},
            {"name": "No key"},
            {"key": "c", "name": "C", "colour": "red"}
        ],
        "modifier_groups": [
            {"key": "g", "name": "G", "min_selections": 2, "modifiers": [{"name": "X"}]},
            {"key": "h", "name": "H"},
            {"key": "h", "name": "H again"}
        ],
        "products": [
            {"key": "p1", "name": "P1", "price_minor": 100, "category_key": "missing"},
            {"key": "p2", "name": "P2", "price_minor": 100, "modifier_group_keys": ["nope"]},
            {"key": "p3", "name": "P3", "price_minor": 100, "sku": "S-1"},
            {"key": "p4", "name": "P4", "price_minor": 100, "sku": "S-1"},
            {"key": "p5", "name": "P5", "price_minor": 100, "category_id": Uuid::now_v7()}
        ]
    });
    let problem_body = problem(import(&platform, token, &body).await, 422, "import_invalid").await;
    let found: Vec<(String, i64, String)> = problem_body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["section"].as_str().unwrap().to_owned(),
                e["index"].as_i64().unwrap(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, i64, String)> = [
        ("categories", 0, "category_cycle"),
        ("categories", 1, "category_cycle"),
        ("categories", 2, "missing_key"),
        ("categories", 3, "invalid_row"),
        ("modifier_groups", 0, "invalid_selection_limits"),
        ("modifier_groups", 2, "duplicate_key"),
        ("products", 0, "unknown_category"),
        ("products", 1, "unknown_modifier_group"),
        ("products", 3, "duplicate_sku"),
        ("products", 4, "unexpected_id"),
    ]
    .iter()
    .map(|(s, i, c)| ((*s).to_owned(), *i, (*c).to_owned()))
    .collect();
    assert_eq!(found, expected);
    assert_eq!(footprint(&platform, tenant).await, empty);

    // A write that fails mid-way (a SKU another product already uses) rolls everything back
    // and names the row.
    ok(
        import(
            &platform,
            token,
            &json!({"products": [{"key": "old", "name": "Old", "price_minor": 1, "sku": "DUP"}]}),
        )
        .await,
        200,
    )
    .await;
    let before = footprint(&platform, tenant).await;
    let body = json!({
        "categories": [{"key": "new-cat", "name": "New"}],
        "products": [{"key": "fresh", "name": "Fresh", "price_minor": 1},
                     {"key": "clash", "name": "Clash", "price_minor": 1, "sku": "DUP"}]
    });
    let problem_body = problem(import(&platform, token, &body).await, 422, "import_invalid").await;
    let errors = problem_body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["section"], "products");
    assert_eq!(errors[0]["index"], 1);
    assert_eq!(errors[0]["key"], "clash");
    assert_eq!(errors[0]["code"], "already_exists");
    assert_eq!(footprint(&platform, tenant).await, before);

    // The size cap, before any row is looked at; body formats.
    let variants: Vec<Value> = (0..5001).map(|_| json!({})).collect();
    let too_many = json!({"products": [{"key": "p", "name": "P", "variants": variants}]});
    let body = problem(
        import(&platform, token, &too_many).await,
        422,
        "import_too_large",
    )
    .await;
    assert_eq!(body["max_rows"], 5000);
    // Over the import's own 8 MiB limit (MAX_BODY_BYTES does not apply to it).
    let huge = json!({"categories": [{"key": "k", "name": "x".repeat(8 * 1024 * 1024 + 1)}]});
    problem(
        import(&platform, token, &huge).await,
        413,
        "payload_too_large",
    )
    .await;
    problem(
        import(&platform, token, &json!({"things": []})).await,
        422,
        "invalid_body",
    )
    .await;
    let response = platform
        .http
        .post(platform.url("/v1/catalog/import"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    problem(response, 400, "malformed_json").await;
    let response = platform
        .http
        .post(platform.url("/v1/catalog/import"))
        .bearer_auth(token)
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    problem(response, 415, "unsupported_media_type").await;
    assert_eq!(footprint(&platform, tenant).await, before);
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_rows_import_products_by_variant() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "csv-import").await;
    let (token, tenant) = (&owner.token, owner.tenant);
    ok(
        import(
            &platform,
            token,
            &json!({"modifier_groups": [{"key": "milk", "name": "Milk",
                                         "modifiers": [{"name": "Oat", "price_delta_minor": 40}]}]}),
        )
        .await,
        200,
    )
    .await;

    let csv = "category_key,category_name,product_key,product_name,variant_key,option_values,\
               sku,barcode,price_minor,cost_minor,tax_category,modifier_group_keys\r\n\
               coffee,Coffee,latte,Latte,latte-s,Size=Small,LAT-S,,350,90,standard,milk\r\n\
               coffee,Coffee,latte,,latte-l,Size=Large,LAT-L,,420,110,,\r\n\
               coffee,,tea,\"Tea, green\",tea,,TEA,4006381333931,300,,reduced,\r\n";
    let body = ok(import_csv(&platform, token, csv).await, 200).await;
    assert_eq!(counts(&body), (3, 0, 0));
    let admin = platform.admin().await;
    let latte = id_of(&platform, "products", tenant, "latte").await;
    let row = admin
        .query_one(
            "SELECT options, category_id IS NOT NULL,
                    (SELECT count(*) FROM catalog.variants v WHERE v.product_id = p.id),
                    (SELECT count(*) FROM catalog.product_modifier_groups g
                     WHERE g.product_id = p.id)
             FROM catalog.products p WHERE id = $1",
            &[&latte],
        )
        .await
        .unwrap();
    assert_eq!(
        row.get::<_, Value>(0),
        json!([{"name": "Size", "values": ["Small", "Large"]}])
    );
    assert!(row.get::<_, bool>(1));
    assert_eq!(row.get::<_, i64>(2), 2);
    assert_eq!(row.get::<_, i64>(3), 1);
    let row = admin
        .query_one(
            "SELECT p.name, p.tax_category, v.barcode, v.cost_minor
             FROM catalog.products p JOIN catalog.variants v ON v.product_id = p.id
             WHERE p.tenant_id = $1 AND p.external_key = 'tea'",
            &[&tenant],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "Tea, green");
    assert_eq!(row.get::<_, String>(1), "reduced");
    assert_eq!(
        row.get::<_, Option<String>>(2).as_deref(),
        Some("4006381333931")
    );
    assert_eq!(row.get::<_, Option<i64>>(3), None);

    // The same CSV again: nothing changes.
    let before = footprint(&platform, tenant).await;
    let body = ok(import_csv(&platform, token, csv).await, 200).await;
    assert_eq!(counts(&body), (0, 0, 3));
    assert_eq!(footprint(&platform, tenant).await, before);

    // Bad values are row errors (section csv, index = line); bad tables are invalid_csv.
    let bad = "product_key,product_name,variant_key,price_minor\n\
               a,A,a,12.50\n\
               b,B,b,100\n\
               a,Other name,a2,100\n";
    let body = problem(
        import_csv(&platform, token, bad).await,
        422,
        "import_invalid",
    )
    .await;
    let errors: Vec<(String, i64, String)> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["section"].as_str().unwrap().to_owned(),
                e["index"].as_i64().unwrap(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            ("csv".to_owned(), 2, "invalid_price".to_owned()),
            ("csv".to_owned(), 4, "inconsistent_product".to_owned())
        ]
    );
    assert_eq!(footprint(&platform, tenant).await, before);
    for (csv, line) in [
        (
            "product_key,product_name,variant_key,price_minor,colour\n",
            1,
        ),
        ("product_key,product_name\n", 1),
        (
            "product_key,product_name,variant_key,price_minor\n\"a,A,a,1\n",
            2,
        ),
    ] {
        let body = problem(import_csv(&platform, token, csv).await, 422, "invalid_csv").await;
        assert_eq!(body["line"], line, "{csv}");
    }
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_belong_to_their_tenant() {
    let platform = TestPlatform::start(None).await;
    let first = sign_up(&platform, "keys-one").await;
    let second = sign_up(&platform, "keys-two").await;

    let one = ok(import(&platform, &first.token, &batch()).await, 200).await;
    let two = ok(import(&platform, &second.token, &batch()).await, 200).await;
    assert_eq!(counts(&one), (6, 0, 0));
    assert_eq!(
        counts(&two),
        (6, 0, 0),
        "the same keys are new in another tenant"
    );
    for (a, b) in one["items"]
        .as_array()
        .unwrap()
        .iter()
        .zip(two["items"].as_array().unwrap())
    {
        assert_eq!(a["key"], b["key"]);
        assert_ne!(a["id"], b["id"]);
    }
    assert_eq!(
        footprint(&platform, first.tenant).await[..6],
        footprint(&platform, second.tenant).await[..6]
    );

    // A key only the first tenant has is unknown to the second.
    ok(
        import(
            &platform,
            &first.token,
            &json!({"categories": [{"key": "only-one", "name": "Mine"}]}),
        )
        .await,
        200,
    )
    .await;
    let body = problem(
        import(
            &platform,
            &second.token,
            &json!({"products": [{"key": "x", "name": "X", "price_minor": 1,
                                  "category_key": "only-one"}]}),
        )
        .await,
        422,
        "import_invalid",
    )
    .await;
    assert_eq!(body["errors"][0]["code"], "unknown_category");

    // Changing a row in one tenant leaves the other's alone.
    let mut changed = batch();
    changed["categories"][1]["name"] = json!("Meals");
    let body = ok(import(&platform, &second.token, &changed).await, 200).await;
    assert_eq!(counts(&body), (0, 1, 5));
    let names: Vec<String> = platform
        .admin()
        .await
        .query(
            "SELECT name FROM catalog.categories WHERE external_key = 'food' ORDER BY tenant_id = $1",
            &[&first.tenant],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(names, ["Meals", "Food"]);
    platform.stop().await;
}

/// The import has its own body limit (8 MiB): a batch larger than `MAX_BODY_BYTES` (64 KiB in
/// the harness) is accepted, replays through `Idempotency-Key` (whose middleware reads the same
/// limit), while another endpoint still refuses such a body with 413.
#[tokio::test]
async fn large_batches_pass_the_imports_own_body_limit() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "import-large").await;
    let products: Vec<Value> = (0..400)
        .map(|i| {
            json!({
                "key": format!("p-{i}"),
                "name": format!("Product number {i} with a long enough name"),
                "description": "x".repeat(150),
                "price_minor": 100 + i,
                "sku": format!("SKU-LARGE-{i}"),
            })
        })
        .collect();
    let body = json!({"products": products});
    let bytes = serde_json::to_vec(&body).unwrap().len();
    assert!(
        bytes > 65_536,
        "the batch must exceed MAX_BODY_BYTES: {bytes}"
    );
    let send = || {
        platform
            .http
            .post(platform.url("/v1/catalog/import"))
            .bearer_auth(&owner.token)
            .header("Idempotency-Key", "large-batch-1")
            .json(&body)
            .send()
    };
    let first = send().await.unwrap();
    let created = ok(first, 200).await;
    assert_eq!(counts(&created), (400, 0, 0));
    let replay = send().await.unwrap();
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(ok(replay, 200).await, created);

    let elsewhere = platform
        .http
        .post(platform.url("/v1/menus"))
        .bearer_auth(&owner.token)
        .json(&json!({"name": "x".repeat(100_000)}))
        .send()
        .await
        .unwrap();
    problem(elsewhere, 413, "payload_too_large").await;
    platform.stop().await;
}
