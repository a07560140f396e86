//! Analytics through the whole platform: the business day's cutoff (locations, order dating,
//! the SQL twin of the rule).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::sales::{json_of, post, stocked};
use common::{TestPlatform, problem, sign_up};
use serde_json::{Value, json};

async fn patch_location(
    platform: &TestPlatform,
    token: &str,
    location: impl std::fmt::Display,
    version: i64,
    body: &Value,
) -> reqwest::Response {
    platform
        .request(
            reqwest::Method::PATCH,
            &format!("/v1/locations/{location}"),
            token,
        )
        .header("if-match", version.to_string())
        .json(body)
        .send()
        .await
        .unwrap()
}

/// An order of one `variant` at `location` with the till's clock at `at`.
fn order_at(location: impl std::fmt::Display, variant: &str, at: &str) -> Value {
    json!({"location_id": location.to_string(), "channel": "takeout", "source": "pos",
           "created_at": at, "lines": [{"variant_id": variant, "quantity": 1}]})
}

#[tokio::test]
async fn a_day_cutoff_dates_small_hours_orders_on_the_evening_before() {
    let platform = TestPlatform::start(None).await;
    let owner = sign_up(&platform, "analytics-cutoff").await;

    // The cutoff is part of the location, validated, defaulting to midnight.
    let location = json_of(
        platform
            .request(
                reqwest::Method::GET,
                &format!("/v1/locations/{}", owner.location),
                &owner.token,
            )
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(location["day_cutoff"], "00:00");
    for bad in ["12:00", "4:00", "24:00", "noon"] {
        let body = problem(
            patch_location(
                &platform,
                &owner.token,
                owner.location,
                1,
                &json!({"day_cutoff": bad}),
            )
            .await,
            422,
            "invalid_day_cutoff",
        )
        .await;
        assert_eq!(body["field"], "day_cutoff");
    }
    problem(
        post(
            &platform,
            &owner.token,
            "/v1/locations",
            &json!({"name": "Late bar", "day_cutoff": "13:30"}),
        )
        .await,
        422,
        "invalid_day_cutoff",
    )
    .await;
    let updated = json_of(
        patch_location(
            &platform,
            &owner.token,
            owner.location,
            1,
            &json!({"time_zone": "America/New_York", "day_cutoff": "04:00"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(updated["day_cutoff"], "04:00");
    assert_eq!(updated["time_zone"], "America/New_York");
    let listed = json_of(
        platform
            .request(reqwest::Method::GET, "/v1/locations", &owner.token)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(listed["items"][0]["day_cutoff"], "04:00");

    // 01:30 local (EST) with a 04:00 cutoff is the previous business day; 04:30 is the day's.
    let variant = stocked(&platform, &owner, 100).await;
    for (at, date) in [
        ("2026-11-20T06:30:00Z", "2026-11-19"),
        ("2026-11-20T09:30:00Z", "2026-11-20"),
        // Both 01:30s of the fall-back night (EDT, then EST) and 03:59 EST: still the 31st.
        ("2026-11-01T05:30:00Z", "2026-10-31"),
        ("2026-11-01T06:30:00Z", "2026-10-31"),
        ("2026-11-01T08:59:00Z", "2026-10-31"),
        ("2026-11-01T09:00:00Z", "2026-11-01"),
        // 03:30 EDT on the spring-forward night.
        ("2026-03-08T07:30:00Z", "2026-03-07"),
    ] {
        let order = json_of(
            post(
                &platform,
                &owner.token,
                "/v1/orders",
                &order_at(owner.location, &variant, at),
            )
            .await,
            201,
        )
        .await;
        assert_eq!(order["business_date"], date, "{at}");
    }
    platform.stop().await;
}

#[tokio::test]
async fn the_sql_business_date_matches_the_rust_rule() {
    let platform = TestPlatform::start(None).await;
    let admin = platform.admin().await;
    let sql = format!(
        "SELECT {}::text",
        olympus::analytics::business_date_sql(
            "$1::text::timestamptz",
            "$2::text",
            "$3::text::time"
        )
    );
    for (zone, cutoff, at, expected) in olympus::analytics::BUSINESS_DATE_CASES {
        let row = admin.query_one(&sql, &[at, zone, cutoff]).await.unwrap();
        let date: String = row.get(0);
        assert_eq!(&date, expected, "{zone} cutoff {cutoff} at {at}");
    }
    platform.stop().await;
}
