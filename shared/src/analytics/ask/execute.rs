//! Answers an [`Intent`] from the rollups, for the principal's locations only, inside one
//! read-only tenant transaction ([`db::tenant_read`]).
//!
//! "Today" is the business date now (time zone and day cutoff) at the first location the
//! question names, else at the principal's first location (oldest first); when the other
//! locations of the scope are on another business date at that moment, `interpreted.today_at`
//! says whose day it is (e.g. at 02:00 in London, New York is still on the evening before).
//!
//! Which rollup: per product for products (no hours or channels there), by hour when the
//! question has hours or asks by hour, by channel when it names or asks by channel, else the
//! daily one; always `location_id = ANY(the scope)`. Money never adds across currencies:
//! whenever a money figure is asked, rows and totals are per currency, and a ranked list of
//! them ranks within each currency. Counts (orders, items, covers) add up across locations.
//! `GET /v1/analytics/sales` answers one currency only; here a tenant-wide question on a
//! tenant trading in several answers per currency, and breaks down by location, channel,
//! weekday or hour, which that report does not, hence queries of their own.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{
    CompareKind, Comparison, Dimension, Filters, Intent, KnownLocation, Metric, parse, range_text,
    weekday_name,
};
use crate::analytics::report::{Range, average};
use crate::auth::Principal;
use crate::db::{self, Client};
use crate::error::Error;
use crate::sales::orders::business_date;

/// What the question was understood as.
#[derive(Debug, Clone, Serialize)]
pub struct Interpreted {
    /// The first of `metrics` (what a ranked list is ordered by).
    pub metric: Metric,
    pub metrics: Vec<Metric>,
    pub dimension: Option<Dimension>,
    pub filters: Filters,
    pub range: Range,
    pub comparison: Option<Comparison>,
    /// The rows of a ranked list (per currency when split by currency).
    pub limit: Option<i64>,
    /// `descending` or `ascending`, for a ranked list.
    pub order: Option<&'static str>,
    pub text: String,
    /// The business date "today" meant, and whose it is.
    pub today: NaiveDate,
    pub today_at: Option<String>,
    pub assumed: Vec<String>,
}

/// The comparison period's figures.
#[derive(Debug, Clone, Serialize)]
pub struct ComparisonAnswer {
    pub kind: CompareKind,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub totals: Vec<Map<String, Value>>,
    /// Per currency (or once for counts): per metric `{absolute, percent}` from the
    /// comparison period to the asked one; `percent` is null when the earlier figure is 0.
    pub change: Vec<Map<String, Value>>,
}

/// `POST /v1/analytics/ask`.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    pub question: String,
    pub interpreted: Interpreted,
    pub answer: String,
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<Value>>,
    /// The period's totals (of every row, also those a ranked list leaves out), per currency
    /// when money is asked.
    pub totals: Vec<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison: Option<ComparisonAnswer>,
}

const LOCATIONS_SQL: &str = "SELECT id, name, currency, time_zone, day_cutoff
    FROM platform.locations
    WHERE ($1::uuid[] IS NULL OR id = ANY($1))
    ORDER BY created_at, id";

/// Parses `question` for `principal` (its locations' names and business day at `now`) and
/// answers it from the rollups.
pub async fn ask(
    client: &Client,
    principal: &Principal,
    question: &str,
    now: DateTime<Utc>,
) -> Result<Answer, Error> {
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&principal.locations];
    let found = db::tenant_read(client, principal.tenant_id, &[(LOCATIONS_SQL, &params)]).await?;
    let known = found
        .first()
        .map(|rows| {
            rows.iter()
                .map(|row| {
                    Ok(KnownLocation {
                        id: row.try_get(0)?,
                        name: row.try_get(1)?,
                        currency: row.try_get(2)?,
                        time_zone: row.try_get(3)?,
                        day_cutoff: row.try_get::<_, NaiveTime>(4)?,
                    })
                })
                .collect::<Result<Vec<_>, Error>>()
        })
        .transpose()?
        .unwrap_or_default();
    let today_of = |location: Option<&KnownLocation>| {
        location.map_or(now.date_naive(), |l| {
            business_date(&l.time_zone, l.day_cutoff, now)
        })
    };
    let mut reference = known.first();
    let mut intent = parse(question, today_of(reference), &known)?;
    // "Today" is the business day of the first location asked about, when it is another one.
    if let Some(asked) = intent.filters.locations.first()
        && reference.is_none_or(|r| r.id != asked.id)
    {
        let first = known.iter().find(|l| l.id == asked.id);
        if today_of(first) != today_of(reference) {
            intent = parse(question, today_of(first), &known)?;
        }
        reference = first;
    }
    let today = today_of(reference);
    let scope: Vec<&KnownLocation> = if intent.filters.locations.is_empty() {
        known.iter().collect()
    } else {
        known
            .iter()
            .filter(|l| intent.filters.locations.iter().any(|f| f.id == l.id))
            .collect()
    };
    let today_at = reference
        .filter(|_| scope.iter().any(|l| today_of(Some(l)) != today))
        .map(|l| l.name.clone());
    let answer = answer(client, principal.tenant_id, &intent, &scope).await?;
    let interpreted = Interpreted {
        metric: intent.metrics.first().copied().unwrap_or(Metric::NetSales),
        metrics: intent.metrics.clone(),
        dimension: intent.dimension,
        filters: intent.filters.clone(),
        range: intent.range,
        comparison: intent.comparison,
        limit: intent.top.map(|t| t.limit),
        order: intent.top.map(|t| {
            if t.ascending {
                "ascending"
            } else {
                "descending"
            }
        }),
        text: intent.text(),
        today,
        today_at,
        assumed: intent.assumed.clone(),
    };
    Ok(Answer {
        question: question.to_owned(),
        interpreted,
        answer: answer.sentence,
        columns: answer.columns,
        rows: answer.rows,
        totals: answer.totals,
        comparison: answer.comparison,
    })
}

/// Figures of a row: orders, gross, discounts, net, tax, tips, refunds, items, covers.
type Sums = [i64; 9];

fn value(metric: Metric, sums: &Sums) -> i64 {
    match metric {
        Metric::OrderCount => sums[0],
        Metric::GrossSales => sums[1],
        Metric::Discounts => sums[2],
        Metric::NetSales => sums[3],
        Metric::Tax => sums[4],
        Metric::Tips => sums[5],
        Metric::Refunds => sums[6],
        Metric::ItemsSold => sums[7],
        Metric::Covers => sums[8],
        Metric::AverageOrderValue => average(sums[3], sums[0]),
    }
}

fn add(into: &mut Sums, from: &Sums) {
    for (a, b) in into.iter_mut().zip(from) {
        *a += b;
    }
}

/// One grouped row of a query.
#[derive(Debug, Clone)]
struct Row {
    key: String,
    label: String,
    currency: Option<String>,
    sums: Sums,
}

/// The SQL of `intent` over `range`: `(key, label, currency, sums...)`, grouped by key (and
/// currency when `by_currency`). Parameters: $1 from, $2 to, $3 location ids, $4 channel,
/// $5 ISO weekdays, $6 and $7 the business-day hours.
fn query(intent: &Intent, dimension: Option<Dimension>, by_currency: bool) -> String {
    let products = dimension == Some(Dimension::Product);
    let hourly = intent.filters.hours.is_some() || dimension == Some(Dimension::Hour);
    let by_channel = intent.filters.channel.is_some() || dimension == Some(Dimension::Channel);
    let table = if products {
        "analytics.product_sales_daily"
    } else if hourly {
        "analytics.sales_hourly"
    } else if by_channel {
        "analytics.sales_by_channel"
    } else {
        "analytics.sales_daily"
    };
    let sums = if products {
        "sum(order_count), sum(gross_sales_minor), sum(discounts_minor), sum(net_sales_minor), \
         0, 0, 0, sum(quantity), 0"
    } else {
        "sum(order_count), sum(gross_sales_minor), sum(discounts_minor), sum(net_sales_minor), \
         sum(tax_minor), sum(tips_minor), sum(refunds_minor), sum(items_sold), sum(covers)"
    };
    let sums = sums
        .split(", ")
        .map(|s| format!("coalesce({s}, 0)::int8"))
        .collect::<Vec<_>>()
        .join(", ");
    let key = match dimension {
        None => "''",
        Some(Dimension::Location) => "location_id::text",
        Some(Dimension::Channel) => "channel",
        Some(Dimension::Day) => "business_date::text",
        Some(Dimension::Week) => "date_trunc('week', business_date::timestamp)::date::text",
        Some(Dimension::Month) => "to_char(business_date, 'YYYY-MM')",
        Some(Dimension::Hour) => "to_char(local_hour, 'HH24')",
        Some(Dimension::Weekday) => "extract(isodow FROM business_date)::int4::text",
        Some(Dimension::Product) => "product_id::text",
    };
    let label = if products { "max(product_name)" } else { "''" };
    let (currency, group) = if by_currency {
        ("currency", "GROUP BY 1, 3")
    } else {
        ("NULL::text", "GROUP BY 1")
    };
    let channel = if by_channel || hourly {
        "($4::text IS NULL OR channel = $4)"
    } else {
        "$4::text IS NULL"
    };
    let hours = if hourly {
        "extract(hour FROM local_hour)::int4 + 24 * (local_hour::date - business_date) \
         BETWEEN $6::int4 AND $7::int4 - 1"
    } else {
        "$6::int4 <= $7::int4"
    };
    format!(
        "SELECT {key}, {label}, {currency}, {sums}
         FROM {table}
         WHERE business_date BETWEEN $1 AND $2
           AND location_id = ANY($3)
           AND {channel}
           AND ($5::int4[] IS NULL OR extract(isodow FROM business_date)::int4 = ANY($5))
           AND {hours}
         {group}"
    )
}

fn rows_of(found: &[tokio_postgres::Row]) -> Result<Vec<Row>, Error> {
    found
        .iter()
        .map(|row| {
            let mut sums = [0; 9];
            for (i, sum) in sums.iter_mut().enumerate() {
                *sum = row.try_get(3 + i)?;
            }
            Ok(Row {
                key: row.try_get(0)?,
                label: row.try_get(1)?,
                currency: row.try_get(2)?,
                sums,
            })
        })
        .collect()
}

/// The answer's parts.
struct Parts {
    sentence: String,
    columns: Vec<&'static str>,
    rows: Vec<Vec<Value>>,
    totals: Vec<Map<String, Value>>,
    comparison: Option<ComparisonAnswer>,
}

async fn answer(
    client: &Client,
    tenant: Uuid,
    intent: &Intent,
    scope: &[&KnownLocation],
) -> Result<Parts, Error> {
    let by_currency = intent.metrics.iter().any(|m| m.is_money());
    let ids: Vec<Uuid> = scope.iter().map(|l| l.id).collect();
    let weekdays: Option<Vec<i32>> = (!intent.filters.weekdays.is_empty()).then(|| {
        intent
            .filters
            .weekdays
            .iter()
            .filter_map(|d| i32::try_from(d.number_from_monday()).ok())
            .collect()
    });
    let (hour_from, hour_to) = intent.filters.hours.map_or((0, 48), |h| {
        (
            i32::try_from(h.from).unwrap_or(0),
            i32::try_from(h.to).unwrap_or(48),
        )
    });
    let channel = intent.filters.channel;
    let main_sql = query(intent, intent.dimension, by_currency);
    // The comparison's totals: one row per currency. A product question compares its
    // products' figures, so the same rollup serves both.
    let compare_dimension = None;
    let compare_sql = if intent.dimension == Some(Dimension::Product) {
        query(intent, Some(Dimension::Product), by_currency)
    } else {
        query(intent, compare_dimension, by_currency)
    };
    let main_params: [&(dyn tokio_postgres::types::ToSql + Sync); 7] = [
        &intent.range.from,
        &intent.range.to,
        &ids,
        &channel,
        &weekdays,
        &hour_from,
        &hour_to,
    ];
    let compare_range = intent.comparison.map(|c| c.range);
    let (compare_from, compare_to) =
        compare_range.map_or((intent.range.from, intent.range.to), |r| (r.from, r.to));
    let compare_params: [&(dyn tokio_postgres::types::ToSql + Sync); 7] = [
        &compare_from,
        &compare_to,
        &ids,
        &channel,
        &weekdays,
        &hour_from,
        &hour_to,
    ];
    let mut queries: Vec<(&str, db::Params<'_>)> = vec![(main_sql.as_str(), &main_params)];
    if compare_range.is_some() {
        queries.push((compare_sql.as_str(), &compare_params));
    }
    let found = db::tenant_read(client, tenant, &queries).await?;
    let mut rows = rows_of(found.first().map_or(&[], Vec::as_slice))?;
    let before = match found.get(1) {
        Some(found) => Some(rows_of(found)?),
        None => None,
    };

    // Locations without sales still get their row, at zero.
    if intent.dimension == Some(Dimension::Location) {
        for location in scope {
            let key = location.id.to_string();
            if !rows.iter().any(|r| r.key == key) {
                rows.push(Row {
                    key,
                    label: String::new(),
                    currency: by_currency.then(|| location.currency.clone()),
                    sums: [0; 9],
                });
            }
        }
    }
    let names: HashMap<String, &str> = scope
        .iter()
        .map(|l| (l.id.to_string(), l.name.as_str()))
        .collect();
    for row in &mut rows {
        row.label = match intent.dimension {
            Some(Dimension::Location) => names
                .get(&row.key)
                .map_or_else(|| row.key.clone(), |n| (*n).to_owned()),
            Some(Dimension::Channel) => row.key.replace('_', "-"),
            Some(Dimension::Hour) => format!("{}:00", row.key),
            Some(Dimension::Weekday) => row
                .key
                .parse::<u8>()
                .ok()
                .and_then(|n| chrono::Weekday::try_from(n.saturating_sub(1)).ok())
                .map_or_else(|| row.key.clone(), |d| weekday_name(d).to_owned()),
            Some(Dimension::Product) => std::mem::take(&mut row.label),
            _ => row.key.clone(),
        };
    }
    let totals = totals_of(&rows);
    let before_totals = before.as_ref().map(|b| totals_of(b));
    order(intent, &mut rows);
    let currencies: Vec<String> = totals.keys().flatten().cloned().collect();
    if let Some(top) = intent.top {
        let limit = usize::try_from(top.limit).unwrap_or(usize::MAX);
        let mut kept: HashMap<Option<String>, usize> = HashMap::new();
        rows.retain(|row| {
            let count = kept.entry(row.currency.clone()).or_default();
            *count += 1;
            *count <= limit
        });
    } else if intent.dimension == Some(Dimension::Product) {
        rows.truncate(usize::try_from(crate::analytics::report::MAX_TOP_LIMIT).unwrap_or(100));
    }

    let mut columns: Vec<&'static str> = Vec::new();
    if intent.top.is_some() {
        columns.push("rank");
    }
    match intent.dimension {
        Some(Dimension::Location) => columns.extend(["location_id", "location"]),
        Some(Dimension::Product) => columns.extend(["product_id", "product"]),
        Some(Dimension::Channel) => columns.push("channel"),
        Some(Dimension::Day) => columns.push("date"),
        Some(Dimension::Week) => columns.push("week"),
        Some(Dimension::Month) => columns.push("month"),
        Some(Dimension::Hour) => columns.push("hour"),
        Some(Dimension::Weekday) => columns.push("weekday"),
        None => {}
    }
    if by_currency {
        columns.push("currency");
    }
    columns.extend(intent.metrics.iter().map(|m| m.column()));
    let mut ranks: HashMap<Option<String>, i64> = HashMap::new();
    let table: Vec<Vec<Value>> = rows
        .iter()
        .map(|row| {
            let mut cells = Vec::new();
            if intent.top.is_some() {
                let rank = ranks.entry(row.currency.clone()).or_default();
                *rank += 1;
                cells.push(json!(*rank));
            }
            match intent.dimension {
                Some(Dimension::Location | Dimension::Product) => {
                    cells.push(json!(row.key));
                    cells.push(json!(row.label));
                }
                Some(_) => cells.push(json!(row.label)),
                None => {}
            }
            if by_currency {
                cells.push(json!(row.currency));
            }
            cells.extend(intent.metrics.iter().map(|m| json!(value(*m, &row.sums))));
            cells
        })
        .collect();
    let totals_json = totals_json(intent, &totals);
    let comparison = match (intent.comparison, &before_totals) {
        (Some(comparison), Some(before)) => Some(ComparisonAnswer {
            kind: comparison.kind,
            from: comparison.range.from,
            to: comparison.range.to,
            totals: totals_json_with(intent, before, &totals),
            change: changes(intent, &totals, before),
        }),
        _ => None,
    };
    let places = places(scope);
    let sentence = sentence(
        intent,
        &rows,
        &totals,
        before_totals.as_ref(),
        &places,
        &currencies,
    );
    Ok(Parts {
        sentence,
        columns,
        rows: table,
        totals: totals_json,
        comparison,
    })
}

/// How many distinct rows there are, whatever their currencies.
fn buckets(rows: &[Row]) -> usize {
    let mut keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    keys.len()
}

/// Totals per currency (`None` when not split).
fn totals_of(rows: &[Row]) -> BTreeMap<Option<String>, Sums> {
    let mut totals: BTreeMap<Option<String>, Sums> = BTreeMap::new();
    for row in rows {
        add(totals.entry(row.currency.clone()).or_default(), &row.sums);
    }
    totals
}

fn order(intent: &Intent, rows: &mut [Row]) {
    let Some(first) = intent.metrics.first().copied() else {
        return;
    };
    let ranked = intent.top.is_some() || intent.dimension == Some(Dimension::Product);
    if ranked {
        let ascending = intent.top.is_some_and(|t| t.ascending);
        rows.sort_by(|a, b| {
            let (x, y) = (value(first, &a.sums), value(first, &b.sums));
            let by_value = if ascending { x.cmp(&y) } else { y.cmp(&x) };
            a.currency
                .cmp(&b.currency)
                .then(by_value)
                .then_with(|| a.label.cmp(&b.label))
                .then_with(|| a.key.cmp(&b.key))
        });
        return;
    }
    match intent.dimension {
        Some(Dimension::Location | Dimension::Channel) => {
            rows.sort_by(|a, b| {
                a.label
                    .cmp(&b.label)
                    .then_with(|| a.currency.cmp(&b.currency))
            });
        }
        Some(Dimension::Hour | Dimension::Weekday) => rows.sort_by(|a, b| {
            a.key
                .parse::<u32>()
                .unwrap_or(0)
                .cmp(&b.key.parse::<u32>().unwrap_or(0))
                .then_with(|| a.currency.cmp(&b.currency))
        }),
        _ => rows.sort_by(|a, b| a.key.cmp(&b.key).then_with(|| a.currency.cmp(&b.currency))),
    }
}

fn totals_json(
    intent: &Intent,
    totals: &BTreeMap<Option<String>, Sums>,
) -> Vec<Map<String, Value>> {
    totals
        .iter()
        .map(|(currency, sums)| {
            let mut map = Map::new();
            if let Some(currency) = currency {
                map.insert("currency".to_owned(), json!(currency));
            }
            for metric in &intent.metrics {
                map.insert(metric.column().to_owned(), json!(value(*metric, sums)));
            }
            map
        })
        .collect()
}

/// The comparison's totals, with a zero row for each currency the asked period has.
fn totals_json_with(
    intent: &Intent,
    before: &BTreeMap<Option<String>, Sums>,
    now: &BTreeMap<Option<String>, Sums>,
) -> Vec<Map<String, Value>> {
    let mut all = before.clone();
    for currency in now.keys() {
        all.entry(currency.clone()).or_default();
    }
    totals_json(intent, &all)
}

fn changes(
    intent: &Intent,
    now: &BTreeMap<Option<String>, Sums>,
    before: &BTreeMap<Option<String>, Sums>,
) -> Vec<Map<String, Value>> {
    let mut currencies: Vec<&Option<String>> = now.keys().chain(before.keys()).collect();
    currencies.sort();
    currencies.dedup();
    currencies
        .into_iter()
        .map(|currency| {
            let zero = [0; 9];
            let a = now.get(currency).unwrap_or(&zero);
            let b = before.get(currency).unwrap_or(&zero);
            let mut map = Map::new();
            if let Some(currency) = currency {
                map.insert("currency".to_owned(), json!(currency));
            }
            for metric in &intent.metrics {
                let (x, y) = (value(*metric, a), value(*metric, b));
                map.insert(
                    metric.column().to_owned(),
                    json!({"absolute": x - y, "percent": percent(x, y)}),
                );
            }
            map
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

/// Per currency, the locations of the scope trading in it ("Downtown").
fn places(scope: &[&KnownLocation]) -> HashMap<String, String> {
    let mut by: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for location in scope {
        by.entry(location.currency.as_str())
            .or_default()
            .push(location.name.as_str());
    }
    by.into_iter()
        .map(|(currency, names)| {
            let place = if names.len() <= 2 {
                names.join(" and ")
            } else {
                currency.to_owned()
            };
            (currency.to_owned(), place)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The sentence.

/// `£1,234.50`, `$12.00`, `¥1,200`, `CHF 3.50`: the decimals of ISO 4217, a symbol for the
/// few currencies whose symbol is their own (`$` alone is the US dollar's here; ISO's symbol
/// tables give `$` to a dozen currencies and `₣` to the Swiss franc), else the code.
pub fn money(minor: i64, currency: &str) -> String {
    let exponent = crate::loyalty::currency_exponent(currency);
    let symbol = match currency {
        "GBP" => "£".to_owned(),
        "USD" => "$".to_owned(),
        "EUR" => "€".to_owned(),
        "JPY" => "¥".to_owned(),
        "INR" => "₹".to_owned(),
        "KRW" => "₩".to_owned(),
        _ => format!("{currency} "),
    };
    let scale = 10_i64.pow(exponent);
    let whole = minor.unsigned_abs() / scale.unsigned_abs();
    let fraction = minor.unsigned_abs() % scale.unsigned_abs();
    let sign = if minor < 0 { "-" } else { "" };
    let digits = usize::try_from(exponent).unwrap_or(2);
    if exponent == 0 {
        format!("{sign}{symbol}{}", grouped(whole))
    } else {
        format!("{sign}{symbol}{}.{fraction:0digits$}", grouped(whole))
    }
}

/// `1,234,567`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn count(n: i64) -> String {
    let text = grouped(n.unsigned_abs());
    if n < 0 { format!("-{text}") } else { text }
}

fn shown(metric: Metric, value: i64, currency: Option<&str>) -> String {
    match currency {
        Some(currency) if metric.is_money() => money(value, currency),
        _ => count(value),
    }
}

/// " from 2026-11-23 to 2026-11-29 at Downtown, dine-in, on Saturdays, from 18:00 to close".
fn context(intent: &Intent) -> String {
    let mut text = if intent.range.from == intent.range.to {
        format!(" on {}", intent.range.from)
    } else {
        format!(" from {} to {}", intent.range.from, intent.range.to)
    };
    let names: Vec<&str> = intent
        .filters
        .locations
        .iter()
        .map(|l| l.name.as_str())
        .collect();
    if !names.is_empty() {
        let _ = write!(text, " at {}", names.join(" and "));
    }
    if let Some(channel) = intent.filters.channel {
        let _ = write!(text, " ({})", channel.replace('_', "-"));
    }
    if !intent.filters.weekdays.is_empty() {
        let days: Vec<String> = intent
            .filters
            .weekdays
            .iter()
            .map(|d| format!("{}s", weekday_name(*d)))
            .collect();
        let _ = write!(text, " on {}", days.join(" and "));
    }
    if let Some(hours) = intent.filters.hours {
        let _ = write!(text, " {}", hours.text());
    }
    text
}

fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_uppercase().collect::<String>() + chars.as_str()
    })
}

/// A figure of every currency of `totals`: "£1,234.50 at Downtown and $980.00 at Harbour".
fn per_currency(
    metric: Metric,
    totals: &BTreeMap<Option<String>, Sums>,
    places: &HashMap<String, String>,
) -> String {
    if totals.is_empty() {
        return shown(metric, 0, None);
    }
    let several = totals.len() > 1;
    let parts: Vec<String> = totals
        .iter()
        .map(|(currency, sums)| {
            let figure = shown(metric, value(metric, sums), currency.as_deref());
            match currency {
                Some(currency) if several => {
                    let place = places
                        .get(currency)
                        .map_or(currency.as_str(), String::as_str);
                    if place == currency {
                        format!("{figure} ({currency})")
                    } else {
                        format!("{figure} at {place}")
                    }
                }
                _ => figure,
            }
        })
        .collect();
    and_list(&parts)
}

fn sentence(
    intent: &Intent,
    rows: &[Row],
    totals: &BTreeMap<Option<String>, Sums>,
    before: Option<&BTreeMap<Option<String>, Sums>>,
    places: &HashMap<String, String>,
    currencies: &[String],
) -> String {
    let context = context(intent);
    let Some(first) = intent.metrics.first().copied() else {
        return String::new();
    };
    let mut text = if let Some(top) = intent.top {
        let dimension = intent.dimension.unwrap_or(Dimension::Product);
        let word = if top.ascending { "bottom" } else { "top" };
        let head = if top.limit == 1 {
            format!(
                "The {word} {} by {}{context}",
                dimension.label(),
                first.label()
            )
        } else {
            format!(
                "The {word} {} {} by {}{context}",
                top.limit,
                dimension.plural(),
                first.label()
            )
        };
        let verb = if top.limit == 1 { "was" } else { "were" };
        if rows.is_empty() {
            format!("There were no {} to rank{context}", dimension.plural())
        } else {
            let mut groups: Vec<String> = Vec::new();
            let mut keys: Vec<Option<String>> = rows.iter().map(|r| r.currency.clone()).collect();
            keys.dedup();
            for currency in &keys {
                let listed: Vec<String> = rows
                    .iter()
                    .filter(|r| r.currency == *currency)
                    .map(|r| {
                        format!(
                            "{} ({})",
                            r.label,
                            shown(first, value(first, &r.sums), r.currency.as_deref())
                        )
                    })
                    .collect();
                let list = and_list(&listed);
                match currency {
                    Some(c) if keys.len() > 1 => groups.push(format!("in {c} {list}")),
                    _ => groups.push(list),
                }
            }
            format!("{head} {verb} {}", groups.join("; "))
        }
    } else if let Some(dimension) = intent.dimension {
        let total = per_currency(first, totals, places);
        if rows.is_empty() {
            format!("There were no sales{context}")
        } else if rows.len() <= 4 {
            let listed: Vec<String> = rows
                .iter()
                .map(|r| {
                    let figure = shown(first, value(first, &r.sums), r.currency.as_deref());
                    match dimension {
                        Dimension::Location | Dimension::Hour => {
                            format!("{figure} at {}", r.label)
                        }
                        Dimension::Day | Dimension::Week | Dimension::Weekday => {
                            format!("{figure} on {}", r.label)
                        }
                        _ => format!("{figure} for {}", r.label),
                    }
                })
                .collect();
            format!(
                "{}{context} by {} were {}",
                capitalised(first.label()),
                dimension.label(),
                and_list(&listed)
            )
        } else {
            // The highest bucket of the first currency, and the total.
            let lead = rows
                .iter()
                .filter(|r| r.currency.as_deref() == currencies.first().map(String::as_str))
                .max_by_key(|r| value(first, &r.sums));
            let peak = lead.map_or_else(String::new, |r| {
                format!(
                    ", highest {} {} ({})",
                    match dimension {
                        Dimension::Location | Dimension::Hour => "at",
                        Dimension::Product | Dimension::Channel | Dimension::Month => "for",
                        _ => "on",
                    },
                    r.label,
                    shown(first, value(first, &r.sums), r.currency.as_deref())
                )
            });
            format!(
                "{}{context} came to {total} over {} {}{peak}",
                capitalised(first.label()),
                buckets(rows),
                dimension.plural()
            )
        }
    } else {
        let parts: Vec<String> = intent
            .metrics
            .iter()
            .map(|metric| {
                let figure = per_currency(*metric, totals, places);
                if metric.is_money() {
                    let verb = if matches!(metric, Metric::AverageOrderValue | Metric::Tax) {
                        "was"
                    } else {
                        "were"
                    };
                    format!("{} {verb} {figure}", metric.label())
                } else {
                    format!("{figure} {}", metric.label())
                }
            })
            .collect();
        let lead_is_count = !first.is_money();
        let body = and_list(&parts);
        if lead_is_count {
            format!("There were {body}{context}")
        } else {
            format!("{}{context}", capitalised(&body))
        }
    };
    if let (Some(comparison), Some(before)) = (intent.comparison, before) {
        let then = range_text(comparison.range);
        let mut moves: Vec<String> = Vec::new();
        let mut keys: Vec<&Option<String>> = totals.keys().chain(before.keys()).collect();
        keys.sort();
        keys.dedup();
        for currency in keys {
            let zero = [0; 9];
            let now = value(first, totals.get(currency).unwrap_or(&zero));
            let was = value(first, before.get(currency).unwrap_or(&zero));
            let was_text = shown(first, was, currency.as_deref());
            let change = match percent(now, was) {
                Some(p) if p > 0.0 => format!("up {p:.1}% from {was_text}"),
                Some(p) if p < 0.0 => format!("down {:.1}% from {was_text}", -p),
                Some(_) => format!("unchanged from {was_text}"),
                None => format!("against {was_text}"),
            };
            moves.push(change);
        }
        let _ = write!(text, ", {} {} for {then}", first.label(), and_list(&moves));
    }
    text.push('.');
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn money_is_in_major_units_with_the_currency_symbol() {
        assert_eq!(money(123_450, "GBP"), "£1,234.50");
        assert_eq!(money(5, "USD"), "$0.05");
        assert_eq!(money(-1_000, "EUR"), "-€10.00");
        assert_eq!(money(1_200, "JPY"), "¥1,200");
        assert_eq!(money(1_234_567, "BHD"), "BHD 1,234.567");
        assert_eq!(money(350, "CHF"), "CHF 3.50");
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(12_345_678), "12,345,678");
    }
}
