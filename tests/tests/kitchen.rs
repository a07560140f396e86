//! The kitchen through the platform: stations per location and the categories they cook;
//! placing an order creates one ticket per station (subcategories follow their parent, the
//! default station catches the rest, a location without stations gets none); the display's
//! list (oldest first, filters, pages); every ticket move and every invalid one (409 with the
//! next states); the bump and its `kitchen.ticket.ready` event; cancelling voids; tenants,
//! locations and permissions.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::api::{events, get, json_of, patch, post, send, text};
use common::{Owner, TestPlatform, problem, sign_up};
use olympus::testing::tokens;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

/// A restaurant's menu: drinks (with cocktails under them), food and desserts.
struct Menu {
    drinks: String,
    cocktails: String,
    food: String,
    desserts: String,
    latte: String,
    oat: String,
    mojito: String,
    burger: String,
    cake: String,
}

async fn menu(platform: &TestPlatform, owner: &Owner) -> Menu {
    let token = &owner.token;
    let category = |name: &'static str, parent: Option<String>| async move {
        let body = json!({"name": name, "parent_id": parent});
        text(&json_of(post(platform, token, "/v1/categories", &body).await, 201).await["id"])
    };
    let drinks = category("Drinks", None).await;
    let cocktails = category("Cocktails", Some(drinks.clone())).await;
    let food = category("Food", None).await;
    let desserts = category("Desserts", None).await;
    let milk = json_of(
        post(
            platform,
            token,
            "/v1/modifier-groups",
            &json!({"name": "Milk", "min_selections": 0, "max_selections": 1,
                    "modifiers": [{"name": "Whole"}, {"name": "Oat", "price_delta_minor": 60}]}),
        )
        .await,
        201,
    )
    .await;
    // Made to order: no stock to count.
    let product = |body: Value| async move {
        let mut body = body;
        body["track_inventory"] = json!(false);
        let product = json_of(post(platform, token, "/v1/products", &body).await, 201).await;
        text(&product["variants"][0]["id"])
    };
    Menu {
        latte: product(
            json!({"name": "Latte", "price_minor": 400, "category_id": drinks,
                              "modifier_group_ids": [milk["id"]]}),
        )
        .await,
        oat: text(&milk["modifiers"][1]["id"]),
        mojito: product(json!({"name": "Mojito", "price_minor": 900, "category_id": cocktails}))
            .await,
        burger: product(json!({"name": "Burger", "price_minor": 1400, "category_id": food})).await,
        cake: product(json!({"name": "Cake", "price_minor": 600, "category_id": desserts})).await,
        drinks,
        cocktails,
        food,
        desserts,
    }
}

/// A placed order at the owner's location; its id.
async fn placed(platform: &TestPlatform, owner: &Owner, body: Value) -> String {
    let mut body = body;
    body["location_id"] = json!(owner.location);
    let order = json_of(post(platform, &owner.token, "/v1/orders", &body).await, 201).await;
    let id = text(&order["id"]);
    let placed = json_of(
        post(
            platform,
            &owner.token,
            &format!("/v1/orders/{id}/place"),
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(placed["status"], "placed");
    id
}

async fn station(platform: &TestPlatform, owner: &Owner, body: Value) -> Value {
    let mut body = body;
    body["location_id"] = json!(owner.location);
    json_of(
        post(platform, &owner.token, "/v1/kitchen/stations", &body).await,
        201,
    )
    .await
}

/// The tickets of `order` (any status), by station name.
async fn tickets_of(platform: &TestPlatform, owner: &Owner, order: &str) -> Vec<Value> {
    let page = get(
        platform,
        &owner.token,
        "/v1/kitchen/tickets?status=pending,preparing,ready,served,voided&limit=100",
    )
    .await;
    let mut tickets: Vec<Value> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["order_id"] == order)
        .cloned()
        .collect();
    tickets.sort_by_key(|t| text(&t["station_name"]));
    tickets
}

fn item_names(ticket: &Value) -> Vec<String> {
    ticket["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| text(&item["product_name"]))
        .collect()
}

#[tokio::test]
async fn placing_an_order_creates_a_ticket_per_station() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "kitchen-bistro").await;
    let menu = menu(&platform, &owner).await;

    // No stations yet: placing works and makes no tickets.
    let early = placed(
        &platform,
        &owner,
        json!({"channel": "takeout", "source": "pos",
               "lines": [{"variant_id": menu.burger, "quantity": 1}]}),
    )
    .await;
    assert!(tickets_of(&platform, &owner, &early).await.is_empty());

    let bar = station(
        &platform,
        &owner,
        json!({"name": "Bar", "categories": [menu.drinks]}),
    )
    .await;
    assert_eq!(bar["categories"], json!([menu.drinks]));
    assert_eq!(bar["is_default"], false);
    assert_eq!(bar["active"], true);
    assert_eq!(bar["version"], 1);
    let grill = station(
        &platform,
        &owner,
        json!({"name": "Grill", "categories": [menu.food]}),
    )
    .await;

    // Two stations: drinks (the cocktail through its parent category) to the bar, the burger
    // to the grill; the cake's category goes nowhere and there is no default station yet.
    let order = placed(
        &platform,
        &owner,
        json!({"channel": "dine_in", "source": "pos", "table": "7", "note": "birthday",
               "lines": [
                   {"variant_id": menu.latte, "quantity": 1, "note": "extra hot",
                    "modifiers": [{"modifier_id": menu.oat}]},
                   {"variant_id": menu.burger, "quantity": 2, "note": "no onion"},
                   {"variant_id": menu.mojito, "quantity": 1},
                   {"variant_id": menu.cake, "quantity": 1}]}),
    )
    .await;
    let tickets = tickets_of(&platform, &owner, &order).await;
    assert_eq!(tickets.len(), 2, "{tickets:?}");
    let (bar_ticket, grill_ticket) = (&tickets[0], &tickets[1]);
    assert_eq!(bar_ticket["station_id"], bar["id"]);
    assert_eq!(bar_ticket["station_name"], "Bar");
    assert_eq!(item_names(bar_ticket), ["Latte", "Mojito"]);
    let latte = &bar_ticket["items"][0];
    assert_eq!(latte["quantity"], 1);
    assert_eq!(latte["note"], "extra hot");
    assert_eq!(latte["modifiers"][0]["name"], "Oat");
    assert_eq!(latte["modifiers"][0]["group_name"], "Milk");
    assert!(latte["order_line_id"].is_string());
    assert_eq!(grill_ticket["station_id"], grill["id"]);
    assert_eq!(item_names(grill_ticket), ["Burger"]);
    assert_eq!(grill_ticket["items"][0]["quantity"], 2);
    assert_eq!(grill_ticket["items"][0]["note"], "no onion");
    assert_eq!(grill_ticket["items"][0]["modifiers"], json!([]));
    for ticket in &tickets {
        assert_eq!(ticket["status"], "pending");
        assert_eq!(
            ticket["next_states"],
            json!(["preparing", "ready", "voided"])
        );
        assert_eq!(ticket["table"], "7");
        assert_eq!(ticket["channel"], "dine_in");
        assert_eq!(ticket["order_note"], "birthday");
        assert_eq!(ticket["order_number"], "A-002");
        assert_eq!(ticket["location_id"], json!(owner.location));
        assert!(ticket["created_at"].is_string());
        assert_eq!(ticket["started_at"], Value::Null);
    }

    // A default station catches the unmapped category.
    let expo = station(
        &platform,
        &owner,
        json!({"name": "Expo", "is_default": true}),
    )
    .await;
    let second = placed(
        &platform,
        &owner,
        json!({"channel": "takeout", "source": "pos",
               "lines": [{"variant_id": menu.cake, "quantity": 3},
                         {"variant_id": menu.burger, "quantity": 1}]}),
    )
    .await;
    let tickets = tickets_of(&platform, &owner, &second).await;
    assert_eq!(tickets.len(), 2, "{tickets:?}");
    assert_eq!(tickets[0]["station_id"], expo["id"]);
    assert_eq!(item_names(&tickets[0]), ["Cake"]);
    assert_eq!(tickets[0]["table"], Value::Null);
    assert_eq!(item_names(&tickets[1]), ["Burger"]);
    assert_eq!(
        events(&platform, owner.tenant, "kitchen.ticket.created").await,
        4
    );

    // Station rules: names per location, one default, a category at one station.
    let taken = |body: Value, code: &'static str| {
        let platform = &platform;
        let owner = &owner;
        async move {
            let mut body = body;
            body["location_id"] = json!(owner.location);
            problem(
                post(platform, &owner.token, "/v1/kitchen/stations", &body).await,
                409,
                code,
            )
            .await
        }
    };
    taken(json!({"name": "Bar"}), "station_name_taken").await;
    let second_default = taken(
        json!({"name": "Pass", "is_default": true}),
        "default_station_exists",
    )
    .await;
    assert_eq!(second_default["station_id"], expo["id"]);
    let mapped = taken(
        json!({"name": "Cocktail bar", "categories": [menu.drinks]}),
        "category_mapped",
    )
    .await;
    assert_eq!(mapped["station_id"], bar["id"]);
    assert_eq!(mapped["category_id"], json!(menu.drinks));
    let unknown = problem(
        post(
            &platform,
            &owner.token,
            "/v1/kitchen/stations",
            &json!({"location_id": owner.location, "name": "Pastry",
                    "categories": [Uuid::now_v7()]}),
        )
        .await,
        422,
        "unknown_category",
    )
    .await;
    assert_eq!(unknown["field"], "categories");
    problem(
        post(
            &platform,
            &owner.token,
            "/v1/kitchen/stations",
            &json!({"location_id": owner.location, "name": "  "}),
        )
        .await,
        422,
        "invalid_name",
    )
    .await;

    // PATCH: If-Match honoured, the cocktails get their own station (the nearest mapped
    // category wins), the bar goes inactive and its drinks fall to the default.
    let bar_path = format!("/v1/kitchen/stations/{}", text(&bar["id"]));
    let stale = problem(
        patch(
            &platform,
            &owner.token,
            &bar_path,
            Some("\"7\""),
            &json!({"name": "Main bar"}),
        )
        .await,
        412,
        "version_mismatch",
    )
    .await;
    assert_eq!(stale["current_version"], 1);
    let renamed = patch(
        &platform,
        &owner.token,
        &bar_path,
        Some("\"1\""),
        &json!({"name": "Main bar"}),
    )
    .await;
    assert_eq!(renamed.headers()["etag"], "\"2\"");
    let renamed = json_of(renamed, 200).await;
    assert_eq!(renamed["name"], "Main bar");
    assert_eq!(renamed["version"], 2);
    let cocktail_bar = station(
        &platform,
        &owner,
        json!({"name": "Cocktail bar", "categories": [menu.cocktails]}),
    )
    .await;
    let inactive = json_of(
        patch(
            &platform,
            &owner.token,
            &bar_path,
            None,
            &json!({"active": false}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(inactive["active"], false);
    let third = placed(
        &platform,
        &owner,
        json!({"channel": "takeout", "source": "pos",
               "lines": [{"variant_id": menu.latte, "quantity": 1},
                         {"variant_id": menu.mojito, "quantity": 1}]}),
    )
    .await;
    let tickets = tickets_of(&platform, &owner, &third).await;
    assert_eq!(tickets.len(), 2, "{tickets:?}");
    assert_eq!(tickets[0]["station_id"], cocktail_bar["id"]);
    assert_eq!(item_names(&tickets[0]), ["Mojito"]);
    assert_eq!(tickets[1]["station_id"], expo["id"]);
    assert_eq!(item_names(&tickets[1]), ["Latte"]);

    // Categories move between stations only once freed.
    problem(
        patch(
            &platform,
            &owner.token,
            &format!("/v1/kitchen/stations/{}", text(&grill["id"])),
            None,
            &json!({"categories": [menu.food, menu.cocktails]}),
        )
        .await,
        409,
        "category_mapped",
    )
    .await;
    let grill_more = json_of(
        patch(
            &platform,
            &owner.token,
            &format!("/v1/kitchen/stations/{}", text(&grill["id"])),
            None,
            &json!({"categories": [menu.desserts, menu.food, menu.food]}),
        )
        .await,
        200,
    )
    .await;
    let mut expected = vec![menu.desserts.clone(), menu.food.clone()];
    expected.sort();
    assert_eq!(grill_more["categories"], json!(expected));

    let list = get(
        &platform,
        &owner.token,
        &format!("/v1/kitchen/stations?location={}", owner.location),
    )
    .await;
    let names: Vec<String> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| text(&s["name"]))
        .collect();
    assert_eq!(names, ["Cocktail bar", "Expo", "Grill", "Main bar"]);
    platform.stop().await;
}

/// Moves ticket `id` to `status` through `POST .../status`.
async fn set(platform: &TestPlatform, owner: &Owner, id: &str, status: &str) -> reqwest::Response {
    post(
        platform,
        &owner.token,
        &format!("/v1/kitchen/tickets/{id}/status"),
        &json!({"status": status}),
    )
    .await
}

async fn bump(platform: &TestPlatform, owner: &Owner, id: &str) -> reqwest::Response {
    post(
        platform,
        &owner.token,
        &format!("/v1/kitchen/tickets/{id}/bump"),
        &json!({}),
    )
    .await
}

async fn refused(response: reqwest::Response, status: &str, next: Value) {
    let body = problem(response, 409, "invalid_transition").await;
    assert_eq!(body["status"], status);
    assert_eq!(body["next_states"], next);
}

/// One placed order with one line per variant; its tickets, by station name.
async fn order_tickets(
    platform: &TestPlatform,
    owner: &Owner,
    variants: &[&str],
) -> (String, Vec<Value>) {
    let lines: Vec<Value> = variants
        .iter()
        .map(|variant| json!({"variant_id": variant, "quantity": 1}))
        .collect();
    let order = placed(
        platform,
        owner,
        json!({"channel": "dine_in", "source": "pos", "table": "2", "lines": lines}),
    )
    .await;
    let tickets = tickets_of(platform, owner, &order).await;
    (order, tickets)
}

#[tokio::test]
async fn tickets_move_through_the_kitchen_and_invalid_moves_are_409() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "kitchen-diner").await;
    let menu = menu(&platform, &owner).await;
    station(
        &platform,
        &owner,
        json!({"name": "Bar", "categories": [menu.drinks]}),
    )
    .await;
    station(
        &platform,
        &owner,
        json!({"name": "Kitchen", "is_default": true}),
    )
    .await;

    let (_, tickets) = order_tickets(&platform, &owner, &[&menu.burger]).await;
    let ticket = text(&tickets[0]["id"]);
    // pending: preparing, ready or voided.
    let pending = json!(["preparing", "ready", "voided"]);
    for to in ["pending", "served"] {
        refused(
            set(&platform, &owner, &ticket, to).await,
            "pending",
            pending.clone(),
        )
        .await;
    }
    let preparing = json_of(set(&platform, &owner, &ticket, "preparing").await, 200).await;
    assert_eq!(preparing["status"], "preparing");
    assert_eq!(preparing["next_states"], json!(["ready", "voided"]));
    assert!(preparing["started_at"].is_string());
    assert_eq!(preparing["ready_at"], Value::Null);
    for to in ["pending", "preparing", "served"] {
        refused(
            set(&platform, &owner, &ticket, to).await,
            "preparing",
            json!(["ready", "voided"]),
        )
        .await;
    }
    // The bump: preparing -> ready, with its event.
    let response = bump(&platform, &owner, &ticket).await;
    assert_eq!(response.headers()["etag"], "\"3\"");
    let ready = json_of(response, 200).await;
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["next_states"], json!(["served", "voided"]));
    assert!(ready["ready_at"].is_string());
    assert_eq!(
        events(&platform, owner.tenant, "kitchen.ticket.ready").await,
        1
    );
    // Recorded with the move, published after its commit (before the response).
    let row = platform
        .admin()
        .await
        .query_one(
            "SELECT envelope, published_at IS NOT NULL FROM events.outbox
             WHERE tenant_id = $1 AND event_type = 'kitchen.ticket.ready'",
            &[&owner.tenant],
        )
        .await
        .unwrap();
    let envelope: Value = row.get(0);
    assert!(row.get::<_, bool>(1), "the ready event was not published");
    assert_eq!(envelope["event_type"], "kitchen.ticket.ready");
    let payload = &envelope["payload"];
    assert_eq!(payload["ticket_id"], json!(ticket));
    assert_eq!(payload["order_id"], ready["order_id"]);
    assert_eq!(payload["station_id"], ready["station_id"]);
    assert_eq!(payload["location_id"], json!(owner.location));
    assert_eq!(payload["number"], ready["order_number"]);
    assert_eq!(payload["table"], "2");
    assert!(payload["ready_at"].is_string());
    refused(
        bump(&platform, &owner, &ticket).await,
        "ready",
        json!(["served", "voided"]),
    )
    .await;
    for to in ["pending", "preparing", "ready"] {
        refused(
            set(&platform, &owner, &ticket, to).await,
            "ready",
            json!(["served", "voided"]),
        )
        .await;
    }
    let served = json_of(set(&platform, &owner, &ticket, "served").await, 200).await;
    assert_eq!(served["status"], "served");
    assert_eq!(served["next_states"], json!([]));
    assert!(served["served_at"].is_string());
    for to in ["pending", "preparing", "ready", "served", "voided"] {
        refused(
            set(&platform, &owner, &ticket, to).await,
            "served",
            json!([]),
        )
        .await;
    }
    refused(bump(&platform, &owner, &ticket).await, "served", json!([])).await;

    // The bump from pending, a void, and the final voided state.
    let (_, tickets) = order_tickets(&platform, &owner, &[&menu.burger]).await;
    let bumped = json_of(bump(&platform, &owner, &text(&tickets[0]["id"])).await, 200).await;
    assert_eq!(bumped["status"], "ready");
    assert_eq!(bumped["started_at"], Value::Null);
    let voided = json_of(
        set(&platform, &owner, &text(&tickets[0]["id"]), "voided").await,
        200,
    )
    .await;
    assert_eq!(voided["status"], "voided");
    assert!(voided["voided_at"].is_string());
    for to in ["pending", "preparing", "ready", "served", "voided"] {
        refused(
            set(&platform, &owner, &text(&tickets[0]["id"]), to).await,
            "voided",
            json!([]),
        )
        .await;
    }
    refused(
        bump(&platform, &owner, &text(&tickets[0]["id"])).await,
        "voided",
        json!([]),
    )
    .await;
    assert_eq!(
        events(&platform, owner.tenant, "kitchen.ticket.ready").await,
        2
    );
    problem(
        set(&platform, &owner, &ticket, "cooking").await,
        422,
        "invalid_body",
    )
    .await;
    problem(
        set(&platform, &owner, &Uuid::now_v7().to_string(), "ready").await,
        404,
        "not_found",
    )
    .await;
    problem(
        bump(&platform, &owner, "not-a-ticket").await,
        404,
        "not_found",
    )
    .await;

    // Idempotency-Key: the same move replayed answers the stored response.
    let (_, tickets) = order_tickets(&platform, &owner, &[&menu.burger]).await;
    let path = format!("/v1/kitchen/tickets/{}/status", text(&tickets[0]["id"]));
    let start = || {
        platform
            .request(Method::POST, &path, &owner.token)
            .header("idempotency-key", "kds-1-move-1")
            .json(&json!({"status": "preparing"}))
            .send()
    };
    let first = json_of(start().await.unwrap(), 200).await;
    let again = start().await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(json_of(again, 200).await["version"], first["version"]);

    // Cancelling a placed order voids its tickets that were not served.
    let (order, tickets) = order_tickets(&platform, &owner, &[&menu.latte, &menu.burger]).await;
    assert_eq!(tickets.len(), 2);
    let (bar, kitchen) = (text(&tickets[0]["id"]), text(&tickets[1]["id"]));
    json_of(bump(&platform, &owner, &bar).await, 200).await;
    json_of(set(&platform, &owner, &bar, "served").await, 200).await;
    json_of(set(&platform, &owner, &kitchen, "preparing").await, 200).await;
    json_of(
        post(
            &platform,
            &owner.token,
            &format!("/v1/orders/{order}/cancel"),
            &json!({"reason": "guest left", "restock": false}),
        )
        .await,
        200,
    )
    .await;
    let tickets = tickets_of(&platform, &owner, &order).await;
    assert_eq!(tickets[0]["status"], "served");
    assert_eq!(tickets[0]["voided_at"], Value::Null);
    assert_eq!(tickets[1]["status"], "voided");
    assert!(tickets[1]["voided_at"].is_string());
    assert!(tickets[1]["started_at"].is_string());
    platform.stop().await;
}

#[tokio::test]
async fn the_display_lists_open_tickets_oldest_first() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "kitchen-canteen").await;
    let menu = menu(&platform, &owner).await;
    let bar = station(
        &platform,
        &owner,
        json!({"name": "Bar", "categories": [menu.drinks]}),
    )
    .await;
    station(
        &platform,
        &owner,
        json!({"name": "Kitchen", "is_default": true}),
    )
    .await;
    // Five orders, each a drink and a dish: ten tickets, created in order.
    let mut created = Vec::new();
    for _ in 0..5 {
        let (_, tickets) = order_tickets(&platform, &owner, &[&menu.latte, &menu.burger]).await;
        let mut ids: Vec<String> = tickets.iter().map(|t| text(&t["id"])).collect();
        ids.sort();
        created.extend(ids);
    }
    // One served, one voided: the display no longer shows them.
    json_of(bump(&platform, &owner, &created[0]).await, 200).await;
    json_of(set(&platform, &owner, &created[0], "served").await, 200).await;
    json_of(set(&platform, &owner, &created[1], "voided").await, 200).await;
    json_of(set(&platform, &owner, &created[2], "preparing").await, 200).await;

    let ids = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| text(&t["id"]))
            .collect()
    };
    let all = get(
        &platform,
        &owner.token,
        &format!("/v1/kitchen/tickets?location={}", owner.location),
    )
    .await;
    assert_eq!(ids(&all), created[2..].to_vec());
    assert_eq!(all["next_cursor"], Value::Null);
    assert!(all["items"][0]["items"].as_array().unwrap().len() == 1);

    // Pages of three, oldest first.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/v1/kitchen/tickets?limit=3&cursor={cursor}"),
            None => "/v1/kitchen/tickets?limit=3".to_owned(),
        };
        let page = get(&platform, &owner.token, &path).await;
        assert!(page["items"].as_array().unwrap().len() <= 3);
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, created[2..].to_vec());

    // Filters: status lists, station.
    let done = get(
        &platform,
        &owner.token,
        "/v1/kitchen/tickets?status=served,voided",
    )
    .await;
    assert_eq!(ids(&done), created[..2].to_vec());
    let preparing = get(
        &platform,
        &owner.token,
        "/v1/kitchen/tickets?status=preparing",
    )
    .await;
    assert_eq!(ids(&preparing), [created[2].clone()]);
    let at_bar = get(
        &platform,
        &owner.token,
        &format!(
            "/v1/kitchen/tickets?station={}&status=pending,preparing,ready,served,voided",
            text(&bar["id"])
        ),
    )
    .await;
    assert_eq!(at_bar["items"].as_array().unwrap().len(), 5);
    for ticket in at_bar["items"].as_array().unwrap() {
        assert_eq!(ticket["station_id"], bar["id"]);
        assert_eq!(item_names(ticket), ["Latte"]);
    }
    let bad = problem(
        send(
            &platform,
            Method::GET,
            "/v1/kitchen/tickets?status=pending,cooking",
            &owner.token,
            None,
        )
        .await,
        400,
        "invalid_query",
    )
    .await;
    assert_eq!(bad["field"], "status");
    problem(
        send(
            &platform,
            Method::GET,
            "/v1/kitchen/tickets?limit=0",
            &owner.token,
            None,
        )
        .await,
        422,
        "invalid_limit",
    )
    .await;
    platform.stop().await;
}

#[tokio::test]
async fn tickets_and_stations_are_held_by_tenant_location_and_permission() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "kitchen-tavern").await;
    let other = sign_up(&platform, "kitchen-rival").await;
    let menu = menu(&platform, &owner).await;
    let grill = station(
        &platform,
        &owner,
        json!({"name": "Grill", "is_default": true}),
    )
    .await;
    let (_, tickets) = order_tickets(&platform, &owner, &[&menu.burger]).await;
    let ticket = text(&tickets[0]["id"]);
    let grill_path = format!("/v1/kitchen/stations/{}", text(&grill["id"]));

    // Another tenant sees nothing and moves nothing.
    let empty = get(&platform, &other.token, "/v1/kitchen/tickets").await;
    assert_eq!(empty["items"], json!([]));
    let stations = get(&platform, &other.token, "/v1/kitchen/stations").await;
    assert_eq!(stations["items"], json!([]));
    problem(bump(&platform, &other, &ticket).await, 404, "not_found").await;
    problem(
        set(&platform, &other, &ticket, "preparing").await,
        404,
        "not_found",
    )
    .await;
    problem(
        patch(
            &platform,
            &other.token,
            &grill_path,
            None,
            &json!({"name": "Mine"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    // Its own station cannot name this tenant's categories or location.
    problem(
        post(
            &platform,
            &other.token,
            "/v1/kitchen/stations",
            &json!({"location_id": other.location, "name": "Bar",
                    "categories": [menu.drinks]}),
        )
        .await,
        422,
        "unknown_category",
    )
    .await;
    problem(
        post(
            &platform,
            &other.token,
            "/v1/kitchen/stations",
            &json!({"location_id": owner.location, "name": "Bar"}),
        )
        .await,
        422,
        "unknown_location",
    )
    .await;

    // A principal limited to another location of the tenant.
    let config = platform.platform.state.config();
    let mut claims = tokens::claims(
        owner.tenant,
        Uuid::now_v7(),
        &["kitchen:read", "kitchen:write", "locations:write"],
        &config.auth_issuer,
        &config.auth_audience,
    );
    claims.locs = Some(vec![Uuid::now_v7()]);
    let elsewhere = platform.keys.mint(&claims).unwrap();
    problem(
        send(
            &platform,
            Method::GET,
            &format!("/v1/kitchen/tickets?location={}", owner.location),
            &elsewhere,
            None,
        )
        .await,
        403,
        "location_denied",
    )
    .await;
    let none = get(&platform, &elsewhere, "/v1/kitchen/tickets").await;
    assert_eq!(none["items"], json!([]));
    let none = get(&platform, &elsewhere, "/v1/kitchen/stations").await;
    assert_eq!(none["items"], json!([]));
    problem(
        post(
            &platform,
            &elsewhere,
            &format!("/v1/kitchen/tickets/{ticket}/bump"),
            &json!({}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    problem(
        post(
            &platform,
            &elsewhere,
            "/v1/kitchen/stations",
            &json!({"location_id": owner.location, "name": "Pastry"}),
        )
        .await,
        403,
        "location_denied",
    )
    .await;
    problem(
        patch(
            &platform,
            &elsewhere,
            &grill_path,
            None,
            &json!({"name": "Mine"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;

    // Permissions: reading needs kitchen:read, moving kitchen:write, stations locations:write.
    let reader = platform.token(owner.tenant, &["kitchen:read"]);
    let cook = platform.token(owner.tenant, &["kitchen:write"]);
    let denied = |response, permission: &'static str| async move {
        let body = problem(response, 403, "permission_denied").await;
        assert_eq!(body["permission"], permission);
    };
    denied(
        send(&platform, Method::GET, "/v1/kitchen/tickets", &cook, None).await,
        "kitchen:read",
    )
    .await;
    denied(
        send(&platform, Method::GET, "/v1/kitchen/stations", &cook, None).await,
        "kitchen:read",
    )
    .await;
    denied(
        post(
            &platform,
            &reader,
            &format!("/v1/kitchen/tickets/{ticket}/bump"),
            &json!({}),
        )
        .await,
        "kitchen:write",
    )
    .await;
    denied(
        post(
            &platform,
            &reader,
            &format!("/v1/kitchen/tickets/{ticket}/status"),
            &json!({"status": "preparing"}),
        )
        .await,
        "kitchen:write",
    )
    .await;
    for token in [&reader, &cook] {
        denied(
            post(
                &platform,
                token,
                "/v1/kitchen/stations",
                &json!({"location_id": owner.location, "name": "Pastry"}),
            )
            .await,
            "locations:write",
        )
        .await;
        denied(
            patch(
                &platform,
                token,
                &grill_path,
                None,
                &json!({"name": "Mine"}),
            )
            .await,
            "locations:write",
        )
        .await;
    }
    let listed = get(&platform, &reader, "/v1/kitchen/tickets").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let bumped = json_of(
        post(
            &platform,
            &cook,
            &format!("/v1/kitchen/tickets/{ticket}/bump"),
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(bumped["status"], "ready");
    platform.stop().await;
}
