//! Loyalty through the platform: the program API and its validation, accrual exactly once when
//! the same `sales.order.paid` is delivered twice through the Pub/Sub emulator, the tier
//! multiplier, proportional claw-back once per refund (and the refund off the customer's
//! lifetime spend), the balance always equal to the ledger sum, redemption debits (and
//! `insufficient_points`), point expiry, and the loyalty view.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::support;

use std::time::Duration;

use common::api::{get, id, json_of, send};
use common::{TestPlatform, emulator_or_skip, eventually, problem, sign_up};
use olympus::events::sales::{OrderPaid, OrderRefunded};
use reqwest::Method;
use serde_json::json;
use support::{customer, put_program};
use uuid::Uuid;

#[tokio::test]
async fn the_program_is_validated_versioned_and_restricted() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "loyalty-program").await;
    let token = &owner.token;
    problem(
        send(&platform, Method::GET, "/v1/loyalty/program", token, None).await,
        404,
        "no_program",
    )
    .await;

    let bad = |path: &str, value: serde_json::Value| {
        let mut body = support::program();
        let mut target = &mut body;
        let parts: Vec<&str> = path.split('.').collect();
        for part in &parts[..parts.len() - 1] {
            target = match part.parse::<usize>() {
                Ok(i) => &mut target[i],
                Err(_) => &mut target[*part],
            };
        }
        target[parts[parts.len() - 1]] = value;
        body
    };
    for (body, code, field) in [
        (
            bad("points_per_unit", json!(0)),
            "invalid_points_per_unit",
            "points_per_unit",
        ),
        (
            bad("points_per_unit", json!(-1)),
            "invalid_points_per_unit",
            "points_per_unit",
        ),
        (
            bad("points_per_unit", json!(0.0001)),
            "invalid_points_per_unit",
            "points_per_unit",
        ),
        (
            bad("tiers.1.threshold", json!(0)),
            "invalid_tiers",
            "tiers[1].threshold",
        ),
        (
            bad("tiers.1.multiplier", json!(0)),
            "invalid_tiers",
            "tiers[1].multiplier",
        ),
        (
            bad("tiers.1.name", json!("member")),
            "invalid_tiers",
            "tiers[1].name",
        ),
        (
            bad("rewards.0.points", json!(0)),
            "invalid_rewards",
            "rewards[0].points",
        ),
        (
            bad("rewards.0.id", json!("Free Dessert")),
            "invalid_rewards",
            "rewards[0].id",
        ),
        (
            bad(
                "rewards.0.discount",
                json!({"type": "percent", "percent": 150}),
            ),
            "invalid_rewards",
            "rewards[0].discount.percent",
        ),
        (
            bad(
                "rewards",
                json!([{"id": "a", "name": "A", "points": 1,
                        "discount": {"type": "fixed", "amount_minor": 1}},
                       {"id": "a", "name": "B", "points": 2,
                        "discount": {"type": "fixed", "amount_minor": 2}}]),
            ),
            "duplicate_reward",
            "rewards[1].id",
        ),
        (
            bad("points_expire_days", json!(0)),
            "invalid_points_expire_days",
            "points_expire_days",
        ),
    ] {
        let response = put_program(&platform, token, &body).await;
        assert_eq!(problem(response, 422, code).await["field"], field, "{body}");
    }
    // An unknown rounding never reaches the database.
    let response = put_program(&platform, token, &bad("rounding", json!("sideways"))).await;
    assert!(response.status().is_client_error());

    // Staff (customers:write) cannot set the program; they can read it.
    let staff = platform.token(owner.tenant, &["customers:read", "customers:write"]);
    problem(
        put_program(&platform, &staff, &support::program()).await,
        403,
        "permission_denied",
    )
    .await;

    let response = put_program(&platform, token, &support::program()).await;
    assert_eq!(response.headers()["etag"], "\"1\"");
    let saved = json_of(response, 200).await;
    assert_eq!(saved["points_per_unit"], 1.0);
    assert_eq!(
        saved["tiers"][1],
        json!({"name": "Gold", "threshold": 20, "multiplier": 2.0})
    );
    assert_eq!(
        saved["rewards"][0]["discount"],
        json!({"type": "fixed", "amount_minor": 650})
    );
    assert_eq!(saved["points_expire_days"], 365);
    assert_eq!(saved["active"], true);
    assert_eq!(get(&platform, &staff, "/v1/loyalty/program").await, saved);

    // A replacement bumps the version; If-Match, when sent, must be current.
    let mut next = support::program();
    next["points_per_unit"] = json!(1.5);
    next["rounding"] = json!("nearest");
    let stale = platform
        .request(Method::PUT, "/v1/loyalty/program", token)
        .header("if-match", "\"5\"")
        .json(&next)
        .send()
        .await
        .unwrap();
    problem(stale, 412, "version_mismatch").await;
    let response = platform
        .request(Method::PUT, "/v1/loyalty/program", token)
        .header("if-match", "\"1\"")
        .json(&next)
        .send()
        .await
        .unwrap();
    let saved = json_of(response, 200).await;
    assert_eq!(saved["version"], 2);
    assert_eq!(saved["points_per_unit"], 1.5);
    assert_eq!(saved["rounding"], "nearest");
    // Another tenant has no program.
    let other = sign_up(&platform, "loyalty-program-b").await;
    problem(
        send(
            &platform,
            Method::GET,
            "/v1/loyalty/program",
            &other.token,
            None,
        )
        .await,
        404,
        "no_program",
    )
    .await;
    platform.stop().await;
}

/// Ledger entries of an order (admin SQL).
async fn entries(platform: &TestPlatform, order: Uuid, kind: &str) -> i64 {
    support::scalar(
        platform,
        "SELECT count(*) FROM customer.loyalty_ledger WHERE order_id = $1 AND kind = $2",
        &[&order, &kind],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn points_accrue_exactly_once_when_order_paid_is_delivered_twice() {
    let Some(host) = emulator_or_skip("loyalty_accrual_once") else {
        return;
    };
    let platform = TestPlatform::start(Some(host)).await;
    let owner = sign_up(&platform, "loyalty-once").await;
    let token = &owner.token;
    json_of(
        put_program(&platform, token, &support::program()).await,
        200,
    )
    .await;
    let variant = support::product(&platform, &owner, 1299).await;
    let ana = customer(&platform, token, json!({"name": "Ana"})).await;
    let ana_id = id(&ana);

    // An order of 2 × 12.99 (+ 1.00 tip, which earns nothing): 25 points at ×1.
    let first = support::order(&platform, &owner, &variant, 2, Some(ana_id)).await;
    let envelope = support::publish(&platform, owner.tenant, &support::paid(&first)).await;
    // The very same event published again: a second Pub/Sub message, one event id.
    support::publish_envelope::<OrderPaid>(&platform, &envelope).await;
    // And a second event for the same order (another envelope id): still one earn per order.
    support::publish(&platform, owner.tenant, &support::paid(&first)).await;
    // A marker published after the duplicates: once it is processed, they were delivered too.
    let marker = support::order(&platform, &owner, &variant, 1, Some(ana_id)).await;
    support::publish(&platform, owner.tenant, &support::paid(&marker)).await;
    eventually(Duration::from_secs(30), "the marker's points", || async {
        (entries(&platform, id(&marker), "earn").await == 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        entries(&platform, id(&first), "earn").await,
        1,
        "earned once"
    );
    // 25 at ×1 reaches Gold (20): the marker's 12.99 earns ×2 = 25.98 → 25 (rounding down).
    let loyalty = get(&platform, token, &format!("/v1/customers/{ana_id}/loyalty")).await;
    assert_eq!(loyalty["balance"], 50);
    assert_eq!(loyalty["lifetime_points"], 50);
    assert_eq!(loyalty["tier"]["name"], "Gold");
    assert_eq!(loyalty["next_tier"], serde_json::Value::Null);
    assert_eq!(loyalty["program_active"], true);
    let history = loyalty["history"]["items"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["order_id"], marker["id"]);
    assert_eq!(history[0]["kind"], "earn");
    assert_eq!(history[0]["points"], 25);
    assert!(history[0]["expires_at"].is_string());
    assert_eq!(history[1]["points"], 25);
    assert_eq!(support::balance(&platform, ana_id).await, 50);
    // The stats handler, on its own subscription, counted each order once too.
    let stats = get(&platform, token, &format!("/v1/customers/{ana_id}")).await;
    assert_eq!(stats["stats"]["order_count"], 2);
    // customer.loyalty.earned was emitted once per earning.
    let earned = support::scalar(
        &platform,
        "SELECT count(*) FROM events.outbox WHERE event_type = 'customer.loyalty.earned'
         AND tenant_id = $1",
        &[&owner.tenant],
    )
    .await;
    assert_eq!(earned, 2);
    // History pages.
    let page = get(
        &platform,
        token,
        &format!("/v1/customers/{ana_id}/loyalty?limit=1"),
    )
    .await;
    assert_eq!(page["history"]["items"].as_array().unwrap().len(), 1);
    let cursor = page["history"]["next_cursor"].as_str().unwrap();
    let page = get(
        &platform,
        token,
        &format!("/v1/customers/{ana_id}/loyalty?limit=1&cursor={cursor}"),
    )
    .await;
    assert_eq!(page["history"]["items"][0]["order_id"], first["id"]);
    assert_eq!(page["history"]["next_cursor"], serde_json::Value::Null);

    // No customer, or an inactive program: acked, nothing earned.
    let anonymous = support::order(&platform, &owner, &variant, 1, None).await;
    support::publish(&platform, owner.tenant, &support::paid(&anonymous)).await;
    let mut inactive = support::program();
    inactive["active"] = json!(false);
    json_of(put_program(&platform, token, &inactive).await, 200).await;
    let later = support::order(&platform, &owner, &variant, 1, Some(ana_id)).await;
    support::publish(&platform, owner.tenant, &support::paid(&later)).await;
    eventually(
        Duration::from_secs(30),
        "the later order counted",
        || async {
            let c = get(&platform, token, &format!("/v1/customers/{ana_id}")).await;
            (c["stats"]["order_count"] == 3).then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(entries(&platform, id(&anonymous), "earn").await, 0);
    assert_eq!(entries(&platform, id(&later), "earn").await, 0);
    assert_eq!(support::balance(&platform, ana_id).await, 50);
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refunds_claw_points_back_proportionally_and_once() {
    let Some(host) = emulator_or_skip("loyalty_clawback") else {
        return;
    };
    let platform = TestPlatform::start(Some(host)).await;
    let owner = sign_up(&platform, "loyalty-refund").await;
    let token = &owner.token;
    let mut body = support::program();
    body["tiers"] = json!([]);
    json_of(put_program(&platform, token, &body).await, 200).await;
    let variant = support::product(&platform, &owner, 1000).await;
    let ana = customer(&platform, token, json!({"name": "Ana"})).await;
    let ana_id = id(&ana);
    // 4 × 10.00 (+ 1.00 tip): 40 points; paid 41.00.
    let order = support::order(&platform, &owner, &variant, 4, Some(ana_id)).await;
    let order_id = id(&order);
    support::publish(&platform, owner.tenant, &support::paid(&order)).await;
    eventually(
        Duration::from_secs(30),
        "points earned, order counted",
        || async {
            let count = get(&platform, token, &format!("/v1/customers/{ana_id}")).await["stats"]
            ["order_count"]
            .clone();
            (entries(&platform, order_id, "earn").await == 1 && count == 1).then_some(())
        },
    )
    .await;
    assert_eq!(support::balance(&platform, ana_id).await, 40);

    // A refund of a quarter of what was paid (10.25 of 41.00), delivered twice: 10 points, once.
    let quarter = support::refunded(&order, 1025, 0);
    let envelope = support::publish(&platform, owner.tenant, &quarter).await;
    support::publish_envelope::<OrderRefunded>(&platform, &envelope).await;
    // Redelivered under a new envelope (the relay republishing): still once per refund id.
    support::publish(&platform, owner.tenant, &quarter).await;
    eventually(
        Duration::from_secs(30),
        "the claw-back and the spend",
        || async {
            let spend = get(&platform, token, &format!("/v1/customers/{ana_id}")).await["stats"]
            ["lifetime_spend_minor"]
            .clone();
            (entries(&platform, order_id, "adjust").await == 1 && spend == 4100 - 1025)
                .then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(entries(&platform, order_id, "adjust").await, 1);
    assert_eq!(support::balance(&platform, ana_id).await, 30);
    // The customer's lifetime spend lost the refund once too; the order still counts.
    let customer_path = format!("/v1/customers/{ana_id}");
    let stats = get(&platform, token, &customer_path).await["stats"].clone();
    assert_eq!(stats["order_count"], 1);
    assert_eq!(stats["lifetime_spend_minor"], 4100 - 1025);
    let (_, _, lifetime) = support::points(&platform, ana_id).await;
    assert_eq!(lifetime, 30);

    // The rest refunded: everything the order earned is gone, never more.
    let rest = support::refunded(&order, 4100 - 1025, 1025);
    support::publish(&platform, owner.tenant, &rest).await;
    eventually(Duration::from_secs(30), "the second claw-back", || async {
        let spend = get(&platform, token, &format!("/v1/customers/{ana_id}")).await["stats"]
            ["lifetime_spend_minor"]
            .clone();
        (entries(&platform, order_id, "adjust").await == 2 && spend == 0).then_some(())
    })
    .await;
    assert_eq!(support::balance(&platform, ana_id).await, 0);
    // A refund that would go beyond what was paid claws nothing more.
    let beyond = support::refunded(&order, 100, 4100);
    support::publish(&platform, owner.tenant, &beyond).await;
    let loyalty = eventually(Duration::from_secs(30), "the history", || async {
        let loyalty = get(&platform, token, &format!("/v1/customers/{ana_id}/loyalty")).await;
        (loyalty["history"]["items"].as_array().unwrap().len() == 3).then_some(loyalty)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(entries(&platform, order_id, "adjust").await, 2);
    assert_eq!(loyalty["balance"], 0);
    let history = loyalty["history"]["items"].as_array().unwrap();
    assert_eq!(history[0]["points"], -30);
    assert_eq!(history[0]["refund_id"], json!(rest.refund_id));
    assert_eq!(history[1]["points"], -10);
    assert_eq!(history[1]["kind"], "adjust");
    assert_eq!(support::balance(&platform, ana_id).await, 0);
    let stats = get(&platform, token, &customer_path).await["stats"].clone();
    assert_eq!(stats["order_count"], 1);
    assert_eq!(
        stats["lifetime_spend_minor"], 0,
        "never below what the order counted"
    );
    platform.stop().await;
}

#[tokio::test]
async fn redemptions_debit_points_and_expired_points_lapse() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "loyalty-redeem").await;
    let token = &owner.token;
    let mut body = support::program();
    body["tiers"] = json!([]);
    json_of(put_program(&platform, token, &body).await, 200).await;
    let variant = support::product(&platform, &owner, 1000).await;
    let ana = customer(&platform, token, json!({"name": "Ana"})).await;
    let ana_id = id(&ana);
    let order = support::order(&platform, &owner, &variant, 3, Some(ana_id)).await;
    let pool = platform.platform.state.db().unwrap();

    // Earn through the domain code (the handler's transaction), twice: once.
    for _ in 0..2 {
        let mut client = pool.get().await.unwrap();
        let tx = olympus::db::tenant_tx(&mut client, owner.tenant)
            .await
            .unwrap();
        olympus::loyalty::earn(&tx, owner.tenant, &support::paid(&order))
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    assert_eq!(support::balance(&platform, ana_id).await, 30);

    // A redemption of the reward's cost, then one the balance does not cover.
    let mut client = pool.get().await.unwrap();
    let tx = olympus::db::tenant_tx(&mut client, owner.tenant)
        .await
        .unwrap();
    let program = olympus::loyalty::load_program(&tx, false)
        .await
        .unwrap()
        .unwrap();
    let reward = program.program.reward("free-dessert").unwrap().clone();
    let (entry, account) = olympus::loyalty::redeem(
        &tx,
        owner.tenant,
        ana_id,
        Some(id(&order)),
        reward.points,
        Some(&reward.id),
    )
    .await
    .unwrap();
    assert_eq!(entry.points, -10);
    assert_eq!(account.balance, 20);
    assert_eq!(account.lifetime_points, 30);
    let err = olympus::loyalty::redeem(&tx, owner.tenant, ana_id, None, 21, None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "insufficient_points");
    assert_eq!(err.status(), 409);
    tx.commit().await.unwrap();
    assert_eq!(support::balance(&platform, ana_id).await, 20);

    // The earned points lapse: 30 earned, 10 already used, so 20 expire; a rerun expires none.
    platform
        .admin()
        .await
        .execute(
            "UPDATE customer.loyalty_ledger SET expires_at = now() - interval '1 day'
             WHERE kind = 'earn' AND customer_id = $1",
            &[&ana_id],
        )
        .await
        .unwrap();
    let run = || async {
        platform
            .http
            .post(platform.url("/jobs/expire-loyalty-points"))
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()
    };
    let report = run().await;
    assert_eq!(report["points"], 20, "{report}");
    assert_eq!(support::balance(&platform, ana_id).await, 0);
    let report = run().await;
    assert_eq!(report["points"], 0, "{report}");
    let loyalty = get(&platform, token, &format!("/v1/customers/{ana_id}/loyalty")).await;
    assert_eq!(loyalty["history"]["items"][0]["kind"], "expire");
    assert_eq!(loyalty["history"]["items"][0]["points"], -20);
    assert_eq!(loyalty["lifetime_points"], 30);
    platform.stop().await;
}
