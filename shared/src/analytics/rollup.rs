//! The sales rollups (`analytics` schema, V10): per tenant, location and business day, from
//! the orders, their lines and their refunds. See the migration for what counts.
//!
//! Every run recomputes whole days: the rows of each (location, business_date) are deleted and
//! inserted again from the source rows in one transaction, so re-running gives the same rows
//! and a late change to an old day (an offline till's order, a refund a week later) is one
//! more day recomputed, never an increment applied twice.
//!
//! Which days: [`incremental`] recomputes the days touched since the tenant's watermark, i.e.
//! the business days of orders whose `updated_at` is at or after it (creation, lines,
//! placing, payments, refunds and cancelling all set it), the business days of those orders'
//! refunds, and every day of a location changed since (its time zone or day cutoff may date
//! refunds and hours differently). [`backfill`] recomputes every day of a date range.
//!
//! Concurrency: a run locks the tenant's `analytics.rollup_state` row (an upsert, so the
//! first run creates it) in each transaction that rewrites days. Two runs of one tenant take
//! turns; the second then finds the watermark the first moved and little left to do. The row
//! lock rather than an advisory lock: it lives and dies with the transaction, is visible in
//! `pg_locks` as a plain row lock, needs no lock-key scheme shared with other modules, and
//! stays under the tenant's RLS like everything else the run touches.

use std::time::Instant;

use chrono::{DateTime, Days, NaiveDate, NaiveTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::business_date_sql;
use crate::db::{self, Pool, Transaction};
use crate::error::Error;

/// How far behind the database clock the watermark always stays, on top of the oldest open
/// transaction (see [`SAFE_WATERMARK`]).
pub const WATERMARK_MARGIN: &str = "2 minutes";

/// Location-days recomputed per statement group: large enough that a backfill is a few dozen
/// set-based statements, small enough that each one's working set stays in memory and a
/// backfill can report its progress.
pub const CHUNK_DAYS: usize = 200;

/// The new watermark, read before the changed days are: the earliest of now − margin and the
/// start of the oldest transaction still open in this database.
///
/// Why not simply `now()`: `updated_at = now()` is the writing transaction's *start* time, and
/// it commits later. A transaction that began before this run and commits after it has rows
/// this run cannot see, with an `updated_at` older than this run; a watermark of `now()` would
/// skip them for good. Every such transaction is open while this statement runs, so its start
/// (`xact_start`, the same clock as its `now()`) is at or after the minimum taken here, and the
/// next run, reading `updated_at >= watermark`, sees its rows. The fixed margin covers what
/// `pg_stat_activity` cannot show: sessions of other roles (their `xact_start` is hidden from
/// the app role; every function connects as the app role, so they are the owner's migrations).
/// Recomputing a few minutes of days again is cheap; skipping a row is wrong.
pub(crate) const SAFE_WATERMARK: &str = "SELECT least(
        statement_timestamp() - $1::text::interval,
        (SELECT min(xact_start) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()
           AND xact_start IS NOT NULL))";

/// Locks the tenant's rollup row (creating it on the first run) and answers its watermark.
const LOCK_STATE: &str = "INSERT INTO analytics.rollup_state AS s (tenant_id) VALUES ($1)
     ON CONFLICT (tenant_id) DO UPDATE SET tenant_id = s.tenant_id
     RETURNING s.watermark";

/// What one tenant's run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// Location-days recomputed.
    pub days: u64,
    /// Rollup rows written (daily, by channel, by hour, by variant, tenant-wide daily).
    pub rows: u64,
}

impl std::ops::AddAssign for Outcome {
    fn add_assign(&mut self, other: Self) {
        self.days += other.days;
        self.rows += other.rows;
    }
}

/// Progress of a run, after each chunk of days.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Progress {
    pub days_done: u64,
    pub days_total: u64,
    pub rows: u64,
    pub elapsed_seconds: f64,
}

/// One location's business day.
pub type Day = (Uuid, NaiveDate);

/// Recomputes the days `tenant` changed since its last run, in one transaction holding the
/// tenant's rollup lock, and moves its watermark.
pub async fn incremental(pool: &Pool, tenant: Uuid) -> Result<Outcome, Error> {
    let mut client = pool.get().await?;
    let tx = db::tenant_tx(&mut client, tenant).await?;
    let previous: Option<DateTime<Utc>> = tx.query_one(LOCK_STATE, &[&tenant]).await?.try_get(0)?;
    let watermark: DateTime<Utc> = tx
        .query_one(SAFE_WATERMARK, &[&WATERMARK_MARGIN])
        .await?
        .try_get(0)?;
    let days = changed_days(&tx, previous).await?;
    let started = Instant::now();
    let mut outcome = Outcome::default();
    for chunk in days.chunks(CHUNK_DAYS) {
        outcome += recompute(&tx, tenant, chunk).await?;
        if days.len() > CHUNK_DAYS {
            log_progress(tenant, &progress(&outcome, days.len(), started));
        }
    }
    tx.execute(
        "UPDATE analytics.rollup_state
         SET watermark = $2, last_run_at = now(), last_days = $3,
             runs = runs + 1
         WHERE tenant_id = $1",
        &[
            &tenant,
            &watermark,
            &i64::try_from(outcome.days).unwrap_or(i64::MAX),
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(outcome)
}

/// Recomputes every day of `from..=to` (business dates) of `tenant`, a chunk of days per
/// transaction (each holding the tenant's rollup lock), calling `on_progress` after each. The
/// watermark is left alone: what changed meanwhile is the next incremental run's. Days in the
/// range without any sale or refund lose their rows.
pub async fn backfill(
    pool: &Pool,
    tenant: Uuid,
    from: NaiveDate,
    to: NaiveDate,
    on_progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<Outcome, Error> {
    let days = {
        let mut client = pool.get().await?;
        let tx = db::tenant_tx(&mut client, tenant).await?;
        let days = range_days(&tx, from, to).await?;
        tx.commit().await?;
        days
    };
    let started = Instant::now();
    let mut outcome = Outcome::default();
    on_progress(&progress(&outcome, days.len(), started));
    for chunk in days.chunks(CHUNK_DAYS) {
        let mut client = pool.get().await?;
        let tx = db::tenant_tx(&mut client, tenant).await?;
        tx.execute(LOCK_STATE, &[&tenant]).await?;
        outcome += recompute(&tx, tenant, chunk).await?;
        tx.commit().await?;
        let progress = progress(&outcome, days.len(), started);
        log_progress(tenant, &progress);
        on_progress(&progress);
    }
    Ok(outcome)
}

fn progress(outcome: &Outcome, total: usize, started: Instant) -> Progress {
    Progress {
        days_done: outcome.days,
        days_total: u64::try_from(total).unwrap_or(u64::MAX),
        rows: outcome.rows,
        elapsed_seconds: started.elapsed().as_secs_f64(),
    }
}

fn log_progress(tenant: Uuid, progress: &Progress) {
    #[allow(clippy::cast_precision_loss)] // a rate for a log line
    let rate = progress.days_done as f64 / progress.elapsed_seconds.max(1e-3);
    tracing::info!(
        %tenant,
        days_done = progress.days_done,
        days_total = progress.days_total,
        rows = progress.rows,
        days_per_second = (rate * 10.0).round() / 10.0,
        "sales rollup progress"
    );
}

/// The tenants a scheduled run walks: the public slug directory, as other jobs do.
pub async fn tenants(pool: &Pool) -> Result<Vec<Uuid>, Error> {
    let client = pool.get().await?;
    Ok(client
        .query(
            "SELECT tenant_id FROM platform.tenant_directory ORDER BY tenant_id",
            &[],
        )
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?)
}

fn refund_date() -> String {
    business_date_sql("r.created_at", "l.time_zone", "l.day_cutoff")
}

/// The days to recompute after `since` (every day with a sale or refund when `None`).
async fn changed_days(
    tx: &Transaction<'_>,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<Day>, Error> {
    let sql = format!(
        "SELECT location_id, business_date FROM (
             SELECT o.location_id, o.business_date
             FROM sales.orders o
             WHERE o.updated_at >= coalesce($1::timestamptz, '-infinity')
             UNION
             SELECT o.location_id, {refund_date}
             FROM sales.refunds r
             JOIN sales.orders o ON o.id = r.order_id
             JOIN platform.locations l ON l.id = o.location_id
             WHERE o.updated_at >= coalesce($1::timestamptz, '-infinity')
                OR l.updated_at >= coalesce($1::timestamptz, '-infinity')
             UNION
             SELECT o.location_id, o.business_date
             FROM platform.locations l
             JOIN sales.orders o ON o.location_id = l.id
             WHERE l.updated_at >= coalesce($1::timestamptz, '-infinity')
             UNION
             SELECT s.location_id, s.business_date
             FROM platform.locations l
             JOIN analytics.sales_daily s ON s.location_id = l.id
             WHERE l.updated_at >= coalesce($1::timestamptz, '-infinity')
         ) changed
         ORDER BY business_date, location_id",
        refund_date = refund_date(),
    );
    days_of(&tx.query(&sql, &[&since]).await?)
}

/// Every day of `from..=to` with orders, refunds or rollup rows.
async fn range_days(
    tx: &Transaction<'_>,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Day>, Error> {
    let (lower, upper) = refund_window(from, to);
    let sql = format!(
        "SELECT location_id, business_date FROM (
             SELECT location_id, business_date FROM sales.orders
             WHERE business_date BETWEEN $1 AND $2
             UNION
             SELECT location_id, business_date FROM (
                 SELECT o.location_id, {refund_date} AS business_date
                 FROM sales.refunds r
                 JOIN sales.orders o ON o.id = r.order_id
                 JOIN platform.locations l ON l.id = o.location_id
                 WHERE r.created_at >= $3 AND r.created_at < $4
             ) refunded
             WHERE business_date BETWEEN $1 AND $2
             UNION
             SELECT location_id, business_date FROM analytics.sales_daily
             WHERE business_date BETWEEN $1 AND $2
         ) days
         ORDER BY business_date, location_id",
        refund_date = refund_date(),
    );
    days_of(&tx.query(&sql, &[&from, &to, &lower, &upper]).await?)
}

fn days_of(rows: &[tokio_postgres::Row]) -> Result<Vec<Day>, Error> {
    rows.iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect()
}

/// A UTC window holding every instant of the business days `from..=to` anywhere: local
/// offsets are within ±14 hours and cutoffs before noon, so a business day `d` lies within
/// [d − 1 day, d + 2 days) UTC. Refunds are found by time in it, then dated exactly.
fn refund_window(from: NaiveDate, to: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let at = |date: NaiveDate| date.and_time(NaiveTime::MIN).and_utc();
    let lower = from.checked_sub_days(Days::new(1)).unwrap_or(from);
    let upper = to.checked_add_days(Days::new(2)).unwrap_or(to);
    (at(lower), at(upper))
}

/// The additive figures of every sales table, in the column order of the inserts below.
pub(crate) const FIGURES: &str = "order_count, gross_sales_minor, discounts_minor, net_sales_minor, \
    tax_minor, tax_included_minor, service_charges_minor, tips_minor, total_minor, \
    refunds_minor, refund_count, items_sold, covers, cost_of_goods_minor, costed_items";

/// [`FIGURES`] summed over the `facts` rows of a group.
const SUMS: &str = "sum(order_count), sum(gross), sum(discounts), sum(net), sum(tax), \
    sum(tax_included), sum(service_charges), sum(tips), sum(total), sum(refunds), \
    sum(refund_count), sum(items), sum(covers), sum(cogs), sum(costed)";

/// [`FIGURES`] summed over rollup rows (their own column names).
const DAY_SUMS: &str = "sum(order_count), sum(gross_sales_minor), sum(discounts_minor), \
    sum(net_sales_minor), sum(tax_minor), sum(tax_included_minor), sum(service_charges_minor), \
    sum(tips_minor), sum(total_minor), sum(refunds_minor), sum(refund_count), \
    sum(items_sold), sum(covers), sum(cost_of_goods_minor), sum(costed_items)";

/// Deletes the rollup rows of `days` and inserts them again from the source rows.
async fn recompute(tx: &Transaction<'_>, tenant: Uuid, days: &[Day]) -> Result<Outcome, Error> {
    if days.is_empty() {
        return Ok(Outcome::default());
    }
    let locations: Vec<Uuid> = days.iter().map(|(location, _)| *location).collect();
    let dates: Vec<NaiveDate> = days.iter().map(|(_, date)| *date).collect();
    let (first, last) = dates
        .iter()
        .fold((dates[0], dates[0]), |(lo, hi), d| (lo.min(*d), hi.max(*d)));
    let (lower, upper) = refund_window(first, last);
    tx.execute(
        "WITH days AS (
             SELECT * FROM unnest($1::uuid[], $2::date[]) AS d (location_id, business_date)
         ),
         daily AS (
             DELETE FROM analytics.sales_daily t USING days d
             WHERE t.location_id = d.location_id AND t.business_date = d.business_date
         ),
         by_channel AS (
             DELETE FROM analytics.sales_by_channel t USING days d
             WHERE t.location_id = d.location_id AND t.business_date = d.business_date
         ),
         hourly AS (
             DELETE FROM analytics.sales_hourly t USING days d
             WHERE t.location_id = d.location_id AND t.business_date = d.business_date
         )
         DELETE FROM analytics.product_sales_daily t USING days d
         WHERE t.location_id = d.location_id AND t.business_date = d.business_date",
        &[&locations, &dates],
    )
    .await?;
    let sql = format!(
        "WITH days AS (
             SELECT DISTINCT * FROM unnest($2::uuid[], $3::date[]) AS d (location_id, business_date)
         ),
         sold AS MATERIALIZED (
             SELECT o.id, o.location_id, o.business_date, o.channel, l.currency,
                    date_trunc('hour', o.ordered_at AT TIME ZONE l.time_zone) AS local_hour,
                    o.subtotal_minor, o.discount_minor, o.tax_minor, o.tax_included_minor,
                    o.service_charge_minor, o.tip_minor, o.total_minor,
                    coalesce(o.party_size, 0)::int8 AS covers
             FROM days d
             JOIN sales.orders o
               ON o.location_id = d.location_id AND o.business_date = d.business_date
             JOIN platform.locations l ON l.id = o.location_id
             WHERE o.status IN ('placed', 'completed')
         ),
         lines AS MATERIALIZED (
             SELECT s.location_id, s.business_date, s.currency, li.order_id, li.variant_id,
                    li.product_id, li.product_name, li.variant_name, li.quantity,
                    li.gross_minor, li.discount_minor, li.net_minor, li.cost_minor
             FROM sold s
             JOIN sales.order_lines li ON li.order_id = s.id
         ),
         per_order AS (
             SELECT order_id, sum(quantity) AS items,
                    coalesce(sum(cost_minor * quantity), 0) AS cogs,
                    coalesce(sum(quantity) FILTER (WHERE cost_minor IS NOT NULL), 0) AS costed
             FROM lines
             GROUP BY order_id
         ),
         refunded AS (
             SELECT x.* FROM (
                 SELECT o.location_id, {refund_date} AS business_date, o.channel, l.currency,
                        date_trunc('hour', r.created_at AT TIME ZONE l.time_zone) AS local_hour,
                        r.amount_minor
                 FROM sales.refunds r
                 JOIN sales.orders o ON o.id = r.order_id
                 JOIN platform.locations l ON l.id = o.location_id
                 WHERE r.created_at >= $4 AND r.created_at < $5
             ) x
             JOIN days d ON d.location_id = x.location_id AND d.business_date = x.business_date
         ),
         facts AS MATERIALIZED (
             SELECT s.location_id, s.business_date, s.channel, s.local_hour, s.currency,
                    1::int8 AS order_count, s.subtotal_minor AS gross,
                    s.discount_minor AS discounts, s.subtotal_minor - s.discount_minor AS net,
                    s.tax_minor AS tax, s.tax_included_minor AS tax_included,
                    s.service_charge_minor AS service_charges, s.tip_minor AS tips,
                    s.total_minor AS total, 0::int8 AS refunds, 0::int8 AS refund_count,
                    coalesce(p.items, 0) AS items, s.covers, coalesce(p.cogs, 0) AS cogs,
                    coalesce(p.costed, 0) AS costed
             FROM sold s
             LEFT JOIN per_order p ON p.order_id = s.id
             UNION ALL
             SELECT location_id, business_date, channel, local_hour, currency, 0, 0, 0, 0, 0, 0,
                    0, 0, 0, amount_minor, 1, 0, 0, 0, 0
             FROM refunded
         ),
         daily AS (
             INSERT INTO analytics.sales_daily
                    (tenant_id, location_id, business_date, currency, {FIGURES})
             SELECT $1, location_id, business_date, min(currency), {SUMS}
             FROM facts
             GROUP BY location_id, business_date
             RETURNING 1
         ),
         by_channel AS (
             INSERT INTO analytics.sales_by_channel
                    (tenant_id, location_id, business_date, channel, currency, {FIGURES})
             SELECT $1, location_id, business_date, channel, min(currency), {SUMS}
             FROM facts
             GROUP BY location_id, business_date, channel
             RETURNING 1
         ),
         hourly AS (
             INSERT INTO analytics.sales_hourly
                    (tenant_id, location_id, business_date, local_hour, channel, currency,
                     {FIGURES})
             SELECT $1, location_id, business_date, local_hour, channel, min(currency), {SUMS}
             FROM facts
             GROUP BY location_id, business_date, local_hour, channel
             RETURNING 1
         ),
         products AS (
             INSERT INTO analytics.product_sales_daily
                    (tenant_id, location_id, business_date, variant_id, product_id,
                     product_name, variant_name, currency, order_count, quantity,
                     gross_sales_minor, discounts_minor, net_sales_minor, cost_of_goods_minor,
                     costed_quantity)
             SELECT $1, location_id, business_date, variant_id, product_id, max(product_name),
                    max(variant_name), min(currency), count(DISTINCT order_id), sum(quantity),
                    sum(gross_minor), sum(discount_minor), sum(net_minor),
                    coalesce(sum(cost_minor * quantity), 0),
                    coalesce(sum(quantity) FILTER (WHERE cost_minor IS NOT NULL), 0)
             FROM lines
             GROUP BY location_id, business_date, variant_id, product_id
             RETURNING 1
         )
         SELECT (SELECT count(*) FROM daily) + (SELECT count(*) FROM by_channel)
                + (SELECT count(*) FROM hourly) + (SELECT count(*) FROM products)",
        refund_date = refund_date(),
    );
    let rows: i64 = tx
        .query_one(&sql, &[&tenant, &locations, &dates, &lower, &upper])
        .await?
        .try_get(0)?;
    // The tenant-wide day rows of the dates touched, from every location's rows of those
    // dates (touched or not), after the per-location rows are final.
    let mut touched_dates = dates.clone();
    touched_dates.sort_unstable();
    touched_dates.dedup();
    // Two statements: an INSERT beside a DELETE in one statement does not see the rows the
    // DELETE removes, and would collide with them.
    tx.execute(
        "DELETE FROM analytics.sales_daily_tenant WHERE business_date = ANY($1)",
        &[&touched_dates],
    )
    .await?;
    let tenant_rows = tx
        .execute(
            &format!(
                "INSERT INTO analytics.sales_daily_tenant
                        (tenant_id, business_date, currency, {FIGURES})
                 SELECT $1, business_date, currency, {DAY_SUMS}
                 FROM analytics.sales_daily
                 WHERE business_date = ANY($2)
                 GROUP BY business_date, currency"
            ),
            &[&tenant, &touched_dates],
        )
        .await?;
    let rows = u64::try_from(rows).unwrap_or(0) + tenant_rows;
    Ok(Outcome {
        days: u64::try_from(days.len()).unwrap_or(u64::MAX),
        rows,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_refund_window_holds_every_zone_and_cutoff() {
        let d = |text: &str| text.parse::<NaiveDate>().unwrap();
        let (lower, upper) = refund_window(d("2026-03-08"), d("2026-03-09"));
        assert_eq!(lower.to_rfc3339(), "2026-03-07T00:00:00+00:00");
        assert_eq!(upper.to_rfc3339(), "2026-03-11T00:00:00+00:00");
        // The earliest start of the 8th (UTC+14, midnight) and the latest end of the 9th
        // (UTC-12, 11:59) are inside.
        let start: DateTime<Utc> = "2026-03-07T10:00:00Z".parse().unwrap();
        let end: DateTime<Utc> = "2026-03-10T23:59:00Z".parse().unwrap();
        assert!(lower <= start && end < upper);
    }

    #[test]
    fn outcomes_add_up() {
        let mut total = Outcome::default();
        total += Outcome { days: 2, rows: 9 };
        total += Outcome { days: 1, rows: 4 };
        assert_eq!(total, Outcome { days: 3, rows: 13 });
    }
}
