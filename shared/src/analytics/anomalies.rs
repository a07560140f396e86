//! Days whose net sales stand out (`GET /v1/analytics/anomalies`), per location, from the
//! daily rollup (`analytics.sales_daily.net_sales_minor`: gross − discounts of the orders
//! counted as sales, refunds not subtracted; see V10).
//!
//! The method, robust to the outliers it looks for:
//! - **expected** = the median of the same weekday's net sales over the previous
//!   [`WEEKS`] weeks (the weekday carries the weekly pattern: a quiet Monday is not a drop).
//!   Weeks before the location's first day with sales are not history; days since without
//!   sales count as 0. A day with fewer than [`MIN_WEEKS`] such weeks is skipped
//!   (`days_skipped_history`), as are the location's current business day and later ones,
//!   which are not over yet (`days_skipped_incomplete`).
//! - **deviation** as a robust z-score: `z = (actual − median) / scale` with
//!   `scale = max(1.4826·MAD, 5 % of |median|, 1 minor unit)`, MAD the median absolute
//!   deviation of those weeks from their median (1.4826·MAD estimates a standard deviation
//!   for normal data). The floors keep a weekday whose weeks were nearly identical (MAD ≈ 0)
//!   from flagging every small difference; against an all-zero history (a closed day) any
//!   sale is an anomaly.
//! - A day is anomalous when `|z| > threshold` (default [`DEFAULT_THRESHOLD`]): a `spike`
//!   above the expected value, a `drop` below.

use std::collections::HashMap;

use chrono::{Datelike, Days, NaiveDate};
use serde::Serialize;
use uuid::Uuid;

use super::business_date_sql;
use super::report::Range;
use crate::db::{self, Client};
use crate::error::Error;

/// Weeks of the same weekday a day is compared with, and the fewest it needs.
pub const WEEKS: usize = 8;
pub const MIN_WEEKS: usize = 4;
pub const DEFAULT_THRESHOLD: f64 = 3.0;
pub const MAX_THRESHOLD: f64 = 50.0;
/// Days checked when neither `from` nor `to` is given: the last four weeks.
pub const DEFAULT_DAYS: u64 = 28;
/// 1 / Φ⁻¹(3/4): MAD × this estimates σ of normal data.
pub const MAD_SCALE: f64 = 1.4826;
/// The smallest scale, as a share of the expected value.
pub const RELATIVE_FLOOR: f64 = 0.05;

fn invalid(code: &'static str, field: &str, detail: impl Into<String>) -> Error {
    Error::unprocessable(code, detail).with_extension("field", field)
}

/// `threshold`: [`DEFAULT_THRESHOLD`] when absent, else a number in (0, [`MAX_THRESHOLD`]]
/// or 422 `invalid_threshold`.
pub fn threshold(value: Option<f64>) -> Result<f64, Error> {
    match value {
        None => Ok(DEFAULT_THRESHOLD),
        Some(t) if t.is_finite() && t > 0.0 && t <= MAX_THRESHOLD => Ok(t),
        Some(_) => Err(invalid(
            "invalid_threshold",
            "threshold",
            format!("`threshold` is a robust z-score above 0 and at most {MAX_THRESHOLD}."),
        )),
    }
}

/// The server's UTC date, the end of the default range.
pub fn utc_today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

/// `from` and `to` as [`Range::parse`] reads them; both absent is the [`DEFAULT_DAYS`] days
/// ending on `today` (the server's UTC date: each location's own unfinished day is skipped).
pub fn range(from: Option<&str>, to: Option<&str>, today: NaiveDate) -> Result<Range, Error> {
    if from.is_none() && to.is_none() {
        return Ok(Range {
            from: today
                .checked_sub_days(Days::new(DEFAULT_DAYS - 1))
                .unwrap_or(today),
            to: today,
        });
    }
    Range::parse(from, to)
}

/// A location's daily net sales, as read.
#[derive(Debug, Clone, PartialEq)]
pub struct LocationDays {
    pub location_id: Uuid,
    pub name: String,
    pub currency: String,
    /// Its current business day (not over yet).
    pub today: NaiveDate,
    /// Its first business day with sales, if any.
    pub first: Option<NaiveDate>,
    pub net: HashMap<NaiveDate, i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Spike,
    Drop,
}

/// One anomalous day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Anomaly {
    pub location_id: Uuid,
    pub business_date: NaiveDate,
    pub weekday: String,
    pub currency: String,
    pub actual_minor: i64,
    /// The median of the same weekday's previous weeks, rounded.
    pub expected_minor: i64,
    /// `actual_minor − expected_minor`.
    pub deviation_minor: i64,
    /// The robust z-score, two decimals.
    pub z: f64,
    pub direction: Direction,
    /// Weeks the expected value comes from.
    pub history_weeks: usize,
}

/// What was checked at a location.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocationSummary {
    pub location_id: Uuid,
    pub name: String,
    pub currency: String,
    pub days_checked: usize,
    pub days_skipped_history: usize,
    pub days_skipped_incomplete: usize,
    pub anomalies: usize,
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// The robust z-score of `actual` against `history` (module docs) and the expected value.
pub fn score(actual: i64, history: &[i64]) -> (f64, f64) {
    let mut values: Vec<f64> = history.iter().map(|v| *v as f64).collect();
    let expected = median(&mut values);
    let mut deviations: Vec<f64> = values.iter().map(|v| (v - expected).abs()).collect();
    let mad = median(&mut deviations);
    let scale = (MAD_SCALE * mad)
        .max(RELATIVE_FLOOR * expected.abs())
        .max(1.0);
    ((actual as f64 - expected) / scale, expected)
}

/// The anomalies of `days` in `range` beyond `threshold`, and what was checked.
pub fn detect(
    days: &LocationDays,
    range: Range,
    threshold: f64,
) -> (Vec<Anomaly>, LocationSummary) {
    let mut summary = LocationSummary {
        location_id: days.location_id,
        name: days.name.clone(),
        currency: days.currency.clone(),
        days_checked: 0,
        days_skipped_history: 0,
        days_skipped_incomplete: 0,
        anomalies: 0,
    };
    let mut found = Vec::new();
    let sales = |date: NaiveDate| days.net.get(&date).copied().unwrap_or(0);
    for date in range.from.iter_days().take_while(|d| *d <= range.to) {
        if date >= days.today {
            summary.days_skipped_incomplete += 1;
            continue;
        }
        let history: Vec<i64> = match days.first {
            Some(first) if date >= first => (1..=WEEKS as u64)
                .filter_map(|k| date.checked_sub_days(Days::new(7 * k)))
                .filter(|d| *d >= first)
                .map(sales)
                .collect(),
            _ => Vec::new(),
        };
        if history.len() < MIN_WEEKS {
            summary.days_skipped_history += 1;
            continue;
        }
        summary.days_checked += 1;
        let actual = sales(date);
        let (z, expected) = score(actual, &history);
        if z.abs() > threshold {
            let expected_minor = expected.round() as i64;
            found.push(Anomaly {
                location_id: days.location_id,
                business_date: date,
                weekday: date.weekday().to_string(),
                currency: days.currency.clone(),
                actual_minor: actual,
                expected_minor,
                deviation_minor: actual - expected_minor,
                z: (z * 100.0).round() / 100.0,
                direction: if z > 0.0 {
                    Direction::Spike
                } else {
                    Direction::Drop
                },
                history_weeks: history.len(),
            });
        }
    }
    summary.anomalies = found.len();
    (found, summary)
}

/// How the expected values and scores were computed, as answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Method {
    pub expected: String,
    pub deviation: String,
    pub threshold: f64,
}

/// `GET /v1/analytics/anomalies`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Anomalies {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub location_id: Option<Uuid>,
    pub threshold: f64,
    pub method: Method,
    pub locations: Vec<LocationSummary>,
    /// By business date, then location.
    pub anomalies: Vec<Anomaly>,
}

/// The anomalies of `range` at `location` (or every location the principal may see,
/// `locations` `None` being all the tenant's active ones).
pub async fn anomalies(
    client: &Client,
    tenant: Uuid,
    range: Range,
    threshold: f64,
    location: Option<Uuid>,
    locations: Option<&[Uuid]>,
) -> Result<Anomalies, Error> {
    let today = business_date_sql("now()", "l.time_zone", "l.day_cutoff");
    // The first day with sales through the primary key, one index probe per location.
    let locations_sql = format!(
        "SELECT l.id, l.name, l.currency, {today},
                (SELECT min(d.business_date) FROM analytics.sales_daily d
                 WHERE d.tenant_id = l.tenant_id AND d.location_id = l.id)
         FROM platform.locations l
         WHERE ($1::uuid IS NULL OR l.id = $1) AND ($2::uuid[] IS NULL OR l.id = ANY($2))
           AND (l.active OR $1::uuid IS NOT NULL)
         ORDER BY l.name, l.id"
    );
    let days_sql = format!(
        "SELECT location_id, business_date, net_sales_minor
         FROM analytics.sales_daily
         WHERE business_date BETWEEN $3::date - {back} AND $4::date
           AND ($1::uuid IS NULL OR location_id = $1)
           AND ($2::uuid[] IS NULL OR location_id = ANY($2))",
        back = 7 * WEEKS
    );
    let locations = locations.map(<[Uuid]>::to_vec);
    let scope: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&location, &locations];
    let dated: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
        [&location, &locations, &range.from, &range.to];
    let queries: [(&str, db::Params<'_>); 2] = [
        (locations_sql.as_str(), &scope),
        (days_sql.as_str(), &dated),
    ];
    let found = db::tenant_read(client, tenant, &queries).await?;
    let [location_rows, day_rows] = found.as_slice() else {
        return Err(Error::internal("the anomalies read answered no rows"));
    };
    if location.is_some() && location_rows.is_empty() {
        return Err(Error::not_found("No such location."));
    }
    let mut net: HashMap<Uuid, HashMap<NaiveDate, i64>> = HashMap::new();
    for row in day_rows {
        net.entry(row.try_get(0)?)
            .or_default()
            .insert(row.try_get(1)?, row.try_get(2)?);
    }
    let mut summaries = Vec::new();
    let mut all = Vec::new();
    for row in location_rows {
        let id: Uuid = row.try_get(0)?;
        let days = LocationDays {
            location_id: id,
            name: row.try_get(1)?,
            currency: row.try_get(2)?,
            today: row.try_get(3)?,
            first: row.try_get(4)?,
            net: net.remove(&id).unwrap_or_default(),
        };
        let (found, summary) = detect(&days, range, threshold);
        all.extend(found);
        summaries.push(summary);
    }
    // Stable: locations were read in name order, so one date's anomalies keep it.
    all.sort_by_key(|a| a.business_date);
    Ok(Anomalies {
        from: range.from,
        to: range.to,
        location_id: location,
        threshold,
        method: Method {
            expected: format!(
                "median net sales of the same weekday over the previous {WEEKS} weeks \
                 (at least {MIN_WEEKS})"
            ),
            deviation: format!(
                "robust z = (actual - expected) / max({MAD_SCALE} * MAD, {}% of expected, \
                 1 minor unit); anomalous when |z| > threshold",
                RELATIVE_FLOOR * 100.0
            ),
            threshold,
        },
        locations: summaries,
        anomalies: all,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn d(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    /// Ten weeks from Monday 7 September 2026: a weekday pattern plus one offset per week
    /// (so the weeks differ), a drop planted on Tuesday 3 November and a spike on Friday
    /// 13 November.
    fn location() -> LocationDays {
        const BASE: [i64; 7] = [80_000, 85_000, 90_000, 100_000, 140_000, 160_000, 120_000];
        const OFFSET: [i64; 10] = [
            -12_000, 4_000, 0, 8_000, -4_000, 12_000, -8_000, 2_000, -2_000, 6_000,
        ];
        let start = d("2026-09-07");
        let mut net = HashMap::new();
        for t in 0..70u64 {
            let date = start.checked_add_days(Days::new(t)).unwrap();
            let weekday = date.weekday().num_days_from_monday() as usize;
            net.insert(date, BASE[weekday] + OFFSET[t as usize / 7]);
        }
        net.insert(d("2026-11-03"), 20_000);
        net.insert(d("2026-11-13"), 210_000);
        LocationDays {
            location_id: Uuid::nil(),
            name: "Downtown".into(),
            currency: "GBP".into(),
            today: d("2026-11-15"),
            first: Some(start),
            net,
        }
    }

    #[test]
    fn the_planted_spike_and_drop_are_found_and_nothing_else() {
        let range = Range {
            from: d("2026-11-02"),
            to: d("2026-11-15"),
        };
        let (found, summary) = detect(&location(), range, 3.0);
        assert_eq!(found.len(), 2, "{found:#?}");
        // Tuesdays of weeks 0-7: 85 000 + offsets; median 86 000, MAD 6 000, scale
        // 1.4826 × 6 000 = 8 895.6 (more than 5 % of 86 000): z = −66 000 / 8 895.6.
        let drop = &found[0];
        assert_eq!(drop.business_date, d("2026-11-03"));
        assert_eq!(drop.weekday, "Tue");
        assert_eq!(drop.direction, Direction::Drop);
        assert_eq!(drop.actual_minor, 20_000);
        assert_eq!(drop.expected_minor, 86_000);
        assert_eq!(drop.deviation_minor, -66_000);
        assert_eq!(drop.z, -7.42);
        assert_eq!(drop.history_weeks, 8);
        // Fridays of weeks 1-8: median 141 000, MAD 4 000 → 5 930.4, under 5 % of 141 000
        // (7 050), which is the scale: z = 69 000 / 7 050 = 9.79.
        let spike = &found[1];
        assert_eq!(spike.business_date, d("2026-11-13"));
        assert_eq!(spike.direction, Direction::Spike);
        assert_eq!(spike.expected_minor, 141_000);
        assert_eq!(spike.deviation_minor, 69_000);
        assert_eq!(spike.z, 9.79);
        // Sunday the 15th is the location's today: not over, not judged.
        assert_eq!(summary.days_checked, 13);
        assert_eq!(summary.days_skipped_incomplete, 1);
        assert_eq!(summary.days_skipped_history, 0);
        assert_eq!(summary.anomalies, 2);
        // A higher threshold keeps only the spike.
        let (found, _) = detect(&location(), range, 8.0);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].direction, Direction::Spike);
    }

    #[test]
    fn days_without_four_weeks_of_history_are_skipped() {
        // 7 September to 4 October: weeks 0-3 have 0, 1, 2 and 3 earlier weeks.
        let range = Range {
            from: d("2026-09-07"),
            to: d("2026-10-04"),
        };
        let (found, summary) = detect(&location(), range, 3.0);
        assert!(found.is_empty());
        assert_eq!(summary.days_skipped_history, 28);
        assert_eq!(summary.days_checked, 0);
        let mut never = location();
        never.first = None;
        let (_, summary) = detect(&never, range, 3.0);
        assert_eq!(summary.days_skipped_history, 28);
    }

    #[test]
    fn a_closed_weekday_flags_any_sale_and_zero_is_expected() {
        let history = [0, 0, 0, 0, 0];
        let (z, expected) = score(0, &history);
        assert_eq!((z, expected), (0.0, 0.0));
        let (z, _) = score(5_000, &history);
        assert_eq!(z, 5_000.0);
        // Identical weeks: the 5 % floor is the scale.
        let (z, expected) = score(10_600, &[10_000; 6]);
        assert_eq!(expected, 10_000.0);
        assert!((z - 1.2).abs() < 1e-12);
    }

    #[test]
    fn the_threshold_and_default_range_are_checked() {
        assert_eq!(threshold(None).unwrap(), 3.0);
        assert_eq!(threshold(Some(2.5)).unwrap(), 2.5);
        for bad in [0.0, -1.0, 51.0, f64::NAN, f64::INFINITY] {
            assert_eq!(
                threshold(Some(bad)).unwrap_err().code(),
                "invalid_threshold"
            );
        }
        let default = range(None, None, d("2026-12-03")).unwrap();
        assert_eq!(default.from, d("2026-11-06"));
        assert_eq!(default.to, d("2026-12-03"));
        assert_eq!(
            range(Some("2026-11-01"), None, d("2026-12-03"))
                .unwrap_err()
                .code(),
            "invalid_range"
        );
    }
}
