//! `dev bench-rollup`: the sales rollup over a quarter of a busy tenant, and the sales report
//! read from it (see `make bench`).
//!
//! 1. A throwaway PostgreSQL cluster (`target/bench/pg-rollup`, fsync off like every bench
//!    cluster) and a migrated database. One tenant with `--locations` locations (half in
//!    Europe/Paris, half in America/New_York, every third with a 04:00 day cutoff) and 30
//!    products of two variants (three in four with a unit cost), written with SQL.
//! 2. `--lines` order lines (3 per order) over `--days` business days, spread evenly over the
//!    locations and days, generated with `generate_series` straight into sales.orders and
//!    sales.order_lines (this measures the rollup, not order taking), each written as history
//!    (`updated_at` when it was taken): every fifth order dine-in with covers and a tip, every
//!    seventh discounted, 1 in 50 cancelled and 1 in 50 open (not sales), 1 in 20 placed, the
//!    rest completed, over five channels, 08:00 to 22:00 local and all 60 variants; 1 in 200
//!    paid by card and partly refunded a day later.
//! 3. The rollup as the `rollup-sales` job runs it, in this process over one pooled
//!    connection: the first (full) incremental run, a run with nothing changed, a run after
//!    100 late orders land on one old day, and a backfill of the whole range. Wall time of each
//!    and peak resident memory (VmHWM) of this process and of the PostgreSQL backend that did
//!    the work.
//! 4. Every function in-process ([`crate::runner::Platform`]) and `GET /v1/analytics/sales`
//!    over the whole range (granularity day, all locations) at each `--connections` count,
//!    then `GET /v1/analytics/products/top` over it -> requests/s, p50/p99.
//!
//! Targets (issue 6): the full rollup under 60 s on 2 cores; the 90-day sales report p99 under
//! 10 ms. The figures go to `target/bench/rollup.json`; a missed target is reported, not an
//! error.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Result, anyhow, bail};
use chrono::{Days, NaiveDate, Utc};
use olympus::analytics::rollup::{self, Outcome};
use olympus::testing::tokens::{self, TestKeys};
use serde::Serialize;
use uuid::Uuid;

use crate::load::{self, Outcome as LoadOutcome, Plan, Requests, round3, seconds};
use crate::pubsub::RetrySettings;
use crate::runner::{Options, Platform};
use crate::services::{self, Postgres};

/// Options of `dev bench-rollup`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Order lines to generate (three per order).
    #[arg(long, default_value_t = 1_000_000)]
    pub lines: u32,
    /// Business days they cover, ending yesterday.
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=366))]
    pub days: u32,
    /// Locations they are spread over.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub locations: u32,
    /// Concurrent keep-alive connections of each report run.
    #[arg(long, value_delimiter = ',', default_values_t = [1_u32, 4])]
    pub connections: Vec<u32>,
    /// Seconds of each counted report run.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Seconds of load before each counted run.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
}

const DATABASE: &str = "olympus_bench_rollup";
const TARGET_ROLLUP_SECONDS: f64 = 60.0;
const TARGET_P99_MS: f64 = 10.0;
const PRODUCTS: u32 = 30;
const LATE_ORDERS: i64 = 100;

#[derive(Debug, Serialize)]
struct Report {
    measured_at_unix: u64,
    cpus: usize,
    release_build: bool,
    data: Data,
    rollups: Vec<RollupRun>,
    peak_memory: Memory,
    /// The report reads called in-process (no HTTP, no token): what the database part costs.
    direct_reports: Vec<DirectRun>,
    reports: Vec<ReportRun>,
    targets: Vec<Target>,
    caveat: &'static str,
}

#[derive(Debug, Serialize)]
struct Data {
    orders: i64,
    order_lines: i64,
    refunds: i64,
    locations: u32,
    days: u32,
    from: NaiveDate,
    to: NaiveDate,
    generate_seconds: f64,
}

#[derive(Debug, Serialize)]
struct RollupRun {
    name: &'static str,
    seconds: f64,
    location_days: u64,
    rows: u64,
    days_per_second: f64,
}

#[derive(Debug, Serialize)]
struct Memory {
    /// Peak resident set of this process (the rollup driver), KiB.
    process_vm_hwm_kib: Option<u64>,
    /// Peak resident set of the PostgreSQL backend that ran the rollup's statements, KiB.
    backend_vm_hwm_kib: Option<u64>,
}

#[derive(Debug, Serialize)]
struct DirectRun {
    name: &'static str,
    calls: usize,
    p50_ms: f64,
    p99_ms: f64,
}

#[derive(Debug, Serialize)]
struct ReportRun {
    name: String,
    path: String,
    outcome: LoadOutcome,
}

#[derive(Debug, Serialize)]
struct Target {
    name: String,
    limit: String,
    measured: String,
    pass: bool,
}

const CAVEAT: &str = "load generator, functions and PostgreSQL share this machine's CPUs; the \
                      cluster runs with fsync and synchronous_commit off; the rollup's work is \
                      set-based SQL, so its memory is the backend's (work_mem, default 4 MB), \
                      not this process's";

/// Runs the benchmark and writes target/bench/rollup.json.
pub async fn run(args: Args) -> Result<()> {
    let measure = seconds("--seconds", args.seconds)?;
    let warmup = seconds("--warmup", args.warmup)?;
    if args.connections.is_empty() || args.connections.iter().any(|c| !(1..=256).contains(c)) {
        bail!("--connections must list counts of 1 to 256");
    }
    let out_dir = crate::topology::workspace_root()
        .join("target")
        .join("bench");
    std::fs::create_dir_all(&out_dir)?;
    let pg_dir = out_dir.join("pg-rollup");
    let pg = Postgres::start(&pg_dir)?;
    pg.create_database(DATABASE).await?;
    services::migrate(&pg, DATABASE).await?;

    let to = Utc::now()
        .date_naive()
        .checked_sub_days(Days::new(1))
        .ok_or_else(|| anyhow!("no yesterday"))?;
    let from = to
        .checked_sub_days(Days::new(u64::from(args.days - 1)))
        .ok_or_else(|| anyhow!("--days reaches before the calendar"))?;
    eprintln!(
        "bench-rollup: generating {} order lines over {} days and {} locations",
        args.lines, args.days, args.locations
    );
    let generating = Instant::now();
    let admin = services::connect(&pg.admin_url(DATABASE)).await?;
    let tenant = generate(&admin, &args, from).await?;
    let data = counts(&admin, tenant, &args, from, to, generating.elapsed()).await?;
    eprintln!(
        "bench-rollup: {} orders, {} lines, {} refunds in {:.1} s",
        data.orders, data.order_lines, data.refunds, data.generate_seconds
    );

    // One connection, so every statement of the rollup runs in the backend measured below.
    let pool = olympus::db::pool(&pg.app_url(DATABASE), 1).map_err(|e| anyhow!("{e}"))?;
    let backend_pid: i32 = pool
        .get()
        .await?
        .query_one("SELECT pg_backend_pid()", &[])
        .await?
        .try_get(0)?;
    let mut rollups = Vec::new();
    eprintln!("bench-rollup: full rollup (first incremental run)");
    rollups.push(
        timed(
            "full (first incremental run)",
            rollup::incremental(&pool, tenant),
        )
        .await?,
    );
    eprintln!("bench-rollup: incremental run, nothing changed");
    rollups.push(
        timed(
            "incremental, nothing changed",
            rollup::incremental(&pool, tenant),
        )
        .await?,
    );
    late_orders(&admin, tenant, from).await?;
    eprintln!("bench-rollup: incremental run after {LATE_ORDERS} late orders on one old day");
    rollups.push(
        timed(
            "incremental, 100 late orders on one day",
            rollup::incremental(&pool, tenant),
        )
        .await?,
    );
    eprintln!("bench-rollup: backfill of the whole range");
    let mut quiet = |_: &rollup::Progress| {};
    rollups.push(
        timed(
            "backfill of the whole range",
            rollup::backfill(&pool, tenant, from, to, &mut quiet),
        )
        .await?,
    );
    let direct = direct_reports(&pool, tenant, from, to).await?;
    let peak_memory = Memory {
        process_vm_hwm_kib: vm_hwm_kib("self"),
        backend_vm_hwm_kib: vm_hwm_kib(&backend_pid.to_string()),
    };
    drop(pool);

    let reports = Box::pin(load_reports(&pg, tenant, &args, from, to, warmup, measure)).await?;
    drop(admin);
    drop(pg);

    let mut targets = Vec::new();
    if let Some(full) = rollups.first() {
        targets.push(Target {
            name: "full rollup wall time".to_owned(),
            limit: format!("< {TARGET_ROLLUP_SECONDS} s"),
            measured: format!("{} s", full.seconds),
            pass: full.seconds < TARGET_ROLLUP_SECONDS,
        });
    }
    for run in reports.iter().filter(|r| r.path.contains("/sales")) {
        targets.push(Target {
            name: format!("{} p99", run.name),
            limit: format!("< {TARGET_P99_MS} ms"),
            measured: format!("{} ms", run.outcome.latency.p99_ms),
            pass: run.outcome.latency.p99_ms < TARGET_P99_MS,
        });
    }
    let report = Report {
        measured_at_unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs()),
        cpus: std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        release_build: !cfg!(debug_assertions),
        data,
        rollups,
        peak_memory,
        direct_reports: direct,
        reports,
        targets,
        caveat: CAVEAT,
    };
    let json_path = out_dir.join("rollup.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&report)? + "\n")?;
    print_report(&report, &json_path);
    let _ = std::fs::remove_dir_all(&pg_dir);
    Ok(())
}

async fn timed(
    name: &'static str,
    run: impl Future<Output = Result<Outcome, olympus::Error>>,
) -> Result<RollupRun> {
    let started = Instant::now();
    let outcome = run
        .await
        .map_err(|e| anyhow!("{name}: {}", e.cause_chain()))?;
    let seconds = started.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)] // a rate for the report
    let days_per_second = round3(outcome.days as f64 / seconds.max(1e-6));
    Ok(RollupRun {
        name,
        seconds: round3(seconds),
        location_days: outcome.days,
        rows: outcome.rows,
        days_per_second,
    })
}

/// The two report reads called directly, one after another over one pooled connection.
async fn direct_reports(
    pool: &olympus::db::Pool,
    tenant: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<DirectRun>> {
    use olympus::analytics::report::{self, Granularity, Range, Scope, TopBy};
    const CALLS: usize = 300;
    let range = Range { from, to };
    let scope = Scope::default();
    let client = pool.get().await?;
    let mut runs = Vec::new();
    for name in ["sales report, by day", "top products, by net sales"] {
        let mut took = Vec::with_capacity(CALLS);
        for _ in 0..CALLS {
            let started = Instant::now();
            if name.starts_with("sales") {
                report::sales(&client, tenant, range, Granularity::Day, &scope, None)
                    .await
                    .map_err(|e| anyhow!("{name}: {}", e.cause_chain()))?;
            } else {
                report::top_products(&client, tenant, range, TopBy::NetSales, 10, &scope)
                    .await
                    .map_err(|e| anyhow!("{name}: {}", e.cause_chain()))?;
            }
            took.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        took.sort_by(f64::total_cmp);
        let at = |q: f64| {
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss
            )] // an index into the sorted sample
            let i = ((took.len() - 1) as f64 * q).round() as usize;
            round3(took[i])
        };
        runs.push(DirectRun {
            name,
            calls: CALLS,
            p50_ms: at(0.50),
            p99_ms: at(0.99),
        });
    }
    Ok(runs)
}

/// VmHWM (peak resident set, KiB) of `/proc/<pid>/status`.
fn vm_hwm_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

/// The tenant, its locations, products and orders, written as the superuser (so without RLS
/// and, for the bulk rows, without per-row foreign-key triggers). Answers the tenant.
async fn generate(admin: &tokio_postgres::Client, args: &Args, from: NaiveDate) -> Result<Uuid> {
    let tenant = Uuid::now_v7();
    let orders = i32::try_from(args.lines.div_ceil(3))?;
    let locations = i32::try_from(args.locations)?;
    let days = i32::try_from(args.days)?;
    admin
        .execute(
            "INSERT INTO platform.tenants (id, slug, name, currency, time_zone, plan)
             VALUES ($1, 'bench-rollup', 'Bench Rollup', 'EUR', 'Europe/Paris', 'enterprise')",
            &[&tenant],
        )
        .await?;
    admin
        .execute(
            "INSERT INTO platform.tenant_directory (slug, tenant_id) VALUES ('bench-rollup', $1)",
            &[&tenant],
        )
        .await?;
    admin
        .execute(
            "INSERT INTO platform.locations (id, tenant_id, name, time_zone, currency, day_cutoff,
                                             created_at, updated_at)
             SELECT gen_random_uuid(), $1, 'Bench ' || i,
                    CASE WHEN i % 2 = 0 THEN 'Europe/Paris' ELSE 'America/New_York' END, 'EUR',
                    CASE WHEN i % 3 = 0 THEN time '04:00' ELSE time '00:00' END,
                    $3::date - 1, $3::date - 1
             FROM generate_series(1, $2) i",
            &[&tenant, &locations, &from],
        )
        .await?;
    admin
        .execute(
            "CREATE TEMP TABLE bench_variants AS
             SELECT (row_number() OVER (ORDER BY p.n, s.extra) - 1)::int AS idx,
                    gen_random_uuid() AS id, p.id AS product_id, p.name AS product_name,
                    s.size AS variant_name, 250 + (p.n * 37) % 900 + s.extra AS price,
                    CASE WHEN p.n % 4 = 0 THEN NULL
                         ELSE (250 + (p.n * 37) % 900 + s.extra) * 3 / 10 END AS cost
             FROM (SELECT gen_random_uuid() AS id, 'Product ' || n AS name, n
                   FROM generate_series(1, $1) n) p
             CROSS JOIN (VALUES ('S', 0), ('L', 80)) s (size, extra)",
            &[&i32::try_from(PRODUCTS)?],
        )
        .await?;
    admin
        .batch_execute(&format!(
            "INSERT INTO catalog.products (id, tenant_id, name)
             SELECT DISTINCT product_id, '{tenant}'::uuid, product_name FROM bench_variants;
             INSERT INTO catalog.variants (id, tenant_id, product_id, name, price_minor,
                                           cost_minor, track_inventory, position)
             SELECT id, '{tenant}'::uuid, product_id, variant_name, price, cost, false, idx
             FROM bench_variants;"
        ))
        .await?;
    let variants = i32::try_from(PRODUCTS * 2)?;
    admin
        .execute(
            "CREATE TEMP TABLE bench_orders AS
             WITH locs AS (
                 SELECT array_agg(id ORDER BY name) AS ids,
                        array_agg(time_zone ORDER BY name) AS zones
                 FROM platform.locations WHERE tenant_id = $1
             ),
             -- Order n is the k-th of day d at location loc; what varies between orders of
             -- one location-day (channel, time, status, lines) follows k.
             numbered AS (
                 SELECT n, n % $3 AS loc, (n / $3) % $5 AS d, n / ($3 * $5) AS k
                 FROM generate_series(0, $2 - 1) n
             )
             SELECT n, k, d, gen_random_uuid() AS id, locs.ids[1 + loc] AS location_id,
                    $4::date + d AS business_date,
                    (($4::date + d) + time '08:00' + ((k * 7) % 840) * interval '1 minute')
                        AT TIME ZONE locs.zones[1 + loc] AS ordered_at,
                    CASE WHEN k % 50 = 0 THEN 'cancelled' WHEN k % 50 = 1 THEN 'open'
                         WHEN k % 20 = 2 THEN 'placed' ELSE 'completed' END AS status,
                    (ARRAY['dine_in', 'takeout', 'delivery', 'pickup', 'online'])[1 + k % 5]
                        AS channel,
                    CASE WHEN k % 5 = 0 THEN 1 + (k / 5) % 4 END AS party_size,
                    CASE WHEN k % 5 = 0 THEN 100 ELSE 0 END AS tip,
                    k % 200 = 3 AS refunded
             FROM numbered, locs",
            &[&tenant, &orders, &locations, &from, &days],
        )
        .await?;
    admin
        .execute(
            "CREATE TEMP TABLE bench_lines AS
             SELECT o.id AS order_id, i AS position, v.id AS variant_id, v.product_id,
                    v.product_name, v.variant_name, v.price, v.cost,
                    1 + (o.k + i) % 3 AS quantity,
                    CASE WHEN o.k % 7 = 0 THEN 50 ELSE 0 END AS discount
             FROM bench_orders o
             CROSS JOIN generate_series(0, 2) i
             JOIN bench_variants v ON v.idx = (o.k * 3 + i + o.d) % $1",
            &[&variants],
        )
        .await?;
    admin
        .batch_execute(&format!(
            "SET session_replication_role = replica;
             INSERT INTO sales.orders
                    (id, tenant_id, location_id, number, business_date, status, channel, source,
                     party_size, currency, subtotal_minor, discount_minor, tax_minor,
                     tax_included_minor, service_charge_minor, tip_minor, total_minor,
                     paid_minor, refunded_minor, ordered_at, placed_at, completed_at,
                     cancelled_at, created_at, updated_at)
             SELECT o.id, '{tenant}'::uuid, o.location_id, 'B-' || o.n, o.business_date,
                    o.status, o.channel, 'pos', o.party_size, 'EUR', l.gross, l.discount, l.tax,
                    0, 0, o.tip, l.total + o.tip,
                    CASE WHEN o.refunded THEN l.total + o.tip ELSE 0 END,
                    CASE WHEN o.refunded THEN 100 ELSE 0 END,
                    o.ordered_at,
                    CASE WHEN o.status <> 'open' THEN o.ordered_at END,
                    CASE WHEN o.status = 'completed' THEN o.ordered_at + interval '20 minutes' END,
                    CASE WHEN o.status = 'cancelled' THEN o.ordered_at + interval '5 minutes' END,
                    least(o.ordered_at, now()), least(o.ordered_at + interval '30 minutes', now())
             FROM bench_orders o
             JOIN (SELECT order_id, sum(price * quantity) AS gross,
                          sum(least(discount, price * quantity)) AS discount,
                          sum(round((price * quantity - least(discount, price * quantity)) * 0.1))
                              AS tax,
                          sum(price * quantity - least(discount, price * quantity)
                              + round((price * quantity - least(discount, price * quantity)) * 0.1))
                              AS total
                   FROM bench_lines GROUP BY order_id) l ON l.order_id = o.id;
             INSERT INTO sales.order_lines
                    (id, tenant_id, order_id, position, variant_id, product_id, product_name,
                     variant_name, tax_category, quantity, base_price_minor, unit_price_minor,
                     gross_minor, order_discount_minor, discount_minor, net_minor, tax_minor,
                     total_minor, cost_minor, track_inventory)
             SELECT gen_random_uuid(), '{tenant}'::uuid, l.order_id, l.position, l.variant_id,
                    l.product_id, l.product_name, l.variant_name, 'standard', l.quantity,
                    l.price, l.price, l.price * l.quantity, 0,
                    least(l.discount, l.price * l.quantity),
                    l.price * l.quantity - least(l.discount, l.price * l.quantity),
                    round((l.price * l.quantity - least(l.discount, l.price * l.quantity)) * 0.1),
                    l.price * l.quantity - least(l.discount, l.price * l.quantity)
                        + round((l.price * l.quantity - least(l.discount, l.price * l.quantity))
                                * 0.1),
                    l.cost, false
             FROM bench_lines l;
             INSERT INTO sales.payments
                    (id, tenant_id, order_id, location_id, tender, amount_minor, currency,
                     refunded_minor, created_at)
             SELECT gen_random_uuid(), o.tenant_id, o.id, o.location_id, 'card', o.paid_minor,
                    'EUR', o.refunded_minor, o.ordered_at
             FROM sales.orders o WHERE o.tenant_id = '{tenant}'::uuid AND o.paid_minor > 0;
             INSERT INTO sales.refunds
                    (id, tenant_id, payment_id, order_id, amount_minor, reason, created_at)
             SELECT gen_random_uuid(), p.tenant_id, p.id, p.order_id, p.refunded_minor,
                    'bench', least(p.created_at + interval '1 day', now())
             FROM sales.payments p WHERE p.tenant_id = '{tenant}'::uuid;
             SET session_replication_role = DEFAULT;
             ANALYZE sales.orders;
             ANALYZE sales.order_lines;
             ANALYZE sales.refunds;"
        ))
        .await?;
    Ok(tenant)
}

async fn counts(
    admin: &tokio_postgres::Client,
    tenant: Uuid,
    args: &Args,
    from: NaiveDate,
    to: NaiveDate,
    took: Duration,
) -> Result<Data> {
    let row = admin
        .query_one(
            "SELECT (SELECT count(*) FROM sales.orders WHERE tenant_id = $1),
                    (SELECT count(*) FROM sales.order_lines WHERE tenant_id = $1),
                    (SELECT count(*) FROM sales.refunds WHERE tenant_id = $1)",
            &[&tenant],
        )
        .await?;
    Ok(Data {
        orders: row.try_get(0)?,
        order_lines: row.try_get(1)?,
        refunds: row.try_get(2)?,
        locations: args.locations,
        days: args.days,
        from,
        to,
        generate_seconds: round3(took.as_secs_f64()),
    })
}

/// 100 orders (300 lines) taken offline on the range's tenth day at the first location,
/// arriving now: the next incremental run must recompute that one day.
async fn late_orders(admin: &tokio_postgres::Client, tenant: Uuid, from: NaiveDate) -> Result<()> {
    let day = from.checked_add_days(Days::new(9)).unwrap_or(from);
    admin
        .batch_execute(&format!(
            "CREATE TEMP TABLE late AS
             SELECT n, gen_random_uuid() AS id,
                    (SELECT id FROM platform.locations WHERE tenant_id = '{tenant}'::uuid
                     ORDER BY name LIMIT 1) AS location_id
             FROM generate_series(1, {LATE_ORDERS}) n;
             INSERT INTO sales.orders
                    (id, tenant_id, location_id, number, business_date, status, channel, source,
                     currency, subtotal_minor, discount_minor, tax_minor, tax_included_minor,
                     service_charge_minor, tip_minor, total_minor, ordered_at)
             SELECT id, '{tenant}'::uuid, location_id, 'L-' || n, date '{day}', 'completed',
                    'takeout', 'pos', 'EUR', 300, 0, 30, 0, 0, 0, 330,
                    (date '{day}' + time '12:00') AT TIME ZONE 'UTC'
             FROM late;
             INSERT INTO sales.order_lines
                    (id, tenant_id, order_id, position, variant_id, product_id, product_name,
                     variant_name, tax_category, quantity, base_price_minor, unit_price_minor,
                     gross_minor, order_discount_minor, discount_minor, net_minor, tax_minor,
                     total_minor, cost_minor, track_inventory)
             SELECT gen_random_uuid(), '{tenant}'::uuid, l.id, i, v.id, v.product_id,
                    v.product_name, v.variant_name, 'standard', 1, 100, 100, 100, 0, 0, 100, 10,
                    110, v.cost, false
             FROM late l CROSS JOIN generate_series(0, 2) i
             JOIN bench_variants v ON v.idx = i;"
        ))
        .await?;
    Ok(())
}

/// The report endpoints under load, on the platform started for them.
async fn load_reports(
    pg: &Postgres,
    tenant: Uuid,
    args: &Args,
    from: NaiveDate,
    to: NaiveDate,
    warmup: Duration,
    measure: Duration,
) -> Result<Vec<ReportRun>> {
    let keys = TestKeys::ed25519("bench-rollup").map_err(|e| anyhow!("{e}"))?;
    let env = HashMap::from([
        ("AUTH_JWKS".to_owned(), tokens::jwks_json(&[&keys])),
        (
            "AUTH_SIGNING_KEY".to_owned(),
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, keys.pkcs8_der()),
        ),
        ("AUTH_SIGNING_KEY_ID".to_owned(), keys.kid().to_owned()),
        ("AUTH_SIGNING_ALG".to_owned(), "EdDSA".to_owned()),
    ]);
    let platform = Box::pin(Platform::start(Options {
        database_url: pg.app_url(DATABASE),
        project: "olympus-bench".to_owned(),
        emulator_host: None,
        listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        functions: crate::registry::all(),
        run_schedules: false,
        env,
        retry: RetrySettings::default(),
    }))
    .await?;
    let config = platform.state.config();
    let mut claims = tokens::claims(
        tenant,
        Uuid::now_v7(),
        &[olympus::analytics::report::READ],
        &config.auth_issuer,
        &config.auth_audience,
    );
    claims.exp = claims.iat + 3600;
    let token = keys.mint(&claims).map_err(|e| anyhow!("{e}"))?;
    let headers = vec![(
        http::header::AUTHORIZATION,
        http::HeaderValue::from_str(&format!("Bearer {token}"))?,
    )];
    let days = args.days;
    let paths = [
        (
            format!("GET /v1/analytics/sales, {days} days by day"),
            format!("/v1/analytics/sales?from={from}&to={to}&granularity=day"),
            args.connections.clone(),
        ),
        (
            format!("GET /v1/analytics/products/top, {days} days"),
            format!("/v1/analytics/products/top?from={from}&to={to}&by=net_sales&limit=10"),
            vec![args.connections.iter().copied().max().unwrap_or(1)],
        ),
    ];
    let mut runs = Vec::new();
    for (name, path, connections) in paths {
        for connections in connections {
            eprintln!(
                "bench-rollup: {name}, {connections} connection(s), {:.0} s + {:.0} s warm-up",
                measure.as_secs_f64(),
                warmup.as_secs_f64()
            );
            let outcome = load::run(
                Plan {
                    port: platform.addr.port(),
                    connections,
                    warmup,
                    duration: measure,
                },
                Arc::new(Fixed {
                    path: path.clone(),
                    headers: headers.clone(),
                }),
            )
            .await?;
            runs.push(ReportRun {
                name: format!("{name}, {connections} conn"),
                path: path.clone(),
                outcome,
            });
        }
    }
    platform.stop().await;
    Ok(runs)
}

/// The same `GET` every time.
struct Fixed {
    path: String,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

impl Requests for Fixed {
    fn path(&self, _connection: u32, _n: u64) -> String {
        self.path.clone()
    }

    fn headers(&self) -> &[(http::HeaderName, http::HeaderValue)] {
        &self.headers
    }
}

#[allow(clippy::print_stdout)]
fn print_report(report: &Report, json_path: &Path) {
    println!();
    println!(
        "sales rollup ({} cpus, {} build): {} orders, {} lines, {} refunds over {} days ({} to {}) and {} locations",
        report.cpus,
        if report.release_build {
            "release"
        } else {
            "debug"
        },
        report.data.orders,
        report.data.order_lines,
        report.data.refunds,
        report.data.days,
        report.data.from,
        report.data.to,
        report.data.locations,
    );
    println!(
        "  {:<44} {:>9} {:>10} {:>9} {:>10}",
        "rollup run", "seconds", "loc-days", "rows", "days/s"
    );
    for run in &report.rollups {
        println!(
            "  {:<44} {:>9.3} {:>10} {:>9} {:>10.1}",
            run.name, run.seconds, run.location_days, run.rows, run.days_per_second
        );
    }
    let mib = |kib: Option<u64>| {
        #[allow(clippy::cast_precision_loss)] // KiB to MiB for a report
        kib.map_or_else(
            || "n/a".to_owned(),
            |k| format!("{:.1} MiB", k as f64 / 1024.0),
        )
    };
    println!(
        "  peak memory: this process {}, PostgreSQL backend {}",
        mib(report.peak_memory.process_vm_hwm_kib),
        mib(report.peak_memory.backend_vm_hwm_kib)
    );
    for run in &report.direct_reports {
        println!(
            "  in-process {:<41} {:>10} {:>9.3} {:>9.3}",
            run.name, run.calls, run.p50_ms, run.p99_ms
        );
    }
    println!(
        "  {:<52} {:>10} {:>9} {:>9} {:>7}",
        "report", "per second", "p50 ms", "p99 ms", "errors"
    );
    for run in &report.reports {
        println!(
            "  {:<52} {:>10.0} {:>9.3} {:>9.3} {:>7}",
            run.name,
            run.outcome.requests_per_second,
            run.outcome.latency.p50_ms,
            run.outcome.latency.p99_ms,
            run.outcome.errors
        );
        if let Some(error) = &run.outcome.first_error {
            println!("    first error: {error}");
        }
    }
    println!("targets:");
    for target in &report.targets {
        println!(
            "  {:<52} {:<10} {:<14} {}",
            target.name,
            target.limit,
            target.measured,
            if target.pass { "PASS" } else { "MISS" }
        );
    }
    println!("caveat: {}", report.caveat);
    println!("figures: {}", json_path.display());
}
