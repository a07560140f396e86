//! The demo seed (`dev seed`) against the whole platform at a small scale: two locations in two
//! time zones, orders on past business days at both, split bills, refunds, cancellations, the
//! live orders' kitchen tickets, stock that balances, loyalty balances equal to their ledgers,
//! a working API key and PINs, a re-run that takes the next slug; and the pure plan generator's
//! determinism.
//!
//! Then (the seed depends on it) payments and refunds carrying a till's own `created_at`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use chrono::{DateTime, Utc};
use dev::seed::{self, Options, Outcome, PlanOptions};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::sales::{json_of, post, stocked};
use crate::common::{TestPlatform, eventually, problem, sign_up};

fn small(platform: &TestPlatform, orders_per_day: u32) -> Options {
    Options {
        weeks: 1,
        orders_per_day,
        seed: 11,
        concurrency: 4,
        progress: false,
        ..Options::demo(platform.platform.url())
    }
}

/// One number of a superuser query.
async fn count(
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

#[test]
fn the_demo_plan_is_a_function_of_its_seed() {
    let options = |seed| PlanOptions {
        weeks: 8,
        orders_per_day: 16,
        seed,
        now: "2025-06-14T20:15:00Z".parse().unwrap(),
    };
    let plan = seed::plan(&options(42));
    assert_eq!(plan, seed::plan(&options(42)), "same seed, same plan");
    assert_ne!(plan.orders, seed::plan(&options(43)).orders);

    // Eight weeks at two locations, ending at `now`, with each kind of event.
    let now = options(42).now;
    assert!(plan.orders.len() > 1000, "{}", plan.orders.len());
    assert!(plan.orders.iter().all(|o| o.at <= now));
    assert!(plan.orders.first().unwrap().at < now - chrono::Duration::days(54));
    let paid = |o: &&seed::PlannedOrder| matches!(o.outcome, Outcome::Paid { .. });
    let refunded = plan
        .orders
        .iter()
        .filter(|o| {
            matches!(
                o.outcome,
                Outcome::Paid {
                    refund: Some(_),
                    ..
                }
            )
        })
        .count();
    let cancelled = plan
        .orders
        .iter()
        .filter(|o| matches!(o.outcome, Outcome::Cancelled { .. }))
        .count();
    assert!(plan.orders.iter().filter(paid).count() > 900);
    assert!((10..100).contains(&refunded), "{refunded}");
    assert!((10..100).contains(&cancelled), "{cancelled}");
    // Fridays and Saturdays are busier than Mondays and Tuesdays.
    let on = |days: &[chrono::Weekday]| {
        plan.orders
            .iter()
            .filter(|o| {
                let zone = seed::LOCATIONS[o.location].tz;
                days.contains(&chrono::Datelike::weekday(&o.at.with_timezone(&zone)))
            })
            .count()
    };
    use chrono::Weekday::{Fri, Mon, Sat, Tue};
    assert!(on(&[Fri, Sat]) > on(&[Mon, Tue]) * 3 / 2);
}

#[tokio::test]
async fn the_demo_seed_makes_a_restaurant_with_history() {
    // The emulator when there is one (as `make dev`), else the in-process bus: both deliver
    // the invite mails and the loyalty events the seed relies on.
    let platform = TestPlatform::start(olympus::testing::emulator_host()).await;
    let summary = seed::seed(&small(&platform, 5)).await.expect("seeded");
    let tenant = summary.tenant_id;
    assert_eq!(summary.slug, "demo");
    assert!(summary.slug_taken.is_none());

    // Two locations in two time zones.
    let zones = count(
        &platform,
        "SELECT count(DISTINCT time_zone) FROM platform.locations WHERE tenant_id = $1",
        &[&tenant],
    )
    .await;
    assert_eq!(zones, 2);
    assert_eq!(summary.locations.len(), 2);

    // Orders on several past business days at each location, numbered per day.
    for location in &summary.locations {
        let days = count(
            &platform,
            "SELECT count(DISTINCT business_date) FROM sales.orders
             WHERE tenant_id = $1 AND location_id = $2 AND ordered_at < now() - interval '1 day'",
            &[&tenant, &location.id],
        )
        .await;
        assert!(
            days >= 3,
            "{} has orders on {days} past days",
            location.name
        );
        let cancelled = count(
            &platform,
            "SELECT count(*) FROM sales.orders
             WHERE tenant_id = $1 AND location_id = $2 AND status = 'cancelled'",
            &[&tenant, &location.id],
        )
        .await;
        assert!(cancelled >= 1, "{}", location.name);
    }
    let dine_in = count(
        &platform,
        "SELECT count(*) FROM sales.orders WHERE tenant_id = $1 AND channel = 'dine_in'
         AND table_label IS NOT NULL AND party_size > 0",
        &[&tenant],
    )
    .await;
    let takeout = count(
        &platform,
        "SELECT count(*) FROM sales.orders WHERE tenant_id = $1 AND channel = 'takeout'",
        &[&tenant],
    )
    .await;
    assert!(
        dine_in > 0 && takeout > 0,
        "{dine_in} dine-in, {takeout} takeout"
    );

    // Split bills, paid in the past, never before their order.
    let split = count(
        &platform,
        "SELECT count(*) FROM (SELECT order_id FROM sales.payments WHERE tenant_id = $1
                               GROUP BY order_id HAVING count(*) >= 2) s",
        &[&tenant],
    )
    .await;
    assert!(split >= 2, "{split} split bills");
    let early = count(
        &platform,
        "SELECT count(*) FROM sales.payments p JOIN sales.orders o ON o.id = p.order_id
         WHERE p.tenant_id = $1 AND p.created_at < o.ordered_at",
        &[&tenant],
    )
    .await;
    assert_eq!(early, 0);
    let past = count(
        &platform,
        "SELECT count(*) FROM sales.payments
         WHERE tenant_id = $1 AND created_at < now() - interval '1 day'",
        &[&tenant],
    )
    .await;
    assert!(past > 0);
    let fully_paid = count(
        &platform,
        "SELECT count(*) FROM sales.orders WHERE tenant_id = $1 AND status = 'completed'
         AND paid_minor < total_minor",
        &[&tenant],
    )
    .await;
    assert_eq!(fully_paid, 0, "every completed order is paid");

    // Refunds, some partial, never before their payment.
    let refunds = count(
        &platform,
        "SELECT count(*) FROM sales.refunds WHERE tenant_id = $1",
        &[&tenant],
    )
    .await;
    assert!(refunds >= 2, "{refunds} refunds");
    let partial = count(
        &platform,
        "SELECT count(*) FROM sales.refunds r JOIN sales.payments p ON p.id = r.payment_id
         WHERE r.tenant_id = $1 AND r.amount_minor < p.amount_minor",
        &[&tenant],
    )
    .await;
    assert!(partial >= 1);
    let before_payment = count(
        &platform,
        "SELECT count(*) FROM sales.refunds r JOIN sales.payments p ON p.id = r.payment_id
         WHERE r.tenant_id = $1 AND r.created_at < p.created_at",
        &[&tenant],
    )
    .await;
    assert_eq!(before_payment, 0);
    assert_eq!(summary.tally.refunds, usize::try_from(refunds).unwrap());

    // Only the orders still on the floor reached the kitchens.
    let ticketed = count(
        &platform,
        "SELECT count(DISTINCT t.order_id) FROM kitchen.tickets t
         JOIN sales.orders o ON o.id = t.order_id
         WHERE t.tenant_id = $1 AND o.status = 'placed' AND o.paid_minor = 0",
        &[&tenant],
    )
    .await;
    let tickets_elsewhere = count(
        &platform,
        "SELECT count(*) FROM kitchen.tickets t JOIN sales.orders o ON o.id = t.order_id
         WHERE t.tenant_id = $1 AND o.status <> 'placed'",
        &[&tenant],
    )
    .await;
    assert!(ticketed >= 4, "{ticketed} live orders with tickets");
    assert_eq!(tickets_elsewhere, 0);

    // Stock received weekly covers the sales; the ledger sums to the levels.
    let unbalanced = count(
        &platform,
        "SELECT count(*) FROM inventory.stock s WHERE s.tenant_id = $1 AND (s.on_hand < 0
         OR s.on_hand <> (SELECT coalesce(sum(m.delta), 0) FROM inventory.movements m
                          WHERE m.variant_id = s.variant_id AND m.location_id = s.location_id))",
        &[&tenant],
    )
    .await;
    assert_eq!(unbalanced, 0);

    // Loyalty: points from the paid orders' events; every balance is its ledger's sum.
    eventually(Duration::from_secs(30), "loyalty points", || async {
        let earners = count(
            &platform,
            "SELECT count(*) FROM customer.loyalty_accounts WHERE tenant_id = $1 AND balance > 0",
            &[&tenant],
        )
        .await;
        (earners > 0).then_some(())
    })
    .await;
    let off = count(
        &platform,
        "SELECT count(*) FROM customer.loyalty_accounts a WHERE a.tenant_id = $1
         AND a.balance <> (SELECT coalesce(sum(l.points), 0) FROM customer.loyalty_ledger l
                           WHERE l.customer_id = a.customer_id)",
        &[&tenant],
    )
    .await;
    assert_eq!(off, 0);

    // The printed API key and PINs work.
    let downtown = &summary.locations[0];
    let orders: Value = platform
        .request(
            reqwest::Method::GET,
            &format!("/v1/orders?location_id={}&limit=3", downtown.id),
            &summary.api_key,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(orders["items"].as_array().unwrap().len(), 3, "{orders}");
    let server = summary
        .staff
        .iter()
        .find(|s| s.role == "staff" && s.works_at == downtown.name)
        .unwrap();
    let pin = platform
        .http
        .post(platform.url("/v1/auth/pin"))
        .json(&json!({"device_id": downtown.till, "email": server.email, "pin": server.pin}))
        .send()
        .await
        .unwrap();
    assert_eq!(pin.status(), 200);
    assert!(
        summary
            .env_file()
            .contains(&format!("export KEY={}", summary.api_key))
    );

    // A second seed never mixes into the first: it takes the next slug.
    let again = seed::seed(&small(&platform, 1))
        .await
        .expect("seeded again");
    assert_eq!(again.slug, "demo-2");
    assert_eq!(again.slug_taken.as_deref(), Some("demo"));
    assert_ne!(again.tenant_id, tenant);
    platform.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Payments and refunds with a till's `created_at` (what the seed's history is made of).

/// Now to the second: what a till sends, and what PostgreSQL keeps exactly.
fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap()
}

fn at(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

async fn payload(platform: &TestPlatform, tenant: Uuid, event_type: &str) -> Value {
    platform
        .admin()
        .await
        .query_one(
            "SELECT envelope -> 'payload' FROM events.outbox
             WHERE tenant_id = $1 AND event_type = $2",
            &[&tenant, &event_type],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn payments_and_refunds_keep_the_tills_created_at_within_the_rules() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "pay-offline").await;
    let variant = stocked(&platform, &owner, 10).await;
    let ordered_at = now() - chrono::Duration::days(2);
    let order = json_of(
        post(
            &platform,
            &owner.token,
            "/v1/orders",
            &json!({"location_id": owner.location, "channel": "dine_in", "source": "pos",
                    "lines": [{"variant_id": variant, "quantity": 2}],
                    "created_at": ordered_at, "place": true}),
        )
        .await,
        201,
    )
    .await;
    let order_id = order["id"].as_str().unwrap();
    let line_id = order["lines"][0]["id"].as_str().unwrap();
    let payments = format!("/v1/orders/{order_id}/payments");
    let card = |amount: i64, created_at: DateTime<Utc>| {
        json!({"tender": "card", "amount_minor": amount, "reference": "ch_1",
               "card_brand": "visa", "card_last4": "4242", "created_at": created_at})
    };

    // Ahead of the server beyond the skew, or before the order was taken: 422.
    let ahead = post(
        &platform,
        &owner.token,
        &payments,
        &card(500, Utc::now() + chrono::Duration::minutes(10)),
    )
    .await;
    let body = problem(ahead, 422, "invalid_created_at").await;
    assert_eq!(body["field"], "created_at");
    let early = post(
        &platform,
        &owner.token,
        &payments,
        &card(500, ordered_at - chrono::Duration::minutes(1)),
    )
    .await;
    let body = problem(early, 422, "invalid_created_at").await;
    assert_eq!(at(&body["not_before"]), at(&order["ordered_at"]));

    // Within the rules: the row's time and the events' times.
    let paid_at = ordered_at + chrono::Duration::minutes(40);
    let first = json_of(
        post(&platform, &owner.token, &payments, &card(500, paid_at)).await,
        201,
    )
    .await;
    assert_eq!(at(&first["created_at"]), paid_at);
    let recorded = payload(&platform, owner.tenant, "sales.payment.recorded").await;
    assert_eq!(at(&recorded["recorded_at"]), paid_at);
    // A slightly fast till clock is fine; the payment that settles the bill dates the paid event.
    let settled_at = now() + chrono::Duration::minutes(2);
    let second = json_of(
        post(
            &platform,
            &owner.token,
            &payments,
            &json!({"tender": "cash", "tendered_minor": 1000, "created_at": settled_at}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(second["order"]["payment_status"], "paid");
    let paid = payload(&platform, owner.tenant, "sales.order.paid").await;
    assert_eq!(at(&paid["paid_at"]), settled_at);

    // Refunds: not before their payment, not ahead of the server.
    let refunds = format!("/v1/payments/{}/refunds", first["id"].as_str().unwrap());
    let refund = |created_at: DateTime<Utc>| {
        json!({"amount_minor": 300, "reason": "cold", "created_at": created_at,
               "restock": [{"line_id": line_id, "quantity": 1}]})
    };
    let early = post(
        &platform,
        &owner.token,
        &refunds,
        &refund(paid_at - chrono::Duration::seconds(1)),
    )
    .await;
    let body = problem(early, 422, "invalid_created_at").await;
    assert_eq!(at(&body["not_before"]), paid_at);
    let ahead = post(
        &platform,
        &owner.token,
        &refunds,
        &refund(Utc::now() + chrono::Duration::minutes(6)),
    )
    .await;
    problem(ahead, 422, "invalid_created_at").await;
    let refunded_at = paid_at + chrono::Duration::days(1);
    let refunded = json_of(
        post(&platform, &owner.token, &refunds, &refund(refunded_at)).await,
        201,
    )
    .await;
    assert_eq!(at(&refunded["created_at"]), refunded_at);
    let event = payload(&platform, owner.tenant, "sales.order.refunded").await;
    assert_eq!(at(&event["refunded_at"]), refunded_at);
    // The stock came back when the refund was given.
    let returned: DateTime<Utc> = platform
        .admin()
        .await
        .query_one(
            "SELECT occurred_at FROM inventory.movements
             WHERE tenant_id = $1 AND kind = 'return' AND reference_type = 'refund'",
            &[&owner.tenant],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(returned, refunded_at);

    // Without `created_at`, now, as before.
    let now_refund = json_of(
        post(
            &platform,
            &owner.token,
            &refunds,
            &json!({"amount_minor": 100, "reason": "still cold"}),
        )
        .await,
        201,
    )
    .await;
    let age = Utc::now() - at(&now_refund["created_at"]);
    assert!(age < chrono::Duration::seconds(30), "{age}");
    platform.stop().await;
}
