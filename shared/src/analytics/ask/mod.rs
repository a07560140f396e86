//! Questions in plain English (`POST /v1/analytics/ask`): a small deterministic parser
//! ([`parse`]) turns a question into an [`Intent`] over a fixed set of metrics, dimensions,
//! filters and time ranges, and [`execute`] answers it from the rollups (V10) for the
//! principal's locations only. Nothing of the question ever reaches SQL but values bound as
//! parameters: the parser only picks among fixed query shapes.
//!
//! Why hand-written: the date-phrase crates on crates.io (`two_timer`, `chrono-english`) parse
//! a string that is *only* a time expression (`two_timer`'s grammar is anchored `\A…\z`), so
//! finding "yesterday" inside "top 5 products yesterday at Downtown" would mean trying every
//! word window against a large regex grammar; and the ranges here are business dates with
//! rules of their own (ISO weeks, to-date periods ending today, like-for-like comparisons),
//! which the parser has to state in its answer anyway. The vocabulary is small and listed in
//! [`parse`]'s documentation.

pub mod execute;
pub mod parse;

use chrono::{NaiveDate, NaiveTime, Weekday};
use serde::Serialize;
use uuid::Uuid;

pub use execute::{Answer, ask};
pub use parse::{SUGGESTIONS, parse};

use super::report::Range;

/// What a question measures; each is a figure of the rollups (see V10__analytics.sql).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    NetSales,
    GrossSales,
    OrderCount,
    AverageOrderValue,
    ItemsSold,
    Tips,
    Refunds,
    Covers,
    Discounts,
    Tax,
}

impl Metric {
    pub const ALL: [Metric; 10] = [
        Self::NetSales,
        Self::GrossSales,
        Self::OrderCount,
        Self::AverageOrderValue,
        Self::ItemsSold,
        Self::Tips,
        Self::Refunds,
        Self::Covers,
        Self::Discounts,
        Self::Tax,
    ];

    /// How the answer names it.
    pub fn label(self) -> &'static str {
        match self {
            Self::NetSales => "net sales",
            Self::GrossSales => "gross sales",
            Self::OrderCount => "orders",
            Self::AverageOrderValue => "average order value",
            Self::ItemsSold => "items sold",
            Self::Tips => "tips",
            Self::Refunds => "refunds",
            Self::Covers => "covers",
            Self::Discounts => "discounts",
            Self::Tax => "tax",
        }
    }

    /// Its column in the answer (the name `GET /v1/analytics/sales` gives the same figure).
    pub fn column(self) -> &'static str {
        match self {
            Self::NetSales => "net_sales_minor",
            Self::GrossSales => "gross_sales_minor",
            Self::OrderCount => "order_count",
            Self::AverageOrderValue => "average_order_minor",
            Self::ItemsSold => "items_sold",
            Self::Tips => "tips_minor",
            Self::Refunds => "refunds_minor",
            Self::Covers => "covers",
            Self::Discounts => "discounts_minor",
            Self::Tax => "tax_minor",
        }
    }

    /// Money (minor units of a currency, never added across currencies) or a count.
    pub fn is_money(self) -> bool {
        !matches!(self, Self::OrderCount | Self::ItemsSold | Self::Covers)
    }

    /// Whether the per-product rollup has it.
    pub fn by_product(self) -> bool {
        matches!(
            self,
            Self::NetSales
                | Self::GrossSales
                | Self::OrderCount
                | Self::ItemsSold
                | Self::Discounts
        )
    }
}

/// What the rows of an answer are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Location,
    Channel,
    /// Business dates.
    Day,
    /// ISO weeks (Monday first), named by their Monday.
    Week,
    Month,
    /// Local wall-clock hour of day (0–23), over every day of the range.
    Hour,
    /// Day of the week of the business date, over every week of the range.
    Weekday,
    Product,
}

impl Dimension {
    pub fn label(self) -> &'static str {
        match self {
            Self::Location => "location",
            Self::Channel => "channel",
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
            Self::Hour => "hour",
            Self::Weekday => "weekday",
            Self::Product => "product",
        }
    }

    /// The plural, for "top 5 products".
    pub fn plural(self) -> &'static str {
        match self {
            Self::Location => "locations",
            Self::Channel => "channels",
            Self::Day => "days",
            Self::Week => "weeks",
            Self::Month => "months",
            Self::Hour => "hours",
            Self::Weekday => "weekdays",
            Self::Product => "products",
        }
    }
}

/// Hours of the business day, `[from, to)`, counted from the local midnight that starts the
/// business date: 18 is 18:00, 25 is 01:00 the next morning (still the same business day
/// when the location's day cutoff is after 01:00), 48 the end of any business day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HourRange {
    pub from: u32,
    pub to: u32,
}

impl HourRange {
    /// The end of any business day (`"after 6pm"` is 18..48).
    pub const CLOSE: u32 = 48;

    pub fn text(self) -> String {
        let clock = |h: u32| format!("{:02}:00", h % 24);
        match (self.from, self.to) {
            (0, to) => format!("before {}", clock(to)),
            (from, Self::CLOSE) => format!("from {} to close", clock(from)),
            (from, to) => format!("{}–{}", clock(from), clock(to)),
        }
    }
}

/// A location the question named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocationRef {
    pub id: Uuid,
    pub name: String,
}

/// The filters of an [`Intent`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Filters {
    /// Empty: every location of the principal.
    pub locations: Vec<LocationRef>,
    /// One of [`super::report::CHANNELS`].
    pub channel: Option<&'static str>,
    /// Days of the week of the business date (empty: every day).
    #[serde(serialize_with = "weekday_names")]
    pub weekdays: Vec<Weekday>,
    pub hours: Option<HourRange>,
}

fn weekday_names<S: serde::Serializer>(days: &[Weekday], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(days.iter().map(|d| weekday_name(*d)))
}

/// `Monday` … `Sunday`.
pub fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

/// What the comparison period is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CompareKind {
    /// The period of equal length just before ("vs the previous period").
    PreviousPeriod,
    /// The range moved back a day, a week, a month or a year ("vs last month"): a to-date
    /// range compares with the same days of the earlier period (1–3 December with 1–3
    /// November), a whole month with the whole month before.
    DayBefore,
    WeekBefore,
    MonthBefore,
    YearBefore,
    /// A range the question gave ("in March vs April").
    Range,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Comparison {
    pub kind: CompareKind,
    pub range: Range,
}

/// A ranked list: the first metric orders the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Top {
    pub limit: i64,
    /// "worst", "least", "quietest": smallest first.
    pub ascending: bool,
}

/// A question, understood.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Intent {
    /// At least one; the first orders a ranked list.
    pub metrics: Vec<Metric>,
    pub dimension: Option<Dimension>,
    pub filters: Filters,
    pub range: Range,
    pub comparison: Option<Comparison>,
    pub top: Option<Top>,
    /// What the question did not say and was assumed (e.g. the range).
    pub assumed: Vec<String>,
}

/// A location the principal may see, with what the parser and the answer need of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownLocation {
    pub id: Uuid,
    pub name: String,
    pub currency: String,
    pub time_zone: String,
    pub day_cutoff: NaiveTime,
}

impl Intent {
    /// The one-line reading shown to the user: "net sales by location, 2026-11-23 to
    /// 2026-11-29".
    pub fn text(&self) -> String {
        let mut text = String::new();
        match self.top {
            Some(top) => {
                let dimension = self.dimension.unwrap_or(Dimension::Product);
                let word = if top.ascending { "bottom" } else { "top" };
                let metric = self.metrics.first().map_or("", |m| m.label());
                if top.limit == 1 {
                    text.push_str(&format!("{word} {} by {metric}", dimension.label()));
                } else {
                    text.push_str(&format!(
                        "{word} {} {} by {metric}",
                        top.limit,
                        dimension.plural()
                    ));
                }
            }
            None => {
                let labels: Vec<_> = self.metrics.iter().map(|m| m.label()).collect();
                text.push_str(&labels.join(" and "));
                if let Some(dimension) = self.dimension {
                    text.push_str(" by ");
                    text.push_str(dimension.label());
                }
            }
        }
        if !self.filters.locations.is_empty() {
            let names: Vec<_> = self
                .filters
                .locations
                .iter()
                .map(|l| l.name.as_str())
                .collect();
            text.push_str(" at ");
            text.push_str(&names.join(" and "));
        }
        if let Some(channel) = self.filters.channel {
            text.push_str(", ");
            text.push_str(&channel.replace('_', "-"));
        }
        if !self.filters.weekdays.is_empty() {
            let days: Vec<_> = self
                .filters
                .weekdays
                .iter()
                .map(|d| format!("{}s", weekday_name(*d)))
                .collect();
            text.push_str(", ");
            text.push_str(&days.join(" and "));
        }
        if let Some(hours) = self.filters.hours {
            text.push_str(", ");
            text.push_str(&hours.text());
        }
        text.push_str(", ");
        text.push_str(&range_text(self.range));
        if let Some(comparison) = self.comparison {
            text.push_str(" vs ");
            text.push_str(&range_text(comparison.range));
        }
        text
    }
}

/// `2026-11-28` or `2026-11-23 to 2026-11-29`.
pub fn range_text(range: Range) -> String {
    if range.from == range.to {
        range.from.to_string()
    } else {
        format!("{} to {}", range.from, range.to)
    }
}

/// A one-day range.
pub(crate) fn one_day(date: NaiveDate) -> Range {
    Range {
        from: date,
        to: date,
    }
}
