//! Inventory through the whole platform: adjustments and their events, physical counts against
//! late and back-dated movements, atomic transfers between locations, reservations (holds that
//! expire by themselves), low-stock alerts once per crossing, the movement ledger and level
//! lists with filters and pages, the ledger always summing to the projection, tenant isolation
//! and permissions. Sales come from orders (another issue), so they are recorded here with
//! `olympus::inventory::record` in a tenant transaction on the app database.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use chrono::{DateTime, Duration, Utc};
use common::{TestPlatform, audit_count, problem, sign_up};
use olympus::catalog::write::NewProduct;
use olympus::db::{self, Pool};
use olympus::events::Outbox;
use olympus::inventory::{self, Context, Kind, Movement};
use serde_json::{Value, json};
use uuid::Uuid;

// ---------------------------------------------------------------------------------------------
// Fixtures

/// A product with one variant, created through the catalog's own insert.
async fn variant(pool: &Pool, tenant: Uuid, name: &str) -> Uuid {
    variant_tracking(pool, tenant, name, true).await
}

/// A product with one variant that does (or does not) track inventory.
async fn variant_tracking(pool: &Pool, tenant: Uuid, name: &str, track: bool) -> Uuid {
    let mut conn = pool.get().await.unwrap();
    let tx = db::tenant_tx(&mut conn, tenant).await.unwrap();
    let product = olympus::catalog::write::create_product(
        &tx,
        tenant,
        &NewProduct {
            name: name.to_owned(),
            price_minor: Some(300),
            track_inventory: Some(track),
            ..NewProduct::default()
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    product.variants[0].id
}

/// A second location of `tenant`, written with admin SQL (the plan limit is not under test).
async fn location(platform: &TestPlatform, tenant: Uuid, name: &str) -> Uuid {
    let id = Uuid::now_v7();
    platform
        .admin()
        .await
        .execute(
            "INSERT INTO platform.locations (id, tenant_id, name, time_zone, currency)
             VALUES ($1, $2, $3, 'Europe/Paris', 'EUR')",
            &[&id, &tenant, &name],
        )
        .await
        .unwrap();
    id
}

/// A sale of `quantity` dated `at`, as an order would record it (its own transaction).
async fn sell(
    pool: &Pool,
    tenant: Uuid,
    variant: Uuid,
    location: Uuid,
    quantity: i64,
    at: DateTime<Utc>,
    consumes: Option<Uuid>,
) -> Result<(), String> {
    let mut conn = pool.get().await.unwrap();
    let tx = db::tenant_tx(&mut conn, tenant).await.unwrap();
    let mut outbox = Outbox::default();
    let sale = Movement {
        variant_id: variant,
        location_id: location,
        kind: Kind::Sale,
        quantity,
        reason: None,
        occurred_at: at,
        reference: None,
    };
    let context = Context {
        actor: None,
        consumes,
    };
    match inventory::record(&tx, tenant, &[sale], context, &mut outbox).await {
        Ok(_) => {
            tx.commit().await.unwrap();
            Ok(())
        }
        Err(e) => Err(e.code().to_owned()),
    }
}

fn ago(minutes: i64) -> DateTime<Utc> {
    Utc::now() - Duration::minutes(minutes)
}

// ---------------------------------------------------------------------------------------------
// HTTP

async fn get(platform: &TestPlatform, path: &str, token: &str) -> reqwest::Response {
    platform
        .http
        .get(platform.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn post(platform: &TestPlatform, path: &str, token: &str, body: &Value) -> reqwest::Response {
    platform
        .http
        .post(platform.url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn patch(
    platform: &TestPlatform,
    path: &str,
    token: &str,
    if_match: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut request = platform
        .http
        .patch(platform.url(path))
        .bearer_auth(token)
        .json(body);
    if let Some(if_match) = if_match {
        request = request.header("if-match", if_match);
    }
    request.send().await.unwrap()
}

async fn delete(platform: &TestPlatform, path: &str, token: &str) -> reqwest::Response {
    platform
        .http
        .delete(platform.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn json_ok(response: reqwest::Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(actual, status, "{body}");
    body
}

/// `POST /v1/inventory/adjustments` with one line; expects 201.
async fn adjust(
    platform: &TestPlatform,
    token: &str,
    location: Uuid,
    variant: Uuid,
    kind: &str,
    quantity: i64,
    at: Option<DateTime<Utc>>,
) -> Value {
    let mut body = json!({
        "location_id": location,
        "lines": [{"variant_id": variant, "kind": kind, "quantity": quantity}],
    });
    if let Some(at) = at {
        body["occurred_at"] = json!(at);
    }
    json_ok(
        post(platform, "/v1/inventory/adjustments", token, &body).await,
        201,
    )
    .await
}

/// The level of a pair as `GET /v1/inventory` lists it.
async fn level(platform: &TestPlatform, token: &str, variant: Uuid, location: Uuid) -> Value {
    let body = json_ok(
        get(
            platform,
            &format!("/v1/inventory?variant_id={variant}&location_id={location}"),
            token,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(body["items"].as_array().unwrap().len(), 1, "{body}");
    body["items"][0].clone()
}

async fn on_hand(platform: &TestPlatform, token: &str, variant: Uuid, location: Uuid) -> i64 {
    level(platform, token, variant, location).await["on_hand"]
        .as_i64()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Admin SQL assertions

async fn scalar(platform: &TestPlatform, sql: &str, id: Uuid) -> i64 {
    platform
        .admin()
        .await
        .query_one(sql, &[&id])
        .await
        .unwrap()
        .get(0)
}

/// How many events of `event_type` the tenant's outbox holds.
async fn events(platform: &TestPlatform, tenant: Uuid, event_type: &str) -> i64 {
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

/// The payloads of the tenant's events of `event_type`, oldest first.
async fn payloads(platform: &TestPlatform, tenant: Uuid, event_type: &str) -> Vec<Value> {
    platform
        .admin()
        .await
        .query(
            "SELECT envelope -> 'payload' FROM events.outbox
             WHERE tenant_id = $1 AND event_type = $2 ORDER BY seq",
            &[&tenant, &event_type],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// Asserts that every stock row of the tenant equals its ledger's sum of `delta`; returns how
/// many rows were checked.
async fn assert_ledger_is_projection(platform: &TestPlatform, tenant: Uuid) -> i64 {
    let rows = platform
        .admin()
        .await
        .query(
            "SELECT s.variant_id, s.location_id, s.on_hand,
                    (SELECT COALESCE(sum(m.delta), 0)::int8 FROM inventory.movements m
                     WHERE m.tenant_id = s.tenant_id AND m.variant_id = s.variant_id
                       AND m.location_id = s.location_id)
             FROM inventory.stock s WHERE s.tenant_id = $1",
            &[&tenant],
        )
        .await
        .unwrap();
    for row in &rows {
        let (variant, location): (Uuid, Uuid) = (row.get(0), row.get(1));
        let (on_hand, sum): (i64, i64) = (row.get(2), row.get(3));
        assert_eq!(on_hand, sum, "ledger of {variant} at {location}");
    }
    rows.len() as i64
}

const STOCK_ADJUSTED: &str = "inventory.stock.adjusted";
const STOCK_LOW: &str = "inventory.stock.low";
const TRANSFER_COMPLETED: &str = "inventory.transfer.completed";

// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adjustments_record_movements_levels_and_events() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "inv-adjust").await;
    let pool = platform.db.app_pool();
    let beans = variant(&pool, owner.tenant, "Beans").await;
    let path = "/v1/inventory/adjustments";

    let body = json!({
        "location_id": owner.location,
        "reason": "Monday delivery",
        "lines": [
            {"variant_id": beans, "kind": "receive", "quantity": 10},
            {"variant_id": beans, "kind": "waste", "quantity": 2, "reason": "dropped"},
            {"variant_id": beans, "kind": "adjust", "quantity": -1},
            {"variant_id": beans, "kind": "return", "quantity": 3},
        ],
    });
    let created = json_ok(post(&platform, path, &owner.token, &body).await, 201).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let movements = created["movements"].as_array().unwrap();
    let column = |name: &str| -> Vec<Value> { movements.iter().map(|m| m[name].clone()).collect() };
    assert_eq!(
        column("kind"),
        [
            json!("receive"),
            json!("waste"),
            json!("adjust"),
            json!("return")
        ]
    );
    assert_eq!(
        column("quantity"),
        [json!(10), json!(-2), json!(-1), json!(3)]
    );
    assert_eq!(column("delta"), [json!(10), json!(-2), json!(-1), json!(3)]);
    assert_eq!(
        column("on_hand_after"),
        [json!(10), json!(8), json!(7), json!(10)]
    );
    assert_eq!(
        column("reason"),
        [
            json!("Monday delivery"),
            json!("dropped"),
            json!("Monday delivery"),
            json!("Monday delivery")
        ]
    );
    for movement in movements {
        assert_eq!(movement["reference_type"], "adjustment");
        assert_eq!(movement["reference_id"], id.as_str());
        assert_eq!(movement["actor_user_id"], owner.user.to_string());
        assert_eq!(movement["location_id"], owner.location.to_string());
    }
    let levels = created["levels"].as_array().unwrap();
    assert_eq!(levels.len(), 1);
    assert_eq!(levels[0]["on_hand"], 10);
    assert_eq!(levels[0]["available"], 10);
    assert_eq!(levels[0]["oversell"], "block");

    // One event for the adjustment, with its lines; one audit record.
    let adjusted = payloads(&platform, owner.tenant, STOCK_ADJUSTED).await;
    assert_eq!(adjusted.len(), 1);
    assert_eq!(adjusted[0]["location_id"], owner.location.to_string());
    assert_eq!(adjusted[0]["lines"].as_array().unwrap().len(), 4);
    assert_eq!(adjusted[0]["lines"][3]["on_hand"], 10);
    assert_eq!(
        audit_count(&platform, owner.tenant, "inventory.adjustment.created").await,
        1
    );

    // A replay with the same Idempotency-Key records nothing new.
    let keyed = json!({
        "location_id": owner.location,
        "lines": [{"variant_id": beans, "kind": "receive", "quantity": 5}],
    });
    let send = || {
        platform
            .http
            .post(platform.url(path))
            .bearer_auth(&owner.token)
            .header("idempotency-key", "delivery-2")
            .json(&keyed)
            .send()
    };
    let first = json_ok(send().await.unwrap(), 201).await;
    let replay = send().await.unwrap();
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(json_ok(replay, 201).await["id"], first["id"]);
    assert_eq!(
        on_hand(&platform, &owner.token, beans, owner.location).await,
        15
    );

    // Refused bodies change nothing.
    let line = |kind: &str, quantity: i64| {
        json!({
            "location_id": owner.location,
            "lines": [{"variant_id": beans, "kind": kind, "quantity": quantity}],
        })
    };
    for kind in ["sale", "transfer_in", "transfer_out", "count", "gift"] {
        let body = problem(
            post(&platform, path, &owner.token, &line(kind, 1)).await,
            422,
            "invalid_kind",
        )
        .await;
        assert_eq!(body["field"], "lines[0].kind");
    }
    for (kind, quantity) in [("receive", 0), ("waste", -3), ("adjust", 0)] {
        let body = problem(
            post(&platform, path, &owner.token, &line(kind, quantity)).await,
            422,
            "invalid_quantity",
        )
        .await;
        assert_eq!(body["line"], 0);
    }
    let mut future = line("receive", 1);
    future["occurred_at"] = json!(Utc::now() + Duration::minutes(10));
    problem(
        post(&platform, path, &owner.token, &future).await,
        422,
        "invalid_occurred_at",
    )
    .await;
    let empty = json!({"location_id": owner.location, "lines": []});
    problem(
        post(&platform, path, &owner.token, &empty).await,
        422,
        "invalid_lines",
    )
    .await;
    let many: Vec<Value> = (0..501)
        .map(|_| json!({"variant_id": beans, "kind": "receive", "quantity": 1}))
        .collect();
    problem(
        post(
            &platform,
            path,
            &owner.token,
            &json!({"location_id": owner.location, "lines": many}),
        )
        .await,
        422,
        "invalid_lines",
    )
    .await;
    let mut long = line("receive", 1);
    long["reason"] = json!("x".repeat(501));
    problem(
        post(&platform, path, &owner.token, &long).await,
        422,
        "invalid_reason",
    )
    .await;
    let mut unknown = line("receive", 1);
    unknown["on_hand"] = json!(99);
    problem(
        post(&platform, path, &owner.token, &unknown).await,
        422,
        "invalid_body",
    )
    .await;
    let ghost = json!({
        "location_id": owner.location,
        "lines": [{"variant_id": Uuid::now_v7(), "kind": "receive", "quantity": 1}],
    });
    problem(
        post(&platform, path, &owner.token, &ghost).await,
        422,
        "unknown_variant",
    )
    .await;
    let mut nowhere = line("receive", 1);
    nowhere["location_id"] = json!(Uuid::now_v7());
    problem(
        post(&platform, path, &owner.token, &nowhere).await,
        422,
        "unknown_location",
    )
    .await;
    assert_eq!(
        on_hand(&platform, &owner.token, beans, owner.location).await,
        15
    );
    assert_eq!(events(&platform, owner.tenant, STOCK_ADJUSTED).await, 2);

    // A till's clock a little ahead is fine.
    let mut skewed = line("receive", 1);
    skewed["occurred_at"] = json!(Utc::now() + Duration::minutes(2));
    json_ok(post(&platform, path, &owner.token, &skewed).await, 201).await;
    assert_eq!(
        on_hand(&platform, &owner.token, beans, owner.location).await,
        16
    );
    assert_eq!(
        assert_ledger_is_projection(&platform, owner.tenant).await,
        1
    );
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_set_the_level_as_of_their_client_time() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "inv-count").await;
    let (token, here) = (owner.token.as_str(), owner.location);
    let pool = platform.db.app_pool();
    let milk = variant(&pool, owner.tenant, "Milk").await;
    let flour = variant(&pool, owner.tenant, "Flour").await;
    let path = "/v1/inventory/counts";
    let count = |variant: Uuid, counted: i64, at: DateTime<Utc>| {
        json!({
            "location_id": here,
            "occurred_at": at,
            "reason": "weekly count",
            "lines": [{"variant_id": variant, "counted": counted}],
        })
    };

    // Received 10 three hours ago; counted 7 an hour ago.
    adjust(&platform, token, here, milk, "receive", 10, Some(ago(180))).await;
    let counted = json_ok(
        post(&platform, path, token, &count(milk, 7, ago(60))).await,
        201,
    )
    .await;
    let movement = &counted["movements"][0];
    assert_eq!(movement["kind"], "count");
    assert_eq!(movement["quantity"], 7);
    assert_eq!(movement["delta"], -3);
    assert_eq!(movement["on_hand_after"], 7);
    assert_eq!(movement["reference_type"], "count");
    assert_eq!(movement["reference_id"], counted["id"]);
    assert_eq!(movement["reason"], "weekly count");
    assert_eq!(counted["levels"][0]["on_hand"], 7);
    assert!(counted["levels"][0]["last_count_at"].is_string());

    // A till syncing late: a sale made before the count is already in it...
    sell(&pool, owner.tenant, milk, here, 2, ago(120), None)
        .await
        .unwrap();
    assert_eq!(on_hand(&platform, token, milk, here).await, 7);
    let late_delta = scalar(
        &platform,
        "SELECT delta FROM inventory.movements WHERE variant_id = $1 AND kind = 'sale'",
        milk,
    )
    .await;
    assert_eq!(late_delta, 0);
    // ...a sale made after it applies.
    sell(&pool, owner.tenant, milk, here, 1, ago(30), None)
        .await
        .unwrap();
    assert_eq!(on_hand(&platform, token, milk, here).await, 6);
    // A count older than the latest one changes nothing.
    let stale = json_ok(
        post(&platform, path, token, &count(milk, 100, ago(90))).await,
        201,
    )
    .await;
    assert_eq!(stale["movements"][0]["delta"], 0);
    assert_eq!(on_hand(&platform, token, milk, here).await, 6);

    // A back-dated count: movements recorded after its time still apply on top of it.
    adjust(&platform, token, here, flour, "receive", 10, Some(ago(180))).await;
    sell(&pool, owner.tenant, flour, here, 3, ago(30), None)
        .await
        .unwrap();
    adjust(&platform, token, here, flour, "receive", 5, Some(ago(10))).await;
    assert_eq!(on_hand(&platform, token, flour, here).await, 12);
    let back_dated = json_ok(
        post(&platform, path, token, &count(flour, 8, ago(60))).await,
        201,
    )
    .await;
    assert_eq!(back_dated["movements"][0]["delta"], -2);
    assert_eq!(on_hand(&platform, token, flour, here).await, 8 - 3 + 5);

    // One sheet, two variants.
    let sheet = json!({
        "location_id": here,
        "lines": [{"variant_id": milk, "counted": 4}, {"variant_id": flour, "counted": 0}],
    });
    let both = json_ok(post(&platform, path, token, &sheet).await, 201).await;
    assert_eq!(both["movements"].as_array().unwrap().len(), 2);
    assert_eq!(both["levels"].as_array().unwrap().len(), 2);
    assert_eq!(on_hand(&platform, token, milk, here).await, 4);
    assert_eq!(on_hand(&platform, token, flour, here).await, 0);

    // Refused sheets.
    let twice = json!({
        "location_id": here,
        "lines": [{"variant_id": milk, "counted": 4}, {"variant_id": milk, "counted": 5}],
    });
    let body = problem(
        post(&platform, path, token, &twice).await,
        422,
        "duplicate_variant",
    )
    .await;
    assert_eq!(body["line"], 1);
    problem(
        post(&platform, path, token, &count(milk, -1, ago(1))).await,
        422,
        "invalid_quantity",
    )
    .await;
    problem(
        post(
            &platform,
            path,
            token,
            &count(milk, 1, Utc::now() + Duration::hours(1)),
        )
        .await,
        422,
        "invalid_occurred_at",
    )
    .await;
    problem(
        post(
            &platform,
            path,
            token,
            &json!({"location_id": here, "lines": []}),
        )
        .await,
        422,
        "invalid_lines",
    )
    .await;
    assert_eq!(on_hand(&platform, token, milk, here).await, 4);

    // 3 adjustments + 4 counts, each one event.
    assert_eq!(events(&platform, owner.tenant, STOCK_ADJUSTED).await, 7);
    assert_eq!(
        audit_count(&platform, owner.tenant, "inventory.count.created").await,
        4
    );
    assert_eq!(
        assert_ledger_is_projection(&platform, owner.tenant).await,
        2
    );
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_move_stock_atomically_between_two_locations() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "inv-transfer").await;
    let token = owner.token.as_str();
    let pool = platform.db.app_pool();
    let (shop, depot) = (
        owner.location,
        location(&platform, owner.tenant, "Depot").await,
    );
    let tea = variant(&pool, owner.tenant, "Tea").await;
    let cups = variant(&pool, owner.tenant, "Cups").await;
    adjust(&platform, token, shop, tea, "receive", 10, None).await;
    adjust(&platform, token, shop, cups, "receive", 1, None).await;
    let path = "/v1/inventory/transfers";
    let transfer = |lines: Value| {
        json!({
            "from_location_id": shop,
            "to_location_id": depot,
            "reason": "restock the depot",
            "lines": lines,
        })
    };

    // One short line: nothing moves at either location.
    let short = transfer(json!([
        {"variant_id": tea, "quantity": 5},
        {"variant_id": cups, "quantity": 3},
    ]));
    let body = problem(
        post(&platform, path, token, &short).await,
        409,
        "insufficient_stock",
    )
    .await;
    let shortages = body["shortages"].as_array().unwrap();
    assert_eq!(shortages.len(), 1, "{body}");
    assert_eq!(shortages[0]["variant_id"], cups.to_string());
    assert_eq!(shortages[0]["location_id"], shop.to_string());
    assert_eq!(shortages[0]["requested"], 3);
    assert_eq!(shortages[0]["available"], 1);
    assert_eq!(on_hand(&platform, token, tea, shop).await, 10);
    assert_eq!(on_hand(&platform, token, cups, shop).await, 1);
    let at_depot = json_ok(
        get(
            &platform,
            &format!("/v1/inventory?location_id={depot}"),
            token,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(at_depot["items"], json!([]));
    let transfer_movements = "SELECT count(*) FROM inventory.movements
                              WHERE tenant_id = $1 AND kind LIKE 'transfer_%'";
    assert_eq!(scalar(&platform, transfer_movements, owner.tenant).await, 0);
    let transfers = "SELECT count(*) FROM inventory.transfers WHERE tenant_id = $1";
    assert_eq!(scalar(&platform, transfers, owner.tenant).await, 0);
    assert_eq!(events(&platform, owner.tenant, TRANSFER_COMPLETED).await, 0);

    // Enough of everything (two lines of tea are summed: 7 of 10).
    let enough = transfer(json!([
        {"variant_id": tea, "quantity": 5},
        {"variant_id": cups, "quantity": 1},
        {"variant_id": tea, "quantity": 2},
    ]));
    let moved = json_ok(post(&platform, path, token, &enough).await, 201).await;
    let id = moved["id"].as_str().unwrap();
    assert_eq!(moved["from_location_id"], shop.to_string());
    assert_eq!(moved["to_location_id"], depot.to_string());
    assert_eq!(moved["lines"].as_array().unwrap().len(), 3);
    let movements = moved["movements"].as_array().unwrap();
    assert_eq!(movements.len(), 6);
    assert!(movements.iter().all(|m| m["reference_type"] == "transfer"
        && m["reference_id"] == id
        && m["reason"] == "restock the depot"));
    let outs = movements
        .iter()
        .filter(|m| m["kind"] == "transfer_out" && m["location_id"] == shop.to_string())
        .count();
    assert_eq!(outs, 3);
    assert_eq!(moved["levels"].as_array().unwrap().len(), 4);
    assert_eq!(on_hand(&platform, token, tea, shop).await, 3);
    assert_eq!(on_hand(&platform, token, cups, shop).await, 0);
    assert_eq!(on_hand(&platform, token, tea, depot).await, 7);
    assert_eq!(on_hand(&platform, token, cups, depot).await, 1);
    assert_eq!(scalar(&platform, transfers, owner.tenant).await, 1);
    let completed = payloads(&platform, owner.tenant, TRANSFER_COMPLETED).await;
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0]["transfer_id"], id);
    assert_eq!(completed[0]["lines"].as_array().unwrap().len(), 3);
    assert_eq!(
        audit_count(&platform, owner.tenant, "inventory.transfer.created").await,
        1
    );

    // Refused transfers.
    let mut same = transfer(json!([{"variant_id": tea, "quantity": 1}]));
    same["to_location_id"] = json!(shop);
    problem(
        post(&platform, path, token, &same).await,
        422,
        "same_location",
    )
    .await;
    let ghost = transfer(json!([{"variant_id": Uuid::now_v7(), "quantity": 1}]));
    problem(
        post(&platform, path, token, &ghost).await,
        422,
        "unknown_variant",
    )
    .await;
    let zero = transfer(json!([{"variant_id": tea, "quantity": 0}]));
    problem(
        post(&platform, path, token, &zero).await,
        422,
        "invalid_quantity",
    )
    .await;
    assert_eq!(on_hand(&platform, token, tea, shop).await, 3);
    assert_eq!(
        assert_ledger_is_projection(&platform, owner.tenant).await,
        4
    );
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reservations_hold_stock_until_released_consumed_or_expired() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "inv-holds").await;
    let (token, here) = (owner.token.as_str(), owner.location);
    let pool = platform.db.app_pool();
    let cake = variant(&pool, owner.tenant, "Cake").await;
    adjust(&platform, token, here, cake, "receive", 10, None).await;
    let path = "/v1/inventory/reservations";
    let hold = |quantity: i64| {
        json!({
            "location_id": here,
            "lines": [{"variant_id": cake, "quantity": quantity}],
            "reference": "cart-42",
        })
    };

    let first = json_ok(post(&platform, path, token, &hold(4)).await, 201).await;
    let first_id = first["id"].as_str().unwrap().parse::<Uuid>().unwrap();
    assert_eq!(first["status"], "active");
    assert_eq!(first["reference"], "cart-42");
    assert_eq!(first["lines"], json!([{"variant_id": cake, "quantity": 4}]));
    let expires: DateTime<Utc> = first["expires_at"].as_str().unwrap().parse().unwrap();
    let ttl = expires - Utc::now();
    assert!(
        ttl > Duration::seconds(800) && ttl <= Duration::seconds(900),
        "{ttl}"
    );
    let held = level(&platform, token, cake, here).await;
    assert_eq!(held["on_hand"], 10);
    assert_eq!(held["reserved"], 4);
    assert_eq!(held["available"], 6);

    // What is held is not available to another hold.
    problem(
        post(&platform, path, token, &hold(7)).await,
        409,
        "insufficient_stock",
    )
    .await;

    // An expired hold stops counting by itself: no job runs here.
    platform
        .admin()
        .await
        .execute(
            "UPDATE inventory.reservations SET expires_at = now() - interval '1 second'
             WHERE reservation_id = $1",
            &[&first_id],
        )
        .await
        .unwrap();
    let expired = level(&platform, token, cake, here).await;
    assert_eq!(expired["reserved"], 0);
    assert_eq!(expired["available"], 10);
    let mut short_lived = hold(7);
    short_lived["ttl_seconds"] = json!(60);
    let second = json_ok(post(&platform, path, token, &short_lived).await, 201).await;
    let second_id = second["id"].as_str().unwrap();
    assert_eq!(level(&platform, token, cake, here).await["available"], 3);

    // Release: the units are available again; a second release is refused.
    let release = |id: String| {
        let platform = &platform;
        async move { delete(platform, &format!("/v1/inventory/reservations/{id}"), token).await }
    };
    let response = release(second_id.to_owned()).await;
    assert_eq!(response.status(), 204);
    assert_eq!(level(&platform, token, cake, here).await["available"], 10);
    problem(
        release(second_id.to_owned()).await,
        409,
        "reservation_not_active",
    )
    .await;
    // An expired hold is still active, so it may be released.
    assert_eq!(release(first_id.to_string()).await.status(), 204);
    problem(release(Uuid::now_v7().to_string()).await, 404, "not_found").await;
    problem(release("not-a-uuid".to_owned()).await, 404, "not_found").await;

    // A hold consumed by its sale cannot be released.
    let third = json_ok(post(&platform, path, token, &hold(2)).await, 201).await;
    let third_id = third["id"].as_str().unwrap().parse::<Uuid>().unwrap();
    sell(
        &pool,
        owner.tenant,
        cake,
        here,
        2,
        Utc::now(),
        Some(third_id),
    )
    .await
    .unwrap();
    problem(
        release(third_id.to_string()).await,
        409,
        "reservation_not_active",
    )
    .await;
    let after = level(&platform, token, cake, here).await;
    assert_eq!(
        (after["on_hand"].as_i64(), after["reserved"].as_i64()),
        (Some(8), Some(0))
    );

    // A variant that does not track inventory is always available to hold, and its order
    // consumes the hold though it records no movement.
    let voucher = variant_tracking(&pool, owner.tenant, "Voucher", false).await;
    let gift = json!({"location_id": here, "lines": [{"variant_id": voucher, "quantity": 3}]});
    let gift = json_ok(post(&platform, path, token, &gift).await, 201).await;
    let gift_id = gift["id"].as_str().unwrap().parse::<Uuid>().unwrap();
    sell(
        &pool,
        owner.tenant,
        voucher,
        here,
        3,
        Utc::now(),
        Some(gift_id),
    )
    .await
    .unwrap();
    let voucher_movements = scalar(
        &platform,
        "SELECT count(*) FROM inventory.movements WHERE variant_id = $1",
        voucher,
    )
    .await;
    assert_eq!(voucher_movements, 0);
    problem(
        release(gift_id.to_string()).await,
        409,
        "reservation_not_active",
    )
    .await;

    // Refused holds.
    for (ttl, code) in [(59, "invalid_ttl"), (86_401, "invalid_ttl")] {
        let mut body = hold(1);
        body["ttl_seconds"] = json!(ttl);
        problem(post(&platform, path, token, &body).await, 422, code).await;
    }
    let mut blank = hold(1);
    blank["reference"] = json!(" ");
    problem(
        post(&platform, path, token, &blank).await,
        422,
        "invalid_reference",
    )
    .await;
    problem(
        post(&platform, path, token, &hold(0)).await,
        422,
        "invalid_quantity",
    )
    .await;
    problem(
        post(
            &platform,
            path,
            token,
            &json!({"location_id": here, "lines": []}),
        )
        .await,
        422,
        "invalid_lines",
    )
    .await;
    let active = scalar(
        &platform,
        "SELECT count(*) FROM inventory.reservations WHERE tenant_id = $1 AND status = 'active'",
        owner.tenant,
    )
    .await;
    assert_eq!(active, 0);
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn low_stock_fires_once_per_crossing_and_levels_take_their_policy() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "inv-low").await;
    let (token, here) = (owner.token.as_str(), owner.location);
    let pool = platform.db.app_pool();
    let jam = variant(&pool, owner.tenant, "Jam").await;
    adjust(&platform, token, here, jam, "receive", 10, None).await;
    let path = format!("/v1/inventory/levels/{jam}/{here}");

    let response = patch(
        &platform,
        &path,
        token,
        None,
        &json!({"reorder_point": 3, "reorder_quantity": 12}),
    )
    .await;
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let set = json_ok(response, 200).await;
    assert_eq!(etag, format!("\"{}\"", set["version"]));
    assert_eq!(set["reorder_point"], 3);
    assert_eq!(set["below_reorder"], false);
    assert_eq!(events(&platform, owner.tenant, STOCK_LOW).await, 0);

    // Selling down to the point fires; selling further below does not fire again.
    sell(&pool, owner.tenant, jam, here, 7, Utc::now(), None)
        .await
        .unwrap();
    assert_eq!(events(&platform, owner.tenant, STOCK_LOW).await, 1);
    assert_eq!(
        level(&platform, token, jam, here).await["below_reorder"],
        true
    );
    sell(&pool, owner.tenant, jam, here, 1, Utc::now(), None)
        .await
        .unwrap();
    assert_eq!(events(&platform, owner.tenant, STOCK_LOW).await, 1);
    // Back above the point, then below again: a second crossing.
    adjust(&platform, token, here, jam, "receive", 5, None).await;
    assert_eq!(
        level(&platform, token, jam, here).await["below_reorder"],
        false
    );
    assert_eq!(events(&platform, owner.tenant, STOCK_LOW).await, 1);
    sell(&pool, owner.tenant, jam, here, 5, Utc::now(), None)
        .await
        .unwrap();
    let lows = payloads(&platform, owner.tenant, STOCK_LOW).await;
    assert_eq!(lows.len(), 2);
    assert_eq!(lows[1]["variant_id"], jam.to_string());
    assert_eq!(lows[1]["location_id"], here.to_string());
    assert_eq!(lows[1]["on_hand"], 2);
    assert_eq!(lows[1]["reorder_point"], 3);
    assert_eq!(lows[1]["reorder_quantity"], 12);

    // Raising the point of a flagged pair is no new crossing; clearing and setting it is.
    json_ok(
        patch(&platform, &path, token, None, &json!({"reorder_point": 10})).await,
        200,
    )
    .await;
    assert_eq!(events(&platform, owner.tenant, STOCK_LOW).await, 2);
    let cleared = json_ok(
        patch(
            &platform,
            &path,
            token,
            None,
            &json!({"reorder_point": null}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(cleared["below_reorder"], false);
    assert_eq!(cleared["reorder_quantity"], 12);
    let flagged = json_ok(
        patch(&platform, &path, token, None, &json!({"reorder_point": 5})).await,
        200,
    )
    .await;
    assert_eq!(flagged["below_reorder"], true);
    assert_eq!(events(&platform, owner.tenant, STOCK_LOW).await, 3);

    // If-Match, when sent, must name the current version; a no-op changes nothing.
    let version = flagged["version"].as_i64().unwrap();
    let stale = problem(
        patch(
            &platform,
            &path,
            token,
            Some("\"1\""),
            &json!({"oversell": "allow_negative"}),
        )
        .await,
        412,
        "version_mismatch",
    )
    .await;
    assert_eq!(stale["current_version"], version);
    let current = format!("\"{version}\"");
    let negative = json_ok(
        patch(
            &platform,
            &path,
            token,
            Some(&current),
            &json!({"oversell": "allow_negative"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(negative["oversell"], "allow_negative");
    assert_eq!(negative["version"], version + 1);
    let audits = audit_count(&platform, owner.tenant, "inventory.level.updated").await;
    let same = json_ok(
        patch(
            &platform,
            &path,
            token,
            None,
            &json!({"oversell": "allow_negative", "reorder_point": 5}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(same["version"], version + 1);
    assert_eq!(
        audit_count(&platform, owner.tenant, "inventory.level.updated").await,
        audits
    );
    assert_eq!(audits, 5);

    // Refused patches.
    for (body, code) in [
        (json!({"oversell": "sometimes"}), "invalid_oversell"),
        (json!({"reorder_point": -1}), "invalid_reorder_point"),
        (json!({"reorder_quantity": 0}), "invalid_reorder_quantity"),
        (json!({"on_hand": 100}), "invalid_body"),
    ] {
        problem(patch(&platform, &path, token, None, &body).await, 422, code).await;
    }
    problem(
        patch(&platform, &path, token, Some("soon"), &json!({})).await,
        400,
        "invalid_if_match",
    )
    .await;
    problem(
        patch(
            &platform,
            &format!("/v1/inventory/levels/{}/{here}", Uuid::now_v7()),
            token,
            None,
            &json!({"reorder_point": 1}),
        )
        .await,
        404,
        "not_found",
    )
    .await;

    // A pair never moved gets its row: level 0, at its new point of 0, is a crossing.
    let honey = variant(&pool, owner.tenant, "Honey").await;
    let fresh = json_ok(
        patch(
            &platform,
            &format!("/v1/inventory/levels/{honey}/{here}"),
            token,
            None,
            &json!({"reorder_point": 0}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(fresh["on_hand"], 0);
    assert_eq!(fresh["below_reorder"], true);
    assert_eq!(events(&platform, owner.tenant, STOCK_LOW).await, 4);
    assert_eq!(
        assert_ledger_is_projection(&platform, owner.tenant).await,
        2
    );
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn movements_and_levels_list_with_filters_and_pages() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "inv-lists").await;
    let token = owner.token.as_str();
    let pool = platform.db.app_pool();
    let (shop, depot) = (
        owner.location,
        location(&platform, owner.tenant, "Depot").await,
    );
    let soap = variant(&pool, owner.tenant, "Soap").await;
    let wax = variant(&pool, owner.tenant, "Wax").await;

    // A mixed sequence: 7 movements over 3 pairs.
    adjust(&platform, token, shop, soap, "receive", 5, None).await;
    adjust(&platform, token, shop, wax, "receive", 3, None).await;
    adjust(&platform, token, depot, soap, "receive", 4, None).await;
    let transfer = json_ok(
        post(
            &platform,
            "/v1/inventory/transfers",
            token,
            &json!({
                "from_location_id": shop, "to_location_id": depot,
                "lines": [{"variant_id": soap, "quantity": 2}],
            }),
        )
        .await,
        201,
    )
    .await;
    let transfer_id = transfer["id"].as_str().unwrap();
    sell(&pool, owner.tenant, wax, shop, 1, Utc::now(), None)
        .await
        .unwrap();
    json_ok(
        post(
            &platform,
            "/v1/inventory/counts",
            token,
            &json!({"location_id": depot, "lines": [{"variant_id": soap, "counted": 5}]}),
        )
        .await,
        201,
    )
    .await;

    // Every movement once, newest first, over pages of 2.
    let mut ids: Vec<Uuid> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/inventory/movements?limit=2&cursor={c}"),
            None => "/v1/inventory/movements?limit=2".to_owned(),
        };
        let page = json_ok(get(&platform, &path, token).await, 200).await;
        pages += 1;
        for item in page["items"].as_array().unwrap() {
            ids.push(item["id"].as_str().unwrap().parse().unwrap());
            assert!(item["recorded_at"].is_string());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(ids.len(), 7);
    assert_eq!(pages, 4);
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");

    let listed = |query: String| {
        let platform = &platform;
        async move {
            json_ok(
                get(platform, &format!("/v1/inventory/movements?{query}"), token).await,
                200,
            )
            .await["items"]
                .as_array()
                .unwrap()
                .clone()
        }
    };
    let at_depot = listed(format!("location_id={depot}")).await;
    let kinds: Vec<&str> = at_depot
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["count", "transfer_in", "receive"]);
    assert_eq!(listed(format!("variant_id={wax}")).await.len(), 2);
    let sales = listed("kind=sale".to_owned()).await;
    assert_eq!(sales.len(), 1);
    assert_eq!(sales[0]["variant_id"], wax.to_string());
    assert_eq!(sales[0]["delta"], -1);
    assert_eq!(listed(format!("reference_id={transfer_id}")).await.len(), 2);
    assert_eq!(
        listed(format!(
            "reference_type=transfer&reference_id={transfer_id}&location_id={shop}"
        ))
        .await
        .len(),
        1
    );
    assert_eq!(
        listed(format!("kind=receive&variant_id={soap}"))
            .await
            .len(),
        2
    );
    problem(
        get(&platform, "/v1/inventory/movements?kind=theft", token).await,
        422,
        "invalid_kind",
    )
    .await;
    problem(
        get(&platform, "/v1/inventory/movements?limit=0", token).await,
        422,
        "invalid_limit",
    )
    .await;
    problem(
        get(&platform, "/v1/inventory/movements?cursor=x", token).await,
        400,
        "invalid_query",
    )
    .await;

    // Levels: 3 pairs, one page at a time, in descending (variant, location) order.
    let mut pairs: Vec<(Uuid, Uuid)> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/inventory?limit=1&cursor={c}"),
            None => "/v1/inventory?limit=1".to_owned(),
        };
        let page = json_ok(get(&platform, &path, token).await, 200).await;
        for item in page["items"].as_array().unwrap() {
            pairs.push((
                item["variant_id"].as_str().unwrap().parse().unwrap(),
                item["location_id"].as_str().unwrap().parse().unwrap(),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let mut expected = vec![(soap, shop), (soap, depot), (wax, shop)];
    expected.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(pairs, expected);
    let levels = |query: String| {
        let platform = &platform;
        async move {
            json_ok(
                get(platform, &format!("/v1/inventory?{query}"), token).await,
                200,
            )
            .await["items"]
                .as_array()
                .unwrap()
                .clone()
        }
    };
    let depot_levels = levels(format!("location_id={depot}")).await;
    assert_eq!(depot_levels.len(), 1);
    assert_eq!(depot_levels[0]["on_hand"], 5);
    assert_eq!(levels(format!("variant_id={soap}")).await.len(), 2);
    assert_eq!(levels("below_reorder=true".to_owned()).await.len(), 0);
    json_ok(
        patch(
            &platform,
            &format!("/v1/inventory/levels/{wax}/{shop}"),
            token,
            None,
            &json!({"reorder_point": 5}),
        )
        .await,
        200,
    )
    .await;
    let low = levels("below_reorder=true".to_owned()).await;
    assert_eq!(low.len(), 1);
    assert_eq!(low[0]["variant_id"], wax.to_string());
    assert_eq!(levels("below_reorder=false".to_owned()).await.len(), 2);
    problem(
        get(&platform, "/v1/inventory?cursor=nonsense", token).await,
        422,
        "invalid_cursor",
    )
    .await;
    problem(
        get(&platform, "/v1/inventory?limit=201", token).await,
        422,
        "invalid_limit",
    )
    .await;

    // The ledger sums to the projection, pair by pair.
    assert_eq!(on_hand(&platform, token, soap, shop).await, 3);
    assert_eq!(on_hand(&platform, token, soap, depot).await, 5);
    assert_eq!(on_hand(&platform, token, wax, shop).await, 2);
    assert_eq!(
        assert_ledger_is_projection(&platform, owner.tenant).await,
        3
    );
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_ids_are_refused_and_nothing_changes() {
    let platform = TestPlatform::start(None).await;
    let alice = sign_up(&platform, "inv-alice").await;
    let bob = sign_up(&platform, "inv-bob").await;
    let pool = platform.db.app_pool();
    let mine = variant(&pool, alice.tenant, "Alice's tea").await;
    let theirs = variant(&pool, bob.tenant, "Bob's tea").await;
    let (here, there) = (alice.location, bob.location);
    adjust(&platform, &bob.token, there, theirs, "receive", 10, None).await;
    let hold = json_ok(
        post(
            &platform,
            "/v1/inventory/reservations",
            &bob.token,
            &json!({"location_id": there, "lines": [{"variant_id": theirs, "quantity": 1}]}),
        )
        .await,
        201,
    )
    .await;
    let hold_id = hold["id"].as_str().unwrap();
    let before = level(&platform, &bob.token, theirs, there).await;
    let bob_movements = "SELECT count(*) FROM inventory.movements WHERE tenant_id = $1";
    let bob_ledger = scalar(&platform, bob_movements, bob.tenant).await;
    let token = alice.token.as_str();

    // Ids in bodies: 422.
    let adjustment = |location: Uuid, variant: Uuid| {
        json!({"location_id": location,
               "lines": [{"variant_id": variant, "kind": "receive", "quantity": 1}]})
    };
    let count = |location: Uuid, variant: Uuid| {
        json!({"location_id": location,
               "lines": [{"variant_id": variant, "counted": 50}]})
    };
    let transfer = |to: Uuid, variant: Uuid| {
        json!({"from_location_id": here, "to_location_id": to,
               "lines": [{"variant_id": variant, "quantity": 1}]})
    };
    let reservation = |location: Uuid, variant: Uuid| {
        json!({"location_id": location,
               "lines": [{"variant_id": variant, "quantity": 1}]})
    };
    let cases = [
        (
            "/v1/inventory/adjustments",
            adjustment(there, mine),
            "unknown_location",
        ),
        (
            "/v1/inventory/adjustments",
            adjustment(here, theirs),
            "unknown_variant",
        ),
        (
            "/v1/inventory/counts",
            count(there, mine),
            "unknown_location",
        ),
        (
            "/v1/inventory/counts",
            count(here, theirs),
            "unknown_variant",
        ),
        (
            "/v1/inventory/transfers",
            transfer(there, mine),
            "unknown_location",
        ),
        (
            "/v1/inventory/transfers",
            transfer(there, theirs),
            "unknown_variant",
        ),
        (
            "/v1/inventory/reservations",
            reservation(there, mine),
            "unknown_location",
        ),
        (
            "/v1/inventory/reservations",
            reservation(here, theirs),
            "unknown_variant",
        ),
    ];
    for (path, body, code) in &cases {
        problem(post(&platform, path, token, body).await, 422, code).await;
    }

    // Ids in paths: 404.
    problem(
        delete(
            &platform,
            &format!("/v1/inventory/reservations/{hold_id}"),
            token,
        )
        .await,
        404,
        "not_found",
    )
    .await;
    for (variant, location) in [(theirs, there), (mine, there), (theirs, here)] {
        problem(
            patch(
                &platform,
                &format!("/v1/inventory/levels/{variant}/{location}"),
                token,
                None,
                &json!({"oversell": "allow_negative", "reorder_point": 99}),
            )
            .await,
            404,
            "not_found",
        )
        .await;
    }

    // Filters with their ids match nothing.
    for path in [
        format!("/v1/inventory?location_id={there}"),
        format!("/v1/inventory?variant_id={theirs}"),
        "/v1/inventory".to_owned(),
        format!("/v1/inventory/movements?variant_id={theirs}"),
        format!("/v1/inventory/movements?location_id={there}"),
        "/v1/inventory/movements".to_owned(),
    ] {
        let page = json_ok(get(&platform, &path, token).await, 200).await;
        assert_eq!(page["items"], json!([]), "{path}");
    }

    // Bob's stock, ledger and hold are as they were; Alice got no stock rows.
    assert_eq!(level(&platform, &bob.token, theirs, there).await, before);
    assert_eq!(
        scalar(&platform, bob_movements, bob.tenant).await,
        bob_ledger
    );
    let active = scalar(
        &platform,
        "SELECT count(*) FROM inventory.reservations WHERE tenant_id = $1 AND status = 'active'",
        bob.tenant,
    )
    .await;
    assert_eq!(active, 1);
    let alice_rows = scalar(
        &platform,
        "SELECT count(*) FROM inventory.stock WHERE tenant_id = $1",
        alice.tenant,
    )
    .await;
    assert_eq!(alice_rows, 0);
    assert_eq!(events(&platform, alice.tenant, STOCK_ADJUSTED).await, 0);
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_cannot_move_stock_and_location_limits_hold() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "inv-perms").await;
    let pool = platform.db.app_pool();
    let (shop, depot) = (
        owner.location,
        location(&platform, owner.tenant, "Depot").await,
    );
    let salt = variant(&pool, owner.tenant, "Salt").await;
    adjust(&platform, &owner.token, shop, salt, "receive", 5, None).await;
    adjust(&platform, &owner.token, depot, salt, "receive", 2, None).await;

    // inventory:read reads but cannot write.
    let reader = platform.token(owner.tenant, &[olympus::inventory::READ]);
    json_ok(get(&platform, "/v1/inventory", &reader).await, 200).await;
    json_ok(
        get(&platform, "/v1/inventory/movements", &reader).await,
        200,
    )
    .await;
    let writes = [
        (
            "/v1/inventory/adjustments",
            json!({"location_id": shop,
                   "lines": [{"variant_id": salt, "kind": "waste", "quantity": 5}]}),
        ),
        (
            "/v1/inventory/counts",
            json!({"location_id": shop, "lines": [{"variant_id": salt, "counted": 0}]}),
        ),
        (
            "/v1/inventory/transfers",
            json!({"from_location_id": shop, "to_location_id": depot,
                   "lines": [{"variant_id": salt, "quantity": 5}]}),
        ),
        (
            "/v1/inventory/reservations",
            json!({"location_id": shop, "lines": [{"variant_id": salt, "quantity": 5}]}),
        ),
    ];
    for (path, body) in &writes {
        let denied = problem(
            post(&platform, path, &reader, body).await,
            403,
            "permission_denied",
        )
        .await;
        assert_eq!(denied["permission"], "inventory:write");
    }
    let level_path = format!("/v1/inventory/levels/{salt}/{shop}");
    problem(
        patch(
            &platform,
            &level_path,
            &reader,
            None,
            &json!({"oversell": "allow_negative"}),
        )
        .await,
        403,
        "permission_denied",
    )
    .await;
    problem(
        delete(
            &platform,
            &format!("/v1/inventory/reservations/{}", Uuid::now_v7()),
            &reader,
        )
        .await,
        403,
        "permission_denied",
    )
    .await;
    // Without inventory:read, not even the lists.
    let outsider = platform.token(owner.tenant, &["catalog:read"]);
    for path in ["/v1/inventory", "/v1/inventory/movements"] {
        problem(
            get(&platform, path, &outsider).await,
            403,
            "permission_denied",
        )
        .await;
    }

    // A principal limited to the depot acts there only.
    let config = platform.platform.state.config();
    let mut claims = olympus::testing::tokens::claims(
        owner.tenant,
        Uuid::now_v7(),
        &["inventory:*"],
        &config.auth_issuer,
        &config.auth_audience,
    );
    claims.locs = Some(vec![depot]);
    let limited = platform.keys.mint(&claims).unwrap();
    for (path, body) in &writes {
        problem(
            post(&platform, path, &limited, body).await,
            403,
            "location_denied",
        )
        .await;
    }
    problem(
        patch(
            &platform,
            &level_path,
            &limited,
            None,
            &json!({"oversell": "allow_negative"}),
        )
        .await,
        403,
        "location_denied",
    )
    .await;
    problem(
        get(
            &platform,
            &format!("/v1/inventory?location_id={shop}"),
            &limited,
        )
        .await,
        403,
        "location_denied",
    )
    .await;
    let visible = json_ok(get(&platform, "/v1/inventory", &limited).await, 200).await;
    let visible = visible["items"].as_array().unwrap();
    assert_eq!(visible.len(), 1);
    assert_eq!(visible[0]["location_id"], depot.to_string());
    let ledger = json_ok(
        get(&platform, "/v1/inventory/movements", &limited).await,
        200,
    )
    .await;
    assert_eq!(ledger["items"].as_array().unwrap().len(), 1);
    // The shop's hold made by the owner cannot be released from the depot.
    let hold = json_ok(
        post(
            &platform,
            "/v1/inventory/reservations",
            &owner.token,
            &writes[3].1,
        )
        .await,
        201,
    )
    .await;
    problem(
        delete(
            &platform,
            &format!(
                "/v1/inventory/reservations/{}",
                hold["id"].as_str().unwrap()
            ),
            &limited,
        )
        .await,
        403,
        "location_denied",
    )
    .await;
    json_ok(
        post(
            &platform,
            "/v1/inventory/adjustments",
            &limited,
            &json!({"location_id": depot,
                    "lines": [{"variant_id": salt, "kind": "receive", "quantity": 1}]}),
        )
        .await,
        201,
    )
    .await;

    // Nothing the refused requests asked for happened.
    let shop_level = level(&platform, &owner.token, salt, shop).await;
    assert_eq!(shop_level["on_hand"], 5);
    assert_eq!(shop_level["oversell"], "block");
    assert_eq!(shop_level["reserved"], 5);
    assert_eq!(on_hand(&platform, &owner.token, salt, depot).await, 3);
    platform.stop().await;
}
