//! RFM customer segments (`GET /v1/analytics/customers/segments`): recency, frequency and
//! monetary scores 1–5 within the tenant, from the customer statistics the
//! `on-order-paid-update-customer-stats` handler keeps (`customer.order_stats`: one row per paid
//! order of a customer, its amount and what was refunded of it), and the segments they map to.
//!
//! Per customer and currency, as of a business date `as_of` (orders on later business days do
//! not count):
//! - recency `R`: days from the last order's business date to `as_of` (fewer is better);
//! - frequency `F`: paid orders;
//! - monetary `M`: what those orders charged, less what was refunded (minor units, refunds as
//!   known now).
//!
//! Scores are quintiles of each measure among the customers of the same currency, computed in
//! SQL with `rank()`: a customer's score is `1 + ⌊5b / n⌋` where `b` is how many of the `n`
//! customers it beats (strictly worse on the measure) ([`quintile`]). Without ties these are
//! exact fifths (10 customers: 1,1,2,2,…,5,5); tied customers share a score, the one their
//! group earns by whom it beats, so ten customers with one order each all score F = 1 (where
//! `ntile` would split them 1 to 5 arbitrarily). Recency ranks the last order's time (ties
//! are rare), and `recency_days` reports it in business days.
//!
//! Segments ([`RULES`]) follow the widely used RFM grid of recency against frequency (its ten
//! named cells — champions, loyal customers, potential loyalists, new customers, promising,
//! need attention, about to sleep, at risk, can't lose them, hibernating — grouped into the
//! five segments asked for); as in that grid, `M` is scored and reported but does not move a
//! customer between segments (spend follows frequency closely, and a grid of two scores stays
//! explainable).
//!
//! Money per currency: a tenant may sell in several currencies, and spend in pounds and in
//! dollars cannot be ranked together, so every currency is its own market: customers are
//! scored among those of the same currency (a customer buying in two is scored in each), and
//! the answer has one entry per currency. Listing a segment's customers asks for one currency
//! when there are several (422 `mixed_currencies`, as the sales reports do).

use chrono::{NaiveDate, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::report::{self, Scope};
use crate::db::{self, Client};
use crate::error::Error;

/// Customers listed per page: default and largest `limit`.
pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

/// A segment of the RFM grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Segment {
    Champions,
    Loyal,
    New,
    AtRisk,
    Lost,
}

impl Segment {
    /// Every segment, in the order answers list them.
    pub const ALL: [Segment; 5] = [
        Segment::Champions,
        Segment::Loyal,
        Segment::New,
        Segment::AtRisk,
        Segment::Lost,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Champions => "champions",
            Self::Loyal => "loyal",
            Self::New => "new",
            Self::AtRisk => "at_risk",
            Self::Lost => "lost",
        }
    }

    /// `champions`, `loyal`, `new`, `at_risk` or `lost`, else 422 `invalid_segment`.
    pub fn parse(value: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|segment| segment.as_str() == value)
            .ok_or_else(|| {
                Error::unprocessable(
                    "invalid_segment",
                    "`segment` is one of champions, loyal, new, at_risk, lost.",
                )
                .with_extension("field", "segment")
            })
    }
}

/// One rule of the grid: a segment holds the customers whose `R` and `F` scores fall in the
/// ranges (inclusive) of one of its rules. The rules cover each of the 25 (R, F) cells once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub segment: Segment,
    pub recency: (i16, i16),
    pub frequency: (i16, i16),
    /// The cells of the classic grid this rule holds.
    pub grid: &'static str,
}

#[rustfmt::skip] // a table: one rule a line
pub const RULES: &[Rule] = &[
    Rule { segment: Segment::Champions, recency: (5, 5), frequency: (4, 5), grid: "champions" },
    Rule { segment: Segment::Loyal, recency: (3, 4), frequency: (4, 5), grid: "loyal customers" },
    Rule { segment: Segment::Loyal, recency: (4, 5), frequency: (2, 3), grid: "potential loyalists" },
    Rule { segment: Segment::New, recency: (4, 5), frequency: (1, 1), grid: "new customers, promising" },
    Rule { segment: Segment::AtRisk, recency: (1, 2), frequency: (3, 5), grid: "at risk, can't lose them" },
    Rule { segment: Segment::AtRisk, recency: (3, 3), frequency: (1, 3), grid: "about to sleep, need attention" },
    Rule { segment: Segment::Lost, recency: (1, 2), frequency: (1, 2), grid: "hibernating, lost" },
];

/// The segment of the scores `r` and `f` (each 1–5; out-of-range scores are clamped).
pub fn segment_of(r: i16, f: i16) -> Segment {
    let (r, f) = (r.clamp(1, 5), f.clamp(1, 5));
    RULES
        .iter()
        .find(|rule| {
            (rule.recency.0..=rule.recency.1).contains(&r)
                && (rule.frequency.0..=rule.frequency.1).contains(&f)
        })
        .map_or(Segment::Lost, |rule| rule.segment)
}

/// The rule of `segment` in words, e.g. `R 5 and F 4–5`, its rules joined with `or`.
pub fn rule_text(segment: Segment) -> String {
    let span = |(low, high): (i16, i16)| {
        if low == high {
            low.to_string()
        } else {
            format!("{low}–{high}")
        }
    };
    RULES
        .iter()
        .filter(|rule| rule.segment == segment)
        .map(|rule| {
            format!(
                "R {} and F {} ({})",
                span(rule.recency),
                span(rule.frequency),
                rule.grid
            )
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

/// The quintile score of a value that beats `below` of the `n` values it is ranked among:
/// `1 + ⌊5 · below / n⌋`, 1–5. The SQL of [`segments`] computes the same in integers, with
/// `below = rank() − 1`.
pub fn quintile(below: i64, n: i64) -> i16 {
    if n <= 0 {
        return 1;
    }
    let score = 1 + 5 * below.max(0) / n;
    i16::try_from(score.clamp(1, 5)).unwrap_or(1)
}

/// [`quintile`] in SQL over the window `w` of one currency, ascending by the measure.
fn quintile_sql(window: &str) -> String {
    format!(
        "least(5, 1 + 5 * (rank() OVER {window} - 1)
                  / count(*) OVER (PARTITION BY currency))::int2"
    )
}

/// [`segment_of`] in SQL over the columns `r` and `f`, from [`RULES`].
fn segment_sql() -> String {
    let arms: String = RULES
        .iter()
        .map(|rule| {
            format!(
                " WHEN r BETWEEN {} AND {} AND f BETWEEN {} AND {} THEN '{}'",
                rule.recency.0,
                rule.recency.1,
                rule.frequency.0,
                rule.frequency.1,
                rule.segment.as_str()
            )
        })
        .collect();
    format!("CASE{arms} ELSE 'lost' END")
}

/// The validated query of the endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentsQuery {
    pub as_of: NaiveDate,
    pub currency: Option<String>,
    /// List this segment's customers.
    pub segment: Option<Segment>,
    pub limit: i64,
    /// The last customer id of the previous page.
    pub cursor: Option<Uuid>,
}

/// Raw query parameters, as strings.
#[derive(Debug, Clone, Default)]
pub struct RawQuery<'a> {
    pub as_of: Option<&'a str>,
    pub currency: Option<&'a str>,
    pub segment: Option<&'a str>,
    pub limit: Option<i64>,
    pub cursor: Option<Uuid>,
}

fn invalid(code: &'static str, field: &str, detail: impl Into<String>) -> Error {
    Error::unprocessable(code, detail).with_extension("field", field)
}

impl SegmentsQuery {
    /// `as_of` a business date `YYYY-MM-DD` (default: `today`; 422 `invalid_date`), `currency`
    /// an ISO 4217 code (422 `invalid_currency`), `segment` one of [`Segment`] (422
    /// `invalid_segment`), `limit` 1..=[`MAX_LIMIT`] (422 `invalid_limit`); `limit` and
    /// `cursor` only with `segment` (422 `segment_required`).
    pub fn parse(raw: &RawQuery<'_>, today: NaiveDate) -> Result<Self, Error> {
        let as_of = match raw.as_of {
            None => today,
            Some(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .filter(|_| text.len() == 10)
                .ok_or_else(|| {
                    invalid(
                        "invalid_date",
                        "as_of",
                        "`as_of` must be a date YYYY-MM-DD.",
                    )
                })?,
        };
        let currency = match raw.currency {
            None => None,
            Some(code) if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) => {
                Some(code.to_owned())
            }
            Some(_) => {
                return Err(invalid(
                    "invalid_currency",
                    "currency",
                    "`currency` is an ISO 4217 code such as GBP.",
                ));
            }
        };
        let segment = raw.segment.map(Segment::parse).transpose()?;
        if segment.is_none() && (raw.limit.is_some() || raw.cursor.is_some()) {
            return Err(invalid(
                "segment_required",
                "segment",
                "`limit` and `cursor` page the customers of one `segment`.",
            ));
        }
        let limit = raw.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(invalid(
                "invalid_limit",
                "limit",
                format!("`limit` must be between 1 and {MAX_LIMIT}."),
            ));
        }
        Ok(Self {
            as_of,
            currency,
            segment,
            limit,
            cursor: raw.cursor,
        })
    }

    /// The default `as_of`: today's date in UTC.
    pub fn today() -> NaiveDate {
        Utc::now().date_naive()
    }
}

/// One segment of a currency's customers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentFigures {
    pub segment: Segment,
    /// Which scores it holds, e.g. `R 5 and F 4–5 (champions)`.
    pub rule: String,
    pub customer_count: i64,
    /// Of the currency's scored customers, 0–1 (four decimals).
    pub share: f64,
    /// Days since the last order, on average (one decimal); `null` for an empty segment.
    pub average_recency_days: Option<f64>,
    /// Orders per customer, on average (two decimals); `null` for an empty segment.
    pub average_frequency: Option<f64>,
    /// Spend per customer, rounded to the minor unit; `null` for an empty segment.
    pub average_monetary_minor: Option<i64>,
}

/// The customers of one currency.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Market {
    pub currency: String,
    pub customer_count: i64,
    /// Every segment, empty ones too, in the order of [`Segment::ALL`].
    pub segments: Vec<SegmentFigures>,
}

/// A customer of a listed segment with its scores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScoredCustomer {
    pub customer_id: Uuid,
    pub name: String,
    pub currency: String,
    pub first_order_date: NaiveDate,
    pub last_order_date: NaiveDate,
    pub recency_days: i64,
    pub frequency: i64,
    pub monetary_minor: i64,
    pub r: i16,
    pub f: i16,
    pub m: i16,
    /// The three scores as digits, e.g. `545`.
    pub rfm: String,
    pub segment: Segment,
}

/// A page of a segment's customers, newest customers first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomerPage {
    pub segment: Segment,
    pub currency: Option<String>,
    pub items: Vec<ScoredCustomer>,
    pub next_cursor: Option<Uuid>,
}

/// How the scores were computed, in words, for the reader of the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scheme {
    pub name: &'static str,
    pub recency: &'static str,
    pub frequency: &'static str,
    pub monetary: &'static str,
    pub scores: &'static str,
    pub segments: &'static str,
}

pub const SCHEME: Scheme = Scheme {
    name: "rfm_quintiles",
    recency: "days from the last paid order's business date to as_of (fewer scores higher)",
    frequency: "paid orders up to as_of",
    monetary: "amount charged by those orders less refunds, in minor units of the currency",
    scores: "quintiles 1-5 among the n customers of the same currency: 1 + floor(5 b / n) for \
             a customer who beats b of them (ties share a score); recency ranks the last \
             order's time",
    segments: "the RFM grid of R against F; M is scored but does not change the segment",
};

/// `GET /v1/analytics/customers/segments`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentsReport {
    pub as_of: NaiveDate,
    pub location_id: Option<Uuid>,
    pub currency: Option<String>,
    pub scheme: Scheme,
    /// One per currency the scoped customers bought in, by currency code.
    pub markets: Vec<Market>,
    /// With `segment`: a page of its customers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customers: Option<CustomerPage>,
}

/// Per customer and currency: the statistics up to `$1`, then the scores and the segment.
/// Parameters: $1 as_of, $2 location, $3 locations, $4 currency.
fn scored_sql() -> String {
    format!(
        "WITH stats AS (
             SELECT s.customer_id, l.currency, min(o.business_date) AS first_date,
                    max(o.business_date) AS last_date, max(s.ordered_at) AS last_at,
                    count(*)::int8 AS frequency,
                    sum(s.amount_minor - s.refunded_minor)::int8 AS monetary
             FROM customer.order_stats s
             JOIN sales.orders o ON o.id = s.order_id
             JOIN platform.locations l ON l.id = o.location_id
             WHERE o.business_date <= $1
               AND ($2::uuid IS NULL OR o.location_id = $2)
               AND ($3::uuid[] IS NULL OR o.location_id = ANY($3))
               AND ($4::text IS NULL OR l.currency = $4)
             GROUP BY s.customer_id, l.currency
         ),
         scored AS (
             SELECT st.*, ($1::date - st.last_date)::int8 AS recency_days,
                    {r} AS r, {f} AS f, {m} AS m
             FROM stats st
             JOIN customer.customers c ON c.id = st.customer_id AND c.merged_into IS NULL
             WINDOW wr AS (PARTITION BY currency ORDER BY last_at),
                    wf AS (PARTITION BY currency ORDER BY frequency),
                    wm AS (PARTITION BY currency ORDER BY monetary)
         ),
         segmented AS (
             SELECT *, {segment} AS segment FROM scored
         )",
        r = quintile_sql("wr"),
        f = quintile_sql("wf"),
        m = quintile_sql("wm"),
        segment = segment_sql(),
    )
}

/// Rounds `value` to `places` decimals.
fn round_to(value: f64, places: i32) -> f64 {
    let scale = 10_f64.powi(places);
    (value * scale).round() / scale
}

#[allow(clippy::cast_precision_loss)] // counts and day sums of a report, shown rounded
fn ratio(total: i64, count: i64, places: i32) -> Option<f64> {
    (count > 0).then(|| round_to(total as f64 / count as f64, places))
}

/// The segment figures of one currency from per-segment sums: (segment, customers, Σ recency
/// days, Σ orders, Σ spend).
pub fn market(currency: String, sums: &[(Segment, i64, i64, i64, i64)]) -> Market {
    let total: i64 = sums.iter().map(|s| s.1).sum();
    let segments = Segment::ALL
        .into_iter()
        .map(|segment| {
            let (count, recency, frequency, monetary) = sums
                .iter()
                .filter(|s| s.0 == segment)
                .fold((0, 0, 0, 0), |acc, s| {
                    (acc.0 + s.1, acc.1 + s.2, acc.2 + s.3, acc.3 + s.4)
                });
            SegmentFigures {
                segment,
                rule: rule_text(segment),
                customer_count: count,
                share: ratio(count, total, 4).unwrap_or(0.0),
                average_recency_days: ratio(recency, count, 1),
                average_frequency: ratio(frequency, count, 2),
                average_monetary_minor: (count > 0).then(|| report::average(monetary, count)),
            }
        })
        .collect();
    Market {
        currency,
        customer_count: total,
        segments,
    }
}

/// The RFM segments of the customers in `scope` as of `query.as_of`, and with
/// `query.segment` a page of that segment's customers.
pub async fn segments(
    client: &Client,
    tenant: Uuid,
    query: &SegmentsQuery,
    scope: &Scope,
) -> Result<SegmentsReport, Error> {
    let scored = scored_sql();
    let summary_sql = format!(
        "{scored}
         SELECT currency, segment, count(*)::int8, sum(recency_days)::int8,
                sum(frequency)::int8, sum(monetary)::int8
         FROM segmented
         GROUP BY currency, segment
         ORDER BY currency, segment"
    );
    let list_sql = format!(
        "{scored}
         SELECT g.customer_id, c.name, g.currency, g.first_date, g.last_date, g.recency_days,
                g.frequency, g.monetary, g.r, g.f, g.m, g.segment
         FROM segmented g
         JOIN customer.customers c ON c.id = g.customer_id
         WHERE g.segment = $5 AND ($6::uuid IS NULL OR g.customer_id < $6)
         ORDER BY g.customer_id DESC
         LIMIT $7"
    );
    let summary_params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] = [
        &query.as_of,
        &scope.location,
        &scope.locations,
        &query.currency,
    ];
    let segment = query.segment.map(Segment::as_str);
    let fetch = crate::http::pagination::fetch_limit(query.limit);
    let list_params: [&(dyn tokio_postgres::types::ToSql + Sync); 7] = [
        &query.as_of,
        &scope.location,
        &scope.locations,
        &query.currency,
        &segment,
        &query.cursor,
        &fetch,
    ];
    let mut queries: Vec<(&str, db::Params<'_>)> = vec![(summary_sql.as_str(), &summary_params)];
    if query.segment.is_some() {
        queries.push((list_sql.as_str(), &list_params));
    }
    let found = db::tenant_read(client, tenant, &queries).await?;
    let Some(summary) = found.first() else {
        return Err(Error::internal("the segments read answered no rows"));
    };
    let mut markets: Vec<Market> = Vec::new();
    let mut sums: Vec<(Segment, i64, i64, i64, i64)> = Vec::new();
    let mut current: Option<String> = None;
    for row in summary {
        let currency: String = row.try_get(0)?;
        let segment = Segment::parse(row.try_get(1)?)?;
        if current.as_ref().is_some_and(|c| *c != currency) {
            if let Some(done) = current.take() {
                markets.push(market(done, &sums));
            }
            sums.clear();
        }
        current = Some(currency);
        sums.push((
            segment,
            row.try_get(2)?,
            row.try_get(3)?,
            row.try_get(4)?,
            row.try_get(5)?,
        ));
    }
    if let Some(done) = current {
        markets.push(market(done, &sums));
    }
    let customers = match (query.segment, found.get(1)) {
        (Some(segment), Some(rows)) => {
            if query.currency.is_none() && markets.len() > 1 {
                return Err(Error::unprocessable(
                    "mixed_currencies",
                    "These customers buy in more than one currency: choose one with `currency` \
                     (or `location`) to list a segment.",
                )
                .with_extension("field", "currency"));
            }
            let items = rows
                .iter()
                .map(|row| {
                    let (r, f, m): (i16, i16, i16) =
                        (row.try_get(8)?, row.try_get(9)?, row.try_get(10)?);
                    Ok(ScoredCustomer {
                        customer_id: row.try_get(0)?,
                        name: row.try_get(1)?,
                        currency: row.try_get(2)?,
                        first_order_date: row.try_get(3)?,
                        last_order_date: row.try_get(4)?,
                        recency_days: row.try_get(5)?,
                        frequency: row.try_get(6)?,
                        monetary_minor: row.try_get(7)?,
                        r,
                        f,
                        m,
                        rfm: format!("{r}{f}{m}"),
                        segment: Segment::parse(row.try_get(11)?)?,
                    })
                })
                .collect::<Result<Vec<_>, Error>>()?;
            let page =
                crate::http::pagination::Page::from_items(items, query.limit, |c| c.customer_id);
            Some(CustomerPage {
                segment,
                currency: query
                    .currency
                    .clone()
                    .or_else(|| markets.first().map(|m| m.currency.clone())),
                items: page.items,
                next_cursor: page.next_cursor,
            })
        }
        _ => None,
    };
    Ok(SegmentsReport {
        as_of: query.as_of,
        location_id: scope.location,
        currency: query.currency.clone(),
        scheme: SCHEME,
        markets,
        customers,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_cover_every_cell_of_the_grid_once() {
        for r in 1..=5 {
            for f in 1..=5 {
                let holding = RULES
                    .iter()
                    .filter(|rule| {
                        (rule.recency.0..=rule.recency.1).contains(&r)
                            && (rule.frequency.0..=rule.frequency.1).contains(&f)
                    })
                    .count();
                assert_eq!(holding, 1, "cell R{r} F{f}");
            }
        }
    }

    #[test]
    fn score_patterns_map_to_the_grid_segments() {
        use Segment::*;
        // Rows R 5 down to 1, columns F 1 to 5.
        let grid = [
            [New, Loyal, Loyal, Champions, Champions],
            [New, Loyal, Loyal, Loyal, Loyal],
            [AtRisk, AtRisk, AtRisk, Loyal, Loyal],
            [Lost, Lost, AtRisk, AtRisk, AtRisk],
            [Lost, Lost, AtRisk, AtRisk, AtRisk],
        ];
        for (row, r) in grid.iter().zip((1..=5).rev()) {
            for (expected, f) in row.iter().zip(1..=5) {
                assert_eq!(segment_of(r, f), *expected, "R{r} F{f}");
            }
        }
        assert_eq!(segment_of(9, 9), Champions, "clamped");
        assert_eq!(segment_of(0, 0), Lost, "clamped");
        assert_eq!(rule_text(Champions), "R 5 and F 4–5 (champions)");
        assert_eq!(rule_text(New), "R 4–5 and F 1 (new customers, promising)");
        assert!(rule_text(Loyal).contains(" or "));
    }

    #[test]
    fn the_sql_mapping_is_built_from_the_rules() {
        let sql = segment_sql();
        assert!(
            sql.starts_with("CASE WHEN r BETWEEN 5 AND 5 AND f BETWEEN 4 AND 5 THEN 'champions'")
        );
        assert_eq!(sql.matches(" WHEN ").count(), RULES.len());
        assert!(sql.ends_with("ELSE 'lost' END"));
        for segment in Segment::ALL {
            assert_eq!(Segment::parse(segment.as_str()).unwrap(), segment);
        }
        assert_eq!(
            Segment::parse("whales").unwrap_err().code(),
            "invalid_segment"
        );
    }

    /// Scores of `values` (ascending = better) as the SQL computes them.
    fn scores(values: &[i64]) -> Vec<i16> {
        let n = i64::try_from(values.len()).unwrap();
        values
            .iter()
            .map(|v| {
                quintile(
                    i64::try_from(values.iter().filter(|x| *x < v).count()).unwrap(),
                    n,
                )
            })
            .collect()
    }

    #[test]
    fn quintiles_are_fifths_and_ties_share_the_score_of_whom_they_beat() {
        assert_eq!(scores(&[1, 2, 3, 4, 5]), [1, 2, 3, 4, 5]);
        assert_eq!(scores(&[50, 40, 30, 20, 10]), [5, 4, 3, 2, 1]);
        assert_eq!(
            scores(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
            [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
        );
        // Six one-time buyers of ten beat nobody; the others beat six to nine of them.
        assert_eq!(
            scores(&[1, 1, 1, 1, 1, 1, 2, 3, 4, 5]),
            [1, 1, 1, 1, 1, 1, 4, 4, 5, 5]
        );
        // A tied top group scores what it beats: three of seven beat four (5·4/7 = 2.9).
        assert_eq!(scores(&[1, 2, 3, 4, 9, 9, 9]), [1, 1, 2, 3, 3, 3, 3]);
        assert_eq!(scores(&[3, 3, 3]), [1, 1, 1]);
        assert_eq!(scores(&[7]), [1]);
        assert_eq!(quintile(0, 0), 1);
        assert_eq!(quintile(99, 100), 5);
    }

    #[test]
    fn markets_sum_their_segments() {
        let m = market(
            "GBP".into(),
            &[
                (Segment::Champions, 2, 3, 20, 10_001),
                (Segment::Lost, 3, 200, 3, 1_500),
            ],
        );
        assert_eq!(m.customer_count, 5);
        let champions = &m.segments[0];
        assert_eq!(champions.segment, Segment::Champions);
        assert_eq!(champions.share, 0.4);
        assert_eq!(champions.average_recency_days, Some(1.5));
        assert_eq!(champions.average_frequency, Some(10.0));
        assert_eq!(champions.average_monetary_minor, Some(5001));
        let lost = &m.segments[4];
        assert_eq!(lost.share, 0.6);
        assert_eq!(lost.average_recency_days, Some(66.7));
        assert_eq!(lost.average_frequency, Some(1.0));
        assert_eq!(lost.average_monetary_minor, Some(500));
        let loyal = &m.segments[1];
        assert_eq!(loyal.customer_count, 0);
        assert_eq!(loyal.share, 0.0);
        assert_eq!(loyal.average_recency_days, None);
        assert_eq!(loyal.average_monetary_minor, None);
    }

    #[test]
    fn queries_are_validated() {
        let today: NaiveDate = "2026-12-03".parse().unwrap();
        let q = SegmentsQuery::parse(&RawQuery::default(), today).unwrap();
        assert_eq!(q.as_of, today);
        assert_eq!(q.limit, DEFAULT_LIMIT);
        assert_eq!(q.segment, None);
        let q = SegmentsQuery::parse(
            &RawQuery {
                as_of: Some("2026-11-30"),
                currency: Some("GBP"),
                segment: Some("at_risk"),
                limit: Some(5),
                cursor: None,
            },
            today,
        )
        .unwrap();
        assert_eq!(q.as_of.to_string(), "2026-11-30");
        assert_eq!(q.segment, Some(Segment::AtRisk));
        assert_eq!(q.currency.as_deref(), Some("GBP"));
        let code = |raw: RawQuery<'_>| {
            SegmentsQuery::parse(&raw, today)
                .unwrap_err()
                .code()
                .to_owned()
        };
        assert_eq!(
            code(RawQuery {
                as_of: Some("2026-11-3"),
                ..RawQuery::default()
            }),
            "invalid_date"
        );
        assert_eq!(
            code(RawQuery {
                currency: Some("gbp"),
                ..RawQuery::default()
            }),
            "invalid_currency"
        );
        assert_eq!(
            code(RawQuery {
                segment: Some("vip"),
                ..RawQuery::default()
            }),
            "invalid_segment"
        );
        assert_eq!(
            code(RawQuery {
                limit: Some(5),
                ..RawQuery::default()
            }),
            "segment_required"
        );
        assert_eq!(
            code(RawQuery {
                segment: Some("lost"),
                limit: Some(101),
                ..RawQuery::default()
            }),
            "invalid_limit"
        );
    }
}
