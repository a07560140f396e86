//! `PATCH /v1/orders/{id}`: only while open, only at the version the caller saw; a change to
//! what prices re-prices the whole order (stored discounts and modifiers kept), a change to the
//! note or table alone keeps the prices.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::sales::{json_of, open_order, post, stocked};
use common::{Owner, TestPlatform, problem, sign_up};
use serde_json::{Value, json};

async fn patch(
    platform: &TestPlatform,
    owner: &Owner,
    order: &str,
    version: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut request = platform
        .request(
            reqwest::Method::PATCH,
            &format!("/v1/orders/{order}"),
            &owner.token,
        )
        .json(body);
    if let Some(version) = version {
        request = request.header("if-match", version);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn an_open_order_changes_at_the_version_seen() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "amend-cafe").await;
    let bread = stocked(&platform, &owner, 50).await;
    let order = open_order(&platform, &owner, &bread, 1).await;

    // Nothing without If-Match, nothing at a stale version.
    let body = json!({"note": "window seat"});
    problem(
        patch(&platform, &owner, &order, None, &body).await,
        428,
        "precondition_required",
    )
    .await;
    problem(
        patch(&platform, &owner, &order, Some("\"7\""), &body).await,
        412,
        "version_mismatch",
    )
    .await;

    // A note and a table alone: prices kept, version up.
    let response = patch(
        &platform,
        &owner,
        &order,
        Some("\"1\""),
        &json!({"note": "window seat", "table": " 7 ", "party_size": 2}),
    )
    .await;
    assert_eq!(response.headers()["etag"], "\"2\"");
    let noted = json_of(response, 200).await;
    assert_eq!(noted["note"], "window seat");
    assert_eq!(noted["table"], "7");
    assert_eq!(noted["party_size"], 2);
    assert_eq!(noted["total_minor"], 600);
    assert_eq!(noted["version"], 2);

    // New lines and an order discount: re-priced from the catalog, the client's prices ignored.
    let amended = json_of(
        patch(
            &platform,
            &owner,
            &order,
            Some("\"2\""),
            &json!({"lines": [{"variant_id": bread, "quantity": 2, "unit_price_minor": 1},
                              {"variant_id": bread, "quantity": 1, "note": "sliced",
                               "discounts": [{"kind": "percent", "bps": 5000}]}],
                    "discounts": [{"kind": "fixed", "amount_minor": 100, "name": "Regular"}],
                    "table": null}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(amended["lines"].as_array().unwrap().len(), 2);
    assert_eq!(amended["lines"][1]["note"], "sliced");
    // 1200 + (600 - 300) = 1500, -100 = 1400.
    assert_eq!(amended["subtotal_minor"], 1800);
    assert_eq!(amended["total_minor"], 1400);
    assert_eq!(amended["table"], Value::Null);
    assert_eq!(amended["note"], "window seat");

    // A tip alone re-prices the stored lines with their stored discounts.
    let tipped = json_of(
        patch(
            &platform,
            &owner,
            &order,
            Some("3"),
            &json!({"tip_minor": 150}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(tipped["total_minor"], 1550);
    assert_eq!(tipped["lines"][1]["discounts"][0]["applied_minor"], 300);
    assert_eq!(tipped["discounts"][0]["name"], "Regular");
    assert_eq!(
        tipped["lines"].as_array().unwrap().len(),
        amended["lines"].as_array().unwrap().len()
    );

    // Bad input names its field; the order is untouched.
    let body = problem(
        patch(
            &platform,
            &owner,
            &order,
            Some("4"),
            &json!({"lines": [{"variant_id": bread, "quantity": 0}]}),
        )
        .await,
        422,
        "invalid_quantity",
    )
    .await;
    assert_eq!(body["field"], "lines[0].quantity");

    // With money on it, its prices stay; after placing, nothing changes.
    json_of(
        post(
            &platform,
            &owner.token,
            &format!("/v1/orders/{order}/payments"),
            &json!({"tender": "cash", "amount_minor": 100}),
        )
        .await,
        201,
    )
    .await;
    problem(
        patch(
            &platform,
            &owner,
            &order,
            Some("5"),
            &json!({"tip_minor": 0}),
        )
        .await,
        409,
        "order_has_payments",
    )
    .await;
    json_of(
        patch(&platform, &owner, &order, Some("5"), &json!({"note": null})).await,
        200,
    )
    .await;
    json_of(
        post(
            &platform,
            &owner.token,
            &format!("/v1/orders/{order}/place"),
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    let body = problem(
        patch(
            &platform,
            &owner,
            &order,
            Some("7"),
            &json!({"note": "late"}),
        )
        .await,
        409,
        "order_not_open",
    )
    .await;
    assert_eq!(body["status"], "placed");

    // Another tenant's order is not there.
    let other = sign_up(&platform, "amend-other").await;
    problem(
        patch(&platform, &other, &order, Some("7"), &json!({"note": "x"})).await,
        404,
        "not_found",
    )
    .await;
    platform.stop().await;
}
