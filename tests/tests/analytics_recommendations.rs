//! Customer segments and recommendations through the whole platform: RFM scores and segments
//! of hand-computed customers (per currency, as of a date, net of refunds, paged by segment);
//! frequently-bought-together pairs of a hand-counted basket set (support, confidence, lift,
//! the minimum count, what is not a basket), rebuilt the same by re-runs and concurrent runs;
//! customer recommendations of hand-built histories (summed confidence, the popular
//! fallback, archived products left out); validation, permission, location scoping and tenant
//! isolation of all three endpoints.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use chrono::{NaiveDate, TimeDelta, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::api::{self, get, id, json_of, post, send, text};
use crate::common::{Owner, TestPlatform, eventually, problem, sign_up};

const SEGMENTS: &str = "/v1/analytics/customers/segments";

/// A shop: the sign-up location (EUR), a second one selling in USD (plan `pro`), products
/// without tax at `prices`; answers the variant ids.
async fn shop(
    platform: &TestPlatform,
    slug: &str,
    prices: &[(&str, i64)],
) -> (Owner, Uuid, Vec<(Uuid, String)>) {
    let owner = sign_up(platform, slug).await;
    api::upgrade_to_pro(platform, owner.tenant).await;
    let usd = id(&json_of(
        post(
            platform,
            &owner.token,
            "/v1/locations",
            &json!({"name": "Broadway", "time_zone": "America/New_York", "currency": "USD"}),
        )
        .await,
        201,
    )
    .await);
    let mut products = Vec::new();
    for (name, price) in prices {
        let product = api::untracked_product(platform, &owner.token, name, *price).await;
        products.push((id(&product), text(&product["variants"][0]["id"])));
    }
    (owner, usd, products)
}

/// Places an order at `location` at `at` of `lines` (variant, quantity) for `customer`.
async fn place(
    platform: &TestPlatform,
    owner: &Owner,
    location: Uuid,
    at: &str,
    lines: &[(&str, i64)],
    customer: Option<Uuid>,
) -> Value {
    let body = json!({
        "location_id": location, "channel": "takeout", "source": "pos", "created_at": at,
        "place": true, "customer_id": customer,
        "lines": lines.iter().map(|(variant, quantity)| {
            json!({"variant_id": variant, "quantity": quantity})
        }).collect::<Vec<_>>(),
    });
    json_of(post(platform, &owner.token, "/v1/orders", &body).await, 201).await
}

/// Pays `order` in full in cash at its own time; answers the payment id.
async fn pay(platform: &TestPlatform, owner: &Owner, order: &Value) -> String {
    let paid = json_of(
        post(
            platform,
            &owner.token,
            &format!("/v1/orders/{}/payments", text(&order["id"])),
            &json!({"tender": "card", "amount_minor": order["total_minor"], "reference": "ch",
                    "card_brand": "Visa", "card_last4": "4242",
                    "created_at": order["ordered_at"]}),
        )
        .await,
        201,
    )
    .await;
    paid["payment"]["id"]
        .as_str()
        .or(paid["id"].as_str())
        .unwrap()
        .to_owned()
}

async fn customer(platform: &TestPlatform, owner: &Owner, name: &str) -> Uuid {
    id(&json_of(
        post(
            platform,
            &owner.token,
            "/v1/customers",
            &json!({"name": name}),
        )
        .await,
        201,
    )
    .await)
}

/// Noon UTC `days` before `date` (noon in Paris and New York is the same business date).
fn noon(date: NaiveDate, days: i64) -> String {
    (date - TimeDelta::days(days))
        .and_hms_opt(12, 0, 0)
        .unwrap()
        .and_utc()
        .to_rfc3339()
}

/// One number of an admin query about `tenant`.
async fn scalar(platform: &TestPlatform, sql: &str, tenant: Uuid) -> i64 {
    platform
        .admin()
        .await
        .query_one(sql, &[&tenant])
        .await
        .unwrap()
        .get(0)
}

fn segment<'a>(market: &'a Value, name: &str) -> &'a Value {
    market["segments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["segment"] == name)
        .unwrap_or_else(|| panic!("no segment {name} in {market}"))
}

#[tokio::test]
async fn rfm_segments_of_hand_computed_customers() {
    let platform = TestPlatform::start(None).await;
    let (owner, usd, products) = shop(&platform, "rfm-segments", &[("Stew", 1000)]).await;
    let stew = products[0].1.as_str();
    let paris = owner.location;
    let as_of: NaiveDate = "2026-11-30".parse().unwrap();

    // EUR, five customers (b = how many of the five a customer beats; score = 1 + b):
    //   Ada: 5 orders (days before as_of 1, 3, 5, 8, 10) of 2 × 1000 → R5 F5 M5, champions
    //   Ben: 1 order (2) of 1000                                      → R4 F1 M2, new
    //   Cat: 3 orders (40, 45, 50) of 3 × 1000                        → R2 F3 M4, at risk
    //   Dan: 1 order (60) of 1000, 400 refunded                       → R1 F1 M1, lost
    //   Eve: 4 orders (20, 22, 24, 26) of 1000                        → R3 F4 M3, loyal
    // Ben and Dan tie on F (both beat nobody: F1). Ada's order after as_of does not count;
    // Fay ordered only after it, Gus never: neither is scored.
    let ada = customer(&platform, &owner, "Ada").await;
    let ben = customer(&platform, &owner, "Ben").await;
    let cat = customer(&platform, &owner, "Cat").await;
    let dan = customer(&platform, &owner, "Dan").await;
    let eve = customer(&platform, &owner, "Eve").await;
    let fay = customer(&platform, &owner, "Fay").await;
    let _gus = customer(&platform, &owner, "Gus").await;
    // USD: Hal (1 order, 5 days before, 1000) and Ivy (2 orders, 10 and 12 days, 1000 each):
    // of two, Hal beats Ivy on R (R 1 + ⌊5·1/2⌋ = 3) and Ivy beats Hal on F (F3): both at risk.
    let hal = customer(&platform, &owner, "Hal").await;
    let ivy = customer(&platform, &owner, "Ivy").await;
    let plan: &[(Uuid, Uuid, &[i64], i64)] = &[
        (ada, paris, &[1, 3, 5, 8, 10, -1], 2),
        (ben, paris, &[2], 1),
        (cat, paris, &[40, 45, 50], 3),
        (dan, paris, &[60], 1),
        (eve, paris, &[20, 22, 24, 26], 1),
        (fay, paris, &[-1], 1),
        (hal, usd, &[5], 1),
        (ivy, usd, &[10, 12], 1),
    ];
    let mut paid = 0_i64;
    let mut dans_payment = None;
    for (who, location, days, quantity) in plan {
        for days in *days {
            let order = place(
                &platform,
                &owner,
                *location,
                &noon(as_of, *days),
                &[(stew, *quantity)],
                Some(*who),
            )
            .await;
            let payment = pay(&platform, &owner, &order).await;
            paid += 1;
            if *who == dan {
                dans_payment = Some(payment);
            }
        }
    }
    // An unpaid order counts for nobody.
    place(
        &platform,
        &owner,
        paris,
        &noon(as_of, 1),
        &[(stew, 9)],
        Some(ben),
    )
    .await;
    eventually(
        Duration::from_secs(30),
        "every paid order counted",
        || async {
            let counted = scalar(
                &platform,
                "SELECT count(*) FROM customer.order_stats WHERE tenant_id = $1",
                owner.tenant,
            )
            .await;
            (counted == paid).then_some(())
        },
    )
    .await;
    json_of(
        post(
            &platform,
            &owner.token,
            &format!("/v1/payments/{}/refunds", dans_payment.unwrap()),
            &json!({"amount_minor": 400, "reason": "cold"}),
        )
        .await,
        201,
    )
    .await;
    eventually(Duration::from_secs(30), "the refund counted", || async {
        let refunded = scalar(
            &platform,
            "SELECT coalesce(sum(refunded_minor), 0)::int8 FROM customer.order_stats
             WHERE tenant_id = $1",
            owner.tenant,
        )
        .await;
        (refunded == 400).then_some(())
    })
    .await;

    let reader = platform.token(owner.tenant, &["analytics:read"]);
    let report = get(&platform, &reader, &format!("{SEGMENTS}?as_of=2026-11-30")).await;
    assert_eq!(report["as_of"], "2026-11-30");
    assert_eq!(report["scheme"]["name"], "rfm_quintiles");
    assert!(report.get("customers").is_none());
    let markets = report["markets"].as_array().unwrap();
    assert_eq!(markets.len(), 2, "{report}");
    let (eur, usd_market) = (&markets[0], &markets[1]);
    assert_eq!(eur["currency"], "EUR");
    assert_eq!(eur["customer_count"], 5);
    let names: Vec<&str> = eur["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["segment"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["champions", "loyal", "new", "at_risk", "lost"]);
    for (name, recency, frequency, monetary) in [
        ("champions", 1.0, 5.0, 10_000),
        ("loyal", 20.0, 4.0, 4_000),
        ("new", 2.0, 1.0, 1_000),
        ("at_risk", 40.0, 3.0, 9_000),
        ("lost", 60.0, 1.0, 600),
    ] {
        let s = segment(eur, name);
        assert_eq!(s["customer_count"], 1, "{name}: {s}");
        assert_eq!(s["share"], 0.2, "{name}");
        assert_eq!(s["average_recency_days"], recency, "{name}");
        assert_eq!(s["average_frequency"], frequency, "{name}");
        assert_eq!(s["average_monetary_minor"], monetary, "{name}");
    }
    assert_eq!(
        segment(eur, "champions")["rule"],
        "R 5 and F 4–5 (champions)"
    );
    assert_eq!(usd_market["currency"], "USD");
    assert_eq!(usd_market["customer_count"], 2);
    let at_risk = segment(usd_market, "at_risk");
    assert_eq!(at_risk["customer_count"], 2);
    assert_eq!(at_risk["share"], 1.0);
    assert_eq!(at_risk["average_recency_days"], 7.5); // (5 + 10) / 2
    assert_eq!(at_risk["average_frequency"], 1.5);
    assert_eq!(at_risk["average_monetary_minor"], 1500);
    assert_eq!(segment(usd_market, "champions")["customer_count"], 0);
    assert_eq!(
        segment(usd_market, "champions")["average_frequency"],
        Value::Null
    );

    // One segment's customers with their scores: needs one currency here.
    problem(
        send(
            &platform,
            reqwest::Method::GET,
            &format!("{SEGMENTS}?as_of=2026-11-30&segment=at_risk"),
            &reader,
            None,
        )
        .await,
        422,
        "mixed_currencies",
    )
    .await;
    let eur_risk = get(
        &platform,
        &reader,
        &format!("{SEGMENTS}?as_of=2026-11-30&segment=at_risk&currency=EUR"),
    )
    .await;
    assert_eq!(eur_risk["markets"].as_array().unwrap().len(), 1);
    let listed = &eur_risk["customers"];
    assert_eq!(listed["segment"], "at_risk");
    assert_eq!(listed["currency"], "EUR");
    assert_eq!(
        listed["items"],
        json!([{
            "customer_id": cat, "name": "Cat", "currency": "EUR",
            "first_order_date": "2026-10-11", "last_order_date": "2026-10-21",
            "recency_days": 40, "frequency": 3, "monetary_minor": 9000,
            "r": 2, "f": 3, "m": 4, "rfm": "234", "segment": "at_risk"
        }])
    );
    assert_eq!(listed["next_cursor"], Value::Null);
    let champions = get(
        &platform,
        &reader,
        &format!("{SEGMENTS}?as_of=2026-11-30&segment=champions&location={paris}"),
    )
    .await;
    assert_eq!(champions["location_id"], paris.to_string());
    let ada_row = &champions["customers"]["items"][0];
    assert_eq!(ada_row["customer_id"], ada.to_string());
    assert_eq!(ada_row["rfm"], "555");
    assert_eq!(
        ada_row["frequency"], 5,
        "the order after as_of is not counted"
    );
    assert_eq!(ada_row["monetary_minor"], 10_000);
    for (who, rfm, name) in [
        (ben, "412", "new"),
        (dan, "111", "lost"),
        (eve, "343", "loyal"),
    ] {
        let page = get(
            &platform,
            &reader,
            &format!("{SEGMENTS}?as_of=2026-11-30&segment={name}&currency=EUR"),
        )
        .await;
        let items = page["customers"]["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{page}");
        assert_eq!(items[0]["customer_id"], who.to_string());
        assert_eq!(items[0]["rfm"], rfm);
    }
    // Paging: the two USD customers one at a time, newest customer first.
    let first = get(
        &platform,
        &reader,
        &format!("{SEGMENTS}?as_of=2026-11-30&segment=at_risk&location={usd}&limit=1"),
    )
    .await;
    let first_items = first["customers"]["items"].as_array().unwrap();
    assert_eq!(first_items.len(), 1);
    assert_eq!(first_items[0]["customer_id"], ivy.to_string());
    assert_eq!(first_items[0]["rfm"], "133");
    let cursor = first["customers"]["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = get(
        &platform,
        &reader,
        &format!(
            "{SEGMENTS}?as_of=2026-11-30&segment=at_risk&location={usd}&limit=1&cursor={cursor}"
        ),
    )
    .await;
    assert_eq!(
        second["customers"]["items"][0]["customer_id"],
        hal.to_string()
    );
    assert_eq!(second["customers"]["items"][0]["rfm"], "311");
    assert_eq!(second["customers"]["next_cursor"], Value::Null);

    // As of today, everyone is older and Fay counts: six EUR customers.
    let today = get(&platform, &reader, SEGMENTS).await;
    assert_eq!(today["as_of"], Utc::now().date_naive().to_string());
    assert_eq!(today["markets"][0]["customer_count"], 6);

    // Validation.
    for (query, code) in [
        ("as_of=2026-11-3", "invalid_date"),
        ("currency=eur", "invalid_currency"),
        ("segment=whales", "invalid_segment"),
        ("limit=5", "segment_required"),
        ("segment=lost&limit=0", "invalid_limit"),
        ("segment=lost&limit=101", "invalid_limit"),
    ] {
        problem(
            send(
                &platform,
                reqwest::Method::GET,
                &format!("{SEGMENTS}?{query}"),
                &reader,
                None,
            )
            .await,
            422,
            code,
        )
        .await;
    }
    problem(
        send(
            &platform,
            reqwest::Method::GET,
            &format!("{SEGMENTS}?location=x"),
            &reader,
            None,
        )
        .await,
        400,
        "invalid_query",
    )
    .await;

    // Permission, locations and tenants.
    let staff = platform.token(owner.tenant, &["orders:read", "customers:read"]);
    problem(
        send(&platform, reqwest::Method::GET, SEGMENTS, &staff, None).await,
        403,
        "permission_denied",
    )
    .await;
    let limited = limited_reader(&platform, owner.tenant, usd);
    let scoped = get(&platform, &limited, &format!("{SEGMENTS}?as_of=2026-11-30")).await;
    let scoped_markets = scoped["markets"].as_array().unwrap();
    assert_eq!(scoped_markets.len(), 1, "only the USD location's orders");
    assert_eq!(scoped_markets[0]["currency"], "USD");
    problem(
        send(
            &platform,
            reqwest::Method::GET,
            &format!("{SEGMENTS}?location={paris}"),
            &limited,
            None,
        )
        .await,
        403,
        "location_denied",
    )
    .await;
    let other = sign_up(&platform, "rfm-segments-other").await;
    let outsider = platform.token(other.tenant, &["analytics:read"]);
    let theirs = get(
        &platform,
        &outsider,
        &format!("{SEGMENTS}?as_of=2026-11-30&location={paris}&segment=champions"),
    )
    .await;
    assert_eq!(theirs["markets"], json!([]));
    assert_eq!(theirs["customers"]["items"], json!([]));
    platform.stop().await;
}

/// A token with `analytics:read` for `location` only.
fn limited_reader(platform: &TestPlatform, tenant: Uuid, location: Uuid) -> String {
    let config = platform.platform.state.config();
    let mut claims = olympus::testing::tokens::claims(
        tenant,
        Uuid::now_v7(),
        &["analytics:read"],
        &config.auth_issuer,
        &config.auth_audience,
    );
    claims.locs = Some(vec![location]);
    platform.keys.mint(&claims).unwrap()
}

async fn build(platform: &TestPlatform) -> Value {
    let response = platform
        .http
        .post(platform.url("/jobs/build-recommendations"))
        .send()
        .await
        .unwrap();
    json_of(response, 200).await
}

/// The tenant's stored pairs, without their build time (admin SQL).
async fn pairs(platform: &TestPlatform, tenant: Uuid) -> Vec<String> {
    platform
        .admin()
        .await
        .query(
            "SELECT concat_ws(' ', antecedent_id, consequent_id, pair_count, antecedent_count,
                              consequent_count, basket_count, support, confidence, lift,
                              window_days)
             FROM analytics.product_pairs WHERE tenant_id = $1
             ORDER BY antecedent_id, consequent_id",
            &[&tenant],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// (product id, pair_count, antecedent_count, consequent_count, basket_count, support,
/// confidence, lift) of an item.
type Companion = (String, i64, i64, i64, i64, f64, f64, f64);

fn companions(answer: &Value) -> Vec<Companion> {
    answer["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                text(&i["product_id"]),
                i["pair_count"].as_i64().unwrap(),
                i["antecedent_count"].as_i64().unwrap(),
                i["consequent_count"].as_i64().unwrap(),
                i["basket_count"].as_i64().unwrap(),
                i["support"].as_f64().unwrap(),
                i["confidence"].as_f64().unwrap(),
                i["lift"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// (product id, score, because_of) of each suggestion.
fn suggestions(answer: &Value) -> Vec<(String, f64, Vec<String>)> {
    answer["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                text(&i["product_id"]),
                i["score"].as_f64().unwrap(),
                i["because_of"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(text)
                    .collect(),
            )
        })
        .collect()
}

#[tokio::test]
async fn frequently_bought_together_from_a_hand_counted_basket_set() {
    let platform = TestPlatform::start(None).await;
    let (owner, _usd, products) = shop(
        &platform,
        "recommendations",
        &[("A", 100), ("B", 200), ("C", 300), ("D", 400), ("E", 500)],
    )
    .await;
    let [a, b, c, d, e] = [0, 1, 2, 3, 4].map(|i| products[i].0.to_string());
    let [va, vb, vc, vd, ve] = [0, 1, 2, 3, 4].map(|i| products[i].1.clone());
    let shop = owner.location;
    let v = customer(&platform, &owner, "Vic").await;
    let y = customer(&platform, &owner, "Yan").await;
    let t = customer(&platform, &owner, "Tom").await;
    let w = customer(&platform, &owner, "Wes").await;
    let n = customer(&platform, &owner, "Nia").await;
    let now = Utc::now();
    let ago = |days: i64| (now - TimeDelta::days(days)).to_rfc3339();

    // Eight baskets in the 90-day window (a basket is an order's distinct products: basket 5
    // holds A on two lines):
    //   1 {A,B,E} Vic   2 {A,B,C}   3 {A,C} Yan   4 {B} Tom
    //   5 {A,B,E}       6 {D} Wes   7 {B,E}       8 {C} Tom
    // n(A)=4 n(B)=5 n(C)=3 n(D)=1 n(E)=3; together: AB 3, AC 2, AE 2, BE 3, BC 1 (below the
    // minimum of 2: max(2, ⌈8 · 1‰⌉)), CE 0.
    let baskets: [(&[&str], Option<Uuid>); 8] = [
        (&[&va, &vb, &ve], Some(v)),
        (&[&va, &vb, &vc], None),
        (&[&va, &vc], Some(y)),
        (&[&vb], Some(t)),
        (&[&va, &vb, &ve, &va], None),
        (&[&vd], Some(w)),
        (&[&vb, &ve], None),
        (&[&vc], Some(t)),
    ];
    for (i, (variants, who)) in baskets.iter().enumerate() {
        let lines: Vec<(&str, i64)> = variants.iter().map(|v| (*v, 1)).collect();
        place(
            &platform,
            &owner,
            shop,
            &ago(i64::try_from(i).unwrap() + 1),
            &lines,
            *who,
        )
        .await;
    }
    // Not baskets: a cancelled order, an open one, and one older than the window.
    let cancelled = place(
        &platform,
        &owner,
        shop,
        &ago(2),
        &[(&vc, 1), (&vd, 1)],
        Some(y),
    )
    .await;
    json_of(
        post(
            &platform,
            &owner.token,
            &format!("/v1/orders/{}/cancel", text(&cancelled["id"])),
            &json!({"reason": "walked out"}),
        )
        .await,
        200,
    )
    .await;
    let open = json!({"location_id": shop, "channel": "takeout", "source": "pos",
                      "customer_id": w,
                      "lines": [{"variant_id": vd, "quantity": 1}, {"variant_id": ve, "quantity": 1}]});
    json_of(
        post(&platform, &owner.token, "/v1/orders", &open).await,
        201,
    )
    .await;
    place(
        &platform,
        &owner,
        shop,
        &ago(100),
        &[(&vc, 1), (&vd, 1)],
        None,
    )
    .await;

    let reader = platform.token(owner.tenant, &["analytics:read"]);
    let product =
        |id: &str, query: &str| format!("/v1/analytics/recommendations/products/{id}{query}");
    // Before any build: nothing, said so.
    let before = get(&platform, &reader, &product(&a, "")).await;
    assert_eq!(before["build"], Value::Null);
    assert_eq!(before["items"], json!([]));

    let report = build(&platform).await;
    assert_eq!(report["failed"], 0);
    assert_eq!(report["window_days"], 90);
    let built = pairs(&platform, owner.tenant).await;
    assert_eq!(built.len(), 8, "AB, AC, AE, BE both ways: {built:#?}");

    // A → B: support 3/8, confidence 3/4, lift 3·8/(4·5) = 1.2; A → C and A → E: 2/8, 2/4,
    // 2·8/(4·3) = 4/3. By lift, C and E tie on every measure and count: product id (C first).
    let by_lift = get(&platform, &reader, &product(&a, "")).await;
    assert_eq!(by_lift["product_name"], "A");
    assert_eq!(by_lift["by"], "lift");
    assert_eq!(by_lift["basket_count"], 4);
    assert_eq!(by_lift["build"]["basket_count"], 8);
    assert_eq!(by_lift["build"]["min_pair_count"], 2);
    assert_eq!(by_lift["build"]["window_days"], 90);
    assert_eq!(
        companions(&by_lift),
        [
            (c.clone(), 2, 4, 3, 8, 0.25, 0.5, 1.333_333),
            (e.clone(), 2, 4, 3, 8, 0.25, 0.5, 1.333_333),
            (b.clone(), 3, 4, 5, 8, 0.375, 0.75, 1.2),
        ]
    );
    assert_eq!(by_lift["items"][0]["product_name"], "C");
    assert_eq!(by_lift["items"][0]["rank"], 1);
    let by_confidence = get(&platform, &reader, &product(&a, "?by=confidence&limit=2")).await;
    let ids: Vec<String> = companions(&by_confidence)
        .into_iter()
        .map(|x| x.0)
        .collect();
    assert_eq!(ids, [b.clone(), c.clone()]);
    // B → E: 3/8, 3/5, 3·8/(5·3) = 1.6; B → A: 3/8, 3/5, 1.2 (confidence ties: lift decides).
    // B → C (one basket) is below the minimum.
    let from_b = get(&platform, &reader, &product(&b, "?by=confidence")).await;
    assert_eq!(
        companions(&from_b),
        [
            (e.clone(), 3, 5, 3, 8, 0.375, 0.6, 1.6),
            (a.clone(), 3, 5, 4, 8, 0.375, 0.6, 1.2),
        ]
    );
    // E → B: every E basket has B: confidence 1.
    let from_e = get(&platform, &reader, &product(&e, "")).await;
    assert_eq!(
        companions(&from_e),
        [
            (b.clone(), 3, 3, 5, 8, 0.375, 1.0, 1.6),
            (a.clone(), 2, 3, 4, 8, 0.25, 0.666_667, 1.333_333),
        ]
    );
    // D was only ever alone (the cancelled, open and old orders pairing it are not baskets).
    let from_d = get(&platform, &reader, &product(&d, "")).await;
    assert_eq!(from_d["basket_count"], 1);
    assert_eq!(from_d["items"], json!([]));

    // Customers. Yan bought {A,C}: B scores conf(A→B) = 0.75, E conf(A→E) = 0.5.
    let for_customer =
        |id: Uuid, query: &str| format!("/v1/analytics/recommendations/customers/{id}{query}");
    let yan = get(&platform, &reader, &for_customer(y, "")).await;
    assert_eq!(yan["method"], "item_based_cooccurrence");
    assert!(yan.get("fallback").is_none());
    assert_eq!(yan["purchased_product_count"], 2);
    assert_eq!(
        suggestions(&yan),
        [
            (b.clone(), 0.75, vec![a.clone()]),
            (e.clone(), 0.5, vec![a.clone()])
        ]
    );
    // Tom bought {B} and {C}: A is reached from both, conf(C→A) + conf(B→A) = 2/3 + 3/5 =
    // 19/15; E from B alone, 3/5.
    let tom = get(&platform, &reader, &for_customer(t, "")).await;
    assert_eq!(tom["method"], "item_based_cooccurrence");
    assert_eq!(
        suggestions(&tom),
        [
            (a.clone(), 1.266_667, vec![c.clone(), b.clone()]),
            (e.clone(), 0.6, vec![b.clone()])
        ]
    );
    // Wes bought D alone: no associations, so the most popular products he has not bought:
    // B (5/8), A (4/8), then C and E (3/8 each; C's baskets have two customers, E's one).
    let wes = get(&platform, &reader, &for_customer(w, "")).await;
    assert_eq!(wes["method"], "most_popular");
    assert_eq!(wes["fallback"], "no_associations");
    assert_eq!(
        suggestions(&wes),
        [
            (b.clone(), 0.625, vec![]),
            (a.clone(), 0.5, vec![]),
            (c.clone(), 0.375, vec![]),
            (e.clone(), 0.375, vec![])
        ]
    );
    // Nia never bought: the most popular products, D last.
    let nia = get(&platform, &reader, &for_customer(n, "?limit=5")).await;
    assert_eq!(nia["method"], "most_popular");
    assert_eq!(nia["fallback"], "no_history");
    assert_eq!(nia["purchased_product_count"], 0);
    let ids: Vec<String> = suggestions(&nia).into_iter().map(|x| x.0).collect();
    assert_eq!(ids, [b.clone(), a.clone(), c.clone(), e.clone(), d.clone()]);
    // Vic bought {A,B,E}: C from A (0.5).
    let vic = get(&platform, &reader, &for_customer(v, "?limit=1")).await;
    assert_eq!(suggestions(&vic), [(c.clone(), 0.5, vec![a.clone()])]);

    // Archived products are never suggested.
    json_of(
        send(
            &platform,
            reqwest::Method::DELETE,
            &format!("/v1/products/{e}"),
            &owner.token,
            None,
        )
        .await,
        200,
    )
    .await;
    let ids: Vec<String> = companions(&get(&platform, &reader, &product(&a, "")).await)
        .into_iter()
        .map(|x| x.0)
        .collect();
    assert_eq!(ids, [c.clone(), b.clone()]);
    let yan = get(&platform, &reader, &for_customer(y, "")).await;
    assert_eq!(suggestions(&yan), [(b.clone(), 0.75, vec![a.clone()])]);
    let ids: Vec<String> = suggestions(&get(&platform, &reader, &for_customer(n, "")).await)
        .into_iter()
        .map(|x| x.0)
        .collect();
    assert_eq!(ids, [b.clone(), a.clone(), c.clone(), d.clone()]);

    // Re-runs rebuild the same rows, also two at once (they take turns on the build row).
    build(&platform).await;
    assert_eq!(pairs(&platform, owner.tenant).await, built);
    let (one, two) = tokio::join!(build(&platform), build(&platform));
    assert_eq!(
        (one["failed"].clone(), two["failed"].clone()),
        (json!(0), json!(0))
    );
    assert_eq!(pairs(&platform, owner.tenant).await, built);
    let runs = scalar(
        &platform,
        "SELECT runs FROM analytics.recommendation_builds WHERE tenant_id = $1",
        owner.tenant,
    )
    .await;
    assert_eq!(runs, 4);

    // With C and D archived too, Vic (A, B, E) has bought everything still on sale.
    for archived in [&c, &d] {
        json_of(
            send(
                &platform,
                reqwest::Method::DELETE,
                &format!("/v1/products/{archived}"),
                &owner.token,
                None,
            )
            .await,
            200,
        )
        .await;
    }
    let vic = get(&platform, &reader, &for_customer(v, "")).await;
    assert_eq!(vic["method"], "most_popular");
    assert_eq!(vic["fallback"], "all_bought");
    assert_eq!(vic["items"], json!([]));

    // Validation, permission, locations and tenants.
    for (path, status, code) in [
        (product(&a, "?by=support"), 422, "invalid_by"),
        (product(&a, "?limit=0"), 422, "invalid_limit"),
        (product(&a, "?limit=51"), 422, "invalid_limit"),
        (product(&a, "?limit=many"), 400, "invalid_query"),
        (for_customer(y, "?limit=51"), 422, "invalid_limit"),
        (product(&Uuid::now_v7().to_string(), ""), 404, "not_found"),
        (product("not-a-uuid", ""), 404, "not_found"),
        (for_customer(Uuid::now_v7(), ""), 404, "not_found"),
        (
            "/v1/analytics/recommendations/customers/x".to_owned(),
            404,
            "not_found",
        ),
    ] {
        problem(
            send(&platform, reqwest::Method::GET, &path, &reader, None).await,
            status,
            code,
        )
        .await;
    }
    let staff = platform.token(
        owner.tenant,
        &["orders:read", "catalog:read", "customers:read"],
    );
    let limited = limited_reader(&platform, owner.tenant, shop);
    for path in [product(&a, ""), for_customer(y, "")] {
        problem(
            send(&platform, reqwest::Method::GET, &path, &staff, None).await,
            403,
            "permission_denied",
        )
        .await;
        problem(
            send(&platform, reqwest::Method::GET, &path, &limited, None).await,
            403,
            "location_denied",
        )
        .await;
    }
    // Another tenant: this tenant's product and customer ids are unknown there, and its own
    // build has nothing of this one's.
    let other = sign_up(&platform, "recommendations-other").await;
    let outsider = platform.token(other.tenant, &["analytics:read"]);
    for path in [product(&a, ""), for_customer(y, "")] {
        problem(
            send(&platform, reqwest::Method::GET, &path, &outsider, None).await,
            404,
            "not_found",
        )
        .await;
    }
    let theirs = customer(&platform, &other, "Zed").await;
    build(&platform).await;
    let zed = get(&platform, &outsider, &for_customer(theirs, "")).await;
    assert_eq!(zed["method"], "most_popular");
    assert_eq!(zed["items"], json!([]));
    assert_eq!(zed["build"]["basket_count"], 0);
    platform.stop().await;
}
