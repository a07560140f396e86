//! Points end to end: a real card payment pays an order of a customer, `sales.order.paid` earns
//! the points through its handler, a reward turns points into a discount on an open order (all
//! or nothing), and cancelling that order gives the points back. The balance always equals the
//! ledger sum.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::support;

use std::time::Duration;

use common::api::{get, json_of, post};
use common::sales::{open_order, stocked};
use common::{TestPlatform, eventually, problem, sign_up};
use serde_json::json;

/// The sum of the customer's ledger (admin SQL).
async fn ledger_sum(platform: &TestPlatform, customer: &str) -> i64 {
    let (_, sum, _) = support::points(platform, customer.parse().unwrap()).await;
    sum
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn points_earned_by_a_payment_become_a_reward_and_come_back_on_cancel() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "redeem-bistro").await;
    let program = json!({
        "points_per_unit": 1, "rounding": "down",
        "tiers": [{"name": "Member", "threshold": 0, "multiplier": 1}],
        "rewards": [{"id": "coffee", "name": "Free coffee", "points": 10,
                     "discount": {"type": "fixed", "amount_minor": 200}}]
    });
    json_of(
        support::put_program(&platform, &owner.token, &program).await,
        200,
    )
    .await;
    let ana = support::customer(&platform, &owner.token, json!({"name": "Ana"})).await;
    let ana_id = ana["id"].as_str().unwrap().to_owned();
    let bread = stocked(&platform, &owner, 20).await;

    // 2 × 6.00 paid by card: 12 points, earned by the handler of sales.order.paid.
    let first = json_of(
        post(
            &platform,
            &owner.token,
            "/v1/orders",
            &json!({"location_id": owner.location, "channel": "takeout", "source": "pos",
                    "customer_id": ana_id, "place": true,
                    "lines": [{"variant_id": bread, "quantity": 2}]}),
        )
        .await,
        201,
    )
    .await;
    let first_id = first["id"].as_str().unwrap();
    json_of(
        post(
            &platform,
            &owner.token,
            &format!("/v1/orders/{first_id}/payments"),
            &json!({"tender": "card", "reference": "ch_1", "card_brand": "visa",
                    "card_last4": "4242"}),
        )
        .await,
        201,
    )
    .await;
    let loyalty_path = format!("/v1/customers/{ana_id}/loyalty");
    let customer_path = format!("/v1/customers/{ana_id}");
    // Two handlers on their own subscriptions: wait for both, not only the points.
    let stats = eventually(
        Duration::from_secs(30),
        "the points and the stats",
        || async {
            let balance = get(&platform, &owner.token, &loyalty_path).await["balance"].clone();
            let stats = get(&platform, &owner.token, &customer_path).await;
            (balance == 12 && stats["stats"]["order_count"] != 0).then_some(stats)
        },
    )
    .await;
    assert_eq!(stats["stats"]["order_count"], 1, "{stats}");
    assert_eq!(stats["stats"]["lifetime_spend_minor"], 1200);

    // A reward on a new open order without a customer: it takes her, and 2.00 off.
    let second = open_order(&platform, &owner, &bread, 1).await;
    let redeem_path = format!("/v1/customers/{ana_id}/loyalty/redeem");
    let redeemed = json_of(
        post(
            &platform,
            &owner.token,
            &redeem_path,
            &json!({"order_id": second, "reward_id": "coffee"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(redeemed["balance"], 2);
    assert_eq!(redeemed["entry"]["kind"], "redeem");
    assert_eq!(redeemed["order"]["total_minor"], 400);
    assert_eq!(redeemed["order"]["customer_id"], ana_id.as_str());
    assert_eq!(
        redeemed["order"]["discounts"][0]["name"],
        "Reward: Free coffee"
    );
    assert_eq!(ledger_sum(&platform, &ana_id).await, 2);

    // Not enough points: nothing happens, not even the discount.
    problem(
        post(
            &platform,
            &owner.token,
            &redeem_path,
            &json!({"order_id": second, "reward_id": "coffee"}),
        )
        .await,
        409,
        "insufficient_points",
    )
    .await;
    let order = get(&platform, &owner.token, &format!("/v1/orders/{second}")).await;
    assert_eq!(order["total_minor"], 400);
    assert_eq!(order["discounts"].as_array().unwrap().len(), 1);
    problem(
        post(
            &platform,
            &owner.token,
            &redeem_path,
            &json!({"order_id": second, "reward_id": "caviar"}),
        )
        .await,
        422,
        "unknown_reward",
    )
    .await;
    // The paid order is another matter: it is not open.
    problem(
        post(
            &platform,
            &owner.token,
            &redeem_path,
            &json!({"order_id": first_id, "reward_id": "coffee"}),
        )
        .await,
        409,
        "order_not_open",
    )
    .await;
    // Another customer's order refuses her reward.
    let ben = support::customer(&platform, &owner.token, json!({"name": "Ben"})).await;
    let bens = json_of(
        post(
            &platform,
            &owner.token,
            "/v1/orders",
            &json!({"location_id": owner.location, "channel": "takeout", "source": "pos",
                    "customer_id": ben["id"], "lines": [{"variant_id": bread, "quantity": 1}]}),
        )
        .await,
        201,
    )
    .await;
    problem(
        post(
            &platform,
            &owner.token,
            &redeem_path,
            &json!({"order_id": bens["id"], "reward_id": "coffee"}),
        )
        .await,
        409,
        "order_customer_mismatch",
    )
    .await;

    // Cancelled: the reward was never enjoyed, the points come back.
    json_of(
        post(
            &platform,
            &owner.token,
            &format!("/v1/orders/{second}/cancel"),
            &json!({"reason": "left"}),
        )
        .await,
        200,
    )
    .await;
    let loyalty = get(&platform, &owner.token, &loyalty_path).await;
    assert_eq!(loyalty["balance"], 12);
    assert_eq!(ledger_sum(&platform, &ana_id).await, 12);
    assert_eq!(loyalty["history"]["items"][0]["kind"], "adjust");

    // Staff without orders:write cannot redeem; another tenant sees no such customer.
    let clerk = platform.token(owner.tenant, &["customers:write"]);
    let response = post(
        &platform,
        &clerk,
        &redeem_path,
        &json!({"order_id": second, "reward_id": "coffee"}),
    )
    .await;
    problem(response, 403, "permission_denied").await;
    let other = sign_up(&platform, "redeem-other").await;
    let response = post(
        &platform,
        &other.token,
        &redeem_path,
        &json!({"order_id": second, "reward_id": "coffee"}),
    )
    .await;
    assert_eq!(response.status(), 404);
    platform.stop().await;
}
