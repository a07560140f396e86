//! A whole evening at one table, through the dev runner and the Pub/Sub emulator, with public
//! HTTP calls only: a restaurant signs up and its owner logs in; the catalog (a tax rate, a
//! grill and a bar with their categories, products with variants and modifier groups, stock
//! for the one tracked variant), a loyalty program and a customer; then table 12 orders three
//! lines with modifiers, the order is placed (stock sold, one kitchen ticket per station), the
//! kitchen moves and bumps its tickets, the table splits the bill between a card and cash (with
//! change), the order is completed, and the `sales.order.paid` handlers — customer statistics
//! and loyalty accrual — run off their push subscriptions. Every amount is derived in the test
//! from the catalog prices set here.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::support;

use std::collections::BTreeMap;
use std::time::Duration;

use common::api::{get, json_of, post, send, text};
use common::{PASSWORD, TestPlatform, emulator_or_skip, eventually, post_login, sign_up};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

/// The variant of `product` named `name`.
fn variant(product: &Value, name: &str) -> String {
    let variants = product["variants"].as_array().unwrap();
    let found = variants.iter().find(|v| v["name"] == name);
    text(&found.unwrap_or_else(|| panic!("no variant {name}: {product}"))["id"])
}

/// The modifier of `group` named `name`.
fn modifier(group: &Value, name: &str) -> String {
    let modifiers = group["modifiers"].as_array().unwrap();
    let found = modifiers.iter().find(|m| m["name"] == name);
    text(&found.unwrap_or_else(|| panic!("no modifier {name}: {group}"))["id"])
}

/// The names of priced modifiers (an order line's or a ticket item's).
fn modifier_names(modifiers: &Value) -> Vec<String> {
    modifiers
        .as_array()
        .unwrap()
        .iter()
        .map(|m| text(&m["name"]))
        .collect()
}

/// (event type → (rows, rows published)) of the tenant's outbox.
async fn outbox(platform: &TestPlatform, tenant: Uuid) -> BTreeMap<String, (i64, i64)> {
    platform
        .admin()
        .await
        .query(
            "SELECT event_type, count(*), count(published_at) FROM events.outbox
             WHERE tenant_id = $1 GROUP BY event_type",
            &[&tenant],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), (row.get(1), row.get(2))))
        .collect()
}

/// The envelopes of the tenant's `event_type` events, oldest first.
async fn envelopes(platform: &TestPlatform, tenant: Uuid, event_type: &str) -> Vec<Value> {
    platform
        .admin()
        .await
        .query(
            "SELECT envelope FROM events.outbox WHERE tenant_id = $1 AND event_type = $2
             ORDER BY seq",
            &[&tenant, &event_type],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// The event ids the push subscription of function `handler` recorded as processed.
async fn processed(platform: &TestPlatform, handler: &str) -> Vec<String> {
    let subscription = format!("projects/{}/subscriptions/{handler}", platform.project);
    platform
        .admin()
        .await
        .query(
            "SELECT event_id FROM events.processed WHERE subscription = $1 ORDER BY event_id",
            &[&subscription],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_orders_pays_split_and_earns_points_through_the_emulator() {
    let Some(host) = emulator_or_skip("restaurant_flow") else {
        return;
    };
    let platform = TestPlatform::start(Some(host)).await;
    let p = &platform;

    // --- Sign-up, then the owner signs in at the till with a real session.
    let owner = sign_up(p, "trattoria-flow").await;
    let location = owner.location;
    let login = json_of(
        post_login(p, &owner.slug, &owner.email, PASSWORD, Some("Till 1"), None).await,
        200,
    )
    .await;
    assert_eq!(login["token_type"], "Bearer", "{login}");
    let token = text(&login["access_token"]);
    let token = token.as_str();
    assert_ne!(token, owner.token, "a session of its own");

    // --- Catalog: 10 % tax on top of every `standard` product, everywhere.
    let tax = json_of(
        post(
            p,
            token,
            "/v1/tax-rates",
            &json!({"name": "VAT 10%", "tax_category": "standard", "rate_bps": 1000,
                    "inclusive": false}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(tax["rate_bps"], 1000);
    let category = |name: &'static str| async move {
        let body = json!({"name": name});
        text(&json_of(post(p, token, "/v1/categories", &body).await, 201).await["id"])
    };
    let mains = category("Mains").await;
    let drinks = category("Drinks").await;
    let station = |name: &'static str, category: String| async move {
        let body = json!({"location_id": location, "name": name, "categories": [category]});
        json_of(post(p, token, "/v1/kitchen/stations", &body).await, 201).await
    };
    let grill = station("grill", mains.clone()).await;
    let bar = station("bar", drinks.clone()).await;
    assert_eq!(grill["categories"], json!([mains]));
    assert_eq!(bar["categories"], json!([drinks]));
    let (grill, bar) = (text(&grill["id"]), text(&bar["id"]));

    let group = |body: Value| async move {
        json_of(post(p, token, "/v1/modifier-groups", &body).await, 201).await
    };
    let burger_extras = group(json!({
        "name": "Burger extras", "min_selections": 0, "max_selections": 3,
        "modifiers": [{"name": "Cheese", "price_delta_minor": 120},
                      {"name": "Bacon", "price_delta_minor": 180},
                      {"name": "No onions", "price_delta_minor": 0}]
    }))
    .await;
    let dips = group(json!({
        "name": "Dips", "max_selections": 2,
        "modifiers": [{"name": "Ketchup", "price_delta_minor": 0},
                      {"name": "Aioli", "price_delta_minor": 80}]
    }))
    .await;
    let drink_extras = group(json!({
        "name": "Drink extras", "max_selections": 1,
        "modifiers": [{"name": "Mint", "price_delta_minor": 50},
                      {"name": "Less ice", "price_delta_minor": 0}]
    }))
    .await;
    let product = |body: Value| async move {
        json_of(post(p, token, "/v1/products", &body).await, 201).await
    };
    // Made to order: nothing to count but the lemonade bottles.
    let burger = product(json!({
        "name": "Burger", "category_id": mains, "modifier_group_ids": [burger_extras["id"]],
        "options": [{"name": "Size", "values": ["Single", "Double"]}],
        "variants": [
            {"option_values": {"Size": "Single"}, "price_minor": 1250, "track_inventory": false},
            {"option_values": {"Size": "Double"}, "price_minor": 1650, "track_inventory": false}
        ]
    }))
    .await;
    let fries = product(json!({
        "name": "Fries", "category_id": mains, "modifier_group_ids": [dips["id"]],
        "price_minor": 450, "track_inventory": false
    }))
    .await;
    let lemonade = product(json!({
        "name": "Lemonade", "category_id": drinks, "modifier_group_ids": [drink_extras["id"]],
        "options": [{"name": "Size", "values": ["Glass", "Bottle"]}],
        "variants": [
            {"option_values": {"Size": "Glass"}, "price_minor": 380, "track_inventory": false},
            {"option_values": {"Size": "Bottle"}, "price_minor": 520, "sku": "LEM-BTL"}
        ]
    }))
    .await;
    let double = variant(&burger, "Double");
    let fries = variant(&fries, "Fries");
    let bottle = variant(&lemonade, "Bottle");
    let (cheese, bacon) = (
        modifier(&burger_extras, "Cheese"),
        modifier(&burger_extras, "Bacon"),
    );
    let aioli = modifier(&dips, "Aioli");
    let mint = modifier(&drink_extras, "Mint");

    // 24 bottles of lemonade delivered.
    json_of(
        post(
            p,
            token,
            "/v1/inventory/adjustments",
            &json!({"location_id": location, "reason": "delivery",
                    "lines": [{"variant_id": bottle, "kind": "receive", "quantity": 24}]}),
        )
        .await,
        201,
    )
    .await;
    let bottles_path = format!("/v1/inventory?variant_id={bottle}&location_id={location}");
    let on_hand = || async {
        let levels = get(p, token, &bottles_path).await;
        assert_eq!(levels["items"].as_array().unwrap().len(), 1, "{levels}");
        levels["items"][0]["on_hand"].as_i64().unwrap()
    };
    assert_eq!(on_hand().await, 24);

    // --- Loyalty: 2 points per euro of net sales, rounding down; Gold (×2) from 100 points.
    let program = json!({
        "points_per_unit": 2,
        "rounding": "down",
        "tiers": [{"name": "Member", "threshold": 0, "multiplier": 1},
                  {"name": "Gold", "threshold": 100, "multiplier": 2}],
        "rewards": [{"id": "free-tiramisu", "name": "Free tiramisu", "points": 150,
                     "discount": {"type": "fixed", "amount_minor": 700}}],
        "points_expire_days": 365
    });
    json_of(
        send(p, Method::PUT, "/v1/loyalty/program", token, Some(&program)).await,
        200,
    )
    .await;
    let customer = json_of(
        post(
            p,
            token,
            "/v1/customers",
            &json!({"name": "Marta Rossi", "email": "marta@example.com",
                    "phone": "+33612345678", "allergens": ["peanuts"]}),
        )
        .await,
        201,
    )
    .await;
    let customer_id = text(&customer["id"]);
    assert_eq!(customer["stats"]["order_count"], 0);

    // --- Table 12, four guests, three lines with modifiers, a 5.00 tip.
    let draft = json!({
        "location_id": location, "channel": "dine_in", "source": "pos",
        "table": "12", "party_size": 4, "customer_id": customer_id, "tip_minor": 500,
        "lines": [
            {"variant_id": double, "quantity": 2, "note": "medium rare",
             "modifiers": [{"modifier_id": cheese}, {"modifier_id": bacon}]},
            {"variant_id": fries, "quantity": 1, "modifiers": [{"modifier_id": aioli}]},
            {"variant_id": bottle, "quantity": 3, "modifiers": [{"modifier_id": mint}]}
        ]
    });
    let key = Uuid::now_v7().to_string();
    let take = || async {
        p.request(Method::POST, "/v1/orders", token)
            .header("idempotency-key", &key)
            .json(&draft)
            .send()
            .await
            .unwrap()
    };
    let order = json_of(take().await, 201).await;
    let order_id = text(&order["id"]);
    // The till retries after a lost answer: the same order, not a second one.
    let retried = take().await;
    assert_eq!(retried.headers()["idempotent-replayed"], "true");
    assert_eq!(json_of(retried, 201).await["id"], order["id"]);

    // The arithmetic, from the prices above (minor units, tax per line rounded half-even):
    //   2 × Double burger 1650 + cheese 120 + bacon 180 = 2 × 1950 = 3900, tax 10 % = 390
    //   1 × Fries          450 + aioli 80              = 1 ×  530 =  530, tax 10 % =  53
    //   3 × Lemonade bottle 520 + mint 50              = 3 ×  570 = 1710, tax 10 % = 171
    let (unit_burger, unit_fries, unit_lemonade) = (1650 + 120 + 180, 450 + 80, 520 + 50);
    let gross = [2 * unit_burger, unit_fries, 3 * unit_lemonade];
    assert_eq!(gross, [3900, 530, 1710]);
    let line_tax = [390, 53, 171];
    let subtotal: i64 = gross.iter().sum(); // 6140
    let tax_total: i64 = line_tax.iter().sum(); // 614
    let tip = 500;
    let total = subtotal + tax_total + tip; // 7254
    assert_eq!((subtotal, tax_total, total), (6140, 614, 7254));

    let order = get(p, token, &format!("/v1/orders/{order_id}")).await;
    assert_eq!(order["status"], "open");
    assert_eq!(order["next_states"], json!(["placed", "cancelled"]));
    assert_eq!(order["payment_status"], "unpaid");
    assert_eq!(order["number"], "A-001");
    assert_eq!(order["channel"], "dine_in");
    assert_eq!(order["table"], "12");
    assert_eq!(order["party_size"], 4);
    assert_eq!(order["customer_id"], json!(customer_id));
    assert_eq!(order["currency"], "EUR");
    let lines = order["lines"].as_array().unwrap().clone();
    assert_eq!(lines.len(), 3);
    let expected_lines = [
        ("Burger", "Double", 2, unit_burger, vec!["Cheese", "Bacon"]),
        ("Fries", "Fries", 1, unit_fries, vec!["Aioli"]),
        ("Lemonade", "Bottle", 3, unit_lemonade, vec!["Mint"]),
    ];
    for (i, (line, (product, variant, quantity, unit, modifiers))) in
        lines.iter().zip(&expected_lines).enumerate()
    {
        assert_eq!(line["product_name"], *product, "{line}");
        assert_eq!(line["variant_name"], *variant, "{line}");
        assert_eq!(line["quantity"], *quantity, "{line}");
        assert_eq!(line["unit_price_minor"], *unit, "{line}");
        assert_eq!(line["gross_minor"], gross[i], "{line}");
        assert_eq!(line["net_minor"], gross[i], "{line}");
        assert_eq!(line["tax_minor"], line_tax[i], "{line}");
        assert_eq!(line["total_minor"], gross[i] + line_tax[i], "{line}");
        assert_eq!(modifier_names(&line["modifiers"]), *modifiers, "{line}");
    }
    assert_eq!(order["subtotal_minor"], subtotal);
    assert_eq!(
        order["discount_minor"], 0,
        "no discount: all of the subtotal earns"
    );
    assert_eq!(order["tax_minor"], tax_total);
    assert_eq!(order["tip_minor"], tip);
    assert_eq!(order["total_minor"], total);
    assert_eq!(order["balance_minor"], total);
    // Taking the order sold nothing yet.
    assert_eq!(on_hand().await, 24);

    // --- Placed: the bottles are sold, and each station gets its ticket.
    let placed = json_of(
        post(
            p,
            token,
            &format!("/v1/orders/{order_id}/place"),
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(placed["status"], "placed");
    assert_eq!(placed["next_states"], json!(["completed", "cancelled"]));
    assert!(placed["placed_at"].is_string());
    assert_eq!(on_hand().await, 24 - 3);

    let tickets = |station: String| async move {
        let page = get(
            p,
            token,
            &format!("/v1/kitchen/tickets?location={location}&station={station}"),
        )
        .await;
        page["items"].as_array().unwrap().clone()
    };
    let at_grill = tickets(grill.clone()).await;
    let at_bar = tickets(bar.clone()).await;
    assert_eq!(at_grill.len(), 1, "{at_grill:?}");
    assert_eq!(at_bar.len(), 1, "{at_bar:?}");
    let (grill_ticket, bar_ticket) = (&at_grill[0], &at_bar[0]);
    for (ticket, station) in [(grill_ticket, "grill"), (bar_ticket, "bar")] {
        assert_eq!(ticket["order_id"], json!(order_id), "{ticket}");
        assert_eq!(ticket["order_number"], "A-001", "{ticket}");
        assert_eq!(ticket["station_name"], station, "{ticket}");
        assert_eq!(ticket["table"], "12", "{ticket}");
        assert_eq!(ticket["status"], "pending", "{ticket}");
    }
    let items = |ticket: &Value| -> Vec<(String, String, i64, Vec<String>)> {
        ticket["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| {
                (
                    text(&item["product_name"]),
                    text(&item["variant_name"]),
                    item["quantity"].as_i64().unwrap(),
                    modifier_names(&item["modifiers"]),
                )
            })
            .collect()
    };
    let owned = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        items(grill_ticket),
        vec![
            (
                "Burger".into(),
                "Double".into(),
                2,
                owned(&["Cheese", "Bacon"])
            ),
            ("Fries".into(), "Fries".into(), 1, owned(&["Aioli"])),
        ]
    );
    assert_eq!(grill_ticket["items"][0]["note"], "medium rare");
    assert_eq!(
        items(bar_ticket),
        vec![("Lemonade".into(), "Bottle".into(), 3, owned(&["Mint"]))]
    );

    // --- The kitchen: the grill starts cooking and bumps; the bar bumps straight away.
    let grill_id = text(&grill_ticket["id"]);
    let bar_id = text(&bar_ticket["id"]);
    let preparing = json_of(
        post(
            p,
            token,
            &format!("/v1/kitchen/tickets/{grill_id}/status"),
            &json!({"status": "preparing"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(preparing["status"], "preparing");
    assert!(preparing["started_at"].is_string());
    for id in [&grill_id, &bar_id] {
        let bumped = json_of(
            post(
                p,
                token,
                &format!("/v1/kitchen/tickets/{id}/bump"),
                &json!({}),
            )
            .await,
            200,
        )
        .await;
        assert_eq!(bumped["status"], "ready");
        assert_eq!(bumped["next_states"], json!(["served", "voided"]));
        assert!(bumped["ready_at"].is_string());
    }
    // Recorded with each bump and published after its commit, before the answer.
    let ready = envelopes(p, owner.tenant, "kitchen.ticket.ready").await;
    let ready_tickets: Vec<Value> = ready
        .iter()
        .map(|e| e["payload"]["ticket_id"].clone())
        .collect();
    assert_eq!(ready_tickets, vec![json!(grill_id), json!(bar_id)]);
    for envelope in &ready {
        assert_eq!(envelope["payload"]["order_id"], json!(order_id));
        assert_eq!(envelope["payload"]["table"], "12");
    }
    assert_eq!(
        outbox(p, owner.tenant).await["kitchen.ticket.ready"],
        (2, 2),
        "both ready events recorded and published"
    );

    // --- The bill, split: 40.00 on a card, the rest in cash from a 35.00 hand-over.
    let card_amount = 4000;
    let card = json_of(
        post(
            p,
            token,
            &format!("/v1/orders/{order_id}/payments"),
            &json!({"tender": "card", "amount_minor": card_amount,
                    "reference": "pi_3PqR8s2eZvKYlo2C0x4HbQ1T", "card_brand": "visa",
                    "card_last4": "4242"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(card["tender"], "card");
    assert_eq!(card["amount_minor"], card_amount);
    assert_eq!(card["change_minor"], 0);
    assert_eq!(card["reference"], "pi_3PqR8s2eZvKYlo2C0x4HbQ1T");
    assert_eq!(card["card_brand"], "visa");
    assert_eq!(card["card_last4"], "4242");
    assert_eq!(card["order"]["payment_status"], "partially_paid");
    let due = total - card_amount; // 7254 − 4000 = 3254
    assert_eq!(card["order"]["balance_minor"], due);
    assert_eq!(outbox(p, owner.tenant).await.get("sales.order.paid"), None);

    let tendered = 3500;
    let cash = json_of(
        post(
            p,
            token,
            &format!("/v1/orders/{order_id}/payments"),
            &json!({"tender": "cash", "tendered_minor": tendered}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(cash["tender"], "cash");
    assert_eq!(cash["amount_minor"], due);
    assert_eq!(cash["tendered_minor"], tendered);
    assert_eq!(cash["change_minor"], tendered - due); // 3500 − 3254 = 246
    assert_eq!(cash["change_minor"], 246);
    assert_eq!(cash["order"]["payment_status"], "paid");
    assert_eq!(cash["order"]["paid_minor"], total);
    assert_eq!(cash["order"]["balance_minor"], 0);
    let payments = get(p, token, &format!("/v1/orders/{order_id}/payments")).await;
    assert_eq!(payments["payment_status"], "paid");
    assert_eq!(payments["paid_minor"], total);
    let tenders: Vec<Value> = payments["payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pm| json!([pm["tender"], pm["amount_minor"]]))
        .collect();
    assert_eq!(tenders, vec![json!(["card", 4000]), json!(["cash", 3254])]);
    let paid = envelopes(p, owner.tenant, "sales.order.paid").await;
    assert_eq!(
        paid.len(),
        1,
        "paid once, when the payments covered the total"
    );
    let paid_event = &paid[0]["payload"];
    assert_eq!(paid_event["order_id"], json!(order_id));
    assert_eq!(paid_event["customer_id"], json!(customer_id));
    assert_eq!(paid_event["subtotal_minor"], subtotal);
    assert_eq!(paid_event["tax_minor"], tax_total);
    assert_eq!(paid_event["tip_minor"], tip);
    assert_eq!(paid_event["total_minor"], total);
    assert_eq!(paid_event["paid_minor"], total);
    let paid_event_id = text(&paid[0]["id"]);

    // --- The table leaves.
    let completed = json_of(
        post(
            p,
            token,
            &format!("/v1/orders/{order_id}/complete"),
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(completed["status"], "completed");
    assert_eq!(completed["next_states"], json!([]));
    assert!(completed["completed_at"].is_string());
    assert_eq!(completed["payment_status"], "paid");

    // --- The `sales.order.paid` handlers, through the emulator's push subscriptions.
    let customer_path = format!("/v1/customers/{customer_id}");
    let stats = eventually(
        Duration::from_secs(30),
        "the customer's statistics",
        || async {
            let customer = get(p, token, &customer_path).await;
            (customer["stats"]["order_count"] == 1).then(|| customer["stats"].clone())
        },
    )
    .await;
    assert_eq!(stats["lifetime_spend_minor"], total);
    assert_eq!(stats["average_order_minor"], total);
    assert!(stats["first_order_at"].is_string());
    // Points on net sales only (subtotal − discounts; tax and tip earn nothing), at the tier
    // the customer had before this order (Member, ×1): 6140 → 61.40 € × 2 = 122.8 → 122.
    let discount = 0;
    let points = (subtotal - discount) * 2 / 100;
    assert_eq!(points, 122);
    let loyalty_path = format!("/v1/customers/{customer_id}/loyalty");
    let loyalty = eventually(Duration::from_secs(30), "the loyalty points", || async {
        let loyalty = get(p, token, &loyalty_path).await;
        (loyalty["balance"] != 0).then_some(loyalty)
    })
    .await;
    assert_eq!(loyalty["balance"], points);
    assert_eq!(loyalty["lifetime_points"], points);
    // 122 lifetime points reach Gold (100) from now on.
    assert_eq!(loyalty["tier"]["name"], "Gold");
    assert_eq!(loyalty["next_tier"], Value::Null);
    assert_eq!(loyalty["program_active"], true);
    let history = loyalty["history"]["items"].as_array().unwrap();
    assert_eq!(history.len(), 1, "{loyalty}");
    assert_eq!(history[0]["kind"], "earn");
    assert_eq!(history[0]["points"], points);
    assert_eq!(history[0]["order_id"], json!(order_id));
    assert!(history[0]["expires_at"].is_string());
    let ledger_sum: i64 = history.iter().map(|e| e["points"].as_i64().unwrap()).sum();
    assert_eq!(
        loyalty["balance"], ledger_sum,
        "the balance is the ledger sum"
    );
    let customer_uuid: Uuid = customer_id.parse().unwrap();
    assert_eq!(support::balance(p, customer_uuid).await, points);

    // --- Every event of the flow recorded and published, the handlers' dedupe marks written,
    // the loyalty event emitted by its handler, and nothing dead-lettered.
    let expected = [
        ("customer.customer.created", 1),
        ("sales.order.created", 1),
        ("sales.order.placed", 1),
        ("kitchen.ticket.created", 2),
        ("kitchen.ticket.ready", 2),
        ("sales.payment.recorded", 2),
        ("sales.order.paid", 1),
        ("sales.order.completed", 1),
        ("customer.loyalty.earned", 1),
    ];
    let events = eventually(Duration::from_secs(30), "every event published", || async {
        let events = outbox(p, owner.tenant).await;
        let all_published = events.values().all(|(rows, published)| rows == published);
        let earned = events.contains_key("customer.loyalty.earned");
        (all_published && earned).then_some(events)
    })
    .await;
    for (event_type, count) in expected {
        assert_eq!(
            events.get(event_type),
            Some(&(count, count)),
            "{event_type}: (recorded, published) in {events:?}"
        );
    }
    let earned = envelopes(p, owner.tenant, "customer.loyalty.earned").await;
    assert_eq!(earned[0]["payload"]["order_id"], json!(order_id));
    assert_eq!(earned[0]["payload"]["points"], points);
    assert_eq!(earned[0]["payload"]["balance"], points);
    for handler in [
        "on-order-paid-accrue-loyalty",
        "on-order-paid-update-customer-stats",
    ] {
        assert_eq!(
            processed(p, handler).await,
            vec![paid_event_id.clone()],
            "{handler} processed the order's sales.order.paid once"
        );
    }
    assert_eq!(processed(p, "on-dead-letter").await, Vec::<String>::new());
    let dead = get(p, &p.operator_token(), "/v1/admin/dead-letters").await;
    assert_eq!(dead["items"], json!([]), "no dead letters: {dead}");

    platform.stop().await;
}
