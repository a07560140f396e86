//! Sales reports answered from the rollups ([`super::rollup`]): the query rules of
//! `GET /v1/analytics/sales` and `GET /v1/analytics/products/top` (validated here, pure, so
//! both functions share them) and their reads, each one round trip
//! ([`crate::db::tenant_read`]) under the tenant's RLS.

use std::collections::HashMap;

use chrono::{Datelike, Days, Months, NaiveDate, NaiveDateTime, TimeDelta};
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::rollup::FIGURES;
use crate::db::{self, Client};
use crate::error::Error;

/// The permission every analytics report needs.
pub const READ: &str = "analytics:read";
/// The longest range a report covers, in days (a leap year).
pub const MAX_RANGE_DAYS: i64 = 366;
/// Top products: the default and largest `limit`.
pub const DEFAULT_TOP_LIMIT: i64 = 10;
pub const MAX_TOP_LIMIT: i64 = 100;

/// The channels an order may have (`olympus::sales::quote::Channel` on the wire).
pub const CHANNELS: &[&str] = &["dine_in", "takeout", "delivery", "pickup", "online"];

fn invalid(code: &'static str, field: &str, detail: impl Into<String>) -> Error {
    Error::unprocessable(code, detail).with_extension("field", field)
}

/// An inclusive range of business dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Range {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Range {
    /// `from` and `to` as `YYYY-MM-DD`, both required (else 422 `invalid_range`), well formed
    /// (422 `invalid_date`), `from` not after `to` (422 `invalid_range`) and at most
    /// [`MAX_RANGE_DAYS`] days in all (422 `range_too_long`).
    pub fn parse(from: Option<&str>, to: Option<&str>) -> Result<Self, Error> {
        let date = |field: &str, value: Option<&str>| {
            let value = value.ok_or_else(|| {
                invalid(
                    "invalid_range",
                    field,
                    "`from` and `to` (business dates, YYYY-MM-DD) are required.",
                )
            })?;
            // chrono also reads unpadded fields (2026-11-1): the length keeps the one form.
            let parsed = NaiveDate::parse_from_str(value, "%Y-%m-%d")
                .ok()
                .filter(|_| value.len() == 10);
            parsed.ok_or_else(|| {
                invalid(
                    "invalid_date",
                    field,
                    format!("`{field}` must be a date YYYY-MM-DD."),
                )
            })
        };
        let range = Self {
            from: date("from", from)?,
            to: date("to", to)?,
        };
        if range.from > range.to {
            return Err(invalid(
                "invalid_range",
                "from",
                "`from` must not be after `to`.",
            ));
        }
        if range.days() > MAX_RANGE_DAYS {
            return Err(invalid(
                "range_too_long",
                "to",
                format!("A report covers at most {MAX_RANGE_DAYS} days."),
            )
            .with_extension("max_days", MAX_RANGE_DAYS));
        }
        Ok(range)
    }

    /// Days in the range, both ends included.
    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// The period of the same length just before this one.
    pub fn previous(&self) -> Self {
        let days = u64::try_from(self.days()).unwrap_or(0);
        Self {
            from: self
                .from
                .checked_sub_days(Days::new(days))
                .unwrap_or(self.from),
            to: self.from.pred_opt().unwrap_or(self.from),
        }
    }
}

/// The size of a report's buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    /// Local wall-clock hours of the location (only hours with sales or refunds are listed).
    Hour,
    Day,
    /// ISO weeks, Monday to Sunday.
    Week,
    Month,
}

impl Granularity {
    /// `hour`, `day` (default), `week` or `month`, else 422 `invalid_granularity`.
    pub fn parse(value: Option<&str>) -> Result<Self, Error> {
        match value.unwrap_or("day") {
            "hour" => Ok(Self::Hour),
            "day" => Ok(Self::Day),
            "week" => Ok(Self::Week),
            "month" => Ok(Self::Month),
            _ => Err(invalid(
                "invalid_granularity",
                "granularity",
                "`granularity` is one of hour, day, week, month.",
            )),
        }
    }

    fn trunc(self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
        }
    }

    /// The first day of the bucket holding `date`.
    fn start_of(self, date: NaiveDate) -> NaiveDate {
        match self {
            Self::Hour | Self::Day => date,
            Self::Week => date
                .checked_sub_days(Days::new(u64::from(date.weekday().num_days_from_monday())))
                .unwrap_or(date),
            Self::Month => date.with_day(1).unwrap_or(date),
        }
    }

    /// The first day of the bucket after the one starting at `start`.
    fn next(self, start: NaiveDate) -> Option<NaiveDate> {
        match self {
            Self::Hour | Self::Day => start.succ_opt(),
            Self::Week => start.checked_add_days(Days::new(7)),
            Self::Month => start.checked_add_months(Months::new(1)),
        }
    }
}

/// An order channel filter: one of [`CHANNELS`], else 422 `invalid_channel`.
pub fn channel(value: Option<&str>) -> Result<Option<String>, Error> {
    match value {
        None => Ok(None),
        Some(channel) if CHANNELS.contains(&channel) => Ok(Some(channel.to_owned())),
        Some(_) => Err(invalid(
            "invalid_channel",
            "channel",
            format!("`channel` is one of {}.", CHANNELS.join(", ")),
        )),
    }
}

/// What top products are ranked by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TopBy {
    Quantity,
    NetSales,
}

impl TopBy {
    /// `quantity` (default) or `net_sales`, else 422 `invalid_by`.
    pub fn parse(value: Option<&str>) -> Result<Self, Error> {
        match value.unwrap_or("quantity") {
            "quantity" => Ok(Self::Quantity),
            "net_sales" => Ok(Self::NetSales),
            _ => Err(invalid(
                "invalid_by",
                "by",
                "`by` is quantity or net_sales.",
            )),
        }
    }

    fn order_by(self) -> &'static str {
        match self {
            Self::Quantity => "t.quantity DESC, t.net DESC",
            Self::NetSales => "t.net DESC, t.quantity DESC",
        }
    }
}

/// A top-products `limit`: [`DEFAULT_TOP_LIMIT`] when absent, else 1..=[`MAX_TOP_LIMIT`] or
/// 422 `invalid_limit`.
pub fn top_limit(value: Option<i64>) -> Result<i64, Error> {
    let limit = value.unwrap_or(DEFAULT_TOP_LIMIT);
    if (1..=MAX_TOP_LIMIT).contains(&limit) {
        Ok(limit)
    } else {
        Err(invalid(
            "invalid_limit",
            "limit",
            format!("`limit` must be between 1 and {MAX_TOP_LIMIT}."),
        ))
    }
}

/// Which locations a report sums: one (`location`), or all the principal may see
/// (`locations`: `None` is every location of the tenant).
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub location: Option<Uuid>,
    pub locations: Option<Vec<Uuid>>,
}

/// The figures of a bucket or a period (see V10__analytics.sql for what each one counts).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Figures {
    pub order_count: i64,
    pub gross_sales_minor: i64,
    pub discounts_minor: i64,
    pub net_sales_minor: i64,
    pub tax_minor: i64,
    pub tax_included_minor: i64,
    pub service_charges_minor: i64,
    pub tips_minor: i64,
    pub total_minor: i64,
    pub refunds_minor: i64,
    pub refund_count: i64,
    pub items_sold: i64,
    pub covers: i64,
    pub cost_of_goods_minor: i64,
    pub costed_items: i64,
    /// `net_sales_minor / order_count`, rounded half away from zero (0 without orders).
    pub average_order_minor: i64,
}

impl Figures {
    /// The figures from a row of [`sums`] starting at column `at`.
    fn from_row(row: &tokio_postgres::Row, at: usize) -> Result<Self, Error> {
        let get = |i: usize| -> Result<i64, Error> { Ok(row.try_get(at + i)?) };
        let mut figures = Self {
            order_count: get(0)?,
            gross_sales_minor: get(1)?,
            discounts_minor: get(2)?,
            net_sales_minor: get(3)?,
            tax_minor: get(4)?,
            tax_included_minor: get(5)?,
            service_charges_minor: get(6)?,
            tips_minor: get(7)?,
            total_minor: get(8)?,
            refunds_minor: get(9)?,
            refund_count: get(10)?,
            items_sold: get(11)?,
            covers: get(12)?,
            cost_of_goods_minor: get(13)?,
            costed_items: get(14)?,
            average_order_minor: 0,
        };
        figures.average_order_minor = average(figures.net_sales_minor, figures.order_count);
        Ok(figures)
    }
}

impl Figures {
    /// The sum of `parts`, with its own average.
    fn total<'a>(parts: impl Iterator<Item = &'a Figures>) -> Self {
        let mut sum = Self::default();
        for part in parts {
            sum.order_count += part.order_count;
            sum.gross_sales_minor += part.gross_sales_minor;
            sum.discounts_minor += part.discounts_minor;
            sum.net_sales_minor += part.net_sales_minor;
            sum.tax_minor += part.tax_minor;
            sum.tax_included_minor += part.tax_included_minor;
            sum.service_charges_minor += part.service_charges_minor;
            sum.tips_minor += part.tips_minor;
            sum.total_minor += part.total_minor;
            sum.refunds_minor += part.refunds_minor;
            sum.refund_count += part.refund_count;
            sum.items_sold += part.items_sold;
            sum.covers += part.covers;
            sum.cost_of_goods_minor += part.cost_of_goods_minor;
            sum.costed_items += part.costed_items;
        }
        sum.average_order_minor = average(sum.net_sales_minor, sum.order_count);
        sum
    }
}

/// `total / count` rounded half away from zero, in integers; 0 when `count` is 0.
pub fn average(total: i64, count: i64) -> i64 {
    if count <= 0 {
        return 0;
    }
    let (total, count) = (i128::from(total), i128::from(count));
    let rounded = (2 * total + total.signum() * count) / (2 * count);
    i64::try_from(rounded).unwrap_or(i64::MAX)
}

/// [`FIGURES`] summed as `int8` columns, in order.
fn sums() -> String {
    FIGURES
        .split(", ")
        .map(|column| format!("coalesce(sum({column}), 0)::int8"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One bucket of a series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bucket {
    /// Its first business date (`YYYY-MM-DD`; clipped to the range for weeks and months), or
    /// for hours the local wall-clock hour (`YYYY-MM-DDTHH:MM`).
    pub start: String,
    /// Its last business date (clipped to the range), or for hours the end of the hour.
    pub end: String,
    /// For hours: the business date the hour belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub business_date: Option<NaiveDate>,
    #[serde(flatten)]
    pub figures: Figures,
}

/// A change between two periods' figure: absolute, and in percent of the earlier one (two
/// decimals; `null` when the earlier one is 0).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub absolute: i64,
    pub percent: Option<f64>,
}

/// The previous period of a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Previous {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub totals: Figures,
}

/// `GET /v1/analytics/sales`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SalesReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub granularity: Granularity,
    pub location_id: Option<Uuid>,
    pub channel: Option<String>,
    /// The currency of every amount; `null` when nothing was sold.
    pub currency: Option<String>,
    pub series: Vec<Bucket>,
    pub totals: Figures,
    pub previous: Previous,
    /// Per figure of `totals`: its change from `previous.totals`.
    pub change: Map<String, Value>,
}

/// The changes of every figure from `before` to `after`.
pub fn changes(after: &Figures, before: &Figures) -> Map<String, Value> {
    let (Ok(Value::Object(after)), Ok(Value::Object(before))) =
        (serde_json::to_value(after), serde_json::to_value(before))
    else {
        return Map::new();
    };
    after
        .iter()
        .map(|(name, value)| {
            let now = value.as_i64().unwrap_or(0);
            let then = before.get(name).and_then(Value::as_i64).unwrap_or(0);
            let change = Change {
                absolute: now - then,
                percent: percent(now, then),
            };
            (
                name.clone(),
                serde_json::to_value(change).unwrap_or(Value::Null),
            )
        })
        .collect()
}

/// `(now − then) / then` in percent, two decimals; `None` when `then` is 0.
#[allow(clippy::cast_precision_loss)] // a ratio of integer sums, shown with two decimals
fn percent(now: i64, then: i64) -> Option<f64> {
    (then != 0).then(|| {
        let ratio = (now as f64 - then as f64) / then.unsigned_abs() as f64 * 100.0;
        (ratio * 100.0).round() / 100.0
    })
}

fn mixed_currencies() -> Error {
    Error::unprocessable(
        "mixed_currencies",
        "The locations in this report sell in more than one currency: choose one with `location`.",
    )
    .with_extension("field", "location")
}

/// The sales report of `range` in `granularity` buckets, for `scope` and optionally one
/// `channel`, with totals and the previous period of equal length.
pub async fn sales(
    client: &Client,
    tenant: Uuid,
    range: Range,
    granularity: Granularity,
    scope: &Scope,
    channel: Option<&str>,
) -> Result<SalesReport, Error> {
    let previous = range.previous();
    // Day-level figures come from the channel breakdown when filtered by channel, from the
    // tenant-wide day rows for every location together (a principal who sees them all, no
    // location asked: one row a day instead of one per location), else from the daily
    // table; hours from the hourly one (which is split by channel too).
    let everywhere = scope.location.is_none() && scope.locations.is_none();
    let (day_table, day_channel) = match channel {
        Some(_) => ("analytics.sales_by_channel", "AND channel = $5"),
        None if everywhere => ("analytics.sales_daily_tenant", "AND $5::text IS NULL"),
        None => ("analytics.sales_daily", "AND $5::text IS NULL"),
    };
    let sums = sums();
    let scope_filter = if day_table == "analytics.sales_daily_tenant" {
        "AND $3::uuid IS NULL AND $4::uuid[] IS NULL"
    } else {
        "AND ($3::uuid IS NULL OR location_id = $3) \
         AND ($4::uuid[] IS NULL OR location_id = ANY($4))"
    };
    // The series' buckets add up to the period's totals (every breakdown sums to the daily
    // figures), so only the previous period needs a query of its own: one index range each.
    let series_sql = match granularity {
        Granularity::Hour => format!(
            "SELECT local_hour, min(business_date), min(currency), max(currency), {sums}
             FROM analytics.sales_hourly
             WHERE business_date BETWEEN $1 AND $2 {scope_filter}
               AND ($5::text IS NULL OR channel = $5)
             GROUP BY local_hour
             ORDER BY local_hour"
        ),
        _ => format!(
            "SELECT date_trunc('{trunc}', business_date::timestamp)::date, min(currency),
                    max(currency), {sums}
             FROM {day_table}
             WHERE business_date BETWEEN $1 AND $2 {scope_filter} {day_channel}
             GROUP BY 1
             ORDER BY 1",
            trunc = granularity.trunc()
        ),
    };
    let previous_sql = format!(
        "SELECT {sums}
         FROM {day_table}
         WHERE business_date BETWEEN $1 AND $2 {scope_filter} {day_channel}"
    );
    let series_params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] = [
        &range.from,
        &range.to,
        &scope.location,
        &scope.locations,
        &channel,
    ];
    let previous_params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] = [
        &previous.from,
        &previous.to,
        &scope.location,
        &scope.locations,
        &channel,
    ];
    let queries: [(&str, db::Params<'_>); 2] = [
        (series_sql.as_str(), &series_params),
        (previous_sql.as_str(), &previous_params),
    ];
    let found = db::tenant_read(client, tenant, &queries).await?;
    let [series_rows, previous_rows] = found.as_slice() else {
        return Err(Error::internal("the sales report read answered no rows"));
    };
    let before = match previous_rows.first() {
        Some(row) => Figures::from_row(row, 0)?,
        None => Figures::default(),
    };
    // Column of the first figure in a series row; the two before it are the currencies.
    let first = if granularity == Granularity::Hour {
        4
    } else {
        3
    };
    let mut currency: Option<String> = None;
    for row in series_rows {
        let (low, high): (String, String) = (row.try_get(first - 2)?, row.try_get(first - 1)?);
        if low != high || currency.as_ref().is_some_and(|c| *c != low) {
            return Err(mixed_currencies());
        }
        currency = Some(low);
    }
    let series = match granularity {
        Granularity::Hour => series_rows
            .iter()
            .map(|row| {
                let hour: NaiveDateTime = row.try_get(0)?;
                Ok(Bucket {
                    start: hour.format("%Y-%m-%dT%H:%M").to_string(),
                    end: (hour + TimeDelta::hours(1))
                        .format("%Y-%m-%dT%H:%M")
                        .to_string(),
                    business_date: Some(row.try_get(1)?),
                    figures: Figures::from_row(row, first)?,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?,
        _ => {
            let mut found = series_rows
                .iter()
                .map(|row| {
                    Ok((
                        row.try_get::<_, NaiveDate>(0)?,
                        Figures::from_row(row, first)?,
                    ))
                })
                .collect::<Result<HashMap<_, _>, Error>>()?;
            filled(range, granularity, &mut found)
        }
    };
    let totals = Figures::total(series.iter().map(|bucket| &bucket.figures));
    Ok(SalesReport {
        from: range.from,
        to: range.to,
        granularity,
        location_id: scope.location,
        channel: channel.map(str::to_owned),
        currency,
        change: changes(&totals, &before),
        series,
        totals,
        previous: Previous {
            from: previous.from,
            to: previous.to,
            totals: before,
        },
    })
}

/// Every day, week or month bucket of `range` in order, empty ones with zero figures.
fn filled(
    range: Range,
    granularity: Granularity,
    found: &mut HashMap<NaiveDate, Figures>,
) -> Vec<Bucket> {
    let mut buckets = Vec::new();
    let mut start = granularity.start_of(range.from);
    while start <= range.to {
        let next = granularity.next(start);
        let end = next
            .and_then(|n| n.pred_opt())
            .map_or(range.to, |e| e.min(range.to));
        buckets.push(Bucket {
            start: start.max(range.from).to_string(),
            end: end.to_string(),
            business_date: None,
            figures: found.remove(&start).unwrap_or_default(),
        });
        match next {
            Some(next) => start = next,
            None => break,
        }
    }
    buckets
}

/// One product of the top list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopProduct {
    pub rank: i64,
    pub product_id: Uuid,
    /// Its name in the catalog now (as sold, if it left the catalog).
    pub product_name: String,
    pub quantity: i64,
    pub order_count: i64,
    pub gross_sales_minor: i64,
    pub discounts_minor: i64,
    pub net_sales_minor: i64,
    /// Unit cost × quantity of the `costed_quantity` units whose cost was known.
    pub cost_of_goods_minor: i64,
    pub costed_quantity: i64,
}

/// `GET /v1/analytics/products/top`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopProducts {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub by: TopBy,
    pub limit: i64,
    pub location_id: Option<Uuid>,
    pub currency: Option<String>,
    pub items: Vec<TopProduct>,
}

/// The `limit` best-selling products of `range` by `by`, for `scope`.
pub async fn top_products(
    client: &Client,
    tenant: Uuid,
    range: Range,
    by: TopBy,
    limit: i64,
    scope: &Scope,
) -> Result<TopProducts, Error> {
    let filter = "WHERE business_date BETWEEN $1 AND $2
                    AND ($3::uuid IS NULL OR location_id = $3)
                    AND ($4::uuid[] IS NULL OR location_id = ANY($4))";
    // One pass over the range's variant-days: per product, then the catalog's current name
    // for the few products kept (sorting every row by date for the last sold name cost more
    // than the whole aggregate).
    let top_sql = format!(
        "WITH per_product AS (
             SELECT product_id, max(product_name) AS sold_as, min(currency) AS low,
                    max(currency) AS high, sum(quantity)::int8 AS quantity,
                    sum(order_count)::int8 AS orders, sum(gross_sales_minor)::int8 AS gross,
                    sum(discounts_minor)::int8 AS discounts, sum(net_sales_minor)::int8 AS net,
                    sum(cost_of_goods_minor)::int8 AS cogs,
                    sum(costed_quantity)::int8 AS costed
             FROM analytics.product_sales_daily
             {filter}
             GROUP BY product_id
         )
         SELECT t.product_id, coalesce(p.name, t.sold_as), t.quantity, t.orders, t.gross,
                t.discounts, t.net, t.cogs, t.costed,
                (SELECT min(low) FROM per_product), (SELECT max(high) FROM per_product)
         FROM per_product t
         LEFT JOIN catalog.products p ON p.id = t.product_id
         ORDER BY {order}, t.product_id
         LIMIT $5",
        order = by.order_by()
    );
    let top_params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] = [
        &range.from,
        &range.to,
        &scope.location,
        &scope.locations,
        &limit,
    ];
    let queries: [(&str, db::Params<'_>); 1] = [(top_sql.as_str(), &top_params)];
    let found = db::tenant_read(client, tenant, &queries).await?;
    let [top] = found.as_slice() else {
        return Err(Error::internal("the top products read answered no rows"));
    };
    let mut currency = None;
    if let Some(row) = top.first() {
        let (low, high): (String, String) = (row.try_get(9)?, row.try_get(10)?);
        if low != high {
            return Err(mixed_currencies());
        }
        currency = Some(low);
    }
    let items = top
        .iter()
        .zip(1..)
        .map(|(row, rank)| {
            Ok(TopProduct {
                rank,
                product_id: row.try_get(0)?,
                product_name: row.try_get(1)?,
                quantity: row.try_get(2)?,
                order_count: row.try_get(3)?,
                gross_sales_minor: row.try_get(4)?,
                discounts_minor: row.try_get(5)?,
                net_sales_minor: row.try_get(6)?,
                cost_of_goods_minor: row.try_get(7)?,
                costed_quantity: row.try_get(8)?,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(TopProducts {
        from: range.from,
        to: range.to,
        by,
        limit,
        location_id: scope.location,
        currency,
        items,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn d(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn code(result: Result<impl std::fmt::Debug, Error>) -> String {
        result.unwrap_err().code().to_owned()
    }

    #[test]
    fn ranges_are_inclusive_bounded_and_have_a_previous_period() {
        let range = Range::parse(Some("2026-11-01"), Some("2026-11-30")).unwrap();
        assert_eq!(range.days(), 30);
        assert_eq!(
            range.previous(),
            Range {
                from: d("2026-10-02"),
                to: d("2026-10-31")
            }
        );
        let one = Range::parse(Some("2026-03-01"), Some("2026-03-01")).unwrap();
        assert_eq!(one.previous().from, d("2026-02-28"));
        assert_eq!(one.previous().to, d("2026-02-28"));
        assert!(Range::parse(Some("2024-01-01"), Some("2024-12-31")).is_ok());
        assert_eq!(
            code(Range::parse(Some("2024-01-01"), Some("2025-01-01"))),
            "range_too_long"
        );
        assert_eq!(
            code(Range::parse(Some("2026-11-02"), Some("2026-11-01"))),
            "invalid_range"
        );
        assert_eq!(
            code(Range::parse(None, Some("2026-11-01"))),
            "invalid_range"
        );
        assert_eq!(
            code(Range::parse(Some("2026-11-1"), Some("2026-11-01"))),
            "invalid_date"
        );
        assert_eq!(
            code(Range::parse(Some("2026-02-30"), Some("2026-03-01"))),
            "invalid_date"
        );
    }

    #[test]
    fn query_words_have_their_own_codes() {
        assert_eq!(Granularity::parse(None).unwrap(), Granularity::Day);
        assert_eq!(Granularity::parse(Some("hour")).unwrap(), Granularity::Hour);
        assert_eq!(
            code(Granularity::parse(Some("year"))),
            "invalid_granularity"
        );
        assert_eq!(
            channel(Some("dine_in")).unwrap().as_deref(),
            Some("dine_in")
        );
        assert_eq!(channel(None).unwrap(), None);
        assert_eq!(code(channel(Some("drive_thru"))), "invalid_channel");
        assert_eq!(TopBy::parse(None).unwrap(), TopBy::Quantity);
        assert_eq!(TopBy::parse(Some("net_sales")).unwrap(), TopBy::NetSales);
        assert_eq!(code(TopBy::parse(Some("price"))), "invalid_by");
        assert_eq!(top_limit(None).unwrap(), 10);
        assert_eq!(top_limit(Some(100)).unwrap(), 100);
        assert_eq!(code(top_limit(Some(0))), "invalid_limit");
        assert_eq!(code(top_limit(Some(101))), "invalid_limit");
    }

    #[test]
    fn buckets_cover_the_range_clipped_to_it() {
        let range = Range {
            from: d("2026-11-04"),
            to: d("2026-11-17"),
        };
        let mut found = HashMap::from([(
            d("2026-11-09"),
            Figures {
                order_count: 3,
                ..Figures::default()
            },
        )]);
        let weeks = filled(range, Granularity::Week, &mut found);
        let spans: Vec<_> = weeks
            .iter()
            .map(|b| (b.start.as_str(), b.end.as_str()))
            .collect();
        assert_eq!(
            spans,
            [
                ("2026-11-04", "2026-11-08"),
                ("2026-11-09", "2026-11-15"),
                ("2026-11-16", "2026-11-17")
            ]
        );
        assert_eq!(weeks[1].figures.order_count, 3);
        let months = filled(
            Range {
                from: d("2026-01-31"),
                to: d("2026-03-01"),
            },
            Granularity::Month,
            &mut HashMap::new(),
        );
        let spans: Vec<_> = months
            .iter()
            .map(|b| (b.start.as_str(), b.end.as_str()))
            .collect();
        assert_eq!(
            spans,
            [
                ("2026-01-31", "2026-01-31"),
                ("2026-02-01", "2026-02-28"),
                ("2026-03-01", "2026-03-01")
            ]
        );
        assert_eq!(
            filled(range, Granularity::Day, &mut HashMap::new()).len(),
            14
        );
    }

    #[test]
    fn averages_round_and_changes_compare_periods() {
        assert_eq!(average(1000, 3), 333);
        assert_eq!(average(1001, 2), 501);
        assert_eq!(average(999, 2), 500);
        assert_eq!(average(5, 0), 0);
        let now = Figures {
            net_sales_minor: 1500,
            order_count: 3,
            ..Figures::default()
        };
        let then = Figures {
            net_sales_minor: 1000,
            order_count: 0,
            ..Figures::default()
        };
        let change = changes(&now, &then);
        assert_eq!(
            change["net_sales_minor"],
            serde_json::json!({"absolute": 500, "percent": 50.0})
        );
        assert_eq!(
            change["order_count"],
            serde_json::json!({"absolute": 3, "percent": null})
        );
        assert_eq!(percent(2, 3), Some(-33.33));
        assert_eq!(change.len(), 16);
    }
}
