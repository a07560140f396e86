//! Analytics through the whole platform: the business day's cutoff (locations, order dating,
//! the SQL twin of the rule); the sales rollups against a direct computation from the orders
//! (idempotent re-runs and backfills, late changes picked up incrementally, concurrent runs,
//! a watermark that waits for open transactions); the reports' figures, validation, location
//! scoping, permission and tenant isolation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use chrono::NaiveDate;
use common::api;
use common::sales::{json_of, post, stocked};
use common::{TestPlatform, problem, sign_up};
use serde_json::{Value, json};
use uuid::Uuid;

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

// ---------------------------------------------------------------------------------------------
// The rollups against the orders they come from.

/// A shop for the rollup tests: the sign-up location (Europe/Paris, midnight cutoff) and a
/// second one in New York with a 04:00 cutoff (plan `pro`), a 10 % exclusive tax, a costed
/// product (500, cost 200) and an uncosted one (350), neither stock-tracked.
struct Shop {
    owner: common::Owner,
    paris: Uuid,
    new_york: Uuid,
    costed: String,
    uncosted: String,
}

async fn shop(platform: &TestPlatform, slug: &str) -> Shop {
    let owner = sign_up(platform, slug).await;
    api::upgrade_to_pro(platform, owner.tenant).await;
    let new_york = json_of(
        post(
            platform,
            &owner.token,
            "/v1/locations",
            &json!({"name": "Broadway", "time_zone": "America/New_York", "day_cutoff": "04:00"}),
        )
        .await,
        201,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    json_of(
        post(
            platform,
            &owner.token,
            "/v1/tax-rates",
            &json!({"name": "VAT", "tax_category": "standard", "rate_bps": 1000,
                    "inclusive": false}),
        )
        .await,
        201,
    )
    .await;
    let mut variants = Vec::new();
    for (name, price, cost) in [("Pie", 500, Some(200)), ("Tea", 350, None)] {
        let product = json_of(
            post(
                platform,
                &owner.token,
                "/v1/products",
                &json!({"name": name, "price_minor": price, "cost_minor": cost,
                        "track_inventory": false}),
            )
            .await,
            201,
        )
        .await;
        variants.push(product["variants"][0]["id"].as_str().unwrap().to_owned());
    }
    let uncosted = variants.pop().unwrap();
    let costed = variants.pop().unwrap();
    Shop {
        paris: owner.location,
        owner,
        new_york,
        costed,
        uncosted,
    }
}

impl Shop {
    /// Takes an order (`extra` merged into the body) and answers it.
    async fn order(
        &self,
        platform: &TestPlatform,
        location: Uuid,
        at: &str,
        lines: &[(&str, i64)],
        extra: Value,
    ) -> Value {
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
        .await
    }

    async fn act(&self, platform: &TestPlatform, order: &Value, action: &str, body: Value) {
        let id = order["id"].as_str().unwrap();
        json_of(
            post(
                platform,
                &self.owner.token,
                &format!("/v1/orders/{id}/{action}"),
                &body,
            )
            .await,
            if action == "payments" { 201 } else { 200 },
        )
        .await;
    }

    /// Pays `order` in full by card and refunds `amount` of it now.
    async fn refund(&self, platform: &TestPlatform, order: &Value, amount: i64) {
        let id = order["id"].as_str().unwrap();
        let payment = json_of(
            post(
                platform,
                &self.owner.token,
                &format!("/v1/orders/{id}/payments"),
                &json!({"tender": "card", "amount_minor": order["total_minor"],
                        "reference": "ch_1", "card_brand": "Visa", "card_last4": "4242"}),
            )
            .await,
            201,
        )
        .await;
        let payment = payment["payment"]["id"]
            .as_str()
            .or(payment["id"].as_str())
            .unwrap()
            .to_owned();
        json_of(
            post(
                platform,
                &self.owner.token,
                &format!("/v1/payments/{payment}/refunds"),
                &json!({"amount_minor": amount, "reason": "burnt"}),
            )
            .await,
            201,
        )
        .await;
    }
}

/// The daily figures computed straight from the orders, lines and refunds (admin SQL), in the
/// order and shape of [`rolled_up`].
const EXPECTED_DAILY: &str = "
    WITH sold AS (
        SELECT * FROM sales.orders
        WHERE tenant_id = $1 AND status IN ('placed', 'completed')
    ),
    line_sums AS (
        SELECT order_id, sum(quantity) AS items,
               coalesce(sum(cost_minor * quantity), 0) AS cogs,
               coalesce(sum(quantity) FILTER (WHERE cost_minor IS NOT NULL), 0) AS costed
        FROM sales.order_lines WHERE tenant_id = $1 GROUP BY order_id
    ),
    by_day AS (
        SELECT s.location_id, s.business_date, count(*) AS orders,
               sum(s.subtotal_minor) AS gross, sum(s.discount_minor) AS discounts,
               sum(s.subtotal_minor - s.discount_minor) AS net, sum(s.tax_minor) AS tax,
               sum(s.tip_minor) AS tips, sum(s.service_charge_minor) AS charges,
               sum(s.total_minor) AS total, sum(coalesce(s.party_size, 0)) AS covers,
               sum(coalesce(l.items, 0)) AS items, sum(coalesce(l.cogs, 0)) AS cogs,
               sum(coalesce(l.costed, 0)) AS costed
        FROM sold s LEFT JOIN line_sums l ON l.order_id = s.id
        GROUP BY 1, 2
    ),
    refunded AS (
        SELECT o.location_id,
               ((r.created_at AT TIME ZONE l.time_zone) - l.day_cutoff::interval)::date
                   AS business_date,
               sum(r.amount_minor) AS refunds, count(*) AS refund_count
        FROM sales.refunds r
        JOIN sales.orders o ON o.id = r.order_id
        JOIN platform.locations l ON l.id = o.location_id
        WHERE r.tenant_id = $1
        GROUP BY 1, 2
    )
    SELECT location_id, business_date,
           ARRAY[coalesce(orders, 0), coalesce(gross, 0), coalesce(discounts, 0),
                 coalesce(net, 0), coalesce(tax, 0), coalesce(tips, 0), coalesce(charges, 0),
                 coalesce(total, 0), coalesce(covers, 0), coalesce(items, 0),
                 coalesce(cogs, 0), coalesce(costed, 0), coalesce(refunds, 0),
                 coalesce(refund_count, 0)]::int8[]
    FROM by_day FULL JOIN refunded USING (location_id, business_date)
    ORDER BY 1, 2";

const ROLLED_UP_DAILY: &str = "
    SELECT location_id, business_date,
           ARRAY[order_count, gross_sales_minor, discounts_minor, net_sales_minor, tax_minor,
                 tips_minor, service_charges_minor, total_minor, covers, items_sold,
                 cost_of_goods_minor, costed_items, refunds_minor, refund_count]
    FROM analytics.sales_daily WHERE tenant_id = $1
    ORDER BY 1, 2";

type DailyRow = (Uuid, NaiveDate, Vec<i64>);

async fn daily(platform: &TestPlatform, sql: &str, tenant: Uuid) -> Vec<DailyRow> {
    platform
        .admin()
        .await
        .query(sql, &[&tenant])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect()
}

/// Asserts the daily rollup equals the direct computation, and that every breakdown (channel,
/// hour, variant) sums to it.
async fn assert_rollup_matches(platform: &TestPlatform, tenant: Uuid) -> Vec<DailyRow> {
    let expected = daily(platform, EXPECTED_DAILY, tenant).await;
    let actual = daily(platform, ROLLED_UP_DAILY, tenant).await;
    assert_eq!(actual, expected);
    let admin = platform.admin().await;
    for table in ["analytics.sales_by_channel", "analytics.sales_hourly"] {
        let mismatches: i64 = admin
            .query_one(
                &format!(
                    "SELECT count(*) FROM (
                         (SELECT location_id, business_date, order_count, net_sales_minor,
                                 refunds_minor, items_sold, covers, total_minor
                          FROM analytics.sales_daily WHERE tenant_id = $1
                          EXCEPT
                          SELECT location_id, business_date, sum(order_count),
                                 sum(net_sales_minor), sum(refunds_minor), sum(items_sold),
                                 sum(covers), sum(total_minor)
                          FROM {table} WHERE tenant_id = $1 GROUP BY 1, 2)
                         UNION ALL
                         (SELECT location_id, business_date, sum(order_count),
                                 sum(net_sales_minor), sum(refunds_minor), sum(items_sold),
                                 sum(covers), sum(total_minor)
                          FROM {table} WHERE tenant_id = $1 GROUP BY 1, 2
                          EXCEPT
                          SELECT location_id, business_date, order_count, net_sales_minor,
                                 refunds_minor, items_sold, covers, total_minor
                          FROM analytics.sales_daily WHERE tenant_id = $1)
                     ) m"
                ),
                &[&tenant],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(mismatches, 0, "{table} does not add up to the daily rollup");
    }
    let products: i64 = admin
        .query_one(
            "SELECT count(*) FROM analytics.sales_daily d
             FULL JOIN (SELECT location_id, business_date, sum(quantity) AS quantity,
                               sum(net_sales_minor) AS net, sum(cost_of_goods_minor) AS cogs
                        FROM analytics.product_sales_daily WHERE tenant_id = $1
                        GROUP BY 1, 2) p USING (location_id, business_date)
             WHERE (d.tenant_id = $1 OR d.tenant_id IS NULL)
               AND (coalesce(d.items_sold, 0) <> coalesce(p.quantity, 0)
                    OR coalesce(d.net_sales_minor, 0) <> coalesce(p.net, 0)
                    OR coalesce(d.cost_of_goods_minor, 0) <> coalesce(p.cogs, 0))",
            &[&tenant],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        products, 0,
        "the variant rollup does not add up to the daily one"
    );
    let tenant_wide: i64 = admin
        .query_one(
            "SELECT count(*) FROM (
                 (SELECT business_date, currency, sum(order_count), sum(net_sales_minor),
                         sum(refunds_minor), sum(items_sold), sum(total_minor)
                  FROM analytics.sales_daily WHERE tenant_id = $1 GROUP BY 1, 2
                  EXCEPT
                  SELECT business_date, currency, order_count, net_sales_minor, refunds_minor,
                         items_sold, total_minor
                  FROM analytics.sales_daily_tenant WHERE tenant_id = $1)
                 UNION ALL
                 (SELECT business_date, currency, order_count, net_sales_minor, refunds_minor,
                         items_sold, total_minor
                  FROM analytics.sales_daily_tenant WHERE tenant_id = $1
                  EXCEPT
                  SELECT business_date, currency, sum(order_count), sum(net_sales_minor),
                         sum(refunds_minor), sum(items_sold), sum(total_minor)
                  FROM analytics.sales_daily WHERE tenant_id = $1 GROUP BY 1, 2)
             ) m",
            &[&tenant],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        tenant_wide, 0,
        "the tenant-wide days do not add up to the locations' days"
    );
    actual
}

/// Every rollup row of the tenant (but when it was written), for comparing runs.
async fn snapshot(platform: &TestPlatform, tenant: Uuid) -> Vec<String> {
    let admin = platform.admin().await;
    let mut rows = Vec::new();
    for table in [
        "analytics.sales_daily",
        "analytics.sales_daily_tenant",
        "analytics.sales_by_channel",
        "analytics.sales_hourly",
        "analytics.product_sales_daily",
    ] {
        for row in admin
            .query(
                &format!(
                    "SELECT '{table} ' || (to_jsonb(t) - 'rolled_up_at')::text AS r
                     FROM {table} t WHERE tenant_id = $1 ORDER BY r"
                ),
                &[&tenant],
            )
            .await
            .unwrap()
        {
            rows.push(row.get(0));
        }
    }
    rows
}

async fn run_job(platform: &TestPlatform) -> Value {
    let response = platform
        .http
        .post(platform.url("/jobs/rollup-sales"))
        .send()
        .await
        .unwrap();
    json_of(response, 200).await
}

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

fn row_of<'a>(rows: &'a [DailyRow], location: Uuid, date: &str) -> &'a [i64] {
    &rows
        .iter()
        .find(|(l, d, _)| *l == location && *d == day(date))
        .unwrap_or_else(|| panic!("no rollup row for {location} on {date}"))
        .2
}

#[tokio::test]
async fn rollups_equal_the_orders_rerun_the_same_and_follow_late_changes() {
    let platform = TestPlatform::start(None).await;
    let shop = shop(&platform, "analytics-rollup").await;
    let (pie, tea) = (shop.costed.as_str(), shop.uncosted.as_str());

    // Paris, 10 November: a dine-in table of four with a tip, a takeout, and an open order
    // (not a sale).
    shop.order(
        &platform,
        shop.paris,
        "2026-11-10T12:00:00Z",
        &[(pie, 2), (tea, 1)],
        json!({"channel": "dine_in", "party_size": 4, "tip_minor": 100}),
    )
    .await;
    let takeout = shop
        .order(
            &platform,
            shop.paris,
            "2026-11-10T18:30:00Z",
            &[(tea, 2)],
            json!({}),
        )
        .await;
    shop.act(&platform, &takeout, "complete", json!({})).await;
    shop.order(
        &platform,
        shop.paris,
        "2026-11-10T19:00:00Z",
        &[(pie, 5)],
        json!({"place": false}),
    )
    .await;
    // Paris, 12 November: a discounted order, and one cancelled after it was placed.
    shop.order(
        &platform,
        shop.paris,
        "2026-11-12T09:00:00Z",
        &[(pie, 1), (tea, 1)],
        json!({"discounts": [{"kind": "percent", "bps": 1000, "name": "staff"}]}),
    )
    .await;
    let cancelled = shop
        .order(
            &platform,
            shop.paris,
            "2026-11-12T10:00:00Z",
            &[(pie, 3)],
            json!({}),
        )
        .await;
    shop.act(
        &platform,
        &cancelled,
        "cancel",
        json!({"reason": "walked out"}),
    )
    .await;
    // New York: 01:00 EST on the 11th is the 10th's business day (04:00 cutoff); an order on
    // the 15th paid and partly refunded today.
    let late_night = shop
        .order(
            &platform,
            shop.new_york,
            "2026-11-11T06:00:00Z",
            &[(pie, 1)],
            json!({"channel": "delivery"}),
        )
        .await;
    assert_eq!(late_night["business_date"], "2026-11-10");
    let refunded = shop
        .order(
            &platform,
            shop.new_york,
            "2026-11-15T20:00:00Z",
            &[(tea, 3)],
            json!({}),
        )
        .await;
    shop.refund(&platform, &refunded, 150).await;

    let report = run_job(&platform).await;
    assert!(report["days"].as_u64().unwrap() >= 5, "{report}");
    let rows = assert_rollup_matches(&platform, shop.owner.tenant).await;
    // By hand: figures are [orders, gross, discounts, net, tax, tips, charges, total, covers,
    // items, cogs, costed items, refunds, refund count].
    assert_eq!(
        row_of(&rows, shop.paris, "2026-11-10"),
        [2, 2050, 0, 2050, 205, 100, 0, 2355, 4, 5, 400, 2, 0, 0]
    );
    assert_eq!(
        row_of(&rows, shop.paris, "2026-11-12")[..4],
        [1, 850, 85, 765]
    );
    assert_eq!(row_of(&rows, shop.new_york, "2026-11-10")[..2], [1, 500]);
    let today = olympus::sales::orders::business_date(
        "America/New_York",
        chrono::NaiveTime::from_hms_opt(4, 0, 0).unwrap(),
        chrono::Utc::now(),
    );
    let refund_day = row_of(&rows, shop.new_york, &today.to_string());
    assert_eq!(refund_day[12..], [150, 1]);
    assert_eq!(row_of(&rows, shop.new_york, "2026-11-15")[..2], [1, 1050]);

    // Running again, and backfilling the whole range, rewrites the same rows.
    let before = snapshot(&platform, shop.owner.tenant).await;
    run_job(&platform).await;
    assert_eq!(snapshot(&platform, shop.owner.tenant).await, before);
    let pool = platform.db.app_pool();
    let mut progress = Vec::new();
    let backfilled = olympus::analytics::rollup::backfill(
        &pool,
        shop.owner.tenant,
        day("2026-11-01"),
        today,
        &mut |p: &olympus::analytics::rollup::Progress| progress.push(*p),
    )
    .await
    .unwrap();
    assert_eq!(backfilled.days, 5);
    assert_eq!(progress.last().unwrap().days_done, 5);
    assert_eq!(snapshot(&platform, shop.owner.tenant).await, before);

    // Late changes to old days: an offline till's orders on the 10th arrive now, and the
    // 12th's order is cancelled. The next run picks both days up.
    shop.order(
        &platform,
        shop.paris,
        "2026-11-10T20:00:00Z",
        &[(pie, 1), (tea, 4)],
        json!({"client_order_id": "till-2/0007", "channel": "pickup"}),
    )
    .await;
    let discounted = platform
        .admin()
        .await
        .query_one(
            "SELECT id::text FROM sales.orders
             WHERE tenant_id = $1 AND business_date = '2026-11-12' AND status = 'placed'",
            &[&shop.owner.tenant],
        )
        .await
        .unwrap()
        .get::<_, String>(0);
    shop.act(
        &platform,
        &json!({"id": discounted}),
        "cancel",
        json!({"reason": "refused"}),
    )
    .await;
    run_job(&platform).await;
    let rows = assert_rollup_matches(&platform, shop.owner.tenant).await;
    assert_eq!(row_of(&rows, shop.paris, "2026-11-10")[..2], [3, 3950]);
    assert!(
        rows.iter()
            .all(|(l, d, _)| !(*l == shop.paris && *d == day("2026-11-12"))),
        "a day left without sales loses its row"
    );
    let state = platform
        .admin()
        .await
        .query_one(
            "SELECT runs, watermark IS NOT NULL AND watermark < now() FROM analytics.rollup_state
             WHERE tenant_id = $1",
            &[&shop.owner.tenant],
        )
        .await
        .unwrap();
    assert_eq!(state.get::<_, i64>(0), 3);
    assert!(state.get::<_, bool>(1));
    platform.stop().await;
}

#[tokio::test]
async fn concurrent_runs_take_turns_and_the_watermark_waits_for_open_transactions() {
    let platform = TestPlatform::start(None).await;
    let shop = shop(&platform, "analytics-concurrent").await;
    for (i, at) in [
        "2026-11-02T10:00:00Z",
        "2026-11-03T11:00:00Z",
        "2026-11-04T12:00:00Z",
    ]
    .iter()
    .enumerate()
    {
        for location in [shop.paris, shop.new_york] {
            shop.order(
                &platform,
                location,
                at,
                &[
                    (&shop.costed, 1 + i64::try_from(i).unwrap()),
                    (&shop.uncosted, 1),
                ],
                json!({}),
            )
            .await;
        }
    }
    let tenant = shop.owner.tenant;
    let pool = platform.db.app_pool();

    // Four incremental runs and two backfills at once: they serialise on the tenant's rollup
    // row, so nothing is counted twice (and no run trips over another's rows).
    let incremental = (0..4).map(|_| olympus::analytics::rollup::incremental(&pool, tenant));
    let backfills = (0..2).map(|_| async {
        olympus::analytics::rollup::backfill(
            &pool,
            tenant,
            day("2026-11-01"),
            day("2026-11-30"),
            &mut |_: &olympus::analytics::rollup::Progress| {},
        )
        .await
    });
    let (runs, fills) = futures::join!(
        futures::future::join_all(incremental),
        futures::future::join_all(backfills)
    );
    for outcome in runs.into_iter().chain(fills) {
        outcome.unwrap();
    }
    let rows = assert_rollup_matches(&platform, tenant).await;
    assert_eq!(rows.len(), 6);
    assert!(rows.iter().all(|(_, _, figures)| figures[0] == 1));

    // A transaction of the app role that changed an order and is still open when a run
    // starts: its change is invisible to that run, and the run's watermark stays at or before
    // the transaction's start, so the next run (after the commit) still sees it.
    let mut writer = olympus::testing::TestDb::connect(&platform.db.app_url).await;
    let tx = writer.transaction().await.unwrap();
    tx.execute(
        "SELECT set_config('app.tenant_id', $1, true)",
        &[&tenant.to_string()],
    )
    .await
    .unwrap();
    let started: chrono::DateTime<chrono::Utc> = tx
        .query_one(
            "UPDATE sales.orders SET status = 'cancelled', cancelled_at = now(),
                    updated_at = now(), version = version + 1
             WHERE id = (SELECT id FROM sales.orders WHERE business_date = '2026-11-03'
                         ORDER BY id LIMIT 1)
             RETURNING now()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    olympus::analytics::rollup::incremental(&pool, tenant)
        .await
        .unwrap();
    let watermark: chrono::DateTime<chrono::Utc> = platform
        .admin()
        .await
        .query_one(
            "SELECT watermark FROM analytics.rollup_state WHERE tenant_id = $1",
            &[&tenant],
        )
        .await
        .unwrap()
        .get(0);
    assert!(watermark <= started, "{watermark} is after {started}");
    assert_eq!(
        daily(&platform, ROLLED_UP_DAILY, tenant).await.len(),
        6,
        "the open transaction's change is not seen yet"
    );
    tx.commit().await.unwrap();
    olympus::analytics::rollup::incremental(&pool, tenant)
        .await
        .unwrap();
    let rows = assert_rollup_matches(&platform, tenant).await;
    assert_eq!(rows.len(), 5);
    platform.stop().await;
}

async fn get(platform: &TestPlatform, token: &str, path: &str) -> reqwest::Response {
    platform
        .request(reqwest::Method::GET, path, token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_reports_answer_from_the_rollups_for_their_tenant_and_readers_only() {
    let platform = TestPlatform::start(None).await;
    let shop = shop(&platform, "analytics-reports").await;
    let (pie, tea) = (shop.costed.as_str(), shop.uncosted.as_str());
    // The week of Monday 9 November: three Paris orders over two days, one in New York.
    shop.order(
        &platform,
        shop.paris,
        "2026-11-09T11:00:00Z",
        &[(pie, 2)],
        json!({"channel": "dine_in", "party_size": 2}),
    )
    .await;
    shop.order(
        &platform,
        shop.paris,
        "2026-11-09T17:00:00Z",
        &[(tea, 1)],
        json!({}),
    )
    .await;
    shop.order(
        &platform,
        shop.paris,
        "2026-11-11T12:30:00Z",
        &[(pie, 1), (tea, 2)],
        json!({}),
    )
    .await;
    shop.order(
        &platform,
        shop.new_york,
        "2026-11-11T15:00:00Z",
        &[(tea, 4)],
        json!({}),
    )
    .await;
    // The week before: one order, the comparison's base.
    shop.order(
        &platform,
        shop.paris,
        "2026-11-04T12:00:00Z",
        &[(pie, 1)],
        json!({}),
    )
    .await;
    run_job(&platform).await;

    let reader = platform.token(shop.owner.tenant, &["analytics:read"]);
    let week = json_of(
        get(
            &platform,
            &reader,
            "/v1/analytics/sales?from=2026-11-09&to=2026-11-15",
        )
        .await,
        200,
    )
    .await;
    assert_eq!(week["granularity"], "day");
    assert_eq!(week["currency"], "EUR");
    let series = week["series"].as_array().unwrap();
    assert_eq!(series.len(), 7, "every day, empty ones too");
    assert_eq!(series[0]["start"], "2026-11-09");
    assert_eq!(series[0]["order_count"], 2);
    assert_eq!(series[0]["net_sales_minor"], 1350);
    assert_eq!(series[0]["covers"], 2);
    assert_eq!(series[1]["order_count"], 0);
    assert_eq!(series[2]["order_count"], 2);
    assert_eq!(series[2]["net_sales_minor"], 1200 + 1400);
    assert_eq!(week["totals"]["order_count"], 4);
    assert_eq!(week["totals"]["net_sales_minor"], 1350 + 2600);
    assert_eq!(week["totals"]["items_sold"], 2 + 1 + 3 + 4);
    assert_eq!(week["totals"]["average_order_minor"], 988); // 3950 / 4, rounded
    assert_eq!(week["previous"]["from"], "2026-11-02");
    assert_eq!(week["previous"]["to"], "2026-11-08");
    assert_eq!(week["previous"]["totals"]["net_sales_minor"], 500);
    assert_eq!(
        week["change"]["net_sales_minor"],
        json!({"absolute": 3450, "percent": 690.0})
    );
    assert_eq!(
        week["change"]["refunds_minor"],
        json!({"absolute": 0, "percent": null})
    );

    // Weeks and months, one location, one channel, hours.
    let weekly = json_of(
        get(
            &platform,
            &reader,
            "/v1/analytics/sales?from=2026-11-01&to=2026-11-15&granularity=week",
        )
        .await,
        200,
    )
    .await;
    let spans: Vec<(&str, &str, i64)> = weekly["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["start"].as_str().unwrap(),
                b["end"].as_str().unwrap(),
                b["order_count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        spans,
        [
            ("2026-11-01", "2026-11-01", 0),
            ("2026-11-02", "2026-11-08", 1),
            ("2026-11-09", "2026-11-15", 4)
        ]
    );
    let monthly = json_of(
        get(
            &platform,
            &reader,
            "/v1/analytics/sales?from=2026-11-01&to=2026-11-30&granularity=month",
        )
        .await,
        200,
    )
    .await;
    assert_eq!(monthly["series"].as_array().unwrap().len(), 1);
    assert_eq!(monthly["series"][0]["order_count"], 5);
    let new_york = json_of(
        get(
            &platform,
            &reader,
            &format!(
                "/v1/analytics/sales?from=2026-11-09&to=2026-11-15&location={}",
                shop.new_york
            ),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(new_york["location_id"], shop.new_york.to_string());
    assert_eq!(new_york["totals"]["order_count"], 1);
    assert_eq!(new_york["totals"]["net_sales_minor"], 1400);
    let dine_in = json_of(
        get(
            &platform,
            &reader,
            "/v1/analytics/sales?from=2026-11-09&to=2026-11-15&channel=dine_in",
        )
        .await,
        200,
    )
    .await;
    assert_eq!(dine_in["totals"]["order_count"], 1);
    assert_eq!(dine_in["totals"]["net_sales_minor"], 1000);
    let hours = json_of(
        get(
            &platform,
            &reader,
            &format!(
                "/v1/analytics/sales?from=2026-11-09&to=2026-11-09&granularity=hour&location={}",
                shop.paris
            ),
        )
        .await,
        200,
    )
    .await;
    let hours: Vec<(&str, &str, i64)> = hours["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["start"].as_str().unwrap(),
                b["business_date"].as_str().unwrap(),
                b["order_count"].as_i64().unwrap(),
            )
        })
        .collect();
    // 11:00Z and 17:00Z are 12:00 and 18:00 in Paris.
    assert_eq!(
        hours,
        [
            ("2026-11-09T12:00", "2026-11-09", 1),
            ("2026-11-09T18:00", "2026-11-09", 1)
        ]
    );

    // Top products, by quantity and by net sales.
    let top = json_of(
        get(
            &platform,
            &reader,
            "/v1/analytics/products/top?from=2026-11-09&to=2026-11-15",
        )
        .await,
        200,
    )
    .await;
    assert_eq!(top["by"], "quantity");
    assert_eq!(top["limit"], 10);
    let items = top["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["product_name"], "Tea");
    assert_eq!(items[0]["quantity"], 7);
    assert_eq!(items[0]["rank"], 1);
    assert_eq!(items[1]["product_name"], "Pie");
    assert_eq!(items[1]["quantity"], 3);
    assert_eq!(items[1]["cost_of_goods_minor"], 600);
    assert_eq!(items[1]["costed_quantity"], 3);
    let by_net = json_of(
        get(
            &platform,
            &reader,
            "/v1/analytics/products/top?from=2026-11-09&to=2026-11-15&by=net_sales&limit=1",
        )
        .await,
        200,
    )
    .await;
    let items = by_net["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["product_name"], "Tea");
    assert_eq!(items[0]["net_sales_minor"], 2450);

    // Validation.
    for (query, status, code) in [
        ("sales?from=2026-11-10&to=2026-11-09", 422, "invalid_range"),
        ("sales?to=2026-11-09", 422, "invalid_range"),
        ("sales?from=2026-11-1&to=2026-11-09", 422, "invalid_date"),
        ("sales?from=2025-11-01&to=2026-11-09", 422, "range_too_long"),
        (
            "sales?from=2026-11-01&to=2026-11-09&granularity=year",
            422,
            "invalid_granularity",
        ),
        (
            "sales?from=2026-11-01&to=2026-11-09&channel=drive_thru",
            422,
            "invalid_channel",
        ),
        (
            "sales?from=2026-11-01&to=2026-11-09&location=x",
            400,
            "invalid_query",
        ),
        (
            "products/top?from=2026-11-01&to=2026-11-09&by=price",
            422,
            "invalid_by",
        ),
        (
            "products/top?from=2026-11-01&to=2026-11-09&limit=101",
            422,
            "invalid_limit",
        ),
        (
            "products/top?from=2026-11-01&to=2026-11-09&limit=0",
            422,
            "invalid_limit",
        ),
        (
            "products/top?from=2026-11-09&to=2026-11-01",
            422,
            "invalid_range",
        ),
    ] {
        problem(
            get(&platform, &reader, &format!("/v1/analytics/{query}")).await,
            status,
            code,
        )
        .await;
    }

    // Permission: without analytics:read (a staff role's permissions), 403.
    let staff = platform.token(shop.owner.tenant, &["orders:read", "orders:write"]);
    for path in ["sales", "products/top"] {
        problem(
            get(
                &platform,
                &staff,
                &format!("/v1/analytics/{path}?from=2026-11-09&to=2026-11-15"),
            )
            .await,
            403,
            "permission_denied",
        )
        .await;
    }
    // A reader limited to New York sees New York only, and may not ask for Paris.
    let config = platform.platform.state.config();
    let mut claims = olympus::testing::tokens::claims(
        shop.owner.tenant,
        Uuid::now_v7(),
        &["analytics:read"],
        &config.auth_issuer,
        &config.auth_audience,
    );
    claims.locs = Some(vec![shop.new_york]);
    let limited = platform.keys.mint(&claims).unwrap();
    let scoped = json_of(
        get(
            &platform,
            &limited,
            "/v1/analytics/sales?from=2026-11-09&to=2026-11-15",
        )
        .await,
        200,
    )
    .await;
    assert_eq!(scoped["totals"]["order_count"], 1);
    let scoped_top = json_of(
        get(
            &platform,
            &limited,
            "/v1/analytics/products/top?from=2026-11-09&to=2026-11-15",
        )
        .await,
        200,
    )
    .await;
    assert_eq!(scoped_top["items"][0]["quantity"], 4);
    problem(
        get(
            &platform,
            &limited,
            &format!(
                "/v1/analytics/sales?from=2026-11-09&to=2026-11-15&location={}",
                shop.paris
            ),
        )
        .await,
        403,
        "location_denied",
    )
    .await;

    // Another tenant sees none of it, even naming this tenant's location.
    let other = sign_up(&platform, "analytics-reports-other").await;
    let outsider = platform.token(other.tenant, &["analytics:read"]);
    let theirs = json_of(
        get(
            &platform,
            &outsider,
            &format!(
                "/v1/analytics/sales?from=2026-11-09&to=2026-11-15&location={}",
                shop.paris
            ),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(theirs["totals"]["order_count"], 0);
    assert_eq!(theirs["currency"], Value::Null);
    assert!(
        theirs["series"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["order_count"] == 0)
    );
    let their_top = json_of(
        get(
            &platform,
            &outsider,
            "/v1/analytics/products/top?from=2026-11-09&to=2026-11-15",
        )
        .await,
        200,
    )
    .await;
    assert_eq!(their_top["items"], json!([]));
    platform.stop().await;
}
