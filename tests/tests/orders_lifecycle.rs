//! The order state machine through the platform: every invalid transition answers 409 with the
//! allowed next states; placing sells stock in the order's transaction (50 concurrent orders for
//! the last 10 units place exactly 10); cancelling a placed order returns its stock unless told
//! it was consumed; every move leaves its event in the outbox.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::sales::{events, json_of, on_hand, open_order, post, stocked};
use common::{TestPlatform, problem, sign_up};
use serde_json::{Value, json};

#[tokio::test]
async fn every_invalid_transition_is_a_409_naming_the_next_states() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "life-cafe").await;
    let variant = stocked(&platform, &owner, 100).await;
    let order = open_order(&platform, &owner, &variant, 3).await;
    let path = |action: &str| format!("/v1/orders/{order}/{action}");
    let cancel = json!({"reason": "customer left"});

    let refused = |response, status: &'static str, next: Value| async move {
        let body = problem(response, 409, "invalid_transition").await;
        assert_eq!(body["status"], status);
        assert_eq!(body["next_states"], next);
    };
    // open: only place or cancel.
    refused(
        post(&platform, &owner.token, &path("complete"), &json!({})).await,
        "open",
        json!(["placed", "cancelled"]),
    )
    .await;
    let placed = json_of(
        post(&platform, &owner.token, &path("place"), &json!({})).await,
        200,
    )
    .await;
    assert_eq!(placed["status"], "placed");
    assert_eq!(placed["next_states"], json!(["completed", "cancelled"]));
    assert!(placed["placed_at"].is_string());
    assert_eq!(on_hand(&platform, &owner, &variant).await, (97, 97));
    // placed: only complete or cancel.
    refused(
        post(&platform, &owner.token, &path("place"), &json!({})).await,
        "placed",
        json!(["completed", "cancelled"]),
    )
    .await;
    let completed = json_of(
        post(&platform, &owner.token, &path("complete"), &json!({})).await,
        200,
    )
    .await;
    assert_eq!(completed["status"], "completed");
    assert_eq!(completed["next_states"], json!([]));
    // completed and cancelled are final.
    for action in ["place", "complete"] {
        refused(
            post(&platform, &owner.token, &path(action), &json!({})).await,
            "completed",
            json!([]),
        )
        .await;
    }
    refused(
        post(&platform, &owner.token, &path("cancel"), &cancel).await,
        "completed",
        json!([]),
    )
    .await;

    // An open order cancelled: nothing was sold, nothing goes back.
    let second = open_order(&platform, &owner, &variant, 2).await;
    problem(
        post(
            &platform,
            &owner.token,
            &format!("/v1/orders/{second}/cancel"),
            &json!({"reason": "  "}),
        )
        .await,
        422,
        "invalid_reason",
    )
    .await;
    let cancelled = json_of(
        post(
            &platform,
            &owner.token,
            &format!("/v1/orders/{second}/cancel"),
            &cancel,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["cancel_reason"], "customer left");
    for action in ["place", "complete", "cancel"] {
        refused(
            post(
                &platform,
                &owner.token,
                &format!("/v1/orders/{second}/{action}"),
                &cancel,
            )
            .await,
            "cancelled",
            json!([]),
        )
        .await;
    }
    assert_eq!(on_hand(&platform, &owner, &variant).await, (97, 97));

    // A placed order cancelled gives its stock back, unless it was consumed.
    let third = open_order(&platform, &owner, &variant, 4).await;
    json_of(
        post(
            &platform,
            &owner.token,
            &format!("/v1/orders/{third}/place"),
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(on_hand(&platform, &owner, &variant).await, (93, 93));
    json_of(
        post(
            &platform,
            &owner.token,
            &format!("/v1/orders/{third}/cancel"),
            &cancel,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(on_hand(&platform, &owner, &variant).await, (97, 97));
    let fourth = open_order(&platform, &owner, &variant, 5).await;
    json_of(
        post(
            &platform,
            &owner.token,
            &format!("/v1/orders/{fourth}/place"),
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    json_of(
        post(
            &platform,
            &owner.token,
            &format!("/v1/orders/{fourth}/cancel"),
            &json!({"reason": "burnt", "restock": false}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(on_hand(&platform, &owner, &variant).await, (92, 92));

    for (event, count) in [
        ("sales.order.created", 4),
        ("sales.order.placed", 3),
        ("sales.order.completed", 1),
        ("sales.order.cancelled", 3),
    ] {
        assert_eq!(
            events(&platform, owner.tenant, event).await,
            count,
            "{event}"
        );
    }

    // An empty order may be opened (a table sat down) but not placed.
    let empty = json_of(
        post(
            &platform,
            &owner.token,
            "/v1/orders",
            &json!({"location_id": owner.location, "channel": "dine_in", "source": "pos",
                    "table": "3", "lines": []}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(empty["total_minor"], 0);
    problem(
        post(
            &platform,
            &owner.token,
            &format!("/v1/orders/{}/place", empty["id"].as_str().unwrap()),
            &json!({}),
        )
        .await,
        409,
        "order_empty",
    )
    .await;

    // Another tenant cannot move this tenant's orders.
    let other = sign_up(&platform, "life-other").await;
    problem(
        post(
            &platform,
            &other.token,
            &format!("/v1/orders/{fourth}/complete"),
            &json!({}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    platform.stop().await;
}

#[tokio::test]
async fn fifty_concurrent_orders_for_the_last_ten_units_place_exactly_ten() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "life-rush").await;
    let variant = stocked(&platform, &owner, 10).await;
    let mut orders = Vec::new();
    for _ in 0..50 {
        orders.push(open_order(&platform, &owner, &variant, 1).await);
    }
    let places = orders.iter().map(|order| {
        let platform = &platform;
        let token = owner.token.clone();
        async move {
            let response = post(
                platform,
                &token,
                &format!("/v1/orders/{order}/place"),
                &json!({}),
            )
            .await;
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            (status, body["code"].as_str().unwrap_or_default().to_owned())
        }
    });
    let outcomes = futures::future::join_all(places).await;
    let placed = outcomes.iter().filter(|(status, _)| *status == 200).count();
    let refused = outcomes
        .iter()
        .filter(|(status, code)| *status == 409 && code == "insufficient_stock")
        .count();
    assert_eq!((placed, refused), (10, 40), "{outcomes:?}");
    assert_eq!(on_hand(&platform, &owner, &variant).await, (0, 0));
    let statuses: Vec<(String, i64)> = platform
        .admin()
        .await
        .query(
            "SELECT status, count(*) FROM sales.orders WHERE tenant_id = $1
             GROUP BY status ORDER BY status",
            &[&owner.tenant],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(
        statuses,
        vec![("open".to_owned(), 40), ("placed".to_owned(), 10)]
    );
    platform.stop().await;
}

#[tokio::test]
async fn an_order_created_with_place_is_placed_in_the_same_transaction() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "life-counter").await;
    let variant = stocked(&platform, &owner, 3).await;
    let body = |quantity: i64| {
        json!({"location_id": owner.location, "channel": "takeout", "source": "pos",
               "place": true, "lines": [{"variant_id": variant, "quantity": quantity}]})
    };
    let placed = json_of(
        post(&platform, &owner.token, "/v1/orders", &body(2)).await,
        201,
    )
    .await;
    assert_eq!(placed["status"], "placed");
    assert!(placed["placed_at"].is_string());
    assert_eq!(on_hand(&platform, &owner, &variant).await, (1, 1));
    assert_eq!(
        events(&platform, owner.tenant, "sales.order.created").await,
        1
    );
    assert_eq!(
        events(&platform, owner.tenant, "sales.order.placed").await,
        1
    );

    // Not enough stock: nothing is created, not even an open order.
    problem(
        post(&platform, &owner.token, "/v1/orders", &body(2)).await,
        409,
        "insufficient_stock",
    )
    .await;
    let orders: i64 = platform
        .admin()
        .await
        .query_one(
            "SELECT count(*) FROM sales.orders WHERE tenant_id = $1",
            &[&owner.tenant],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(orders, 1);
    assert_eq!(
        events(&platform, owner.tenant, "sales.order.created").await,
        1
    );
    platform.stop().await;
}
