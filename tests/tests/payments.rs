//! Payments and refunds through the platform: split bills by amount and by lines, cash change,
//! no overpayment except cash, refunds never above what was paid, restocking refunded lines
//! once, concurrent payments that cannot overpay together, and the events of each.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::sales::{events, json_of, on_hand, open_order, post, stocked};
use common::{Owner, TestPlatform, problem, sign_up};
use serde_json::{Value, json};
use uuid::Uuid;

fn card(amount: i64) -> Value {
    json!({"tender": "card", "amount_minor": amount, "reference": "ch_123",
           "card_brand": "Visa", "card_last4": "4242"})
}

async fn pay(
    platform: &TestPlatform,
    owner: &Owner,
    order: &str,
    body: &Value,
) -> reqwest::Response {
    post(
        platform,
        &owner.token,
        &format!("/v1/orders/{order}/payments"),
        body,
    )
    .await
}

async fn refund(
    platform: &TestPlatform,
    token: &str,
    payment: &Value,
    body: &Value,
) -> reqwest::Response {
    let id = payment["id"].as_str().unwrap();
    post(platform, token, &format!("/v1/payments/{id}/refunds"), body).await
}

/// A placed order of `quantity` loaves (600 each, no tax) from `stock`; (variant, order).
async fn placed(
    platform: &TestPlatform,
    owner: &Owner,
    stock: i64,
    quantity: i64,
) -> (String, String) {
    let variant = stocked(platform, owner, stock).await;
    let order = open_order(platform, owner, &variant, quantity).await;
    json_of(
        post(
            platform,
            &owner.token,
            &format!("/v1/orders/{order}/place"),
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    (variant, order)
}

#[tokio::test]
async fn a_split_payment_then_a_full_refund() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "pay-split").await;
    let (_, order) = placed(&platform, &owner, 10, 2).await;

    let first = json_of(pay(&platform, &owner, &order, &card(500)).await, 201).await;
    assert_eq!(first["amount_minor"], 500);
    assert_eq!(first["card_brand"], "visa");
    assert_eq!(first["card_last4"], "4242");
    assert_eq!(first["refundable_minor"], 500);
    assert_eq!(first["order"]["payment_status"], "partially_paid");
    assert_eq!(first["order"]["balance_minor"], 700);
    assert_eq!(events(&platform, owner.tenant, "sales.order.paid").await, 0);

    // Cash: 1000 handed over for the 700 due, 300 back.
    let second = json_of(
        pay(
            &platform,
            &owner,
            &order,
            &json!({"tender": "cash", "tendered_minor": 1000}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(second["amount_minor"], 700);
    assert_eq!(second["tendered_minor"], 1000);
    assert_eq!(second["change_minor"], 300);
    assert_eq!(second["order"]["payment_status"], "paid");
    assert_eq!(second["order"]["paid_minor"], 1200);
    assert_eq!(second["order"]["balance_minor"], 0);
    assert_eq!(
        events(&platform, owner.tenant, "sales.payment.recorded").await,
        2
    );
    assert_eq!(events(&platform, owner.tenant, "sales.order.paid").await, 1);
    let paid = platform
        .admin()
        .await
        .query_one(
            "SELECT envelope -> 'payload' FROM events.outbox
             WHERE tenant_id = $1 AND event_type = $2",
            &[&owner.tenant, &"sales.order.paid"],
        )
        .await
        .unwrap()
        .get::<_, Value>(0);
    assert_eq!(paid["total_minor"], 1200);
    assert_eq!(paid["paid_minor"], 1200);

    problem(
        pay(&platform, &owner, &order, &card(1)).await,
        409,
        "order_settled",
    )
    .await;
    // Cancelling needs the money back first.
    problem(
        post(
            &platform,
            &owner.token,
            &format!("/v1/orders/{order}/cancel"),
            &json!({"reason": "wrong table"}),
        )
        .await,
        409,
        "order_has_payments",
    )
    .await;

    let refunded = json_of(
        refund(
            &platform,
            &owner.token,
            &first,
            &json!({"reason": "card declined later"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(refunded["amount_minor"], 500);
    assert_eq!(refunded["payment"]["refundable_minor"], 0);
    assert_eq!(refunded["order"]["payment_status"], "partially_refunded");
    let all = json_of(
        refund(
            &platform,
            &owner.token,
            &second,
            &json!({"reason": "customer unhappy"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(all["amount_minor"], 700);
    assert_eq!(all["order"]["payment_status"], "refunded");
    assert_eq!(all["order"]["refunded_minor"], 1200);
    assert_eq!(
        events(&platform, owner.tenant, "sales.order.refunded").await,
        2
    );
    problem(
        refund(
            &platform,
            &owner.token,
            &second,
            &json!({"reason": "again"}),
        )
        .await,
        409,
        "payment_fully_refunded",
    )
    .await;

    let listed = json_of(
        platform
            .request(
                reqwest::Method::GET,
                &format!("/v1/orders/{order}/payments"),
                &owner.token,
            )
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(listed["payment_status"], "refunded");
    let payments = listed["payments"].as_array().unwrap();
    assert_eq!(payments.len(), 2);
    assert_eq!(payments[0]["tender"], "card");
    assert_eq!(payments[0]["refunds"][0]["reason"], "card declined later");
    assert_eq!(payments[1]["tender"], "cash");

    // Everything given back: now it may be cancelled.
    json_of(
        post(
            &platform,
            &owner.token,
            &format!("/v1/orders/{order}/cancel"),
            &json!({"reason": "wrong table"}),
        )
        .await,
        200,
    )
    .await;
    problem(
        pay(&platform, &owner, &order, &card(1)).await,
        409,
        "order_cancelled",
    )
    .await;
    platform.stop().await;
}

#[tokio::test]
async fn a_refund_above_what_was_paid_is_refused() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "pay-refund-cap").await;
    let (_, order) = placed(&platform, &owner, 10, 2).await;
    let payment = json_of(pay(&platform, &owner, &order, &card(1200)).await, 201).await;

    let body = problem(
        refund(
            &platform,
            &owner.token,
            &payment,
            &json!({"amount_minor": 1201, "reason": "x"}),
        )
        .await,
        422,
        "refund_exceeds_payment",
    )
    .await;
    assert_eq!(body["refundable_minor"], 1200);
    json_of(
        refund(
            &platform,
            &owner.token,
            &payment,
            &json!({"amount_minor": 200, "reason": "cold"}),
        )
        .await,
        201,
    )
    .await;
    let body = problem(
        refund(
            &platform,
            &owner.token,
            &payment,
            &json!({"amount_minor": 1001, "reason": "x"}),
        )
        .await,
        422,
        "refund_exceeds_payment",
    )
    .await;
    assert_eq!(body["refundable_minor"], 1000);
    problem(
        refund(
            &platform,
            &owner.token,
            &payment,
            &json!({"amount_minor": 0, "reason": "x"}),
        )
        .await,
        422,
        "invalid_amount",
    )
    .await;
    problem(
        refund(&platform, &owner.token, &payment, &json!({"reason": " "})).await,
        422,
        "invalid_text",
    )
    .await;
    let last = json_of(
        refund(
            &platform,
            &owner.token,
            &payment,
            &json!({"amount_minor": 1000, "reason": "gone"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(last["order"]["refunded_minor"], 1200);

    // Staff take payments but do not give money back; another tenant sees no such payment.
    let staff = platform.token(owner.tenant, &["orders:read", "payments:write"]);
    problem(
        refund(&platform, &staff, &payment, &json!({"reason": "x"})).await,
        403,
        "permission_denied",
    )
    .await;
    let other = sign_up(&platform, "pay-refund-other").await;
    problem(
        refund(&platform, &other.token, &payment, &json!({"reason": "x"})).await,
        404,
        "not_found",
    )
    .await;
    problem(
        pay(&platform, &other, &order, &card(1)).await,
        404,
        "not_found",
    )
    .await;
    // The order's running totals equal the sums of its rows.
    let row = platform
        .admin()
        .await
        .query_one(
            "SELECT o.paid_minor, o.refunded_minor,
                    (SELECT sum(amount_minor)::int8 FROM sales.payments WHERE order_id = o.id),
                    (SELECT sum(amount_minor)::int8 FROM sales.refunds WHERE order_id = o.id)
             FROM sales.orders o WHERE o.id = $1::text::uuid",
            &[&order],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), row.get::<_, i64>(2));
    assert_eq!(row.get::<_, i64>(1), row.get::<_, i64>(3));
    platform.stop().await;
}

#[tokio::test]
async fn only_cash_may_be_handed_over_above_the_balance() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "pay-rules").await;
    let (_, order) = placed(&platform, &owner, 10, 2).await;

    let body = problem(
        pay(&platform, &owner, &order, &card(1300)).await,
        409,
        "overpayment",
    )
    .await;
    assert_eq!(body["balance_minor"], 1200);
    let gift = json!({"tender": "gift_card", "amount_minor": 1300, "reference": "GC-1"});
    problem(
        pay(&platform, &owner, &order, &gift).await,
        409,
        "overpayment",
    )
    .await;
    let refused = [
        (
            json!({"tender": "card", "amount_minor": 100, "card_brand": "visa", "card_last4": "4242"}),
            "reference_required",
            "reference",
        ),
        (
            json!({"tender": "card", "amount_minor": 100, "reference": "r", "card_last4": "4242"}),
            "card_brand_required",
            "card_brand",
        ),
        (
            json!({"tender": "card", "amount_minor": 100, "reference": "r", "card_brand": "visa", "card_last4": "42x2"}),
            "invalid_card_last4",
            "card_last4",
        ),
        (
            json!({"tender": "gift_card", "amount_minor": 100}),
            "reference_required",
            "reference",
        ),
        (
            json!({"tender": "other", "amount_minor": 100, "card_last4": "4242"}),
            "card_details_not_card",
            "card_last4",
        ),
        (
            json!({"tender": "card", "tendered_minor": 100, "reference": "r", "card_brand": "visa", "card_last4": "4242"}),
            "tendered_not_cash",
            "tendered_minor",
        ),
        (
            json!({"tender": "cash", "amount_minor": -5}),
            "invalid_amount",
            "amount_minor",
        ),
        (
            json!({"tender": "cash", "amount_minor": 500, "tendered_minor": 400}),
            "tendered_too_little",
            "tendered_minor",
        ),
        (
            json!({"tender": "cash", "amount_minor": 500, "line_ids": [Uuid::now_v7()]}),
            "amount_and_lines",
            "line_ids",
        ),
        (
            json!({"tender": "cash", "line_ids": [Uuid::now_v7()]}),
            "unknown_line",
            "line_ids",
        ),
    ];
    for (body, code, field) in refused {
        let problem = problem(pay(&platform, &owner, &order, &body).await, 422, code).await;
        assert_eq!(problem["field"], field, "{body}");
    }
    let unknown = json!({"tender": "bitcoin", "amount_minor": 100});
    assert_eq!(pay(&platform, &owner, &order, &unknown).await.status(), 422);

    // Cash above the balance: the balance is applied, the rest is change.
    let cash = json_of(
        pay(
            &platform,
            &owner,
            &order,
            &json!({"tender": "cash", "amount_minor": 2000}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(cash["amount_minor"], 1200);
    assert_eq!(cash["tendered_minor"], 2000);
    assert_eq!(cash["change_minor"], 800);
    assert_eq!(cash["order"]["payment_status"], "paid");

    // The Idempotency-Key is required, and a retry replays without paying twice.
    let (_, second) = placed(&platform, &owner, 10, 1).await;
    let path = format!("/v1/orders/{second}/payments");
    let without = platform
        .request(reqwest::Method::POST, &path, &owner.token)
        .json(&card(100))
        .send()
        .await
        .unwrap();
    problem(without, 400, "idempotency_key_required").await;
    let key = Uuid::now_v7().to_string();
    let mut ids = Vec::new();
    for replay in [false, true] {
        let response = platform
            .request(reqwest::Method::POST, &path, &owner.token)
            .header("idempotency-key", &key)
            .json(&card(100))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.headers().get("idempotent-replayed").is_some(),
            replay
        );
        ids.push(json_of(response, 201).await["id"].clone());
    }
    assert_eq!(ids[0], ids[1]);
    let count: i64 = platform
        .admin()
        .await
        .query_one(
            "SELECT count(*) FROM sales.payments WHERE order_id = $1::text::uuid",
            &[&second],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 1);
    platform.stop().await;
}

#[tokio::test]
async fn a_bill_split_by_lines_pays_each_line_once() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "pay-lines").await;
    let bread = stocked(&platform, &owner, 10).await;
    let created = json_of(
        post(
            &platform,
            &owner.token,
            "/v1/orders",
            &json!({"location_id": owner.location, "channel": "dine_in", "source": "pos",
                    "service_charge": {"kind": "percent", "bps": 1000},
                    "lines": [{"variant_id": bread, "quantity": 1},
                              {"variant_id": bread, "quantity": 3}]}),
        )
        .await,
        201,
    )
    .await;
    // 600 + 1800, +10 % service = 2640.
    assert_eq!(created["total_minor"], 2640);
    let order = created["id"].as_str().unwrap();
    let line = |i: usize| created["lines"][i]["id"].clone();

    let first = json_of(
        pay(
            &platform,
            &owner,
            order,
            &json!({"tender": "cash", "line_ids": [line(0)]}),
        )
        .await,
        201,
    )
    .await;
    // The line and its share of the service charge.
    assert_eq!(first["amount_minor"], 660);
    assert_eq!(first["line_ids"], json!([line(0)]));
    let body = problem(
        pay(
            &platform,
            &owner,
            order,
            &json!({"tender": "cash", "line_ids": [line(0), line(1)]}),
        )
        .await,
        409,
        "line_already_paid",
    )
    .await;
    assert_eq!(body["line_ids"], json!([line(0)]));
    let second = json_of(
        pay(
            &platform,
            &owner,
            order,
            &json!({"tender": "card", "line_ids": [line(1)], "reference": "r",
                    "card_brand": "amex", "card_last4": "0005"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(second["amount_minor"], 1980);
    assert_eq!(second["order"]["payment_status"], "paid");
    assert_eq!(events(&platform, owner.tenant, "sales.order.paid").await, 1);
    platform.stop().await;
}

#[tokio::test]
async fn refunded_lines_go_back_to_stock_once() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "pay-restock").await;
    let (variant, order) = placed(&platform, &owner, 10, 3).await;
    assert_eq!(on_hand(&platform, &owner, &variant).await, (7, 7));
    let view = json_of(
        platform
            .request(
                reqwest::Method::GET,
                &format!("/v1/orders/{order}"),
                &owner.token,
            )
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let line = view["lines"][0]["id"].clone();
    let payment = json_of(pay(&platform, &owner, &order, &card(1800)).await, 201).await;

    let one = json!({"amount_minor": 600, "reason": "stale", "restock": [{"line_id": line, "quantity": 1}]});
    let refunded = json_of(refund(&platform, &owner.token, &payment, &one).await, 201).await;
    assert_eq!(
        refunded["restocked"],
        json!([{"line_id": line, "quantity": 1}])
    );
    assert_eq!(on_hand(&platform, &owner, &variant).await, (8, 8));
    let too_many =
        json!({"amount_minor": 100, "reason": "x", "restock": [{"line_id": line, "quantity": 3}]});
    let body = problem(
        refund(&platform, &owner.token, &payment, &too_many).await,
        422,
        "restock_exceeds_line",
    )
    .await;
    assert_eq!(body["restockable_quantity"], 2);
    assert_eq!(body["field"], "restock[0].quantity");
    // A refused refund changed nothing.
    assert_eq!(on_hand(&platform, &owner, &variant).await, (8, 8));
    let rest = json!({"reason": "all of it"});
    json_of(refund(&platform, &owner.token, &payment, &rest).await, 201).await;

    // Cancelling returns only what the refund did not.
    json_of(
        post(
            &platform,
            &owner.token,
            &format!("/v1/orders/{order}/cancel"),
            &json!({"reason": "closed early"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(on_hand(&platform, &owner, &variant).await, (10, 10));

    // An open order sold nothing: nothing to restock.
    let open = open_order(&platform, &owner, &variant, 1).await;
    let payment = json_of(pay(&platform, &owner, &open, &card(600)).await, 201).await;
    let line = json_of(
        platform
            .request(
                reqwest::Method::GET,
                &format!("/v1/orders/{open}"),
                &owner.token,
            )
            .send()
            .await
            .unwrap(),
        200,
    )
    .await["lines"][0]["id"]
        .clone();
    problem(
        refund(
            &platform,
            &owner.token,
            &payment,
            &json!({"reason": "x", "restock": [{"line_id": line, "quantity": 1}]}),
        )
        .await,
        409,
        "nothing_to_restock",
    )
    .await;
    platform.stop().await;
}

#[tokio::test]
async fn concurrent_payments_never_overpay_an_order() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "pay-race").await;
    let (_, order) = placed(&platform, &owner, 10, 2).await;
    let body = card(200);
    let attempts = (0..10).map(|_| pay(&platform, &owner, &order, &body));
    let statuses: Vec<u16> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|response| response.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        6,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    let paid: i64 = platform
        .admin()
        .await
        .query_one(
            "SELECT paid_minor FROM sales.orders WHERE id = $1::text::uuid",
            &[&order],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(paid, 1200);
    assert_eq!(events(&platform, owner.tenant, "sales.order.paid").await, 1);
    platform.stop().await;
}
