//! Stock under contention, against the real PostgreSQL: many sales of one pair at once, each on
//! its own connection and transaction through `olympus::inventory::record`, never sell more
//! than is there with `block` (and all go through with `allow_negative`, the ledger always
//! summing to the projection); lines of one variant are summed before the check; a sale may
//! take the units its own reservation held; concurrent HTTP reservations never hold more than
//! is there.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::Arc;

use common::{TestPlatform, problem, sign_up};
use olympus::catalog::write::NewProduct;
use olympus::db::{self, Pool};
use olympus::events::Outbox;
use olympus::inventory::{self, Context, HoldLine, Kind, Movement};
use serde_json::{Value, json};
use uuid::Uuid;

const TASKS: usize = 50;

/// A product with one variant, created through the catalog's own insert in a tenant
/// transaction on the app database (as the create-product function does).
async fn variant(pool: &Pool, tenant: Uuid, name: &str) -> Uuid {
    let mut conn = pool.get().await.unwrap();
    let tx = db::tenant_tx(&mut conn, tenant).await.unwrap();
    let product = olympus::catalog::write::create_product(
        &tx,
        tenant,
        &NewProduct {
            name: name.to_owned(),
            price_minor: Some(450),
            ..NewProduct::default()
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    product.variants[0].id
}

fn movement(variant: Uuid, location: Uuid, kind: Kind, quantity: i64) -> Movement {
    Movement {
        variant_id: variant,
        location_id: location,
        kind,
        quantity,
        reason: None,
        occurred_at: chrono::Utc::now(),
        reference: None,
    }
}

/// Records `movements` in one transaction of its own; the error's (status, code) otherwise.
async fn record(
    pool: &Pool,
    tenant: Uuid,
    movements: &[Movement],
    context: Context,
) -> Result<(), (u16, String, Value)> {
    let mut conn = pool.get().await.unwrap();
    let tx = db::tenant_tx(&mut conn, tenant).await.unwrap();
    let mut outbox = Outbox::default();
    match inventory::record(&tx, tenant, movements, context, &mut outbox).await {
        Ok(_) => {
            tx.commit().await.unwrap();
            Ok(())
        }
        Err(e) => Err((
            e.status().as_u16(),
            e.code().to_owned(),
            serde_json::to_value(e.problem()).unwrap(),
        )),
    }
}

/// `TASKS` sales of one unit at once, each on its own connection (all taken before any
/// starts) and transaction; returns how many committed and the codes of the others.
async fn sell_concurrently(
    pool: &Pool,
    tenant: Uuid,
    variant: Uuid,
    location: Uuid,
) -> (usize, Vec<(u16, String)>) {
    let mut connections = Vec::new();
    for _ in 0..TASKS {
        connections.push(pool.get().await.unwrap());
    }
    let start = Arc::new(tokio::sync::Barrier::new(TASKS));
    let tasks: Vec<_> = connections
        .into_iter()
        .map(|mut conn| {
            let start = Arc::clone(&start);
            tokio::spawn(async move {
                let tx = db::tenant_tx(&mut conn, tenant).await.unwrap();
                start.wait().await;
                let mut outbox = Outbox::default();
                let sale = movement(variant, location, Kind::Sale, 1);
                match inventory::record(&tx, tenant, &[sale], Context::default(), &mut outbox).await
                {
                    Ok(_) => {
                        tx.commit().await.unwrap();
                        Ok(())
                    }
                    Err(e) => Err((e.status().as_u16(), e.code().to_owned())),
                }
            })
        })
        .collect();
    let mut sold = 0;
    let mut refused = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => sold += 1,
            Err(error) => refused.push(error),
        }
    }
    (sold, refused)
}

/// (on_hand, the ledger's sum of delta) of a pair, read with admin SQL.
async fn projection_and_ledger(
    platform: &TestPlatform,
    variant: Uuid,
    location: Uuid,
) -> (i64, i64) {
    let row = platform
        .admin()
        .await
        .query_one(
            "SELECT s.on_hand,
                    (SELECT COALESCE(sum(m.delta), 0)::int8 FROM inventory.movements m
                     WHERE m.tenant_id = s.tenant_id AND m.variant_id = s.variant_id
                       AND m.location_id = s.location_id)
             FROM inventory.stock s WHERE s.variant_id = $1 AND s.location_id = $2",
            &[&variant, &location],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

async fn count(platform: &TestPlatform, sql: &str, id: Uuid) -> i64 {
    platform
        .admin()
        .await
        .query_one(sql, &[&id])
        .await
        .unwrap()
        .get(0)
}

/// The level of a pair as `GET /v1/inventory` shows it.
async fn level(platform: &TestPlatform, token: &str, variant: Uuid, location: Uuid) -> Value {
    let response = platform
        .http
        .get(platform.url(&format!(
            "/v1/inventory?variant_id={variant}&location_id={location}"
        )))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["items"].as_array().unwrap().len(), 1, "{body}");
    body["items"][0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_sales_against_ten_units_with_block_sell_exactly_ten() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "conc-block").await;
    let pool = db::pool(&platform.db.app_url, TASKS + 4).unwrap();
    let variant = variant(&pool, owner.tenant, "Espresso beans").await;
    record(
        &pool,
        owner.tenant,
        &[movement(variant, owner.location, Kind::Receive, 10)],
        Context::default(),
    )
    .await
    .unwrap();

    let (sold, refused) = sell_concurrently(&pool, owner.tenant, variant, owner.location).await;
    assert_eq!(sold, 10, "{refused:?}");
    assert_eq!(refused.len(), 40);
    assert!(
        refused
            .iter()
            .all(|(status, code)| *status == 409 && code == "insufficient_stock"),
        "{refused:?}"
    );
    assert_eq!(
        projection_and_ledger(&platform, variant, owner.location).await,
        (0, 0)
    );
    let sales = count(
        &platform,
        "SELECT count(*) FROM inventory.movements WHERE variant_id = $1 AND kind = 'sale'",
        variant,
    )
    .await;
    assert_eq!(sales, 10);
    let level = level(&platform, &owner.token, variant, owner.location).await;
    assert_eq!(level["on_hand"], 0);
    assert_eq!(level["available"], 0);
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_sales_with_allow_negative_all_go_through() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "conc-negative").await;
    let pool = db::pool(&platform.db.app_url, TASKS + 4).unwrap();
    let variant = variant(&pool, owner.tenant, "Croissant").await;
    record(
        &pool,
        owner.tenant,
        &[movement(variant, owner.location, Kind::Receive, 10)],
        Context::default(),
    )
    .await
    .unwrap();
    let response = platform
        .http
        .patch(platform.url(&format!(
            "/v1/inventory/levels/{variant}/{}",
            owner.location
        )))
        .bearer_auth(&owner.token)
        .json(&json!({"oversell": "allow_negative"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let (sold, refused) = sell_concurrently(&pool, owner.tenant, variant, owner.location).await;
    assert_eq!(sold, TASKS, "{refused:?}");
    assert_eq!(
        projection_and_ledger(&platform, variant, owner.location).await,
        (-40, -40)
    );
    let level = level(&platform, &owner.token, variant, owner.location).await;
    assert_eq!(level["on_hand"], -40);
    assert_eq!(level["oversell"], "allow_negative");
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_lines_of_one_variant_are_summed_before_the_stock_check() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "conc-summed").await;
    let pool = platform.db.app_pool();
    let variant = variant(&pool, owner.tenant, "Bagel").await;
    let location = owner.location;
    record(
        &pool,
        owner.tenant,
        &[movement(variant, location, Kind::Receive, 10)],
        Context::default(),
    )
    .await
    .unwrap();

    // One order, two lines of the same variant: 6 + 6 against 10.
    let order = [
        movement(variant, location, Kind::Sale, 6),
        movement(variant, location, Kind::Sale, 6),
    ];
    let (status, code, problem) = record(&pool, owner.tenant, &order, Context::default())
        .await
        .unwrap_err();
    assert_eq!((status, code.as_str()), (409, "insufficient_stock"));
    let shortages = problem["shortages"].as_array().unwrap();
    assert_eq!(shortages.len(), 1, "{problem}");
    assert_eq!(shortages[0]["variant_id"], variant.to_string());
    assert_eq!(shortages[0]["requested"], 12);
    assert_eq!(shortages[0]["available"], 10);
    assert_eq!(
        projection_and_ledger(&platform, variant, location).await,
        (10, 10)
    );
    let sales = count(
        &platform,
        "SELECT count(*) FROM inventory.movements WHERE variant_id = $1 AND kind = 'sale'",
        variant,
    )
    .await;
    assert_eq!(sales, 0, "a refused order records nothing");

    // 6 + 4 fits exactly.
    let order = [
        movement(variant, location, Kind::Sale, 6),
        movement(variant, location, Kind::Sale, 4),
    ];
    record(&pool, owner.tenant, &order, Context::default())
        .await
        .unwrap();
    assert_eq!(
        projection_and_ledger(&platform, variant, location).await,
        (0, 0)
    );
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_consuming_its_reservation_may_take_the_held_units() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "conc-consume").await;
    let pool = platform.db.app_pool();
    let variant = variant(&pool, owner.tenant, "Muffin").await;
    let location = owner.location;
    record(
        &pool,
        owner.tenant,
        &[movement(variant, location, Kind::Receive, 10)],
        Context::default(),
    )
    .await
    .unwrap();
    let reservation = {
        let mut conn = pool.get().await.unwrap();
        let tx = db::tenant_tx(&mut conn, owner.tenant).await.unwrap();
        let reservation = inventory::reserve(
            &tx,
            owner.tenant,
            location,
            &[HoldLine {
                variant_id: variant,
                quantity: 4,
            }],
            chrono::Utc::now() + chrono::Duration::minutes(15),
            Some("cart-1".to_owned()),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        reservation.id
    };
    let held = level(&platform, &owner.token, variant, location).await;
    assert_eq!(
        (held["reserved"].as_i64(), held["available"].as_i64()),
        (Some(4), Some(6))
    );

    // Another customer may not take the held units...
    let (status, code, _) = record(
        &pool,
        owner.tenant,
        &[movement(variant, location, Kind::Sale, 7)],
        Context::default(),
    )
    .await
    .unwrap_err();
    assert_eq!((status, code.as_str()), (409, "insufficient_stock"));

    // ...but the order the hold was for takes them, and the hold is consumed.
    let consuming = Context {
        actor: Some(owner.user),
        consumes: Some(reservation),
    };
    record(
        &pool,
        owner.tenant,
        &[movement(variant, location, Kind::Sale, 4)],
        consuming,
    )
    .await
    .unwrap();
    let after = level(&platform, &owner.token, variant, location).await;
    assert_eq!(after["on_hand"], 6);
    assert_eq!(after["reserved"], 0);
    assert_eq!(after["available"], 6);
    let consumed = count(
        &platform,
        "SELECT count(*) FROM inventory.reservations
         WHERE reservation_id = $1 AND status = 'consumed' AND closed_at IS NOT NULL",
        reservation,
    )
    .await;
    assert_eq!(consumed, 1);

    // A hold is consumed once; the failed attempt changes nothing.
    let (status, code, _) = record(
        &pool,
        owner.tenant,
        &[movement(variant, location, Kind::Sale, 1)],
        consuming,
    )
    .await
    .unwrap_err();
    assert_eq!((status, code.as_str()), (409, "reservation_not_active"));
    assert_eq!(
        projection_and_ledger(&platform, variant, location).await,
        (6, 6)
    );
    // The rest is free for anyone.
    record(
        &pool,
        owner.tenant,
        &[movement(variant, location, Kind::Sale, 6)],
        Context::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        projection_and_ledger(&platform, variant, location).await,
        (0, 0)
    );
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_http_reservations_against_ten_units_hold_exactly_ten() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "conc-holds").await;
    let pool = platform.db.app_pool();
    let variant = variant(&pool, owner.tenant, "Sourdough").await;
    let location = owner.location;
    record(
        &pool,
        owner.tenant,
        &[movement(variant, location, Kind::Receive, 10)],
        Context::default(),
    )
    .await
    .unwrap();

    let url = platform.url("/v1/inventory/reservations");
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let http = platform.http.clone();
            let url = url.clone();
            let token = owner.token.clone();
            tokio::spawn(async move {
                http.post(url)
                    .bearer_auth(token)
                    .json(&json!({
                        "location_id": location,
                        "lines": [{"variant_id": variant, "quantity": 1}],
                        "reference": format!("cart-{i}"),
                    }))
                    .send()
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut created = 0;
    let mut refused = 0;
    for task in tasks {
        let response = task.await.unwrap();
        match response.status().as_u16() {
            201 => {
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["status"], "active");
                created += 1;
            }
            _ => {
                problem(response, 409, "insufficient_stock").await;
                refused += 1;
            }
        }
    }
    assert_eq!((created, refused), (10, 40));
    let active = count(
        &platform,
        "SELECT COALESCE(sum(quantity), 0)::int8 FROM inventory.reservations
         WHERE variant_id = $1 AND status = 'active'",
        variant,
    )
    .await;
    assert_eq!(active, 10);
    let level = level(&platform, &owner.token, variant, location).await;
    assert_eq!(level["on_hand"], 10);
    assert_eq!(level["reserved"], 10);
    assert_eq!(level["available"], 0);
    platform.stop().await;
}
