//! `GET /v1/products/{id}` answers from the instance's product cache, and is never stale: every
//! kind of write (product, variant, modifier links, archive, and a write this instance did not
//! make) shows on the next read; other tenants never see a cached product; and the freshness
//! check (`catalog.tenant_change_seq`) leaves the caller's transaction as it found it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{TestPlatform, problem, sign_up};
use olympus::catalog::cache::{Outcome, ProductCache};
use olympus::catalog::write::{NewProduct, NewVariant, create_product};
use olympus::db;
use olympus::testing::TestDb;
use serde_json::{Value, json};
use uuid::Uuid;

async fn send(
    platform: &TestPlatform,
    method: reqwest::Method,
    token: &str,
    path: &str,
    if_match: Option<i64>,
    body: Option<&Value>,
) -> Value {
    let mut builder = platform.request(method.clone(), path, token);
    if let Some(version) = if_match {
        builder = builder.header("if-match", format!("\"{version}\""));
    }
    if let Some(body) = body {
        builder = builder.json(body);
    }
    let response = builder.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{method} {path}: {status}: {text}");
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn cached_products_follow_every_write() {
    let platform = TestPlatform::start(None).await;
    let a = sign_up(&platform, "cache-a").await;
    let b = sign_up(&platform, "cache-b").await;
    let get = |path: String| {
        let platform = &platform;
        let token = a.token.clone();
        async move { send(platform, reqwest::Method::GET, &token, &path, None, None).await }
    };
    let created = send(
        &platform,
        reqwest::Method::POST,
        &a.token,
        "/v1/products",
        None,
        Some(&json!({
            "name": "Latte",
            "options": [{"name": "Size", "values": ["S", "M", "L"]}],
            "variants": [{"option_values": {"Size": "S"}, "price_minor": 300},
                         {"option_values": {"Size": "M"}, "price_minor": 350}],
        })),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/products/{id}");
    assert_eq!(get(path.clone()).await, created);
    assert_eq!(get(path.clone()).await, created, "the cached answer");

    // A product patch.
    let renamed = send(
        &platform,
        reqwest::Method::PATCH,
        &a.token,
        &path,
        Some(1),
        Some(&json!({"name": "Caffè Latte"})),
    )
    .await;
    let read = get(path.clone()).await;
    assert_eq!(read["name"], "Caffè Latte");
    assert_eq!(read, renamed);

    // A new variant, then a variant patch.
    let large = send(
        &platform,
        reqwest::Method::POST,
        &a.token,
        &format!("{path}/variants"),
        None,
        Some(&json!({"option_values": {"Size": "L"}, "price_minor": 400})),
    )
    .await;
    assert_eq!(get(path.clone()).await["variants"][2]["id"], large["id"]);
    send(
        &platform,
        reqwest::Method::PATCH,
        &a.token,
        &format!("/v1/variants/{}", large["id"].as_str().unwrap()),
        Some(1),
        Some(&json!({"price_minor": 420})),
    )
    .await;
    assert_eq!(get(path.clone()).await["variants"][2]["price_minor"], 420);

    // Modifier groups linked by a product patch.
    let group = send(
        &platform,
        reqwest::Method::POST,
        &a.token,
        "/v1/modifier-groups",
        None,
        Some(
            &json!({"name": "Milk", "min_selections": 0, "max_selections": 1,
                     "modifiers": [{"name": "Oat", "price_delta_minor": 40}]}),
        ),
    )
    .await;
    let version = get(path.clone()).await["version"].as_i64().unwrap();
    send(
        &platform,
        reqwest::Method::PATCH,
        &a.token,
        &path,
        Some(version),
        Some(&json!({"modifier_group_ids": [group["id"]]})),
    )
    .await;
    assert_eq!(
        get(path.clone()).await["modifier_group_ids"],
        json!([group["id"]])
    );

    // A write this instance never saw (another instance, a migration, an operator).
    let mut client = db::pool(&platform.db.app_url, 1)
        .unwrap()
        .get()
        .await
        .unwrap();
    let tx = db::tenant_tx(&mut client, a.tenant).await.unwrap();
    tx.execute(
        "UPDATE catalog.products SET description = 'Written elsewhere' WHERE id = $1::text::uuid",
        &[&id],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(get(path.clone()).await["description"], "Written elsewhere");

    // Another tenant's token never reaches the cached entry.
    problem(
        platform
            .request(reqwest::Method::GET, &path, &b.token)
            .send()
            .await
            .unwrap(),
        404,
        "not_found",
    )
    .await;

    // Archiving.
    let version = get(path.clone()).await["version"].as_i64().unwrap();
    let response = platform
        .request(reqwest::Method::DELETE, &path, &a.token)
        .header("if-match", format!("\"{version}\""))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    assert!(get(path.clone()).await["archived_at"].is_string());
    platform.stop().await;
}

async fn tenant(admin: &tokio_postgres::Client, slug: &str) -> Uuid {
    let id = Uuid::now_v7();
    admin
        .execute(
            "INSERT INTO platform.tenants (id, slug, name) VALUES ($1, $2, $2)",
            &[&id, &slug],
        )
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn the_cache_answers_hits_only_while_the_tenant_catalog_is_unchanged() {
    let test_db = TestDb::create().await;
    let admin = TestDb::connect(&test_db.admin_url).await;
    let (a, b) = (
        tenant(&admin, "hits-a").await,
        tenant(&admin, "hits-b").await,
    );
    let pool = db::pool(&test_db.app_url, 2).unwrap();
    let mut writer = pool.get().await.unwrap();
    let create = |name: &'static str| NewProduct {
        name: name.to_owned(),
        variants: vec![NewVariant {
            price_minor: 250,
            ..NewVariant::default()
        }],
        ..NewProduct::default()
    };
    let tx = db::tenant_tx(&mut writer, a).await.unwrap();
    let tea = create_product(&tx, a, &create("Tea")).await.unwrap();
    let scone = create_product(&tx, a, &create("Scone")).await.unwrap();
    tx.commit().await.unwrap();

    let cache = ProductCache::default();
    let (first, outcome) = cache.read(&pool, a, tea.id).await.unwrap().unwrap();
    assert_eq!(outcome, Outcome::Miss);
    let body: Value = serde_json::from_slice(&first.body).unwrap();
    assert_eq!(body["name"], "Tea");
    let (again, outcome) = cache.read(&pool, a, tea.id).await.unwrap().unwrap();
    assert_eq!(outcome, Outcome::Hit);
    assert_eq!(again.body, first.body);

    // Another tenant: not found, and nothing cached for it.
    assert!(cache.read(&pool, b, tea.id).await.unwrap().is_none());
    assert!(cache.read(&pool, b, tea.id).await.unwrap().is_none());

    // Any write of the tenant's catalog (here: another product) turns the next read into a miss.
    let tx = db::tenant_tx(&mut writer, a).await.unwrap();
    tx.execute(
        "UPDATE catalog.products SET name = 'Cheese scone' WHERE id = $1",
        &[&scone.id],
    )
    .await
    .unwrap();
    // Uncommitted: readers still see, and may still be answered, the committed catalog.
    let (_, outcome) = cache.read(&pool, a, tea.id).await.unwrap().unwrap();
    assert_eq!(outcome, Outcome::Hit);
    tx.commit().await.unwrap();
    let (_, outcome) = cache.read(&pool, a, tea.id).await.unwrap().unwrap();
    assert_eq!(outcome, Outcome::Miss);
    let (_, outcome) = cache.read(&pool, a, tea.id).await.unwrap().unwrap();
    assert_eq!(outcome, Outcome::Hit);

    // Concurrent hits share freshness checks: each check answers the hits that arrived before it
    // started, and none of them may be answered by a check that started earlier.
    let before = cache.checks();
    let reads = futures::future::join_all((0..32).map(|_| cache.read(&pool, a, tea.id))).await;
    for read in reads {
        assert_eq!(read.unwrap().unwrap().1, Outcome::Hit);
    }
    let shared = cache.checks() - before;
    assert!(shared <= 3, "32 concurrent hits took {shared} checks");

    // With caching off (capacity 0) every read is a miss.
    let off = ProductCache::new(0);
    for _ in 0..2 {
        assert_eq!(
            off.read(&pool, a, tea.id).await.unwrap().unwrap().1,
            Outcome::Miss
        );
    }

    // The freshness check inside another tenant's transaction leaves that transaction's tenant.
    let tx = db::tenant_tx(&mut writer, b).await.unwrap();
    let seq: i64 = tx
        .query_one("SELECT catalog.tenant_change_seq($1)", &[&a])
        .await
        .unwrap()
        .get(0);
    assert!(seq >= 3, "two creations and an update: {seq}");
    let setting: String = tx
        .query_one("SELECT current_setting('app.tenant_id')", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(setting, b.to_string());
    let unseen: i64 = tx
        .query_one("SELECT count(*) FROM catalog.products", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(unseen, 0, "b still sees only its own (empty) catalog");
    tx.commit().await.unwrap();
}
