//! Demand forecast of one variant at one location (`GET /v1/analytics/forecast`): daily
//! quantities sold from the variant rollup (`analytics.product_sales_daily`), an additive
//! Holt-Winters model with a weekly season ([`holt_winters`]), its backtest over the last four
//! weeks, and a reorder suggestion from the stock on hand.
//!
//! - **History**: the location's complete business days up to yesterday (today is still
//!   selling), at most [`HISTORY_DAYS`] (16 weeks), starting no earlier than the variant's
//!   first sale there or its creation, whichever is earlier (days before it existed are not
//!   zero demand); days without sales count as 0. Fewer than [`MIN_HISTORY_DAYS`] (two
//!   seasons, which the model's initial state needs) answer 422 `insufficient_history` with
//!   `days_available` and `days_needed`.
//! - **Backtest**: with at least [`MIN_HISTORY_DAYS`] + [`BACKTEST_DAYS`] days (6 weeks), the
//!   model is fitted again on all but the last 28 days and forecasts them: MAPE over the days
//!   whose actual was not 0 (a percentage error of a zero day is undefined; `mape_days` says
//!   how many counted, `mape` is null when none did), and MAE over all 28. With less history
//!   the forecast is still served and `backtest` is null.
//! - **Reorder** (tracked variants; null otherwise): `demand` is the sum of the point forecast
//!   over the horizon, `safety_stock` = z·sd of that sum for a 95 % one-sided service level
//!   (z = 1.645; the sd from [`holt_winters::Model::sum_sd`]), and `suggested_quantity` =
//!   ⌈demand + safety_stock − available⌉, at least 0, where `available` = on hand − live
//!   holds. `stockout_date` is the first forecast day whose cumulative point demand exceeds
//!   `available` (null when it lasts the horizon). Today's sales so far are already out of
//!   the stock while day 1 forecasts the whole of today, so the suggestion errs on the side of
//!   having stock.

pub mod holt_winters;

use chrono::{Datelike, Days, NaiveDate};
use serde::Serialize;
use uuid::Uuid;

use super::business_date_sql;
use crate::db::{self, Client};
use crate::error::Error;
use crate::inventory::{LEVEL_COLUMNS, LEVEL_JOIN, LevelView};
use holt_winters::{MIN_LEN, SEASON};

/// Forecast days when `days` is absent, and the most it may ask.
pub const DEFAULT_DAYS: usize = 14;
pub const MAX_DAYS: usize = 90;
/// The longest history read: 16 weeks.
pub const HISTORY_DAYS: usize = 16 * 7;
/// The shortest history forecast: two weeks.
pub const MIN_HISTORY_DAYS: usize = MIN_LEN;
/// Days held out by the backtest.
pub const BACKTEST_DAYS: usize = 4 * 7;
/// One-sided normal quantile of the reorder's 95 % service level.
pub const SERVICE_Z: f64 = 1.644_853_627;
pub const SERVICE_LEVEL: f64 = 0.95;

fn invalid(code: &'static str, field: &str, detail: impl Into<String>) -> Error {
    Error::unprocessable(code, detail).with_extension("field", field)
}

/// `days`: [`DEFAULT_DAYS`] when absent, else 1..=[`MAX_DAYS`] or 422 `invalid_days`.
pub fn days(value: Option<i64>) -> Result<usize, Error> {
    match value {
        None => Ok(DEFAULT_DAYS),
        Some(days) => usize::try_from(days)
            .ok()
            .filter(|d| (1..=MAX_DAYS).contains(d))
            .ok_or_else(|| {
                invalid(
                    "invalid_days",
                    "days",
                    format!("`days` must be between 1 and {MAX_DAYS}."),
                )
                .with_extension("max_days", MAX_DAYS)
            }),
    }
}

/// A required id of the query (`variant`, `location`): else 422 `<field>_required`.
pub fn required(
    value: Option<Uuid>,
    field: &'static str,
    code: &'static str,
) -> Result<Uuid, Error> {
    value.ok_or_else(|| invalid(code, field, format!("`{field}` (an id) is required.")))
}

/// The quantities of every day from `from` to `to`, 0 where `sold` has none.
pub fn daily_series(from: NaiveDate, to: NaiveDate, sold: &[(NaiveDate, i64)]) -> Vec<f64> {
    let Ok(len) = usize::try_from((to - from).num_days() + 1) else {
        return Vec::new();
    };
    let mut series = vec![0.0; len];
    for (date, quantity) in sold {
        if let Ok(i) = usize::try_from((*date - from).num_days())
            && let Some(day) = series.get_mut(i)
        {
            *day += *quantity as f64;
        }
    }
    series
}

/// Accuracy of a forecast against what happened.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Accuracy {
    /// Mean absolute percentage error over the days with a nonzero actual, in percent.
    pub mape: Option<f64>,
    pub mape_days: usize,
    /// Mean absolute error over every day, in units.
    pub mae: f64,
}

pub fn accuracy(actual: &[f64], forecast: &[f64]) -> Accuracy {
    let pairs = actual.iter().zip(forecast);
    let (mut percent, mut counted, mut absolute, mut days) = (0.0, 0usize, 0.0, 0usize);
    for (a, f) in pairs {
        absolute += (a - f).abs();
        days += 1;
        if *a != 0.0 {
            percent += (a - f).abs() / a.abs();
            counted += 1;
        }
    }
    Accuracy {
        mape: (counted > 0).then(|| percent / counted as f64 * 100.0),
        mape_days: counted,
        mae: if days > 0 {
            absolute / days as f64
        } else {
            0.0
        },
    }
}

/// The reorder arithmetic of the module docs, for `available` units and the horizon's point
/// forecasts `demand` whose sum has standard deviation `sum_sd`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    pub demand: f64,
    pub safety_stock: f64,
    pub suggested_quantity: i64,
    /// Index of the forecast day the stock runs out on.
    pub stockout_day: Option<usize>,
}

pub fn plan(available: i64, demand: &[f64], sum_sd: f64) -> Plan {
    let total: f64 = demand.iter().sum();
    let safety_stock = SERVICE_Z * sum_sd;
    // The needed units in hundredths first: 12.000000001 is 12, not 13.
    let needed = ((total + safety_stock - available as f64) * 100.0).round() / 100.0;
    let suggested_quantity = if needed > 0.0 {
        needed.ceil() as i64
    } else {
        0
    };
    let mut cumulative = 0.0;
    let stockout_day = demand.iter().position(|day| {
        cumulative += day;
        cumulative > available as f64
    });
    Plan {
        demand: total,
        safety_stock,
        suggested_quantity,
        stockout_day,
    }
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// How the forecast was made.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Method {
    /// `holt_winters_additive`: level, damped additive trend, additive weekly season.
    pub name: &'static str,
    pub season_days: usize,
    pub fitted_by: &'static str,
    pub alpha: f64,
    pub beta: f64,
    pub gamma: f64,
    pub phi: f64,
    /// Root mean square of the one-step errors, in units.
    pub sigma: f64,
    pub interval: &'static str,
}

/// The days the model learnt from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct History {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub days: usize,
    pub days_with_sales: usize,
    pub units_sold: i64,
}

/// The last four weeks forecast from the weeks before them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Backtest {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub days: usize,
    /// Percent, over the `mape_days` days that sold something; null when none did.
    pub mape: Option<f64>,
    pub mape_days: usize,
    /// Units, over every day.
    pub mae: f64,
}

/// One forecast day (units; the bounds of the 80 % and 95 % prediction intervals).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Day {
    pub business_date: NaiveDate,
    pub weekday: String,
    pub quantity: f64,
    pub lower_80: f64,
    pub upper_80: f64,
    pub lower_95: f64,
    pub upper_95: f64,
}

/// The stock and what to order to cover the horizon.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reorder {
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
    /// The stock level's own policy, as set on it.
    pub reorder_point: Option<i64>,
    pub reorder_quantity: Option<i64>,
    /// Forecast units over the horizon.
    pub demand: f64,
    pub safety_stock: f64,
    pub service_level: f64,
    pub suggested_quantity: i64,
    pub stockout_date: Option<NaiveDate>,
}

/// `GET /v1/analytics/forecast`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Forecast {
    pub variant_id: Uuid,
    pub product_id: Uuid,
    pub product_name: String,
    pub variant_name: String,
    pub location_id: Uuid,
    pub days: usize,
    pub method: Method,
    pub history: History,
    pub backtest: Option<Backtest>,
    pub forecast: Vec<Day>,
    /// Null when the variant's stock is not tracked.
    pub reorder: Option<Reorder>,
}

/// What the read found, before any modelling.
struct Found {
    today: NaiveDate,
    product_id: Uuid,
    product_name: String,
    variant_name: String,
    tracked: bool,
    created: NaiveDate,
    first_sale: Option<NaiveDate>,
    sold: Vec<(NaiveDate, i64)>,
    level: Option<LevelView>,
}

async fn read(
    client: &Client,
    tenant: Uuid,
    variant: Uuid,
    location: Uuid,
) -> Result<Found, Error> {
    let today = business_date_sql("now()", "l.time_zone", "l.day_cutoff");
    let created = business_date_sql("v.created_at", "l.time_zone", "l.day_cutoff");
    let location_sql = format!("SELECT {today} FROM platform.locations l WHERE l.id = $1");
    let variant_sql = format!(
        "SELECT v.product_id, p.name, v.name, v.track_inventory, {created}
         FROM catalog.variants v
         JOIN catalog.products p ON p.tenant_id = v.tenant_id AND p.id = v.product_id
         JOIN platform.locations l ON l.id = $2
         WHERE v.id = $1"
    );
    let history_sql = format!(
        "WITH l AS (SELECT {today} AS today FROM platform.locations l WHERE l.id = $2)
         SELECT d.business_date, d.quantity
         FROM analytics.product_sales_daily d, l
         WHERE d.location_id = $2 AND d.variant_id = $1
           AND d.business_date BETWEEN l.today - $3::int AND l.today - 1
         ORDER BY d.business_date"
    );
    let first_sql = "SELECT min(business_date) FROM analytics.product_sales_daily
                     WHERE location_id = $2 AND variant_id = $1";
    let level_sql = format!(
        "SELECT {LEVEL_COLUMNS} FROM inventory.stock s {LEVEL_JOIN}
         WHERE s.variant_id = $1 AND s.location_id = $2"
    );
    let window = i32::try_from(HISTORY_DAYS).unwrap_or(i32::MAX);
    let one: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&location];
    let two: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&variant, &location];
    let three: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [&variant, &location, &window];
    let queries: [(&str, db::Params<'_>); 5] = [
        (location_sql.as_str(), &one),
        (variant_sql.as_str(), &two),
        (history_sql.as_str(), &three),
        (first_sql, &two),
        (level_sql.as_str(), &two),
    ];
    let found = db::tenant_read(client, tenant, &queries).await?;
    let [
        location_rows,
        variant_rows,
        history_rows,
        first_rows,
        level_rows,
    ] = found.as_slice()
    else {
        return Err(Error::internal("the forecast read answered no rows"));
    };
    let today: NaiveDate = location_rows
        .first()
        .ok_or_else(|| Error::not_found("No such location."))?
        .try_get(0)?;
    let variant_row = variant_rows
        .first()
        .ok_or_else(|| Error::not_found("No such variant."))?;
    let sold = history_rows
        .iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect::<Result<Vec<_>, Error>>()?;
    let first_sale = match first_rows.first() {
        Some(row) => row.try_get(0)?,
        None => None,
    };
    let level = level_rows.first().map(LevelView::from_row).transpose()?;
    Ok(Found {
        today,
        product_id: variant_row.try_get(0)?,
        product_name: variant_row.try_get(1)?,
        variant_name: variant_row.try_get(2)?,
        tracked: variant_row.try_get(3)?,
        created: variant_row.try_get(4)?,
        first_sale,
        sold,
        level,
    })
}

fn insufficient(available: usize) -> Error {
    Error::unprocessable(
        "insufficient_history",
        format!(
            "A forecast needs {MIN_HISTORY_DAYS} complete business days of history \
             (two weeks); this variant has {available} at this location."
        ),
    )
    .with_extension("days_available", available)
    .with_extension("days_needed", MIN_HISTORY_DAYS)
}

/// The forecast of `variant` at `location` for the next `days` business days (today first).
pub async fn forecast(
    client: &Client,
    tenant: Uuid,
    variant: Uuid,
    location: Uuid,
    days: usize,
) -> Result<Forecast, Error> {
    let found = read(client, tenant, variant, location).await?;
    let to = found.today.pred_opt().unwrap_or(found.today);
    let window_start = found
        .today
        .checked_sub_days(Days::new(HISTORY_DAYS as u64))
        .unwrap_or(found.today);
    let began = found
        .first_sale
        .map_or(found.created, |f| f.min(found.created));
    let from = window_start.max(began);
    let series = if from <= to {
        daily_series(from, to, &found.sold)
    } else {
        Vec::new()
    };
    let model = holt_winters::fit(&series).ok_or_else(|| insufficient(series.len()))?;
    let backtest = backtest(&series, to);
    let steps = model.forecast(days);
    let forecast = steps
        .iter()
        .zip(0u64..)
        .map(|(step, ahead)| {
            let date = found
                .today
                .checked_add_days(Days::new(ahead))
                .unwrap_or(found.today);
            Day {
                business_date: date,
                weekday: date.weekday().to_string(),
                quantity: round2(step.point),
                lower_80: round2(step.lower_80),
                upper_80: round2(step.upper_80),
                lower_95: round2(step.lower_95),
                upper_95: round2(step.upper_95),
            }
        })
        .collect::<Vec<_>>();
    let reorder = found.tracked.then(|| {
        let level = found.level.as_ref();
        let (on_hand, reserved) = level.map_or((0, 0), |l| (l.on_hand, l.reserved));
        let available = on_hand - reserved;
        let points: Vec<f64> = steps.iter().map(|s| s.point).collect();
        let plan = plan(available, &points, model.sum_sd(days));
        Reorder {
            on_hand,
            reserved,
            available,
            reorder_point: level.and_then(|l| l.reorder_point),
            reorder_quantity: level.and_then(|l| l.reorder_quantity),
            demand: round2(plan.demand),
            safety_stock: round2(plan.safety_stock),
            service_level: SERVICE_LEVEL,
            suggested_quantity: plan.suggested_quantity,
            stockout_date: plan
                .stockout_day
                .and_then(|i| forecast.get(i))
                .map(|day| day.business_date),
        }
    });
    let params = model.params;
    Ok(Forecast {
        variant_id: variant,
        product_id: found.product_id,
        product_name: found.product_name,
        variant_name: found.variant_name,
        location_id: location,
        days,
        method: Method {
            name: "holt_winters_additive",
            season_days: SEASON,
            fitted_by: "grid search minimising the one-step-ahead squared errors",
            alpha: params.alpha,
            beta: params.beta,
            gamma: params.gamma,
            phi: params.phi,
            sigma: round2(model.sigma),
            interval: "normal: forecast ± z·sigma·sqrt(1 + sum of c_j² for j < h), \
                       ETS(A,Ad,A); clamped at 0",
        },
        history: History {
            from,
            to,
            days: series.len(),
            days_with_sales: series.iter().filter(|q| **q != 0.0).count(),
            units_sold: found.sold.iter().map(|(_, q)| q).sum(),
        },
        backtest,
        forecast,
        reorder,
    })
}

/// The backtest of the module docs over `series` ending on `to`; `None` when it is shorter
/// than [`MIN_HISTORY_DAYS`] + [`BACKTEST_DAYS`].
fn backtest(series: &[f64], to: NaiveDate) -> Option<Backtest> {
    let cut = series.len().checked_sub(BACKTEST_DAYS)?;
    let model = holt_winters::fit(&series[..cut])?;
    let predicted: Vec<f64> = model
        .forecast(BACKTEST_DAYS)
        .iter()
        .map(|s| s.point)
        .collect();
    let score = accuracy(&series[cut..], &predicted);
    Some(Backtest {
        from: to.checked_sub_days(Days::new(BACKTEST_DAYS as u64 - 1))?,
        to,
        days: BACKTEST_DAYS,
        mape: score.mape.map(round2),
        mape_days: score.mape_days,
        mae: round2(score.mae),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn d(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn days_default_to_two_weeks_and_stop_at_ninety() {
        assert_eq!(days(None).unwrap(), 14);
        assert_eq!(days(Some(1)).unwrap(), 1);
        assert_eq!(days(Some(90)).unwrap(), 90);
        for bad in [0, 91, -3] {
            assert_eq!(days(Some(bad)).unwrap_err().code(), "invalid_days");
        }
        assert_eq!(
            required(None, "variant", "variant_required")
                .unwrap_err()
                .code(),
            "variant_required"
        );
    }

    #[test]
    fn the_series_fills_days_without_sales_with_zero() {
        let series = daily_series(
            d("2026-11-01"),
            d("2026-11-05"),
            &[
                (d("2026-11-02"), 3),
                (d("2026-11-05"), 7),
                (d("2026-11-09"), 1),
            ],
        );
        assert_eq!(series, [0.0, 3.0, 0.0, 0.0, 7.0]);
        assert!(daily_series(d("2026-11-05"), d("2026-11-01"), &[]).is_empty());
    }

    #[test]
    fn mape_counts_only_days_that_sold() {
        // |10 − 8| / 10 = 20 %, |4 − 5| / 4 = 25 %; the zero day adds to MAE only.
        let score = accuracy(&[10.0, 0.0, 4.0], &[8.0, 1.0, 5.0]);
        assert!((score.mape.unwrap() - 22.5).abs() < 1e-12);
        assert_eq!(score.mape_days, 2);
        assert!((score.mae - 4.0 / 3.0).abs() < 1e-12);
        let none = accuracy(&[0.0, 0.0], &[1.0, 0.0]);
        assert_eq!(none.mape, None);
        assert!((none.mae - 0.5).abs() < 1e-12);
    }

    #[test]
    fn reorder_covers_demand_and_safety_stock_beyond_what_is_available() {
        // Demand 5 + 6 + 7 = 18; safety 1.644853627 × 4 = 6.579…; 18 + 6.58 − 10 = 14.58 → 15.
        let short = plan(10, &[5.0, 6.0, 7.0], 4.0);
        assert_eq!(short.demand, 18.0);
        assert!((short.safety_stock - 6.579_414_508).abs() < 1e-9);
        assert_eq!(short.suggested_quantity, 15);
        // 5 then 11 > 10: out on the second day.
        assert_eq!(short.stockout_day, Some(1));
        // Plenty in stock: nothing to order, never out.
        let plenty = plan(100, &[5.0, 6.0, 7.0], 4.0);
        assert_eq!(plenty.suggested_quantity, 0);
        assert_eq!(plenty.stockout_day, None);
        // Exactly enough is not a stock-out; a hair over a whole unit is that unit.
        assert_eq!(plan(18, &[5.0, 6.0, 7.0], 0.0).stockout_day, None);
        assert_eq!(plan(18, &[5.0, 6.0, 7.0], 0.0).suggested_quantity, 0);
        assert_eq!(plan(6, &[5.0, 6.0, 7.0], 0.0).suggested_quantity, 12);
        assert_eq!(
            plan(6, &[5.0, 6.0, 7.000_000_01], 0.0).suggested_quantity,
            12
        );
        // Nothing available (or oversold): out on the first day that sells.
        let oversold = plan(-2, &[0.0, 3.0], 0.0);
        assert_eq!(oversold.suggested_quantity, 5);
        assert_eq!(oversold.stockout_day, Some(0));
        assert_eq!(plan(0, &[0.0, 3.0], 0.0).stockout_day, Some(1));
    }

    #[test]
    fn the_backtest_holds_out_four_weeks() {
        // Six weeks of the same week: the held-out weeks are forecast exactly.
        let week = [2.0, 0.0, 4.0, 5.0, 9.0, 12.0, 6.0];
        let series: Vec<f64> = (0..42).map(|t| week[t % 7]).collect();
        let test = backtest(&series, d("2026-11-30")).unwrap();
        assert_eq!(test.from, d("2026-11-03"));
        assert_eq!(test.to, d("2026-11-30"));
        assert_eq!(test.days, 28);
        assert_eq!(test.mape_days, 24);
        assert!(test.mape.unwrap() < 1.0, "{test:?}");
        assert!(test.mae < 0.1);
        assert!(backtest(&series[..41], d("2026-11-30")).is_none());
    }
}
