//! `POST /v1/orders/preview` through the platform: lines priced from the catalog at the
//! location (location price overrides, modifier deltas, the product's tax category), client
//! prices ignored, discounts, service charge and tip; catalog errors pointed at their line;
//! other tenants' ids unknown; permissions and location access.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{Owner, TestPlatform, problem, sign_up};
use serde_json::{Value, json};

async fn post(platform: &TestPlatform, token: &str, path: &str, body: &Value) -> reqwest::Response {
    platform
        .request(reqwest::Method::POST, path, token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn created(platform: &TestPlatform, owner: &Owner, path: &str, body: Value) -> Value {
    let response = post(platform, &owner.token, path, &body).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 201, "POST {path}: {text}");
    serde_json::from_str(&text).unwrap()
}

struct Menu {
    latte_small: String,
    latte_large: String,
    oat: String,
    cake: String,
}

/// A café: lattes (exclusive 8 % "standard" tax) with a milk modifier group, and a cake under
/// the "food" category with an inclusive 10 % rate.
async fn menu(platform: &TestPlatform, owner: &Owner) -> Menu {
    created(
        platform,
        owner,
        "/v1/tax-rates",
        json!({"name": "Sales tax", "tax_category": "standard", "rate_bps": 800, "inclusive": false}),
    )
    .await;
    created(
        platform,
        owner,
        "/v1/tax-rates",
        json!({"name": "Food VAT", "tax_category": "food", "rate_bps": 1000, "inclusive": true}),
    )
    .await;
    let milk = created(
        platform,
        owner,
        "/v1/modifier-groups",
        json!({"name": "Milk", "min_selections": 0, "max_selections": 1,
               "modifiers": [{"name": "Whole"}, {"name": "Oat", "price_delta_minor": 60}]}),
    )
    .await;
    let latte = created(
        platform,
        owner,
        "/v1/products",
        json!({"name": "Latte", "options": [{"name": "Size", "values": ["S", "L"]}],
               "modifier_group_ids": [milk["id"]],
               "variants": [{"option_values": {"Size": "S"}, "price_minor": 350},
                            {"option_values": {"Size": "L"}, "price_minor": 420}]}),
    )
    .await;
    let cake = created(
        platform,
        owner,
        "/v1/products",
        json!({"name": "Carrot cake", "tax_category": "food", "price_minor": 550}),
    )
    .await;
    let text = |v: &Value| v.as_str().unwrap().to_owned();
    Menu {
        latte_small: text(&latte["variants"][0]["id"]),
        latte_large: text(&latte["variants"][1]["id"]),
        oat: text(&milk["modifiers"][1]["id"]),
        cake: text(&cake["variants"][0]["id"]),
    }
}

#[tokio::test]
async fn previews_price_orders_from_the_catalog() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "preview-cafe").await;
    let menu = menu(&platform, &owner).await;
    // The large latte costs 450 at this location.
    let response = platform
        .request(
            reqwest::Method::PUT,
            &format!(
                "/v1/variants/{}/locations/{}",
                menu.latte_large, owner.location
            ),
            &owner.token,
        )
        .json(&json!({"price_minor": 450}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());

    let order = json!({
        "location_id": owner.location,
        "channel": "dine_in",
        "source": "pos",
        "table": "12",
        "party_size": 2,
        "lines": [
            // 2 x (450 + 60 oat) = 1020, -10 % = 102 -> 918; the client's price is ignored.
            {"variant_id": menu.latte_large, "quantity": 2, "unit_price_minor": 1,
             "modifiers": [{"modifier_id": menu.oat}],
             "discounts": [{"kind": "percent", "bps": 1000, "name": "Staff"}]},
            // 350.
            {"variant_id": menu.latte_small, "quantity": 1},
            // 550 including 10 % food VAT.
            {"variant_id": menu.cake, "quantity": 1, "note": "warm it up"},
        ],
        // 100 off 918 + 350 + 550 = 1818: exact shares 50.50, 19.25, 30.25 -> 50 + 19 + 30,
        // the leftover unit to the largest remainder (line 0): 51 / 19 / 30 -> 867, 331, 520.
        "discounts": [{"kind": "fixed", "amount_minor": 100}],
        "service_charge": {"kind": "percent", "bps": 1000},
        "tip_minor": 200,
        "total_minor": 1,
    });
    let response = post(&platform, &owner.token, "/v1/orders/preview", &order).await;
    let status = response.status();
    let quote: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{quote}");
    let line = |i: usize, field: &str| quote["lines"][i][field].clone();
    assert_eq!(line(0, "unit_price_minor"), 510);
    assert_eq!(line(0, "base_price_minor"), 450);
    assert_eq!(line(0, "modifiers")[0]["name"], "Oat");
    assert_eq!(line(0, "gross_minor"), 1020);
    assert_eq!(line(0, "discounts")[0]["applied_minor"], 102);
    assert_eq!(line(0, "discounts")[0]["name"], "Staff");
    assert_eq!(
        [0, 1, 2].map(|i| line(i, "order_discount_minor")),
        [json!(51), json!(19), json!(30)]
    );
    assert_eq!(
        [0, 1, 2].map(|i| line(i, "net_minor")),
        [json!(867), json!(331), json!(520)]
    );
    // 8 % of 867 = 69.36 -> 69; of 331 = 26.48 -> 26; 520 incl. 10 %: 520 / 1.1 = 472.7 -> 473,
    // tax 47.
    assert_eq!(
        [0, 1, 2].map(|i| line(i, "tax_minor")),
        [json!(69), json!(26), json!(47)]
    );
    assert_eq!(line(2, "note"), "warm it up");
    assert_eq!(line(2, "taxes")[0]["inclusive"], true);
    assert_eq!(quote["subtotal_minor"], 1020 + 350 + 550);
    assert_eq!(quote["discount_minor"], 102 + 100);
    // A fixed discount shows what was asked and what it took off as two distinct members.
    assert_eq!(quote["discounts"][0]["amount_minor"], 100);
    assert_eq!(quote["discounts"][0]["applied_minor"], 100);
    assert_eq!(quote["discounts"][0]["kind"], "fixed");
    assert_eq!(quote["tax_minor"], 69 + 26 + 47);
    assert_eq!(quote["tax_included_minor"], 47);
    // 10 % of the discounted 1718 = 171.8 -> 172.
    assert_eq!(quote["service_charge_minor"], 172);
    assert_eq!(quote["tip_minor"], 200);
    assert_eq!(quote["total_minor"], 867 + 69 + 331 + 26 + 520 + 172 + 200);
    assert_eq!(quote["currency"], "EUR");
    assert_eq!(quote["taxes"].as_array().unwrap().len(), 2);
    platform.stop().await;
}

#[tokio::test]
async fn preview_errors_name_the_line_and_field() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "preview-errors").await;
    let other = sign_up(&platform, "preview-other").await;
    let menu = menu(&platform, &owner).await;
    let other_menu = menu_of_other(&platform, &other).await;
    let order = |lines: Value| {
        json!({"location_id": owner.location, "channel": "takeout", "source": "pos",
               "lines": lines})
    };
    let preview = |body: Value, token: String| {
        let platform = &platform;
        async move { post(platform, &token, "/v1/orders/preview", &body).await }
    };

    // Another tenant's variant is unknown, on the line it was sent.
    let body = problem(
        preview(
            order(json!([{"variant_id": menu.latte_small, "quantity": 1},
                         {"variant_id": other_menu, "quantity": 1}])),
            owner.token.clone(),
        )
        .await,
        422,
        "unknown_variant",
    )
    .await;
    assert_eq!(body["field"], "lines[1].variant_id");
    assert_eq!(body["line"], 1);
    // A modifier that is not in the product's groups.
    let body = problem(
        preview(
            order(json!([{"variant_id": menu.cake, "quantity": 1,
                          "modifiers": [{"modifier_id": menu.oat}]}])),
            owner.token.clone(),
        )
        .await,
        422,
        "unknown_modifier",
    )
    .await;
    assert_eq!(body["line"], 0);
    let body = problem(
        preview(
            order(json!([{"variant_id": menu.cake, "quantity": 0}])),
            owner.token.clone(),
        )
        .await,
        422,
        "invalid_quantity",
    )
    .await;
    assert_eq!(body["field"], "lines[0].quantity");
    // Another tenant's location is unknown.
    let mut body = order(json!([{"variant_id": menu.cake, "quantity": 1}]));
    body["location_id"] = json!(other.location);
    problem(
        preview(body, owner.token.clone()).await,
        422,
        "unknown_location",
    )
    .await;
    problem(
        preview(json!({"lines": []}), owner.token.clone()).await,
        422,
        "invalid_body",
    )
    .await;
    let mut body = order(json!([{"variant_id": menu.cake, "quantity": 1}]));
    body["created_at"] = json!((chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339());
    problem(
        preview(body, owner.token.clone()).await,
        422,
        "invalid_created_at",
    )
    .await;

    // Permissions: reading orders is not taking them; a token for another location is denied.
    let reader = platform.token(owner.tenant, &["orders:read"]);
    problem(
        preview(
            order(json!([{"variant_id": menu.cake, "quantity": 1}])),
            reader,
        )
        .await,
        403,
        "permission_denied",
    )
    .await;
    platform.stop().await;
}

/// One product of another tenant; returns its variant id.
async fn menu_of_other(platform: &TestPlatform, other: &Owner) -> String {
    let product = created(
        platform,
        other,
        "/v1/products",
        json!({"name": "Their tea", "price_minor": 200}),
    )
    .await;
    product["variants"][0]["id"].as_str().unwrap().to_owned()
}
