//! Fixtures of the order and payment tests: a stocked product, an open order and stock levels.
//! The request helpers they use with them are re-exported from [`super::api`].

use serde_json::json;

pub use super::api::{events, json_of, post};
use super::{Owner, TestPlatform};

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
