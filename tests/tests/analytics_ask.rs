//! Questions in plain English (`POST /v1/analytics/ask`) against real PostgreSQL: orders taken
//! through the API at two locations in two currencies (Downtown, London, GBP; Harbour, New
//! York, USD), rolled up, then asked about. Relative dates are pinned by calling
//! `olympus::analytics::ask::ask` with a fixed "now" (Thursday 26 November 2026, 15:00 UTC);
//! the endpoint itself is driven with explicit dates, for permission, location scoping,
//! tenant isolation and its errors. Every expected figure is computed by hand from the orders.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::api;
use common::sales::{json_of, post};
use common::{TestPlatform, problem, sign_up_with, signup_body};
use olympus::analytics::ask::{Answer, ask};
use olympus::auth::Principal;
use serde_json::{Value, json};
use uuid::Uuid;

/// An order to take: location, till time, lines (variant, quantity), other fields.
type Planned<'a> = (Uuid, &'a str, &'a [(&'a str, i64)], Value);

struct Shop {
    owner: common::Owner,
    downtown: Uuid,
    harbour: Uuid,
    pie: String,
    tea: String,
    cake: String,
}

/// Downtown (the sign-up location, renamed; London, GBP) and Harbour (New York, USD), three
/// untaxed, untracked products: Pie 5.00, Tea 3.50, Cake 4.00.
async fn shop(platform: &TestPlatform, slug: &str) -> Shop {
    let mut body = signup_body(slug, "Copper Pot");
    body["currency"] = json!("GBP");
    body["time_zone"] = json!("Europe/London");
    let owner = sign_up_with(platform, &body).await;
    api::upgrade_to_pro(platform, owner.tenant).await;
    json_of(
        platform
            .request(
                reqwest::Method::PATCH,
                &format!("/v1/locations/{}", owner.location),
                &owner.token,
            )
            .header("if-match", "1")
            .json(&json!({"name": "Downtown"}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let harbour = json_of(
        post(
            platform,
            &owner.token,
            "/v1/locations",
            &json!({"name": "Harbour", "time_zone": "America/New_York", "currency": "USD"}),
        )
        .await,
        201,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut variants = Vec::new();
    for (name, price) in [("Pie", 500), ("Tea", 350), ("Cake", 400)] {
        let product = api::untracked_product(platform, &owner.token, name, price).await;
        variants.push(product["variants"][0]["id"].as_str().unwrap().to_owned());
    }
    let cake = variants.pop().unwrap();
    let tea = variants.pop().unwrap();
    let pie = variants.pop().unwrap();
    Shop {
        downtown: owner.location,
        owner,
        harbour,
        pie,
        tea,
        cake,
    }
}

impl Shop {
    async fn order(
        &self,
        platform: &TestPlatform,
        location: Uuid,
        at: &str,
        lines: &[(&str, i64)],
        extra: Value,
    ) {
        let mut body = json!({
            "location_id": location, "channel": "takeout", "source": "pos", "created_at": at,
            "place": true,
            "lines": lines.iter().map(|(variant, quantity)| {
                json!({"variant_id": variant, "quantity": quantity})
            }).collect::<Vec<_>>(),
        });
        for (key, value) in extra.as_object().unwrap() {
            body[key] = value.clone();
        }
        json_of(
            post(platform, &self.owner.token, "/v1/orders", &body).await,
            201,
        )
        .await;
    }

    /// The orders every test asks about (figures in minor units, no tax):
    ///
    /// | order | location | business date        | local time | lines          | net  |
    /// |-------|----------|----------------------|------------|----------------|------|
    /// | D1    | Downtown | Wed 18 Nov, dine-in  | 12:00      | 2 Pie          | 1000 | party 2, tip 100
    /// | D2    | Downtown | Sat 21 Nov           | 19:30      | 2 Tea, 1 Cake  | 1100 |
    /// | D3    | Downtown | Sat 21 Nov, dine-in  | 12:00      | 1 Pie          |  500 | party 3
    /// | H1    | Harbour  | Sat 21 Nov, delivery | 18:30 EST  | 4 Tea          | 1400 |
    /// | H2    | Harbour  | Thu 19 Nov           | 12:00 EST  | 1 Pie, 1 Cake  |  900 |
    /// | D4    | Downtown | Wed 25 Nov           | 12:00      | 3 Pie          | 1500 |
    /// | D5    | Downtown | Wed 25 Nov           | 13:00      | 1 Tea, 2 Cake  | 1150 |
    /// | D6    | Downtown | Wed 25 Nov           | 18:00      | 2 Tea          |  700 |
    /// | H3    | Harbour  | Wed 25 Nov           | 12:00 EST  | 5 Cake         | 2000 |
    /// | D7    | Downtown | Tue 3 Nov            | 12:00      | 1 Pie          |  500 |
    /// | D8    | Downtown | Wed 14 Oct           | 13:00 BST  | 4 Pie          | 2000 |
    /// | D9    | Downtown | Wed 28 Oct           | 12:00      | 1 Tea          |  350 |
    async fn take_orders(&self, platform: &TestPlatform) {
        let (pie, tea, cake) = (self.pie.as_str(), self.tea.as_str(), self.cake.as_str());
        let (d, h) = (self.downtown, self.harbour);
        let dine_in = |party: i64| json!({"channel": "dine_in", "party_size": party});
        let orders: [Planned<'_>; 12] = [
            (
                d,
                "2026-11-18T12:00:00Z",
                &[(pie, 2)],
                json!({"channel": "dine_in", "party_size": 2, "tip_minor": 100}),
            ),
            (d, "2026-11-21T19:30:00Z", &[(tea, 2), (cake, 1)], json!({})),
            (d, "2026-11-21T12:00:00Z", &[(pie, 1)], dine_in(3)),
            (
                h,
                "2026-11-21T23:30:00Z",
                &[(tea, 4)],
                json!({"channel": "delivery"}),
            ),
            (h, "2026-11-19T17:00:00Z", &[(pie, 1), (cake, 1)], json!({})),
            (d, "2026-11-25T12:00:00Z", &[(pie, 3)], json!({})),
            (d, "2026-11-25T13:00:00Z", &[(tea, 1), (cake, 2)], json!({})),
            (d, "2026-11-25T18:00:00Z", &[(tea, 2)], json!({})),
            (h, "2026-11-25T17:00:00Z", &[(cake, 5)], json!({})),
            (d, "2026-11-03T12:00:00Z", &[(pie, 1)], json!({})),
            (d, "2026-10-14T12:00:00Z", &[(pie, 4)], json!({})),
            (d, "2026-10-28T12:00:00Z", &[(tea, 1)], json!({})),
        ];
        for (location, at, lines, extra) in orders {
            self.order(platform, location, at, lines, extra).await;
        }
        let report = platform
            .http
            .post(platform.url("/jobs/rollup-sales"))
            .send()
            .await
            .unwrap();
        json_of(report, 200).await;
    }

    fn principal(&self, locations: Option<Vec<Uuid>>) -> Principal {
        Principal {
            tenant_id: self.owner.tenant,
            user_id: Uuid::now_v7(),
            session_id: None,
            roles: Vec::new(),
            permissions: vec!["analytics:read".to_owned()],
            locations,
        }
    }
}

/// Thursday 26 November 2026, 15:00 UTC: 15:00 in London, 10:00 in New York.
fn now() -> chrono::DateTime<chrono::Utc> {
    "2026-11-26T15:00:00Z".parse().unwrap()
}

async fn asked(platform: &TestPlatform, principal: &Principal, question: &str) -> Value {
    let client = platform.db.app_pool().get().await.unwrap();
    let answer: Answer = ask(&client, principal, question, now())
        .await
        .unwrap_or_else(|e| panic!("{question}: {} {:?}", e.code(), e.problem()));
    serde_json::to_value(answer).unwrap()
}

fn rows(answer: &Value) -> Vec<Vec<Value>> {
    serde_json::from_value(answer["rows"].clone()).unwrap()
}

#[tokio::test]
async fn questions_are_answered_from_the_rollups_in_each_currency() {
    let platform = TestPlatform::start(None).await;
    let shop = shop(&platform, "ask-answers").await;
    shop.take_orders(&platform).await;
    let everyone = shop.principal(None);
    let (downtown, harbour) = (shop.downtown.to_string(), shop.harbour.to_string());

    // 1. "sales last week by location": 16–22 November; each location in its own currency.
    let answer = asked(&platform, &everyone, "sales last week by location").await;
    assert_eq!(
        answer["interpreted"]["range"],
        json!({"from": "2026-11-16", "to": "2026-11-22"})
    );
    assert_eq!(answer["interpreted"]["dimension"], "location");
    assert_eq!(answer["interpreted"]["metric"], "net_sales");
    assert_eq!(
        answer["interpreted"]["text"],
        "net sales by location, 2026-11-16 to 2026-11-22"
    );
    assert_eq!(answer["interpreted"]["today"], "2026-11-26");
    assert_eq!(
        answer["columns"],
        json!(["location_id", "location", "currency", "net_sales_minor"])
    );
    assert_eq!(
        rows(&answer),
        [
            vec![
                json!(downtown),
                json!("Downtown"),
                json!("GBP"),
                json!(1000 + 1100 + 500)
            ],
            vec![
                json!(harbour),
                json!("Harbour"),
                json!("USD"),
                json!(1400 + 900)
            ],
        ]
    );
    assert_eq!(
        answer["answer"],
        "Net sales from 2026-11-16 to 2026-11-22 by location were £26.00 at Downtown and \
         $23.00 at Harbour."
    );

    // 2. "top 5 products yesterday at Downtown": 25 November, Pie and Tea tie on 3 (by name).
    let answer = asked(&platform, &everyone, "top 5 products yesterday at Downtown").await;
    assert_eq!(answer["interpreted"]["limit"], 5);
    assert_eq!(
        answer["interpreted"]["filters"]["locations"],
        json!([{"id": downtown, "name": "Downtown"}])
    );
    assert_eq!(
        answer["columns"],
        json!([
            "rank",
            "product_id",
            "product",
            "currency",
            "items_sold",
            "net_sales_minor"
        ])
    );
    let top: Vec<(i64, String, i64, i64)> = rows(&answer)
        .iter()
        .map(|r| {
            (
                r[0].as_i64().unwrap(),
                r[2].as_str().unwrap().to_owned(),
                r[4].as_i64().unwrap(),
                r[5].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        top,
        [
            (1, "Pie".to_owned(), 3, 1500),
            (2, "Tea".to_owned(), 3, 1050),
            (3, "Cake".to_owned(), 2, 800)
        ]
    );
    assert_eq!(
        answer["answer"],
        "The top 5 products by items sold on 2026-11-25 at Downtown were Pie (3), Tea (3) and \
         Cake (2)."
    );

    // 3. "how many orders on Saturday after 6pm": Saturday 21 November, D2 (19:30 London) and
    // H1 (18:30 New York); a count adds up across currencies.
    let answer = asked(
        &platform,
        &everyone,
        "how many orders on Saturday after 6pm",
    )
    .await;
    assert_eq!(
        answer["interpreted"]["range"],
        json!({"from": "2026-11-21", "to": "2026-11-21"})
    );
    assert_eq!(
        answer["interpreted"]["filters"]["hours"],
        json!({"from": 18, "to": 48})
    );
    assert_eq!(answer["totals"], json!([{"order_count": 2}]));
    assert_eq!(
        answer["answer"],
        "There were 2 orders on 2026-11-21 from 18:00 to close."
    );
    let harbour_only = asked(
        &platform,
        &everyone,
        "how many orders on Saturday after 6pm at Harbour",
    )
    .await;
    assert_eq!(harbour_only["totals"], json!([{"order_count": 1}]));

    // 4. "average ticket this month vs last month": 1–26 November against 1–26 October, per
    // currency. GBP: 6450 / 7 = 921.4 → 921, against D8 alone (2000); USD: 4300 / 3 → 1433,
    // against nothing.
    let answer = asked(
        &platform,
        &everyone,
        "average ticket this month vs last month",
    )
    .await;
    assert_eq!(
        answer["interpreted"]["range"],
        json!({"from": "2026-11-01", "to": "2026-11-26"})
    );
    assert_eq!(
        answer["interpreted"]["comparison"],
        json!({"kind": "month_before", "range": {"from": "2026-10-01", "to": "2026-10-26"}})
    );
    assert_eq!(
        answer["totals"],
        json!([
            {"currency": "GBP", "average_order_minor": 921},
            {"currency": "USD", "average_order_minor": 1433}
        ])
    );
    assert_eq!(
        answer["comparison"]["totals"],
        json!([
            {"currency": "GBP", "average_order_minor": 2000},
            {"currency": "USD", "average_order_minor": 0}
        ])
    );
    assert_eq!(
        answer["comparison"]["change"],
        json!([
            {"currency": "GBP", "average_order_minor": {"absolute": -1079, "percent": -53.95}},
            {"currency": "USD", "average_order_minor": {"absolute": 1433, "percent": null}}
        ])
    );
    let sentence = answer["answer"].as_str().unwrap();
    assert!(
        sentence.starts_with(
            "Average order value was £9.21 at Downtown and $14.33 at Harbour from 2026-11-01 \
             to 2026-11-26"
        ),
        "{sentence}"
    );
    assert!(sentence.contains("from £20.00"), "{sentence}");

    // A comparison at one location, day against the same day a week before: 3350 vs 1000.
    let answer = asked(
        &platform,
        &everyone,
        "sales yesterday at Downtown vs last week",
    )
    .await;
    assert_eq!(
        answer["comparison"]["change"],
        json!([{"currency": "GBP", "net_sales_minor": {"absolute": 2350, "percent": 235.0}}])
    );
    assert_eq!(
        answer["answer"],
        "Net sales were £33.50 on 2026-11-25 at Downtown, net sales up 235.0% from £10.00 for \
         2026-11-18."
    );

    // Filters and breakdowns: channel, covers, tips, hours, weekdays.
    let dine_in = asked(&platform, &everyone, "dine-in sales last week at Downtown").await;
    assert_eq!(
        dine_in["totals"],
        json!([{"currency": "GBP", "net_sales_minor": 1500}])
    );
    let covers = asked(&platform, &everyone, "covers last week").await;
    assert_eq!(covers["totals"], json!([{"covers": 5}]));
    let tips = asked(&platform, &everyone, "tips last week by location").await;
    assert_eq!(
        rows(&tips),
        [
            vec![json!(downtown), json!("Downtown"), json!("GBP"), json!(100)],
            vec![json!(harbour), json!("Harbour"), json!("USD"), json!(0)],
        ]
    );
    let hourly = asked(&platform, &everyone, "orders by hour yesterday at Downtown").await;
    assert_eq!(
        rows(&hourly),
        [
            vec![json!("12:00"), json!(1)],
            vec![json!("13:00"), json!(1)],
            vec![json!("18:00"), json!(1)]
        ]
    );
    let weekdays = asked(&platform, &everyone, "orders by weekday last week").await;
    assert_eq!(
        rows(&weekdays),
        [
            vec![json!("Wednesday"), json!(1)],
            vec![json!("Thursday"), json!(1)],
            vec![json!("Saturday"), json!(3)]
        ]
    );
    let busiest = asked(&platform, &everyone, "busiest day last week").await;
    assert_eq!(
        rows(&busiest),
        [vec![json!(1), json!("2026-11-21"), json!(3)]]
    );
    assert_eq!(
        busiest["answer"],
        "The top day by orders from 2026-11-16 to 2026-11-22 was 2026-11-21 (3)."
    );
    let lunch = asked(&platform, &everyone, "items sold at lunch yesterday").await;
    // 12:00 and 13:00 at Downtown (3 + 3), 12:00 EST at Harbour (5); not D6 at 18:00.
    assert_eq!(lunch["totals"], json!([{"items_sold": 11}]));

    // Tenant-wide money is per currency, never added up: £33.50 and $20.00 yesterday.
    let yesterday = asked(&platform, &everyone, "sales yesterday").await;
    assert_eq!(
        yesterday["totals"],
        json!([
            {"currency": "GBP", "net_sales_minor": 3350},
            {"currency": "USD", "net_sales_minor": 2000}
        ])
    );
    assert_eq!(
        yesterday["answer"],
        "Net sales were £33.50 at Downtown and $20.00 at Harbour on 2026-11-25."
    );

    // A principal limited to Harbour sees Harbour only, and Downtown is no name it knows.
    let limited = shop.principal(Some(vec![shop.harbour]));
    let theirs = asked(&platform, &limited, "sales last week by location").await;
    assert_eq!(
        rows(&theirs),
        [vec![
            json!(harbour),
            json!("Harbour"),
            json!("USD"),
            json!(2300)
        ]]
    );
    let client = platform.db.app_pool().get().await.unwrap();
    let denied = ask(&client, &limited, "sales last week at Downtown", now())
        .await
        .unwrap_err();
    assert_eq!(denied.code(), "unknown_location");
    let problem = serde_json::to_value(denied.problem()).unwrap();
    assert_eq!(problem["known"], json!(["Harbour"]));

    // "Today" is Downtown's business day (the first location); at 02:00 in London New York
    // is still on the evening before, and the answer says whose day it is.
    let late: chrono::DateTime<chrono::Utc> = "2026-11-27T02:00:00Z".parse().unwrap();
    let answer = ask(&client, &everyone, "sales yesterday", late)
        .await
        .unwrap();
    assert_eq!(answer.interpreted.today.to_string(), "2026-11-27");
    assert_eq!(answer.interpreted.today_at.as_deref(), Some("Downtown"));
    let at_harbour = ask(&client, &everyone, "sales yesterday at Harbour", late)
        .await
        .unwrap();
    assert_eq!(at_harbour.interpreted.today.to_string(), "2026-11-26");
    assert_eq!(at_harbour.interpreted.today_at, None);
    platform.stop().await;
}

async fn ask_http(platform: &TestPlatform, token: &str, body: &Value) -> reqwest::Response {
    platform
        .request(reqwest::Method::POST, "/v1/analytics/ask", token)
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_endpoint_answers_readers_of_its_tenant_only() {
    let platform = TestPlatform::start(None).await;
    let shop = shop(&platform, "ask-endpoint").await;
    shop.take_orders(&platform).await;
    let reader = platform.token(shop.owner.tenant, &["analytics:read"]);
    let question = json!({"question": "Sales from 2026-11-16 to 2026-11-22 by location"});

    // No Idempotency-Key needed: a read.
    let answer = json_of(ask_http(&platform, &reader, &question).await, 200).await;
    assert_eq!(
        answer["question"],
        "Sales from 2026-11-16 to 2026-11-22 by location"
    );
    let figures: Vec<(String, i64)> = rows(&answer)
        .iter()
        .map(|r| (r[1].as_str().unwrap().to_owned(), r[3].as_i64().unwrap()))
        .collect();
    assert_eq!(
        figures,
        [("Downtown".to_owned(), 2600), ("Harbour".to_owned(), 2300)]
    );

    // What it cannot map: what it understood, what is missing, suggestions.
    let body = problem(
        ask_http(
            &platform,
            &reader,
            &json!({"question": "sales by colour last week"}),
        )
        .await,
        422,
        "unrecognised_question",
    )
    .await;
    assert_eq!(body["not_understood"], json!(["colour"]));
    assert!(
        body["understood"]
            .as_array()
            .unwrap()
            .contains(&json!("net sales"))
    );
    assert!(body["suggestions"].as_array().unwrap().len() >= 3);
    let body = problem(
        ask_http(
            &platform,
            &reader,
            &json!({"question": "how are we doing?"}),
        )
        .await,
        422,
        "unrecognised_question",
    )
    .await;
    assert!(body["missing"][0].as_str().unwrap().starts_with("a metric"));
    let body = problem(
        ask_http(
            &platform,
            &reader,
            &json!({"question": "sales at Uptown yesterday"}),
        )
        .await,
        422,
        "unknown_location",
    )
    .await;
    assert_eq!(body["known"], json!(["Downtown", "Harbour"]));
    problem(
        ask_http(&platform, &reader, &json!({"query": "sales"})).await,
        422,
        "invalid_body",
    )
    .await;
    problem(
        ask_http(&platform, &reader, &json!({"question": "x".repeat(5000)})).await,
        413,
        "payload_too_large",
    )
    .await;

    // Permission.
    let staff = platform.token(shop.owner.tenant, &["orders:read", "orders:write"]);
    problem(
        ask_http(&platform, &staff, &question).await,
        403,
        "permission_denied",
    )
    .await;

    // Location scoping: a reader limited to Harbour gets Harbour's row only.
    let config = platform.platform.state.config();
    let mut claims = olympus::testing::tokens::claims(
        shop.owner.tenant,
        Uuid::now_v7(),
        &["analytics:read"],
        &config.auth_issuer,
        &config.auth_audience,
    );
    claims.locs = Some(vec![shop.harbour]);
    let limited = platform.keys.mint(&claims).unwrap();
    let scoped = json_of(ask_http(&platform, &limited, &question).await, 200).await;
    assert_eq!(rows(&scoped).len(), 1);
    assert_eq!(rows(&scoped)[0][1], "Harbour");
    problem(
        ask_http(
            &platform,
            &limited,
            &json!({"question": "sales at Downtown on 2026-11-25"}),
        )
        .await,
        422,
        "unknown_location",
    )
    .await;

    // Another tenant sees none of it, and none of its names.
    let other = common::sign_up(&platform, "ask-endpoint-other").await;
    let outsider = platform.token(other.tenant, &["analytics:read"]);
    let theirs = json_of(ask_http(&platform, &outsider, &question).await, 200).await;
    let their_rows = rows(&theirs);
    assert_eq!(their_rows.len(), 1, "only its own location");
    assert_eq!(their_rows[0][0], json!(other.location.to_string()));
    assert_eq!(their_rows[0][3], json!(0));
    let body = problem(
        ask_http(
            &platform,
            &outsider,
            &json!({"question": "sales at Harbour on 2026-11-25"}),
        )
        .await,
        422,
        "unknown_location",
    )
    .await;
    assert!(
        !body["known"]
            .as_array()
            .unwrap()
            .contains(&json!("Harbour"))
    );
    platform.stop().await;
}
