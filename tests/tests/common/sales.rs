//! Helpers of the order, payment and kitchen tests: requests with a fresh `Idempotency-Key`,
//! a stocked product, an open order, stock levels and outbox counts.

use serde_json::{Value, json};
use uuid::Uuid;

use super::{Owner, TestPlatform};

/// POSTs `body` with a fresh `Idempotency-Key`.
pub async fn post(
    platform: &TestPlatform,
    token: &str,
    path: &str,
    body: &Value,
) -> reqwest::Response {
    platform
        .request(reqwest::Method::POST, path, token)
        .header("idempotency-key", Uuid::now_v7().to_string())
        .json(body)
        .send()
        .await
        .unwrap()
}

/// The body of `response`, after checking its status.
pub async fn json_of(response: reqwest::Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// A tracked product with `stock` units received at the owner's location; its variant id.
pub async fn stocked(platform: &TestPlatform, owner: &Owner, stock: i64) -> String {
    let product = json_of(
        post(
            platform,
            &owner.token,
            "/v1/products",
            &json!({"name": "Sourdough loaf", "price_minor": 600}),
        )
        .await,
        201,
    )
    .await;
    let variant = product["variants"][0]["id"].as_str().unwrap().to_owned();
    json_of(
        post(
            platform,
            &owner.token,
            "/v1/inventory/adjustments",
            &json!({"location_id": owner.location,
                    "lines": [{"variant_id": variant, "kind": "receive", "quantity": stock}]}),
        )
        .await,
        201,
    )
    .await;
    variant
}

pub async fn open_order(
    platform: &TestPlatform,
    owner: &Owner,
    variant: &str,
    quantity: i64,
) -> String {
    let order = json_of(
        post(
            platform,
            &owner.token,
            "/v1/orders",
            &json!({"location_id": owner.location, "channel": "pickup", "source": "online",
                    "lines": [{"variant_id": variant, "quantity": quantity}]}),
        )
        .await,
        201,
    )
    .await;
    order["id"].as_str().unwrap().to_owned()
}

pub async fn on_hand(platform: &TestPlatform, owner: &Owner, variant: &str) -> (i64, i64) {
    let row = platform
        .admin()
        .await
        .query_one(
            "SELECT l.on_hand,
                    (SELECT coalesce(sum(m.delta), 0)::int8 FROM inventory.movements m
                     WHERE m.variant_id = l.variant_id AND m.location_id = l.location_id)
             FROM inventory.stock l
             WHERE l.variant_id = $1::text::uuid AND l.location_id = $2",
            &[&variant, &owner.location],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

/// How many events of `event_type` the tenant has in the outbox.
pub async fn events(platform: &TestPlatform, tenant: Uuid, event_type: &str) -> i64 {
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
