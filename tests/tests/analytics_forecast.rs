//! The demand forecast and the sales anomalies through the whole platform: weeks of orders
//! taken through the API with their tills' past `created_at`, rolled up by the `rollup-sales`
//! job, then read back as a forecast with its backtest and reorder suggestion, and as the
//! days that stand out; validation, permission, location scoping and tenant isolation of both.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use chrono::{Datelike, Days, NaiveDate, NaiveTime, Utc};
use common::api::{self, json_of, post, send};
use common::sales::stocked;
use common::{Owner, TestPlatform, problem, sign_up};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

/// Quantities sold by weekday (Monday first) in the forecast's history.
const WEEK: [i64; 7] = [2, 3, 4, 5, 9, 12, 6];
/// A deterministic wiggle on top (period 11, so it is not weekly), summing to 0 per period.
const WIGGLE: [i64; 11] = [0, 1, -1, 0, 1, 0, -1, 0, 0, 1, -1];

/// The business date of now at the sign-up location (Europe/Paris, midnight cutoff).
fn today() -> NaiveDate {
    olympus::sales::orders::business_date("Europe/Paris", NaiveTime::MIN, Utc::now())
}

fn days_before(date: NaiveDate, days: u64) -> NaiveDate {
    date.checked_sub_days(Days::new(days)).unwrap()
}

fn weekday(date: NaiveDate) -> usize {
    date.weekday().num_days_from_monday() as usize
}

async fn get(platform: &TestPlatform, token: &str, path: &str) -> reqwest::Response {
    send(platform, Method::GET, path, token, None).await
}

/// A placed takeout order of `quantity` × `variant` at the owner's location on `date`
/// (11:00Z: midday in Paris, summer or winter).
async fn sell(
    platform: &TestPlatform,
    owner: &Owner,
    variant: &str,
    date: NaiveDate,
    quantity: i64,
) {
    json_of(
        post(
            platform,
            &owner.token,
            "/v1/orders",
            &json!({"location_id": owner.location, "channel": "takeout", "source": "pos",
                    "created_at": format!("{date}T11:00:00Z"), "place": true,
                    "lines": [{"variant_id": variant, "quantity": quantity}]}),
        )
        .await,
        201,
    )
    .await;
}

/// An untracked product at `price`; its variant id.
async fn product(platform: &TestPlatform, owner: &Owner, name: &str, price: i64) -> String {
    let product = api::untracked_product(platform, &owner.token, name, price).await;
    product["variants"][0]["id"].as_str().unwrap().to_owned()
}

async fn roll_up(platform: &TestPlatform) {
    let response = platform
        .http
        .post(platform.url("/jobs/rollup-sales"))
        .send()
        .await
        .unwrap();
    json_of(response, 200).await;
}

/// A token of `tenant` with `analytics:read` limited to `locations`.
fn limited_reader(platform: &TestPlatform, tenant: Uuid, locations: Vec<Uuid>) -> String {
    let config = platform.platform.state.config();
    let mut claims = olympus::testing::tokens::claims(
        tenant,
        Uuid::now_v7(),
        &["analytics:read"],
        &config.auth_issuer,
        &config.auth_audience,
    );
    claims.locs = Some(locations);
    platform.keys.mint(&claims).unwrap()
}

fn f(value: &Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("not a number: {value}"))
}

#[tokio::test]
async fn the_forecast_learns_the_weekly_pattern_and_suggests_a_reorder() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "forecast").await;
    let today = today();
    // Seven weeks of history ending yesterday: WEEK by weekday plus the wiggle.
    let history: Vec<(NaiveDate, i64)> = (1..=49u64)
        .rev()
        .map(|k| {
            let date = days_before(today, k);
            (date, WEEK[weekday(date)] + WIGGLE[k as usize % 11])
        })
        .collect();
    let sold: i64 = history.iter().map(|(_, q)| q).sum();
    // Received so that 20 are left after the history's sales.
    let bread = stocked(&platform, &owner, sold + 20).await;
    for (date, quantity) in &history {
        sell(&platform, &owner, &bread, *date, *quantity).await;
    }
    // An untracked dish sold on the last 20 days only, one on the last 5.
    let soup = product(&platform, &owner, "Soup", 450).await;
    let pie = product(&platform, &owner, "Pie", 500).await;
    for k in 1..=20u64 {
        sell(&platform, &owner, &soup, days_before(today, k), 3).await;
    }
    for k in 1..=5u64 {
        sell(&platform, &owner, &pie, days_before(today, k), 1).await;
    }
    roll_up(&platform).await;

    let reader = platform.token(owner.tenant, &["analytics:read"]);
    let path = |variant: &str, extra: &str| {
        format!(
            "/v1/analytics/forecast?variant={variant}&location={}{extra}",
            owner.location
        )
    };
    let answer = json_of(get(&platform, &reader, &path(&bread, "")).await, 200).await;
    assert_eq!(answer["variant_id"], bread);
    assert_eq!(answer["product_name"], "Sourdough loaf");
    assert_eq!(answer["location_id"], owner.location.to_string());
    assert_eq!(answer["days"], 14);
    assert_eq!(answer["method"]["name"], "holt_winters_additive");
    assert_eq!(answer["method"]["season_days"], 7);
    // The history is the 49 days before today, every one with a sale.
    let history_answer = &answer["history"];
    assert_eq!(history_answer["from"], days_before(today, 49).to_string());
    assert_eq!(history_answer["to"], days_before(today, 1).to_string());
    assert_eq!(history_answer["days"], 49);
    assert_eq!(history_answer["days_with_sales"], 49);
    assert_eq!(history_answer["units_sold"], sold);
    // The backtest: the last 28 days forecast from the 21 before them.
    let backtest = &answer["backtest"];
    assert_eq!(backtest["from"], days_before(today, 28).to_string());
    assert_eq!(backtest["to"], days_before(today, 1).to_string());
    assert_eq!(backtest["days"], 28);
    assert_eq!(backtest["mape_days"], 28);
    // The wiggle alone is a MAPE of 20 % against the pattern (±1 on Mondays' 2 is 50 %), and
    // three weeks of history are little to learn from: within 40 %, and about a unit a day.
    assert!(f(&backtest["mape"]) < 40.0, "{backtest}");
    assert!(f(&backtest["mae"]) < 1.1, "{backtest}");
    // Two weeks from today, each day near its weekday's quantity, inside its intervals.
    let days = answer["forecast"].as_array().unwrap();
    assert_eq!(days.len(), 14);
    for (ahead, day) in days.iter().enumerate() {
        let date = today.checked_add_days(Days::new(ahead as u64)).unwrap();
        assert_eq!(day["business_date"], date.to_string());
        assert_eq!(day["weekday"], date.weekday().to_string());
        let expected = WEEK[weekday(date)] as f64;
        let quantity = f(&day["quantity"]);
        assert!(
            (quantity - expected).abs() <= 1.5,
            "{date}: {day} vs {expected}"
        );
        assert!(f(&day["lower_95"]) <= f(&day["lower_80"]));
        assert!(f(&day["lower_80"]) <= quantity && quantity <= f(&day["upper_80"]));
        assert!(f(&day["upper_80"]) <= f(&day["upper_95"]));
        assert!(f(&day["lower_95"]) >= 0.0);
    }
    let width = |day: &Value| f(&day["upper_95"]) - f(&day["quantity"]);
    assert!(width(&days[13]) >= width(&days[0]));
    // Reorder: 20 available against two weeks of about 82 units.
    let reorder = &answer["reorder"];
    assert_eq!(reorder["on_hand"], 20);
    assert_eq!(reorder["reserved"], 0);
    assert_eq!(reorder["available"], 20);
    assert_eq!(reorder["service_level"], 0.95);
    let demand = f(&reorder["demand"]);
    let pattern: i64 = (0..14u64)
        .map(|ahead| WEEK[weekday(today.checked_add_days(Days::new(ahead)).unwrap())])
        .sum();
    assert_eq!(pattern, 82);
    assert!((demand - 82.0).abs() <= 8.0, "{reorder}");
    let summed: f64 = days.iter().map(|d| f(&d["quantity"])).sum();
    assert!((demand - summed).abs() < 0.05);
    let safety = f(&reorder["safety_stock"]);
    assert!(safety > 0.0, "{reorder}");
    let suggested = reorder["suggested_quantity"].as_i64().unwrap();
    assert_eq!(
        suggested,
        (demand + safety - 20.0).ceil() as i64,
        "{reorder}"
    );
    // It runs out on the first day the forecast's running total passes 20.
    let mut total = 0.0;
    let out = days
        .iter()
        .find(|d| {
            total += f(&d["quantity"]);
            total > 20.0
        })
        .unwrap();
    assert_eq!(reorder["stockout_date"], out["business_date"]);
    // ...which the weekly pattern alone would put within a day of the same date.
    let mut total = 0;
    let by_pattern = (0..14u64)
        .map(|ahead| today.checked_add_days(Days::new(ahead)).unwrap())
        .find(|date| {
            total += WEEK[weekday(*date)];
            total > 20
        })
        .unwrap();
    let answered: NaiveDate = out["business_date"].as_str().unwrap().parse().unwrap();
    assert!((answered - by_pattern).num_days().abs() <= 1);

    // Ninety days: wider intervals at the end, and more to order.
    let long = json_of(
        get(&platform, &reader, &path(&bread, "&days=90")).await,
        200,
    )
    .await;
    let long_days = long["forecast"].as_array().unwrap();
    assert_eq!(long_days.len(), 90);
    assert!(width(&long_days[89]) > width(&long_days[0]));
    assert!(long["reorder"]["suggested_quantity"].as_i64().unwrap() > suggested);

    // Twenty days of history: a forecast, no backtest; untracked stock: no reorder.
    let soup_answer = json_of(get(&platform, &reader, &path(&soup, "")).await, 200).await;
    assert_eq!(soup_answer["history"]["days"], 20);
    assert_eq!(soup_answer["backtest"], Value::Null);
    assert_eq!(soup_answer["reorder"], Value::Null);
    assert!((f(&soup_answer["forecast"][0]["quantity"]) - 3.0).abs() < 0.5);
    // Five days: too little.
    let short = problem(
        get(&platform, &reader, &path(&pie, "")).await,
        422,
        "insufficient_history",
    )
    .await;
    assert_eq!(short["days_available"], 5);
    assert_eq!(short["days_needed"], 14);
    // Never sold, made today: nothing to learn from.
    let new = product(&platform, &owner, "New", 100).await;
    let none = problem(
        get(&platform, &reader, &path(&new, "")).await,
        422,
        "insufficient_history",
    )
    .await;
    assert_eq!(none["days_available"], 0);

    // Validation.
    for (extra, code) in [("&days=0", "invalid_days"), ("&days=91", "invalid_days")] {
        problem(
            get(&platform, &reader, &path(&bread, extra)).await,
            422,
            code,
        )
        .await;
    }
    problem(
        get(&platform, &reader, &path(&bread, "&days=two")).await,
        400,
        "invalid_query",
    )
    .await;
    problem(
        get(
            &platform,
            &reader,
            &format!("/v1/analytics/forecast?variant={bread}"),
        )
        .await,
        422,
        "location_required",
    )
    .await;
    problem(
        get(
            &platform,
            &reader,
            &format!("/v1/analytics/forecast?location={}", owner.location),
        )
        .await,
        422,
        "variant_required",
    )
    .await;
    problem(
        get(&platform, &reader, &path("not-a-uuid", "")).await,
        400,
        "invalid_query",
    )
    .await;
    problem(
        get(&platform, &reader, &path(&Uuid::now_v7().to_string(), "")).await,
        404,
        "not_found",
    )
    .await;

    // Permission, location and tenant.
    let staff = platform.token(owner.tenant, &["orders:read", "orders:write"]);
    problem(
        get(&platform, &staff, &path(&bread, "")).await,
        403,
        "permission_denied",
    )
    .await;
    let elsewhere = limited_reader(&platform, owner.tenant, vec![Uuid::now_v7()]);
    problem(
        get(&platform, &elsewhere, &path(&bread, "")).await,
        403,
        "location_denied",
    )
    .await;
    let other = sign_up(&platform, "forecast-other").await;
    let outsider = platform.token(other.tenant, &["analytics:read"]);
    problem(
        get(&platform, &outsider, &path(&bread, "")).await,
        404,
        "not_found",
    )
    .await;
    problem(
        get(
            &platform,
            &outsider,
            &format!(
                "/v1/analytics/forecast?variant={bread}&location={}",
                other.location
            ),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    platform.stop().await;
}

/// Units sold by weekday (Monday first) in the anomalies' history, and an offset per 7-day
/// block (block 0 is the oldest) so the weeks differ.
const BASE: [i64; 7] = [8, 8, 9, 10, 14, 16, 12];
const OFFSET: [i64; 10] = [-2, 1, 0, 2, -1, 3, -2, 0, 1, -1];

#[tokio::test]
async fn anomalies_flag_the_planted_spike_and_drop_for_their_tenant_and_readers_only() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "anomalies").await;
    let today = today();
    let dish = product(&platform, &owner, "Dish of the day", 1000).await;
    // Ten blocks of 7 days ending yesterday. Planted: nothing sold 14 days ago (the first day
    // of block 8), three times the usual yesterday (the last day of block 9).
    let drop_day = days_before(today, 14);
    let spike_day = days_before(today, 1);
    for k in (1..=70u64).rev() {
        let date = days_before(today, k);
        let block = (70 - k as usize) / 7;
        let mut quantity = BASE[weekday(date)] + OFFSET[block];
        if date == drop_day {
            continue;
        }
        if date == spike_day {
            quantity = 3 * BASE[weekday(date)];
        }
        sell(&platform, &owner, &dish, date, quantity).await;
    }
    roll_up(&platform).await;

    let reader = platform.token(owner.tenant, &["analytics:read"]);
    let (from, to) = (days_before(today, 14), today);
    let path = format!("/v1/analytics/anomalies?from={from}&to={to}");
    let answer = json_of(get(&platform, &reader, &path).await, 200).await;
    assert_eq!(answer["threshold"], 3.0);
    let locations = answer["locations"].as_array().unwrap();
    assert_eq!(locations.len(), 1);
    assert_eq!(locations[0]["location_id"], owner.location.to_string());
    assert_eq!(locations[0]["currency"], "EUR");
    // 15 days: today is not over; the other 14 have 8 earlier weeks.
    assert_eq!(locations[0]["days_checked"], 14);
    assert_eq!(locations[0]["days_skipped_incomplete"], 1);
    assert_eq!(locations[0]["days_skipped_history"], 0);
    let found = answer["anomalies"].as_array().unwrap();
    assert_eq!(found.len(), 2, "{found:#?}");
    // The drop: blocks 0-7 of its weekday have offsets whose median is 0 and MAD 1.5
    // units, so expected = BASE, scale = 1.4826 × 1.5 units (5 % of BASE is less).
    let base = BASE[weekday(drop_day)];
    let drop = &found[0];
    assert_eq!(drop["business_date"], drop_day.to_string());
    assert_eq!(drop["location_id"], owner.location.to_string());
    assert_eq!(drop["direction"], "drop");
    assert_eq!(drop["actual_minor"], 0);
    assert_eq!(drop["expected_minor"], base * 1000);
    assert_eq!(drop["deviation_minor"], -base * 1000);
    let z = -(base as f64) / (1.4826 * 1.5);
    assert!((f(&drop["z"]) - z).abs() < 0.006, "{drop} vs {z}");
    assert_eq!(drop["history_weeks"], 8);
    // The spike: blocks 1-8 have offsets with median 0.5 and MAD 1 unit.
    let base = BASE[weekday(spike_day)];
    let spike = &found[1];
    assert_eq!(spike["business_date"], spike_day.to_string());
    assert_eq!(spike["direction"], "spike");
    assert_eq!(spike["actual_minor"], 3 * base * 1000);
    assert_eq!(spike["expected_minor"], base * 1000 + 500);
    let z = (2.0 * base as f64 - 0.5) / 1.4826;
    assert!((f(&spike["z"]) - z).abs() < 0.006, "{spike} vs {z}");

    // The same for the one location by name; a threshold above the spike's z finds nothing.
    let one = json_of(
        get(
            &platform,
            &reader,
            &format!("{path}&location={}", owner.location),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(one["anomalies"], answer["anomalies"]);
    let calm = json_of(
        get(&platform, &reader, &format!("{path}&threshold=30")).await,
        200,
    )
    .await;
    assert_eq!(calm["anomalies"], json!([]));
    // Without dates: the last 28 days, every one accounted for.
    let recent = json_of(
        get(&platform, &reader, "/v1/analytics/anomalies").await,
        200,
    )
    .await;
    let counted = &recent["locations"][0];
    let days = [
        "days_checked",
        "days_skipped_history",
        "days_skipped_incomplete",
    ]
    .iter()
    .map(|k| counted[k].as_i64().unwrap())
    .sum::<i64>();
    assert_eq!(days, 28);
    // The first 56 days (blocks 0-7) hold the block-0 weeks, so the oldest days lack history.
    let early = json_of(
        get(
            &platform,
            &reader,
            &format!(
                "/v1/analytics/anomalies?from={}&to={}",
                days_before(today, 70),
                days_before(today, 43)
            ),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(early["locations"][0]["days_skipped_history"], 28);

    // Validation.
    for (query, status, code) in [
        ("threshold=0", 422, "invalid_threshold"),
        ("threshold=60", 422, "invalid_threshold"),
        ("threshold=high", 400, "invalid_query"),
        ("from=2026-11-01", 422, "invalid_range"),
        ("from=2026-11-01&to=2026-11-31", 422, "invalid_date"),
        ("from=2024-01-01&to=2026-11-01", 422, "range_too_long"),
    ] {
        problem(
            get(
                &platform,
                &reader,
                &format!("/v1/analytics/anomalies?{query}"),
            )
            .await,
            status,
            code,
        )
        .await;
    }

    // Permission, location and tenant.
    let staff = platform.token(owner.tenant, &["orders:read", "orders:write"]);
    problem(
        get(&platform, &staff, &path).await,
        403,
        "permission_denied",
    )
    .await;
    let elsewhere = limited_reader(&platform, owner.tenant, vec![Uuid::now_v7()]);
    problem(
        get(
            &platform,
            &elsewhere,
            &format!("{path}&location={}", owner.location),
        )
        .await,
        403,
        "location_denied",
    )
    .await;
    let scoped = json_of(get(&platform, &elsewhere, &path).await, 200).await;
    assert_eq!(scoped["locations"], json!([]));
    assert_eq!(scoped["anomalies"], json!([]));
    let other = sign_up(&platform, "anomalies-other").await;
    let outsider = platform.token(other.tenant, &["analytics:read"]);
    problem(
        get(
            &platform,
            &outsider,
            &format!("{path}&location={}", owner.location),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    let theirs = json_of(get(&platform, &outsider, &path).await, 200).await;
    let their_locations = theirs["locations"].as_array().unwrap();
    assert_eq!(their_locations.len(), 1);
    assert_eq!(
        their_locations[0]["location_id"],
        other.location.to_string()
    );
    assert_eq!(their_locations[0]["days_checked"], 0);
    assert_eq!(theirs["anomalies"], json!([]));
    platform.stop().await;
}
