//! Fixtures of the customer and loyalty tests: a product, customers, orders for them, the
//! `sales.order.paid` / `sales.order.refunded` events the payments functions publish (built here
//! from the order, published through the platform's publisher: the Pub/Sub emulator under
//! `make test`), a loyalty program, and the points as the ledger holds them. Requests go through
//! `crate::common::api`.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use olympus::events::publisher::OutgoingMessage;
use olympus::events::sales::{OrderPaid, OrderRefunded};
use olympus::events::{Envelope, Event};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::api::{id, json_of, post, send};
use crate::common::{Owner, TestPlatform};

/// `POST /v1/customers` with `body`, expecting 201.
pub async fn customer(platform: &TestPlatform, token: &str, body: Value) -> Value {
    json_of(post(platform, token, "/v1/customers", &body).await, 201).await
}

/// A product at `price_minor` without tax; returns its variant id.
pub async fn product(platform: &TestPlatform, owner: &Owner, price_minor: i64) -> String {
    let body = json!({"name": format!("Dish {price_minor}"), "price_minor": price_minor});
    let product = json_of(
        post(platform, &owner.token, "/v1/products", &body).await,
        201,
    )
    .await;
    product["variants"][0]["id"].as_str().unwrap().to_owned()
}

/// An open order of `quantity` × `variant` for `customer` (with an optional order discount in
/// percent), as `POST /v1/orders` answers it.
pub async fn order(
    platform: &TestPlatform,
    owner: &Owner,
    variant: &str,
    quantity: i64,
    customer: Option<Uuid>,
) -> Value {
    let body = json!({"location_id": owner.location, "channel": "dine_in", "source": "pos",
                      "customer_id": customer,
                      "lines": [{"variant_id": variant, "quantity": quantity}],
                      "tip_minor": 100});
    json_of(post(platform, &owner.token, "/v1/orders", &body).await, 201).await
}

/// The `sales.order.paid` the payments functions emit for `order`, fully paid.
pub fn paid(order: &Value) -> OrderPaid {
    let minor = |field: &str| order[field].as_i64().unwrap();
    OrderPaid {
        order_id: id(order),
        location_id: order["location_id"].as_str().unwrap().parse().unwrap(),
        customer_id: order["customer_id"].as_str().map(|c| c.parse().unwrap()),
        currency: order["currency"].as_str().unwrap().to_owned(),
        subtotal_minor: minor("subtotal_minor"),
        discount_minor: minor("discount_minor"),
        tax_minor: minor("tax_minor"),
        service_charge_minor: minor("service_charge_minor"),
        tip_minor: minor("tip_minor"),
        total_minor: minor("total_minor"),
        paid_minor: minor("total_minor"),
        ordered_at: order["ordered_at"].as_str().unwrap().parse().unwrap(),
        business_date: order["business_date"].as_str().unwrap().parse().unwrap(),
        paid_at: chrono::Utc::now(),
    }
}

/// A `sales.order.refunded` of `amount_minor` on a fully paid `order` that had
/// `refunded_before` refunded already.
pub fn refunded(order: &Value, amount_minor: i64, refunded_before: i64) -> OrderRefunded {
    let total = order["total_minor"].as_i64().unwrap();
    OrderRefunded {
        refund_id: Uuid::now_v7(),
        payment_id: Uuid::now_v7(),
        order_id: id(order),
        location_id: order["location_id"].as_str().unwrap().parse().unwrap(),
        customer_id: order["customer_id"].as_str().map(|c| c.parse().unwrap()),
        currency: order["currency"].as_str().unwrap().to_owned(),
        amount_minor,
        order_total_minor: total,
        order_paid_minor: total,
        order_refunded_minor: refunded_before + amount_minor,
        refunded_at: chrono::Utc::now(),
    }
}

/// Publishes `envelope` through the platform's publisher (the emulator when there is one).
pub async fn publish_envelope<E: Event>(platform: &TestPlatform, envelope: &Envelope) {
    platform
        .platform
        .state
        .publisher()
        .publish(E::TYPE, OutgoingMessage::from_envelope(envelope).unwrap())
        .await
        .unwrap();
}

/// Publishes `event` of `tenant` once; returns its envelope (publish it again to duplicate).
pub async fn publish<E: Event>(platform: &TestPlatform, tenant: Uuid, event: &E) -> Envelope {
    let envelope = Envelope::new(Some(tenant), event).unwrap();
    publish_envelope::<E>(platform, &envelope).await;
    envelope
}

/// One number of a superuser query.
pub async fn scalar(
    platform: &TestPlatform,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> i64 {
    platform
        .admin()
        .await
        .query_one(sql, params)
        .await
        .unwrap()
        .get(0)
}

/// (balance, ledger sum, lifetime points) of a customer.
pub async fn points(platform: &TestPlatform, customer: Uuid) -> (i64, i64, i64) {
    let row = platform
        .admin()
        .await
        .query_one(
            "SELECT COALESCE((SELECT balance FROM customer.loyalty_accounts
                              WHERE customer_id = $1), 0),
                    COALESCE((SELECT sum(points) FROM customer.loyalty_ledger
                              WHERE customer_id = $1), 0)::bigint,
                    COALESCE((SELECT lifetime_points FROM customer.loyalty_accounts
                              WHERE customer_id = $1), 0)",
            &[&customer],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1), row.get(2))
}

/// Asserts the balance equals the ledger sum and returns it.
pub async fn balance(platform: &TestPlatform, customer: Uuid) -> i64 {
    let (balance, sum, _) = points(platform, customer).await;
    assert_eq!(balance, sum, "the balance equals the ledger sum");
    balance
}

/// A program: 1 point per currency unit, rounding down, Gold (×2) from 20 lifetime points.
pub fn program() -> Value {
    json!({
        "points_per_unit": 1,
        "rounding": "down",
        "tiers": [{"name": "Member", "threshold": 0, "multiplier": 1},
                  {"name": "Gold", "threshold": 20, "multiplier": 2}],
        "rewards": [{"id": "free-dessert", "name": "Free dessert", "points": 10,
                     "discount": {"type": "fixed", "amount_minor": 650}}],
        "points_expire_days": 365
    })
}

pub async fn put_program(platform: &TestPlatform, token: &str, body: &Value) -> reqwest::Response {
    send(
        platform,
        reqwest::Method::PUT,
        "/v1/loyalty/program",
        token,
        Some(body),
    )
    .await
}
