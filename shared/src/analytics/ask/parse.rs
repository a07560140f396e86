//! The question parser: words in, an [`Intent`] out, or a 422 that says what it understood.
//!
//! The question is lower-cased and split into words (punctuation dropped, `'s` removed,
//! hyphens split, number words read as digits: "five" is 5, "twenty-one" 21, "first" 1st).
//! Then, word by word, the longest phrase that means something is taken:
//!
//! - metrics: sales / revenue / turnover / takings / income / made → net sales; gross (sales);
//!   orders / tickets / transactions / checks / bills → order count; average ticket / order
//!   (value) / basket / check / spend, AOV → average order value; items / units (sold),
//!   quantity, sold → items sold; tips; refunds; covers / guests / diners; discounts; tax / VAT.
//! - dimensions: "by", "per", "each", "broken down by" + location / store / channel /
//!   order type / day / date / week / month / hour / time of day / weekday / day of week /
//!   product / item / dish; daily, weekly, monthly, hourly; "which location".
//! - ranking: "top 5", "best selling", "best sellers", "most popular", "worst", "bottom 3",
//!   then what is ranked (products by default; "top 3 days", "top locations"), "by revenue"
//!   or "by quantity" for the order; "busiest day / hour / weekday" (orders, top 1), "quietest".
//! - filters: a location by name (case-insensitive, a leading "the" optional; after "at",
//!   "in", "for" also a prefix of three letters or more: "at down"); channels dine-in / eat
//!   in, takeout / takeaway / to go, delivery, pickup / collection, online; days of the week
//!   as plurals ("on Saturdays", "weekends", "weekdays"); hours: "after 6pm", "before noon",
//!   "between 11 and 2", "from 5pm to 9pm", "at 7pm" (that hour), lunch (11–15), dinner /
//!   evening (17–22), breakfast / morning (06–11), afternoon (12–17), late night (22 to
//!   close). A bare hour 1–6 is afternoon or evening ("after 6" is 18:00), 7–12 as written,
//!   and an end not after the start moves on 12 hours ("between 11 and 2" is 11:00–14:00).
//!   Hours are of the business day: with a 04:00 cutoff, "after 6pm" runs to 04:00.
//! - time ranges (business dates, see [`super::execute`] for whose "today"): today,
//!   yesterday, the day before yesterday; this / last week, month, year (to-date periods end
//!   today); week / month / year to date, WTD / MTD / YTD; the week before last; last / past N
//!   days, weeks, months (ending today); the past week / month; (on / last) Saturday (the
//!   latest one, today included unless "last"); this / last weekend; March, March 2026 (the
//!   latest one); 2026-11-01, 1 May, May 1st, 1st of May 2026; since 1 May; from / between
//!   a date to / and a date; a date to a date. A day of the week together with another range
//!   keeps that day in it ("Saturday last week"). Without a range: the last 7 days (28 with a
//!   weekday filter or breakdown), said in `assumed`.
//! - comparisons: "vs", "versus", "compared to / with", "against" + last / previous week,
//!   month, year, yesterday, the same period last year, the previous period, or a range;
//!   "week over week", "month over month" (MoM), "year over year" (YoY).
//!
//! Words with no meaning of their own (what, how, much, the, show me…) are skipped; any other
//! word makes the question unrecognised (422 `unrecognised_question` with what was
//! understood, what is missing, the words not understood and suggestions), so a question is
//! never answered as something it did not ask. A word after "at" / "in" / "for" that is no
//! location of the principal's is 422 `unknown_location` with the names it knows.

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};
use serde_json::{Value, json};

use super::{
    CompareKind, Comparison, Dimension, Filters, HourRange, Intent, KnownLocation, LocationRef,
    Metric, Top, one_day, range_text,
};
use crate::analytics::report::{self, Range};
use crate::error::Error;

/// Questions that work, shown with a 422 (each is checked by the unit tests).
pub const SUGGESTIONS: &[&str] = &[
    "sales last week by location",
    "top 5 products yesterday",
    "how many orders on Saturday after 6pm",
    "average ticket this month vs last month",
    "sales today",
    "orders by hour yesterday",
    "tips last 7 days by location",
    "refunds this month",
    "covers at lunch last week",
    "net sales by channel this month",
    "sales by weekday last 4 weeks",
    "busiest hour last week",
];

/// The longest question read, in characters.
pub const MAX_QUESTION_CHARS: usize = 300;

/// The ranked list's default and largest size.
const DEFAULT_TOP: i64 = 10;

const FILLERS: &[&str] = &[
    "what",
    "whats",
    "how",
    "much",
    "many",
    "did",
    "do",
    "does",
    "we",
    "i",
    "our",
    "my",
    "us",
    "me",
    "the",
    "a",
    "an",
    "of",
    "in",
    "at",
    "on",
    "for",
    "to",
    "show",
    "tell",
    "give",
    "get",
    "list",
    "was",
    "were",
    "is",
    "are",
    "be",
    "been",
    "have",
    "had",
    "has",
    "total",
    "totals",
    "overall",
    "all",
    "so",
    "far",
    "please",
    "and",
    "with",
    "there",
    "figures",
    "figure",
    "numbers",
    "number",
    "report",
    "during",
    "over",
    "period",
    "value",
    "it",
    "this",
    "that",
    "from",
    "location",
    "locations",
    "store",
    "stores",
    "site",
    "sites",
    "branch",
    "branches",
    "restaurant",
    "restaurants",
    "shop",
    "shops",
    "outlet",
    "outlets",
    "across",
    "everywhere",
    "can",
    "you",
    "see",
    "look",
    "like",
    "were",
    "up",
    "s",
    "total",
    "sum",
    "time",
    "times",
    "which",
    "when",
    "who",
    "any",
    "some",
    "by",
    "each",
    "per",
    "channel",
    "channels",
    "selling",
    "sellers",
    "seller",
    "popular",
    "performing",
    "ordered",
    "most",
    "least",
    "out",
    "until",
    "since",
    "between",
    "between",
    "vs",
    "versus",
    "compared",
    "against",
    "been",
    "happened",
    "occurred",
    "along",
    "now",
    "currently",
    "far",
    "date",
    "dates",
    "then",
    "them",
    "business",
];

/// Words that end a location search after "at" / "in" / "for" ("in total", "at all").
fn is_filler(word: &str) -> bool {
    FILLERS.contains(&word)
}

// ---------------------------------------------------------------------------------------------
// Words.

/// The question as normalised words.
pub fn words(question: &str) -> Vec<String> {
    let lower = question
        .to_lowercase()
        .replace(['\u{2019}', '\u{2018}'], "'")
        .replace("a.m.", "am")
        .replace("p.m.", "pm")
        .replace('@', " at ")
        .replace('&', " and ");
    let mut raw = Vec::new();
    for piece in lower.split(|c: char| !(c.is_alphanumeric() || matches!(c, ':' | '-' | '\''))) {
        let piece = piece.trim_matches(|c| matches!(c, '-' | ':' | '\''));
        let piece = piece.strip_suffix("'s").unwrap_or(piece).replace('\'', "");
        if piece.is_empty() {
            continue;
        }
        if iso_date(&piece).is_some() {
            raw.push(piece);
            continue;
        }
        // "dine-in", "best-selling", "twenty-one", "11-2": the parts, and between two
        // numbers or times a "to".
        let parts: Vec<&str> = piece.split('-').filter(|p| !p.is_empty()).collect();
        for (i, part) in parts.iter().enumerate() {
            if i > 0 && starts_with_digit(parts[i - 1]) && starts_with_digit(part) {
                raw.push("to".to_owned());
            }
            raw.push((*part).to_owned());
        }
    }
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let word = raw[i].as_str();
        let next = raw.get(i + 1).map_or("", String::as_str);
        // "twenty one", "twenty first".
        if let Some(tens) = tens_word(word) {
            if let Some(unit) = unit_word(next) {
                out.push((tens + unit).to_string());
                i += 2;
                continue;
            }
            if let Some(unit) = ordinal_word(next).filter(|u| *u < 10) {
                out.push(format!("{}th", tens + unit));
                i += 2;
                continue;
            }
        }
        // "6 pm" -> "6pm".
        if (next == "pm" || next == "am") && word.chars().all(|c| c.is_ascii_digit() || c == ':') {
            out.push(format!("{word}{next}"));
            i += 2;
            continue;
        }
        let normal = if let Some(n) = unit_word(word).or_else(|| tens_word(word)) {
            n.to_string()
        } else if let Some(n) = ordinal_word(word) {
            format!("{n}th")
        } else {
            word.to_owned()
        };
        out.push(normal);
        i += 1;
    }
    out
}

fn starts_with_digit(word: &str) -> bool {
    word.chars().next().is_some_and(|c| c.is_ascii_digit())
}

fn unit_word(word: &str) -> Option<u32> {
    const UNITS: [&str; 19] = [
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    UNITS
        .iter()
        .position(|u| *u == word)
        .and_then(|i| u32::try_from(i + 1).ok())
}

fn tens_word(word: &str) -> Option<u32> {
    match word {
        "twenty" => Some(20),
        "thirty" => Some(30),
        "forty" => Some(40),
        "fifty" => Some(50),
        _ => None,
    }
}

fn ordinal_word(word: &str) -> Option<u32> {
    const ORDINALS: [&str; 20] = [
        "first",
        "second",
        "third",
        "fourth",
        "fifth",
        "sixth",
        "seventh",
        "eighth",
        "ninth",
        "tenth",
        "eleventh",
        "twelfth",
        "thirteenth",
        "fourteenth",
        "fifteenth",
        "sixteenth",
        "seventeenth",
        "eighteenth",
        "nineteenth",
        "twentieth",
    ];
    if word == "thirtieth" {
        return Some(30);
    }
    ORDINALS
        .iter()
        .position(|o| *o == word)
        .and_then(|i| u32::try_from(i + 1).ok())
}

fn iso_date(word: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(word, "%Y-%m-%d")
        .ok()
        .filter(|_| word.len() == 10)
}

fn number(word: &str) -> Option<u32> {
    if word.is_empty() || word.len() > 4 || !word.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    word.parse().ok()
}

/// "1", "1st", "22nd", "3rd", "4th" as a day of the month.
fn day_of_month(word: &str) -> Option<u32> {
    let digits = ["st", "nd", "rd", "th"]
        .iter()
        .find_map(|s| word.strip_suffix(s))
        .unwrap_or(word);
    number(digits).filter(|d| (1..=31).contains(d))
}

fn month_word(word: &str) -> Option<u32> {
    let month = match word {
        "january" | "jan" => 1,
        "february" | "feb" => 2,
        "march" | "mar" => 3,
        "april" | "apr" => 4,
        "may" => 5,
        "june" | "jun" => 6,
        "july" | "jul" => 7,
        "august" | "aug" => 8,
        "september" | "sep" | "sept" => 9,
        "october" | "oct" => 10,
        "november" | "nov" => 11,
        "december" | "dec" => 12,
        _ => return None,
    };
    Some(month)
}

/// A day of the week: (day, plural).
fn weekday_word(word: &str) -> Option<(Weekday, bool)> {
    let (singular, plural) = match word.strip_suffix('s') {
        Some(stem) if weekday_stem(stem).is_some() => (stem, true),
        _ => (word, false),
    };
    weekday_stem(singular).map(|d| (d, plural))
}

fn weekday_stem(word: &str) -> Option<Weekday> {
    let day = match word {
        "monday" | "mon" => Weekday::Mon,
        "tuesday" | "tue" | "tues" => Weekday::Tue,
        "wednesday" | "wed" => Weekday::Wed,
        "thursday" | "thu" | "thurs" => Weekday::Thu,
        "friday" | "fri" => Weekday::Fri,
        "saturday" | "sat" => Weekday::Sat,
        "sunday" | "sun" => Weekday::Sun,
        _ => return None,
    };
    Some(day)
}

fn year_word(word: &str) -> Option<i32> {
    number(word)
        .filter(|y| (2000..=2100).contains(y))
        .and_then(|y| i32::try_from(y).ok())
}

/// A time of day: (hour 0–24, written with am/pm or as 24-hour / noon).
fn time_word(word: &str) -> Option<(u32, bool)> {
    match word {
        "noon" | "midday" => return Some((12, true)),
        "midnight" => return Some((24, true)),
        _ => {}
    }
    let (clock, meridiem) = if let Some(c) = word.strip_suffix("pm") {
        (c, Some(true))
    } else if let Some(c) = word.strip_suffix("am") {
        (c, Some(false))
    } else {
        (word, None)
    };
    let (hour, minutes) = match clock.split_once(':') {
        Some((h, m)) => (number(h)?, Some(number(m).filter(|m| *m < 60)?)),
        None => (number(clock)?, None),
    };
    match meridiem {
        Some(pm) if (1..=12).contains(&hour) => Some(((hour % 12) + if pm { 12 } else { 0 }, true)),
        None if minutes.is_some() && hour <= 24 => Some((hour, true)),
        None if (13..=24).contains(&hour) => Some((hour, true)),
        None if (1..=12).contains(&hour) => Some((hour, false)),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Dates.

fn days_back(date: NaiveDate, days: u64) -> NaiveDate {
    date.checked_sub_days(Days::new(days)).unwrap_or(date)
}

fn monday_of(date: NaiveDate) -> NaiveDate {
    days_back(date, u64::from(date.weekday().num_days_from_monday()))
}

fn month_start(date: NaiveDate) -> NaiveDate {
    date.with_day(1).unwrap_or(date)
}

fn month_end(date: NaiveDate) -> NaiveDate {
    month_start(date)
        .checked_add_months(Months::new(1))
        .and_then(|d| d.pred_opt())
        .unwrap_or(date)
}

fn year_start(date: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(date.year(), 1, 1).unwrap_or(date)
}

fn months_back(date: NaiveDate, months: u32) -> NaiveDate {
    date.checked_sub_months(Months::new(months)).unwrap_or(date)
}

/// The latest `weekday` on or before `date` (`strictly`: before it).
fn latest(weekday: Weekday, date: NaiveDate, strictly: bool) -> NaiveDate {
    let back = (7 + date.weekday().num_days_from_monday() - weekday.num_days_from_monday()) % 7;
    let back = if back == 0 && strictly { 7 } else { back };
    days_back(date, u64::from(back))
}

/// `range` moved back by the comparison's unit (see [`CompareKind`]).
pub fn shifted(range: Range, kind: CompareKind) -> Range {
    let months = |n: u32| {
        let whole_months = range.from.day() == 1 && range.to == month_end(range.to);
        let from = months_back(range.from, n);
        let to = if whole_months {
            month_end(months_back(range.to, n))
        } else {
            months_back(range.to, n)
        };
        Range { from, to }
    };
    let days = |n: u64| Range {
        from: days_back(range.from, n),
        to: days_back(range.to, n),
    };
    match kind {
        CompareKind::DayBefore => days(1),
        CompareKind::WeekBefore => days(7),
        CompareKind::MonthBefore => months(1),
        CompareKind::YearBefore => months(12),
        CompareKind::PreviousPeriod | CompareKind::Range => range.previous(),
    }
}

// ---------------------------------------------------------------------------------------------
// The parser.

/// What a comparison phrase asked for, before the main range is known.
#[derive(Debug, Clone, Copy)]
enum Against {
    Kind(CompareKind),
    Range(Range),
}

struct Parser<'a> {
    t: Vec<String>,
    today: NaiveDate,
    locations: &'a [KnownLocation],
    metrics: Vec<Metric>,
    /// "sold" / "sell": items sold unless another metric is named.
    sold: bool,
    dimension: Option<Dimension>,
    /// The metric a "busiest" question ranks by unless one is named.
    rank_default: Option<Metric>,
    /// A metric named after "by" in a ranked question: the order.
    rank_by: Option<Metric>,
    filters: Filters,
    /// "on Saturday": (day, latest date) — a filter if another range is given.
    day: Option<(Weekday, NaiveDate)>,
    range: Option<Range>,
    against: Option<Against>,
    top: Option<Top>,
    understood: Vec<String>,
    unknown: Vec<String>,
    unknown_places: Vec<String>,
    place_words: usize,
    error: Option<Error>,
}

/// Parses `question` with `today` as the business date "today" refers to, matching location
/// names against `locations` (the principal's). See the module documentation.
pub fn parse(
    question: &str,
    today: NaiveDate,
    locations: &[KnownLocation],
) -> Result<Intent, Error> {
    if question.trim().is_empty() {
        return Err(unrecognised(&[], &["a question"], &[], locations));
    }
    if question.chars().count() > MAX_QUESTION_CHARS {
        return Err(Error::unprocessable(
            "question_too_long",
            format!("A question has at most {MAX_QUESTION_CHARS} characters."),
        )
        .with_extension("field", "question"));
    }
    let mut parser = Parser {
        t: words(question),
        today,
        locations,
        metrics: Vec::new(),
        sold: false,
        dimension: None,
        rank_default: None,
        rank_by: None,
        filters: Filters::default(),
        day: None,
        range: None,
        against: None,
        top: None,
        understood: Vec::new(),
        unknown: Vec::new(),
        unknown_places: Vec::new(),
        place_words: 0,
        error: None,
    };
    parser.run();
    parser.finish()
}

impl Parser<'_> {
    fn w(&self, k: usize) -> &str {
        self.t.get(k).map_or("", String::as_str)
    }

    fn is(&self, k: usize, phrase: &[&str]) -> bool {
        phrase.iter().enumerate().all(|(i, p)| self.w(k + i) == *p)
    }

    fn any(&self, k: usize, words: &[&str]) -> bool {
        words.contains(&self.w(k))
    }

    fn note(&mut self, what: impl Into<String>) {
        let what = what.into();
        if !self.understood.contains(&what) {
            self.understood.push(what);
        }
    }

    fn fail(&mut self, error: Error) {
        if self.error.is_none() {
            self.error = Some(error);
        }
    }

    fn run(&mut self) {
        let mut k = 0;
        // Whether the word before was an unknown word after "at" / "in" / "for" (a name of
        // several words: "at new york").
        let mut in_place = false;
        while k < self.t.len() {
            let taken = self
                .location(k)
                .or_else(|| self.comparison(k))
                .or_else(|| self.weekday(k))
                .or_else(|| self.period_here(k))
                .or_else(|| self.hours(k))
                .or_else(|| self.channel(k))
                .or_else(|| self.top(k))
                .or_else(|| self.dimension(k))
                .or_else(|| self.metric(k));
            match taken {
                Some(n) => {
                    k += n.max(1);
                    in_place = false;
                }
                None => {
                    let word = self.w(k).to_owned();
                    if is_filler(&word) {
                        in_place = false;
                    } else {
                        let place = k > 0 && self.any(k - 1, &["at", "in", "for"]);
                        if in_place && let Some(last) = self.unknown_places.last_mut() {
                            last.push(' ');
                            last.push_str(&word);
                            self.place_words += 1;
                        } else if place {
                            self.unknown_places.push(word.clone());
                            self.place_words += 1;
                            in_place = true;
                        }
                        self.unknown.push(word);
                    }
                    k += 1;
                }
            }
        }
    }

    // -- locations ------------------------------------------------------------------------

    fn location(&mut self, k: usize) -> Option<usize> {
        let after_preposition = self.any(k, &["at", "in", "for"]);
        let start = if after_preposition { k + 1 } else { k };
        let start = if after_preposition && self.w(start) == "the" {
            start + 1
        } else {
            start
        };
        let mut found: Option<(usize, &KnownLocation)> = None;
        for location in self.locations {
            let name = words(&location.name);
            let name: Vec<&str> = name
                .iter()
                .map(String::as_str)
                .skip_while(|w| *w == "the")
                .collect();
            if name.is_empty() {
                continue;
            }
            if self.is(start, &name) && found.is_none_or(|(n, _)| n < name.len()) {
                found = Some((name.len(), location));
            }
        }
        if found.is_none() && after_preposition {
            let word = self.w(start);
            let prefixed: Vec<&KnownLocation> = self
                .locations
                .iter()
                .filter(|l| {
                    word.len() >= 3
                        && !is_filler(word)
                        && words(&l.name)
                            .iter()
                            .find(|w| *w != "the")
                            .is_some_and(|first| first.starts_with(word))
                })
                .collect();
            if let [only] = prefixed.as_slice() {
                found = Some((1, only));
            }
        }
        let (len, location) = found?;
        if !self.filters.locations.iter().any(|l| l.id == location.id) {
            self.filters.locations.push(LocationRef {
                id: location.id,
                name: location.name.clone(),
            });
        }
        self.note(format!("at {}", location.name));
        Some(start - k + len)
    }

    // -- comparisons ----------------------------------------------------------------------

    fn comparison(&mut self, k: usize) -> Option<usize> {
        for (phrase, kind) in [
            (&["week", "over", "week"][..], CompareKind::WeekBefore),
            (&["wow"], CompareKind::WeekBefore),
            (&["month", "over", "month"], CompareKind::MonthBefore),
            (&["mom"], CompareKind::MonthBefore),
            (&["year", "over", "year"], CompareKind::YearBefore),
            (&["yoy"], CompareKind::YearBefore),
            (&["day", "over", "day"], CompareKind::DayBefore),
        ] {
            if self.is(k, phrase) {
                return self.compare_with(Against::Kind(kind), phrase.len());
            }
        }
        let lead = if self.any(k, &["vs", "versus", "v", "against"]) {
            1
        } else if self.is(k, &["compared", "to"])
            || self.is(k, &["compared", "with"])
            || self.is(k, &["relative", "to"])
        {
            2
        } else {
            return None;
        };
        let mut at = k + lead;
        if self.w(at) == "the" {
            at += 1;
        }
        let kinds: [(&[&str], CompareKind); 20] = [
            (&["same", "period", "last", "year"], CompareKind::YearBefore),
            (&["same", "time", "last", "year"], CompareKind::YearBefore),
            (&["same", "day", "last", "week"], CompareKind::WeekBefore),
            (&["same", "day", "last", "year"], CompareKind::YearBefore),
            (&["previous", "period"], CompareKind::PreviousPeriod),
            (&["prior", "period"], CompareKind::PreviousPeriod),
            (&["preceding", "period"], CompareKind::PreviousPeriod),
            (&["period", "before"], CompareKind::PreviousPeriod),
            (&["week", "before"], CompareKind::WeekBefore),
            (&["month", "before"], CompareKind::MonthBefore),
            (&["year", "before"], CompareKind::YearBefore),
            (&["day", "before"], CompareKind::DayBefore),
            (&["last", "year"], CompareKind::YearBefore),
            (&["previous", "year"], CompareKind::YearBefore),
            (&["last", "month"], CompareKind::MonthBefore),
            (&["previous", "month"], CompareKind::MonthBefore),
            (&["last", "week"], CompareKind::WeekBefore),
            (&["previous", "week"], CompareKind::WeekBefore),
            (&["yesterday"], CompareKind::DayBefore),
            (&["before"], CompareKind::PreviousPeriod),
        ];
        for (phrase, kind) in kinds {
            if self.is(at, phrase) {
                // "vs last week" after "today": the same weekday a week before.
                return self.compare_with(Against::Kind(kind), at - k + phrase.len());
            }
        }
        if let Some((range, len)) = self.period(at) {
            return self.compare_with(Against::Range(range), at - k + len);
        }
        // "vs" with nothing after it that we know: the word is reported as not understood.
        None
    }

    fn compare_with(&mut self, against: Against, len: usize) -> Option<usize> {
        if self.against.is_some() {
            self.fail(Error::unprocessable(
                "unrecognised_question",
                "A question compares with one other period.",
            ));
        }
        self.against = Some(against);
        self.note("a comparison");
        Some(len)
    }

    // -- time -------------------------------------------------------------------------------

    fn period_here(&mut self, k: usize) -> Option<usize> {
        let (range, len) = self.period(k)?;
        if self.range.is_some_and(|r| r != range) {
            self.fail(
                Error::unprocessable(
                    "unrecognised_question",
                    "The question names two time ranges: ask for one, or compare them with \"vs\".",
                )
                .with_extension("suggestions", json!(["sales this week vs last week"])),
            );
        }
        self.range = Some(range);
        self.note(range_text(range));
        Some(len)
    }

    /// A time range starting at word `k`: the range and the words it took.
    fn period(&self, k: usize) -> Option<(Range, usize)> {
        let today = self.today;
        let to_date = |from: NaiveDate| Range { from, to: today };
        match self.w(k) {
            "today" | "tonight" => return Some((one_day(today), 1)),
            "yesterday" => return Some((one_day(days_back(today, 1)), 1)),
            "wtd" => return Some((to_date(monday_of(today)), 1)),
            "mtd" => return Some((to_date(month_start(today)), 1)),
            "ytd" => return Some((to_date(year_start(today)), 1)),
            _ => {}
        }
        if self.is(k, &["the", "day", "before", "yesterday"]) {
            return Some((one_day(days_back(today, 2)), 4));
        }
        if self.is(k, &["day", "before", "yesterday"]) {
            return Some((one_day(days_back(today, 2)), 3));
        }
        let this_unit = |unit: &str| -> Option<Range> {
            match unit {
                "week" => Some(to_date(monday_of(today))),
                "month" => Some(to_date(month_start(today))),
                "year" => Some(to_date(year_start(today))),
                _ => None,
            }
        };
        let last_unit = |unit: &str, n: u32| -> Option<Range> {
            match unit {
                "week" => {
                    let monday = days_back(monday_of(today), 7 * u64::from(n));
                    Some(Range {
                        from: monday,
                        to: monday.checked_add_days(Days::new(6)).unwrap_or(monday),
                    })
                }
                "month" => {
                    let start = months_back(month_start(today), n);
                    Some(Range {
                        from: start,
                        to: month_end(start),
                    })
                }
                "year" => {
                    let year = today.year() - i32::try_from(n).ok()?;
                    Some(Range {
                        from: NaiveDate::from_ymd_opt(year, 1, 1)?,
                        to: NaiveDate::from_ymd_opt(year, 12, 31)?,
                    })
                }
                _ => None,
            }
        };
        if self.any(k, &["this", "current"])
            && let Some(range) = this_unit(self.w(k + 1))
        {
            return Some((range, 2));
        }
        if self.is(k + 1, &["to", "date"])
            && let Some(range) = this_unit(self.w(k))
        {
            return Some((range, 3));
        }
        if self.w(k) == "the"
            && self.is(k + 2, &["before", "last"])
            && let Some(range) = last_unit(self.w(k + 1), 2)
        {
            return Some((range, 4));
        }
        // "the last 7 days", "past 2 weeks", "the past week".
        let the = usize::from(self.w(k) == "the");
        if self.any(k + the, &["last", "past", "previous"]) {
            let at = k + the + 1;
            if let Some(n) = number(self.w(at)).filter(|n| *n >= 1) {
                let unit = self.w(at + 1).trim_end_matches('s');
                let from = match unit {
                    "day" => today.checked_sub_days(Days::new(u64::from(n) - 1)),
                    "week" => today.checked_sub_days(Days::new(7 * u64::from(n) - 1)),
                    "month" => today
                        .checked_sub_months(Months::new(n))
                        .and_then(|d| d.succ_opt()),
                    _ => None,
                };
                if let Some(from) = from {
                    return Some((Range { from, to: today }, the + 3));
                }
            }
            let unit = self.w(at);
            if the == 1 || self.w(k) == "past" {
                let from = match unit {
                    "week" => today.checked_sub_days(Days::new(6)),
                    "month" => today
                        .checked_sub_months(Months::new(1))
                        .and_then(|d| d.succ_opt()),
                    _ => None,
                };
                if let Some(from) = from {
                    return Some((Range { from, to: today }, the + 2));
                }
            } else if let Some(range) = last_unit(unit, 1) {
                return Some((range, 2));
            }
        }
        // Weekends.
        let weekend = |strictly: bool| {
            let saturday = latest(Weekday::Sat, today, false);
            let saturday = if strictly && today - saturday < chrono::TimeDelta::days(2) {
                days_back(saturday, 7)
            } else {
                saturday
            };
            Range {
                from: saturday,
                to: saturday.succ_opt().unwrap_or(saturday).min(today),
            }
        };
        if self.w(k + 1) == "weekend" {
            match self.w(k) {
                "this" | "the" => return Some((weekend(false), 2)),
                "last" | "past" | "previous" => return Some((weekend(true), 2)),
                _ => {}
            }
        }
        // Months by name: the latest one (this year's unless it is still to come).
        if let Some(month) = month_word(self.w(k))
            && day_of_month(self.w(k + 1)).is_none()
        {
            let (year, len) = match year_word(self.w(k + 1)) {
                Some(year) => (year, 2),
                None if month <= today.month() => (today.year(), 1),
                None => (today.year() - 1, 1),
            };
            let from = NaiveDate::from_ymd_opt(year, month, 1)?;
            return Some((
                Range {
                    from,
                    to: month_end(from),
                },
                len,
            ));
        }
        // Dates, and ranges of them.
        if self.w(k) == "since"
            && let Some((from, len)) = self.date(k + 1)
        {
            return Some((Range { from, to: today }, 1 + len));
        }
        let lead = usize::from(self.any(k, &["from", "between"]));
        if let Some((from, len)) = self.date(k + lead) {
            let at = k + lead + len;
            if self.any(at, &["to", "until", "till", "through", "thru", "and"])
                && let Some((to, len2)) = self.date(at + 1)
            {
                return Some((Range { from, to }, lead + len + 1 + len2));
            }
            if lead == 0 {
                return Some((one_day(from), len));
            }
        }
        None
    }

    /// A date at word `k`: ISO, "1 May", "1st of May", "May 1st", each with an optional year
    /// (else the latest such date not after today).
    fn date(&self, k: usize) -> Option<(NaiveDate, usize)> {
        if let Some(date) = iso_date(self.w(k)) {
            return Some((date, 1));
        }
        let (day, month, len) = if let Some(day) = day_of_month(self.w(k)) {
            let of = usize::from(self.w(k + 1) == "of");
            (day, month_word(self.w(k + 1 + of))?, 2 + of)
        } else if let Some(month) = month_word(self.w(k)) {
            (day_of_month(self.w(k + 1))?, month, 2)
        } else if self.w(k) == "the"
            && let Some(day) = day_of_month(self.w(k + 1))
            && self.w(k + 2) == "of"
        {
            (day, month_word(self.w(k + 3))?, 4)
        } else {
            return None;
        };
        if let Some(year) = year_word(self.w(k + len)) {
            return Some((NaiveDate::from_ymd_opt(year, month, day)?, len + 1));
        }
        let this_year = NaiveDate::from_ymd_opt(self.today.year(), month, day);
        match this_year {
            Some(date) if date <= self.today => Some((date, len)),
            _ => Some((
                NaiveDate::from_ymd_opt(self.today.year() - 1, month, day)?,
                len,
            )),
        }
    }

    /// Days of the week: plurals, weekends and weekdays filter; a singular day is a date (or a
    /// filter within another range).
    fn weekday(&mut self, k: usize) -> Option<usize> {
        let lead = usize::from(self.any(k, &["on", "every", "each", "this", "last", "past"]));
        let word = self.w(k + lead);
        let strictly = self.any(k, &["last", "past"]);
        match word {
            "weekends" | "weekend" if !(lead == 1 && self.any(k, &["this", "last", "past"])) => {
                if word == "weekend" && lead == 0 && self.w(k.wrapping_sub(1)) == "the" {
                    return None;
                }
                self.filters.weekdays = vec![Weekday::Sat, Weekday::Sun];
                self.note("weekends");
                return Some(lead + 1);
            }
            "weekdays" if !(k > 0 && self.any(k - 1, &["by", "per"])) => {
                self.filters.weekdays = vec![
                    Weekday::Mon,
                    Weekday::Tue,
                    Weekday::Wed,
                    Weekday::Thu,
                    Weekday::Fri,
                ];
                self.note("weekdays");
                return Some(lead + 1);
            }
            _ => {}
        }
        let (day, plural) = weekday_word(word)?;
        if plural || self.any(k, &["every", "each"]) {
            if !self.filters.weekdays.contains(&day) {
                self.filters.weekdays.push(day);
            }
            self.note(format!("{}s", super::weekday_name(day)));
        } else {
            self.day = Some((day, latest(day, self.today, strictly)));
            self.note(super::weekday_name(day));
        }
        Some(lead + 1)
    }

    /// Hours of the day.
    fn hours(&mut self, k: usize) -> Option<usize> {
        let meals: [(&[&str], u32, u32); 12] = [
            (&["late", "night"], 22, HourRange::CLOSE),
            (&["lunchtime"], 11, 15),
            (&["lunch"], 11, 15),
            (&["dinnertime"], 17, 22),
            (&["dinner"], 17, 22),
            (&["supper"], 17, 22),
            (&["evening"], 17, 22),
            (&["evenings"], 17, 22),
            (&["breakfast"], 6, 11),
            (&["morning"], 6, 11),
            (&["mornings"], 6, 11),
            (&["afternoon"], 12, 17),
        ];
        for (phrase, from, to) in meals {
            if self.is(k, phrase) {
                return self.set_hours(HourRange { from, to }, phrase.len());
            }
        }
        let start = |(hour, written): (u32, bool)| {
            if !written && hour < 7 {
                hour + 12
            } else {
                hour
            }
        };
        if self.any(k, &["after", "since", "past"])
            && let Some(time) = time_word(self.w(k + 1))
        {
            return self.set_hours(
                HourRange {
                    from: start(time),
                    to: HourRange::CLOSE,
                },
                2,
            );
        }
        if self.any(k, &["before", "until", "till"])
            && let Some(time) = time_word(self.w(k + 1))
        {
            return self.set_hours(
                HourRange {
                    from: 0,
                    to: start(time),
                },
                2,
            );
        }
        if self.w(k) == "at"
            && let Some((hour, true)) = time_word(self.w(k + 1))
        {
            return self.set_hours(
                HourRange {
                    from: hour,
                    to: hour + 1,
                },
                2,
            );
        }
        if self.any(k, &["between", "from"])
            && let Some(first) = time_word(self.w(k + 1))
            && self.any(k + 2, &["and", "to", "until", "till"])
            && let Some((end, written)) = time_word(self.w(k + 3))
        {
            let from = start(first);
            let mut to = end;
            if to <= from && (!written || to + 12 > from) && to < 24 {
                to += 12;
            }
            if to <= from {
                to += 24;
            }
            return self.set_hours(
                HourRange {
                    from,
                    to: to.min(HourRange::CLOSE),
                },
                4,
            );
        }
        None
    }

    fn set_hours(&mut self, hours: HourRange, len: usize) -> Option<usize> {
        if hours.from >= hours.to {
            self.fail(
                Error::unprocessable("invalid_hours", "The hours asked for are empty.")
                    .with_extension("field", "question"),
            );
        }
        self.filters.hours = Some(hours);
        self.note(hours.text());
        Some(len)
    }

    fn channel(&mut self, k: usize) -> Option<usize> {
        let channels: [(&[&str], &'static str); 22] = [
            (&["dine", "in"], "dine_in"),
            (&["dinein"], "dine_in"),
            (&["eat", "in"], "dine_in"),
            (&["in", "house"], "dine_in"),
            (&["dining", "in"], "dine_in"),
            (&["takeout"], "takeout"),
            (&["takeouts"], "takeout"),
            (&["take", "out"], "takeout"),
            (&["takeaway"], "takeout"),
            (&["takeaways"], "takeout"),
            (&["take", "away"], "takeout"),
            (&["to", "go"], "takeout"),
            (&["carry", "out"], "takeout"),
            (&["delivery"], "delivery"),
            (&["deliveries"], "delivery"),
            (&["delivered"], "delivery"),
            (&["pickup"], "pickup"),
            (&["pickups"], "pickup"),
            (&["pick", "up"], "pickup"),
            (&["collection"], "pickup"),
            (&["click", "and", "collect"], "pickup"),
            (&["online"], "online"),
        ];
        for (phrase, channel) in channels {
            if self.is(k, phrase) {
                if self.filters.channel.is_some_and(|c| c != channel) {
                    self.fail(Error::unprocessable(
                        "unrecognised_question",
                        "A question filters on one channel: ask \"by channel\" to see them all.",
                    ));
                }
                self.filters.channel = Some(channel);
                self.note(channel.replace('_', "-"));
                return Some(phrase.len());
            }
        }
        None
    }

    // -- ranking and breakdowns -------------------------------------------------------------

    /// A dimension noun at `k`: (dimension, words, singular).
    fn dimension_noun(&self, k: usize) -> Option<(Dimension, usize, bool)> {
        let nouns: [(&[&str], Dimension); 24] = [
            (&["day", "of", "the", "week"], Dimension::Weekday),
            (&["day", "of", "week"], Dimension::Weekday),
            (&["hour", "of", "the", "day"], Dimension::Hour),
            (&["hour", "of", "day"], Dimension::Hour),
            (&["time", "of", "day"], Dimension::Hour),
            (&["time", "of", "the", "day"], Dimension::Hour),
            (&["order", "type"], Dimension::Channel),
            (&["menu", "item"], Dimension::Product),
            (&["weekday"], Dimension::Weekday),
            (&["dow"], Dimension::Weekday),
            (&["location"], Dimension::Location),
            (&["store"], Dimension::Location),
            (&["site"], Dimension::Location),
            (&["branch"], Dimension::Location),
            (&["restaurant"], Dimension::Location),
            (&["shop"], Dimension::Location),
            (&["channel"], Dimension::Channel),
            (&["day"], Dimension::Day),
            (&["date"], Dimension::Day),
            (&["week"], Dimension::Week),
            (&["month"], Dimension::Month),
            (&["hour"], Dimension::Hour),
            (&["product"], Dimension::Product),
            (&["item"], Dimension::Product),
        ];
        let extra: [(&str, Dimension, bool); 7] = [
            ("dishes", Dimension::Product, false),
            ("dish", Dimension::Product, true),
            ("branches", Dimension::Location, false),
            ("sellers", Dimension::Product, false),
            ("seller", Dimension::Product, true),
            ("times", Dimension::Hour, false),
            ("weekdays", Dimension::Weekday, false),
        ];
        for (word, dimension, singular) in extra {
            if self.w(k) == word {
                return Some((dimension, 1, singular));
            }
        }
        for (phrase, dimension) in nouns {
            let last = phrase.len() - 1;
            if self.is(k, &phrase[..last]) {
                let word = self.w(k + last);
                if word == phrase[last] {
                    return Some((dimension, phrase.len(), true));
                }
                if word.strip_suffix('s') == Some(phrase[last]) {
                    return Some((dimension, phrase.len(), false));
                }
            }
        }
        None
    }

    fn set_dimension(&mut self, dimension: Dimension) {
        if self.dimension.is_some_and(|d| d != dimension) {
            self.fail(Error::unprocessable(
                "unrecognised_question",
                "A question breaks its figures down one way: by location, channel, day, week, \
                 month, hour, weekday or product.",
            ));
        }
        self.dimension = Some(dimension);
        self.note(format!("by {}", dimension.label()));
    }

    fn top(&mut self, k: usize) -> Option<usize> {
        let mut at = k;
        let mut limit = number(self.w(at)).map(i64::from);
        if limit.is_some() {
            at += 1;
        }
        let ascending = match self.w(at) {
            "top" | "best" | "bestselling" | "bestsellers" | "bestseller" | "highest"
            | "biggest" => false,
            "most" if limit.is_none() && k > 0 && self.w(k - 1) == "the" => false,
            "bottom" | "worst" | "lowest" | "slowest" => true,
            "least" if k > 0 && self.w(k - 1) == "the" => true,
            "busiest" => {
                return self.busiest(k, at, limit, false);
            }
            "quietest" => {
                return self.busiest(k, at, limit, true);
            }
            _ => return None,
        };
        let word = self.w(at).to_owned();
        at += 1;
        if limit.is_none()
            && let Some(n) = number(self.w(at))
        {
            limit = Some(i64::from(n));
            at += 1;
        }
        while self.any(
            at,
            &[
                "selling",
                "sellers",
                "seller",
                "sold",
                "performing",
                "popular",
            ],
        ) {
            at += 1;
        }
        let singular_word = word == "bestseller";
        let noun = self.dimension_noun(at);
        if let Some((dimension, len, singular)) = noun {
            at += len;
            self.set_dimension(dimension);
            if singular && limit.is_none() {
                limit = Some(1);
            }
        } else if singular_word && limit.is_none() {
            limit = Some(1);
        }
        let limit = limit.unwrap_or(if self.w(k) == "most" || word == "least" {
            1
        } else {
            DEFAULT_TOP
        });
        if !(1..=report::MAX_TOP_LIMIT).contains(&limit) {
            self.fail(
                Error::unprocessable(
                    "invalid_limit",
                    format!("A ranked list has 1 to {} rows.", report::MAX_TOP_LIMIT),
                )
                .with_extension("field", "question"),
            );
        }
        self.top = Some(Top { limit, ascending });
        self.note(format!(
            "{} {limit}",
            if ascending { "bottom" } else { "top" }
        ));
        Some(at - k)
    }

    /// "busiest day", "quietest 3 hours": ranked by orders unless a metric is named.
    fn busiest(
        &mut self,
        k: usize,
        at: usize,
        limit: Option<i64>,
        ascending: bool,
    ) -> Option<usize> {
        let mut at = at + 1;
        let mut limit = limit;
        if limit.is_none()
            && let Some(n) = number(self.w(at))
        {
            limit = Some(i64::from(n));
            at += 1;
        }
        let (dimension, len, _) = self.dimension_noun(at)?;
        self.set_dimension(dimension);
        let limit = limit.unwrap_or(1);
        self.top = Some(Top { limit, ascending });
        self.rank_default = Some(Metric::OrderCount);
        self.note(format!(
            "{} {}",
            if ascending { "quietest" } else { "busiest" },
            dimension.label()
        ));
        Some(at + len - k)
    }

    fn dimension(&mut self, k: usize) -> Option<usize> {
        let adjectives = [
            ("daily", Dimension::Day),
            ("weekly", Dimension::Week),
            ("monthly", Dimension::Month),
            ("hourly", Dimension::Hour),
        ];
        for (word, dimension) in adjectives {
            if self.w(k) == word {
                self.set_dimension(dimension);
                return Some(1);
            }
        }
        if self.is(k, &["day", "by", "day"]) {
            self.set_dimension(Dimension::Day);
            return Some(3);
        }
        let lead = if self.is(k, &["broken", "down", "by"])
            || self.is(k, &["for", "each"])
            || self.is(k, &["for", "every"])
        {
            if self.w(k) == "broken" { 3 } else { 2 }
        } else if self.is(k, &["split", "by"]) || self.is(k, &["grouped", "by"]) {
            2
        } else if self.any(k, &["by", "per", "each", "every", "which", "what"]) {
            1
        } else {
            return None;
        };
        let at = k + lead + usize::from(self.w(k + lead) == "the");
        if let Some((dimension, len, _)) = self.dimension_noun(at) {
            self.set_dimension(dimension);
            return Some(at + len - k);
        }
        // "top products by revenue": the ranking's metric.
        if self.w(k) == "by"
            && let Some((metric, len)) = self.metric_word(at)
        {
            self.rank_by = Some(metric);
            self.note(format!("by {}", metric.label()));
            return Some(at + len - k);
        }
        None
    }

    // -- metrics ----------------------------------------------------------------------------

    fn metric_word(&self, k: usize) -> Option<(Metric, usize)> {
        use Metric::{
            AverageOrderValue as Aov, Covers, Discounts, GrossSales, ItemsSold, NetSales,
            OrderCount, Refunds, Tax, Tips,
        };
        if self.any(k, &["average", "avg", "mean"]) {
            let at = k + 1;
            let after: [&[&str]; 13] = [
                &["order", "value"],
                &["order", "size"],
                &["ticket", "size"],
                &["order"],
                &["orders"],
                &["ticket"],
                &["basket"],
                &["check"],
                &["cheque"],
                &["spend"],
                &["sale"],
                &["transaction"],
                &["bill"],
            ];
            for phrase in after {
                if self.is(at, phrase) {
                    return Some((Aov, 1 + phrase.len()));
                }
            }
            return None;
        }
        let phrases: [(&[&str], Metric); 46] = [
            (&["net", "sales"], NetSales),
            (&["net", "revenue"], NetSales),
            (&["gross", "sales"], GrossSales),
            (&["gross", "revenue"], GrossSales),
            (&["sales", "tax"], Tax),
            (&["ticket", "size"], Aov),
            (&["basket", "size"], Aov),
            (&["order", "value"], Aov),
            (&["aov"], Aov),
            (&["order", "count"], OrderCount),
            (&["items", "sold"], ItemsSold),
            (&["units", "sold"], ItemsSold),
            (&["gross"], GrossSales),
            (&["net"], NetSales),
            (&["sales"], NetSales),
            (&["sale"], NetSales),
            (&["revenue"], NetSales),
            (&["revenues"], NetSales),
            (&["turnover"], NetSales),
            (&["takings"], NetSales),
            (&["income"], NetSales),
            (&["earned"], NetSales),
            (&["made"], NetSales),
            (&["make"], NetSales),
            (&["money"], NetSales),
            (&["orders"], OrderCount),
            (&["order"], OrderCount),
            (&["tickets"], OrderCount),
            (&["transactions"], OrderCount),
            (&["checks"], OrderCount),
            (&["bills"], OrderCount),
            (&["receipts"], OrderCount),
            (&["items"], ItemsSold),
            (&["units"], ItemsSold),
            (&["quantity"], ItemsSold),
            (&["tips"], Tips),
            (&["tip"], Tips),
            (&["gratuities"], Tips),
            (&["refunds"], Refunds),
            (&["refunded"], Refunds),
            (&["covers"], Covers),
            (&["guests"], Covers),
            (&["diners"], Covers),
            (&["discounts"], Discounts),
            (&["discount"], Discounts),
            (&["tax"], Tax),
        ];
        for (phrase, metric) in phrases {
            if self.is(k, phrase) {
                return Some((metric, phrase.len()));
            }
        }
        match self.w(k) {
            "taxes" | "vat" => Some((Tax, 1)),
            "refund" | "returns" => Some((Refunds, 1)),
            "discounted" | "promotions" | "promos" | "comps" => Some((Discounts, 1)),
            _ => None,
        }
    }

    fn metric(&mut self, k: usize) -> Option<usize> {
        if self.any(k, &["sold", "sell"]) {
            self.sold = true;
            return Some(1);
        }
        let (metric, len) = self.metric_word(k)?;
        if !self.metrics.contains(&metric) {
            self.metrics.push(metric);
        }
        self.note(metric.label());
        Some(len)
    }

    // -- the end ----------------------------------------------------------------------------

    fn finish(mut self) -> Result<Intent, Error> {
        if let Some(error) = self.error.take() {
            return Err(error
                .with_extension("understood", json!(self.understood))
                .with_extension("suggestions", suggestions(&self.understood, self.locations)));
        }
        if !self.unknown_places.is_empty() && self.unknown.len() == self.place_words {
            let known: Vec<&str> = self.locations.iter().map(|l| l.name.as_str()).collect();
            let name = self.unknown_places.join(", ");
            return Err(Error::unprocessable(
                "unknown_location",
                format!(
                    "None of your locations is called \"{name}\"; they are: {}.",
                    if known.is_empty() {
                        "(none)".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
            )
            .with_extension("field", "question")
            .with_extension("name", name)
            .with_extension("known", json!(known)));
        }
        if self.top.is_some() && self.dimension.is_none() {
            self.set_dimension(Dimension::Product);
        }
        if let Some(metric) = self.rank_by {
            self.metrics.retain(|m| *m != metric);
            self.metrics.insert(0, metric);
        }
        if self.metrics.is_empty() {
            if let Some(metric) = self.rank_default {
                self.metrics.push(metric);
            } else if self.sold || self.dimension == Some(Dimension::Product) {
                self.metrics.push(Metric::ItemsSold);
                if self.dimension == Some(Dimension::Product) {
                    self.metrics.push(Metric::NetSales);
                }
            }
        }
        let mut missing = Vec::new();
        if self.metrics.is_empty() {
            missing.push(
                "a metric (sales, orders, average ticket, items sold, tips, refunds, covers, \
                 discounts, tax)",
            );
        }
        if !self.unknown.is_empty() || !missing.is_empty() {
            return Err(unrecognised(
                &self.understood,
                &missing,
                &self.unknown,
                self.locations,
            ));
        }
        if self.dimension == Some(Dimension::Product) {
            if let Some(metric) = self.metrics.iter().find(|m| !m.by_product()) {
                return Err(Error::unprocessable(
                    "unsupported_question",
                    format!(
                        "Products have net sales, gross sales, discounts, orders and items \
                         sold, not {}.",
                        metric.label()
                    ),
                )
                .with_extension("understood", json!(self.understood))
                .with_extension(
                    "suggestions",
                    json!(["top 5 products by revenue last week"]),
                ));
            }
            if self.filters.hours.is_some() || self.filters.channel.is_some() {
                return Err(Error::unprocessable(
                    "unsupported_question",
                    "Product figures are kept per day and location: they cannot be filtered by \
                     hour or channel.",
                )
                .with_extension("understood", json!(self.understood))
                .with_extension("suggestions", json!(["top 5 products yesterday"])));
            }
        }
        let mut assumed = Vec::new();
        let range = match (self.range, self.day) {
            (Some(range), Some((day, _))) => {
                if !self.filters.weekdays.contains(&day) {
                    self.filters.weekdays.push(day);
                }
                range
            }
            (None, Some((_, date))) => one_day(date),
            (Some(range), None) => range,
            (None, None) => {
                let weekly =
                    !self.filters.weekdays.is_empty() || self.dimension == Some(Dimension::Weekday);
                let days = if weekly { 28 } else { 7 };
                assumed.push(format!("no time range given: the last {days} days"));
                Range {
                    from: days_back(self.today, days - 1),
                    to: self.today,
                }
            }
        };
        if range.from > range.to {
            return Err(Error::unprocessable(
                "invalid_range",
                format!(
                    "The range starts ({}) after it ends ({}).",
                    range.from, range.to
                ),
            )
            .with_extension("field", "question"));
        }
        if range.days() > report::MAX_RANGE_DAYS {
            return Err(Error::unprocessable(
                "range_too_long",
                format!("A question covers at most {} days.", report::MAX_RANGE_DAYS),
            )
            .with_extension("field", "question")
            .with_extension("max_days", report::MAX_RANGE_DAYS));
        }
        let comparison = self.against.map(|against| match against {
            Against::Kind(kind) => Comparison {
                kind,
                range: shifted(range, kind),
            },
            Against::Range(other) => Comparison {
                kind: CompareKind::Range,
                range: other,
            },
        });
        if let Some(comparison) = comparison
            && comparison.range.days() > report::MAX_RANGE_DAYS
        {
            return Err(Error::unprocessable(
                "range_too_long",
                format!("A question covers at most {} days.", report::MAX_RANGE_DAYS),
            )
            .with_extension("field", "question"));
        }
        Ok(Intent {
            metrics: self.metrics,
            dimension: self.dimension,
            filters: self.filters,
            range,
            comparison,
            top: self.top,
            assumed,
        })
    }
}

/// 422 `unrecognised_question`.
fn unrecognised(
    understood: &[String],
    missing: &[&str],
    unknown: &[String],
    locations: &[KnownLocation],
) -> Error {
    let mut detail = String::from("The question could not be mapped to a report");
    if !unknown.is_empty() {
        detail.push_str(&format!(" (not understood: {})", unknown.join(", ")));
    }
    if !missing.is_empty() {
        detail.push_str(&format!("; it needs {}", missing.join(" and ")));
    }
    detail.push('.');
    Error::unprocessable("unrecognised_question", detail)
        .with_extension("field", "question")
        .with_extension("understood", json!(understood))
        .with_extension("missing", json!(missing))
        .with_extension("not_understood", json!(unknown))
        .with_extension("suggestions", suggestions(understood, locations))
}

/// Example questions, the ones closest to what was understood first: with its time range or
/// location in them where it had one.
fn suggestions(understood: &[String], locations: &[KnownLocation]) -> Value {
    let mut out: Vec<String> = Vec::new();
    let range = understood
        .iter()
        .find(|u| u.starts_with(|c: char| c.is_ascii_digit()));
    let place = understood.iter().find(|u| u.starts_with("at "));
    let metric = understood
        .iter()
        .find(|u| Metric::ALL.iter().any(|m| m.label() == u.as_str()));
    if let Some(metric) = metric {
        let when = range.map_or("last week".to_owned(), |r| {
            if r.contains(" to ") {
                format!("from {r}")
            } else {
                format!("on {r}")
            }
        });
        out.push(format!("{metric} {when} by location"));
        out.push(format!("{metric} {when} by day"));
    }
    if let Some(place) = place {
        out.push(format!("sales yesterday {place}"));
        out.push(format!("top 5 products this week {place}"));
    } else if let Some(first) = locations.first() {
        out.push(format!("top 5 products yesterday at {}", first.name));
    }
    for example in SUGGESTIONS {
        if out.len() >= 6 {
            break;
        }
        if !out.iter().any(|o| o == example) {
            out.push((*example).to_owned());
        }
    }
    json!(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::NaiveTime;
    use uuid::Uuid;

    use super::*;
    use Dimension as D;
    use Metric as M;

    /// Thursday 3 December 2026.
    fn today() -> NaiveDate {
        d("2026-12-03")
    }

    fn d(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn r(from: &str, to: &str) -> Range {
        Range {
            from: d(from),
            to: d(to),
        }
    }

    const DOWNTOWN: Uuid = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001);
    const HARBOUR: Uuid = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0002);

    fn locations() -> Vec<KnownLocation> {
        [
            (DOWNTOWN, "Downtown", "GBP", "Europe/London"),
            (HARBOUR, "Harbour", "USD", "America/New_York"),
        ]
        .into_iter()
        .map(|(id, name, currency, zone)| KnownLocation {
            id,
            name: name.to_owned(),
            currency: currency.to_owned(),
            time_zone: zone.to_owned(),
            day_cutoff: NaiveTime::MIN,
        })
        .collect()
    }

    fn at(id: Uuid) -> Vec<LocationRef> {
        let name = if id == DOWNTOWN {
            "Downtown"
        } else {
            "Harbour"
        };
        vec![LocationRef {
            id,
            name: name.to_owned(),
        }]
    }

    fn ok(question: &str) -> Intent {
        parse(question, today(), &locations())
            .unwrap_or_else(|e| panic!("{question:?}: {} {:?}", e.code(), e.problem()))
    }

    fn err(question: &str) -> (String, serde_json::Value) {
        let error = parse(question, today(), &locations()).unwrap_err();
        let problem = serde_json::to_value(error.problem()).unwrap();
        (error.code().to_owned(), problem)
    }

    fn hours(from: u32, to: u32) -> Option<HourRange> {
        Some(HourRange { from, to })
    }

    /// The phrasing table: question → (metrics, dimension, range), then what else it holds.
    #[test]
    #[allow(clippy::too_many_lines)] // a table
    fn phrasings_map_to_intents() {
        #[rustfmt::skip]
        let table: &[(&str, &[Metric], Option<Dimension>, Range)] = &[
            // The four.
            ("sales last week by location", &[M::NetSales], Some(D::Location), r("2026-11-23", "2026-11-29")),
            ("top 5 products yesterday at Downtown", &[M::ItemsSold, M::NetSales], Some(D::Product), r("2026-12-02", "2026-12-02")),
            ("how many orders on Saturday after 6pm", &[M::OrderCount], None, r("2026-11-28", "2026-11-28")),
            ("average ticket this month vs last month", &[M::AverageOrderValue], None, r("2026-12-01", "2026-12-03")),
            // Synonyms and time ranges.
            ("revenue today", &[M::NetSales], None, r("2026-12-03", "2026-12-03")),
            ("What were our takings yesterday?", &[M::NetSales], None, r("2026-12-02", "2026-12-02")),
            ("turnover this year", &[M::NetSales], None, r("2026-01-01", "2026-12-03")),
            ("orders last 7 days", &[M::OrderCount], None, r("2026-11-27", "2026-12-03")),
            ("number of transactions in the past two weeks", &[M::OrderCount], None, r("2026-11-20", "2026-12-03")),
            ("average order value by day this week", &[M::AverageOrderValue], Some(D::Day), r("2026-11-30", "2026-12-03")),
            ("items sold by hour yesterday", &[M::ItemsSold], Some(D::Hour), r("2026-12-02", "2026-12-02")),
            ("tips by location last month", &[M::Tips], Some(D::Location), r("2026-11-01", "2026-11-30")),
            ("refunds since 1 November", &[M::Refunds], None, r("2026-11-01", "2026-12-03")),
            ("covers at lunch last week", &[M::Covers], None, r("2026-11-23", "2026-11-29")),
            ("dine-in sales at Harbour on Saturdays in November", &[M::NetSales], None, r("2026-11-01", "2026-11-30")),
            ("takeaway orders between 11 and 2 yesterday", &[M::OrderCount], None, r("2026-12-02", "2026-12-02")),
            ("discounts mtd", &[M::Discounts], None, r("2026-12-01", "2026-12-03")),
            ("tax in March", &[M::Tax], None, r("2026-03-01", "2026-03-31")),
            ("gross sales from 2026-11-01 to 2026-11-07", &[M::GrossSales], None, r("2026-11-01", "2026-11-07")),
            ("net sales 2026-11-01 to 2026-11-07 vs previous period", &[M::NetSales], None, r("2026-11-01", "2026-11-07")),
            ("sales this week compared to last week by day", &[M::NetSales], Some(D::Day), r("2026-11-30", "2026-12-03")),
            ("best selling products last month by revenue", &[M::NetSales], Some(D::Product), r("2026-11-01", "2026-11-30")),
            ("top 3 days by sales last month", &[M::NetSales], Some(D::Day), r("2026-11-01", "2026-11-30")),
            ("busiest hour last week", &[M::OrderCount], Some(D::Hour), r("2026-11-23", "2026-11-29")),
            ("quietest day of the week in the last 4 weeks", &[M::OrderCount], Some(D::Weekday), r("2026-11-06", "2026-12-03")),
            ("sales yoy this month", &[M::NetSales], None, r("2026-12-01", "2026-12-03")),
            ("how many guests on the weekend", &[M::Covers], None, r("2026-11-28", "2026-11-29")),
            ("units sold last saturday at down", &[M::ItemsSold], None, r("2026-11-28", "2026-11-28")),
            ("sales on saturday last week", &[M::NetSales], None, r("2026-11-23", "2026-11-29")),
            ("average basket for delivery orders last 30 days", &[M::AverageOrderValue, M::OrderCount], None, r("2026-11-04", "2026-12-03")),
            ("sales between 1 may and 31 may", &[M::NetSales], None, r("2026-05-01", "2026-05-31")),
            ("orders after 9pm on fridays", &[M::OrderCount], None, r("2026-11-06", "2026-12-03")),
            ("Sales by channel the day before yesterday", &[M::NetSales], Some(D::Channel), r("2026-12-01", "2026-12-01")),
            ("weekly sales last 3 months", &[M::NetSales], Some(D::Week), r("2026-09-04", "2026-12-03")),
            ("monthly revenue this year vs last year", &[M::NetSales], Some(D::Month), r("2026-01-01", "2026-12-03")),
            ("Five best sellers this week at Harbour", &[M::ItemsSold, M::NetSales], Some(D::Product), r("2026-11-30", "2026-12-03")),
            ("sales from 5pm to 9pm on 28 november", &[M::NetSales], None, r("2026-11-28", "2026-11-28")),
            ("orders yesterday by order type", &[M::OrderCount], Some(D::Channel), r("2026-12-02", "2026-12-02")),
            ("sales at 7pm yesterday", &[M::NetSales], None, r("2026-12-02", "2026-12-02")),
            ("sales before noon today", &[M::NetSales], None, r("2026-12-03", "2026-12-03")),
            ("What did we make on the 1st of December?", &[M::NetSales], None, r("2026-12-01", "2026-12-01")),
            ("gross sales by weekday this month", &[M::GrossSales], Some(D::Weekday), r("2026-12-01", "2026-12-03")),
            ("sales today vs yesterday", &[M::NetSales], None, r("2026-12-03", "2026-12-03")),
            ("sales today vs last week", &[M::NetSales], None, r("2026-12-03", "2026-12-03")),
            ("last month's sales vs the month before", &[M::NetSales], None, r("2026-11-01", "2026-11-30")),
            ("sales in December 2025 versus November 2025", &[M::NetSales], None, r("2025-12-01", "2025-12-31")),
            ("orders and sales per store ytd", &[M::OrderCount, M::NetSales], Some(D::Location), r("2026-01-01", "2026-12-03")),
            ("VAT the week before last", &[M::Tax], None, r("2026-11-16", "2026-11-22")),
            ("sales by day May 1st to May 7th", &[M::NetSales], Some(D::Day), r("2026-05-01", "2026-05-07")),
            ("worst selling items last month", &[M::ItemsSold, M::NetSales], Some(D::Product), r("2026-11-01", "2026-11-30")),
            ("late night orders last weekend @ harbour", &[M::OrderCount], None, r("2026-11-28", "2026-11-29")),
            ("sales", &[M::NetSales], None, r("2026-11-27", "2026-12-03")),
        ];
        assert!(table.len() >= 30);
        for (question, metrics, dimension, range) in table {
            let intent = ok(question);
            assert_eq!(intent.metrics, *metrics, "{question}");
            assert_eq!(intent.dimension, *dimension, "{question}");
            assert_eq!(intent.range, *range, "{question}");
        }

        // What else the phrasings hold.
        let top = ok("top 5 products yesterday at Downtown");
        assert_eq!(
            top.top,
            Some(Top {
                limit: 5,
                ascending: false
            })
        );
        assert_eq!(top.filters.locations, at(DOWNTOWN));
        assert_eq!(
            top.text(),
            "top 5 products by items sold at Downtown, 2026-12-02"
        );
        let evening = ok("how many orders on Saturday after 6pm");
        assert_eq!(evening.filters.hours, hours(18, HourRange::CLOSE));
        assert!(evening.filters.weekdays.is_empty());
        assert_eq!(evening.text(), "orders, from 18:00 to close, 2026-11-28");
        let average = ok("average ticket this month vs last month");
        assert_eq!(
            average.comparison,
            Some(Comparison {
                kind: CompareKind::MonthBefore,
                range: r("2026-11-01", "2026-11-03")
            })
        );
        assert_eq!(
            ok("sales last week by location").text(),
            "net sales by location, 2026-11-23 to 2026-11-29"
        );
        assert_eq!(ok("covers at lunch last week").filters.hours, hours(11, 15));
        let harbour = ok("dine-in sales at Harbour on Saturdays in November");
        assert_eq!(harbour.filters.channel, Some("dine_in"));
        assert_eq!(harbour.filters.locations, at(HARBOUR));
        assert_eq!(harbour.filters.weekdays, [Weekday::Sat]);
        let takeaway = ok("takeaway orders between 11 and 2 yesterday");
        assert_eq!(takeaway.filters.channel, Some("takeout"));
        assert_eq!(takeaway.filters.hours, hours(11, 14));
        assert_eq!(
            ok("net sales 2026-11-01 to 2026-11-07 vs previous period").comparison,
            Some(Comparison {
                kind: CompareKind::PreviousPeriod,
                range: r("2026-10-25", "2026-10-31")
            })
        );
        assert_eq!(
            ok("sales this week compared to last week by day")
                .comparison
                .unwrap()
                .range,
            r("2026-11-23", "2026-11-26")
        );
        assert_eq!(
            ok("best selling products last month by revenue")
                .top
                .unwrap()
                .limit,
            10
        );
        assert_eq!(ok("top 3 days by sales last month").top.unwrap().limit, 3);
        assert_eq!(
            ok("busiest hour last week").top,
            Some(Top {
                limit: 1,
                ascending: false
            })
        );
        assert_eq!(
            ok("busiest hour last week").text(),
            "top hour by orders, 2026-11-23 to 2026-11-29"
        );
        assert_eq!(
            ok("quietest day of the week in the last 4 weeks").top,
            Some(Top {
                limit: 1,
                ascending: true
            })
        );
        assert_eq!(
            ok("sales yoy this month").comparison.unwrap().range,
            r("2025-12-01", "2025-12-03")
        );
        assert_eq!(
            ok("units sold last saturday at down").filters.locations,
            at(DOWNTOWN)
        );
        assert_eq!(
            ok("sales on saturday last week").filters.weekdays,
            [Weekday::Sat]
        );
        assert_eq!(
            ok("average basket for delivery orders last 30 days")
                .filters
                .channel,
            Some("delivery")
        );
        let fridays = ok("orders after 9pm on fridays");
        assert_eq!(fridays.filters.weekdays, [Weekday::Fri]);
        assert_eq!(fridays.filters.hours, hours(21, HourRange::CLOSE));
        assert_eq!(fridays.assumed, ["no time range given: the last 28 days"]);
        assert_eq!(
            ok("monthly revenue this year vs last year")
                .comparison
                .unwrap()
                .range,
            r("2025-01-01", "2025-12-03")
        );
        let five = ok("Five best sellers this week at Harbour");
        assert_eq!(five.top.unwrap().limit, 5);
        assert_eq!(five.filters.locations, at(HARBOUR));
        assert_eq!(
            ok("sales from 5pm to 9pm on 28 november").filters.hours,
            hours(17, 21)
        );
        assert_eq!(ok("sales at 7pm yesterday").filters.hours, hours(19, 20));
        assert_eq!(ok("sales before noon today").filters.hours, hours(0, 12));
        assert_eq!(
            ok("sales today vs yesterday").comparison.unwrap().range,
            r("2026-12-02", "2026-12-02")
        );
        assert_eq!(
            ok("sales today vs last week").comparison.unwrap().range,
            r("2026-11-26", "2026-11-26")
        );
        assert_eq!(
            ok("last month's sales vs the month before")
                .comparison
                .unwrap()
                .range,
            r("2026-10-01", "2026-10-31"),
            "a whole month compares with the whole month before"
        );
        let explicit = ok("sales in December 2025 versus November 2025")
            .comparison
            .unwrap();
        assert_eq!(explicit.kind, CompareKind::Range);
        assert_eq!(explicit.range, r("2025-11-01", "2025-11-30"));
        let worst = ok("worst selling items last month");
        assert!(worst.top.unwrap().ascending);
        let late = ok("late night orders last weekend @ harbour");
        assert_eq!(late.filters.hours, hours(22, HourRange::CLOSE));
        assert_eq!(late.filters.locations, at(HARBOUR));
        assert_eq!(
            ok("sales").assumed,
            ["no time range given: the last 7 days"]
        );
    }

    #[test]
    fn hours_read_as_a_restaurant_means_them() {
        for (question, from, to) in [
            ("sales after 6", 18, HourRange::CLOSE),
            ("sales after 18:00", 18, HourRange::CLOSE),
            ("sales before 11", 0, 11),
            ("sales between 5 and 9", 17, 21),
            ("sales between 11am and 2pm", 11, 14),
            ("sales between 10pm and 2am", 22, 26),
            ("sales 6-9pm", 18, 21),
            ("sales at dinner", 17, 22),
            ("sales in the morning", 6, 11),
            ("sales after midnight", 24, HourRange::CLOSE),
            ("sales between 6 p.m. and midnight", 18, 24),
        ] {
            let question = question.replace("sales 6-9pm", "sales from 6-9pm");
            assert_eq!(ok(&question).filters.hours, hours(from, to), "{question}");
        }
    }

    #[test]
    fn words_are_normalised() {
        assert_eq!(
            words("Downtown's top-five items, 6 p.m. – twenty-one days; Dine-In @Harbour"),
            [
                "downtown", "top", "5", "items", "6pm", "21", "days", "dine", "in", "at", "harbour"
            ]
        );
        assert_eq!(
            words("the twenty first of May"),
            ["the", "21th", "of", "may"]
        );
        assert_eq!(
            words("2026-11-01 to 2026-11-07"),
            ["2026-11-01", "to", "2026-11-07"]
        );
        assert_eq!(words("11-2"), ["11", "to", "2"]);
        assert_eq!(words("What’s the AOV?"), ["what", "the", "aov"]);
    }

    #[test]
    fn questions_it_cannot_map_say_what_they_understood() {
        let (code, problem) = err("what's the weather like");
        assert_eq!(code, "unrecognised_question");
        assert_eq!(problem["not_understood"], json!(["weather"]));
        assert_eq!(
            problem["missing"][0].as_str().unwrap().split(' ').nth(1),
            Some("metric")
        );
        assert!(problem["suggestions"].as_array().unwrap().len() >= 3);

        let (code, problem) = err("by location last week");
        assert_eq!(code, "unrecognised_question");
        assert_eq!(
            problem["understood"],
            json!(["by location", "2026-11-23 to 2026-11-29"])
        );
        assert_eq!(problem["not_understood"], json!([]));

        let (code, problem) = err("sales by colour last week");
        assert_eq!(code, "unrecognised_question");
        assert_eq!(problem["not_understood"], json!(["colour"]));
        assert_eq!(
            problem["understood"],
            json!(["net sales", "2026-11-23 to 2026-11-29"])
        );
        // Suggestions close to the question: its metric and range first, each one answerable.
        let suggestions: Vec<String> =
            serde_json::from_value(problem["suggestions"].clone()).unwrap();
        assert_eq!(
            suggestions[0],
            "net sales from 2026-11-23 to 2026-11-29 by location"
        );
        for suggestion in &suggestions {
            ok(suggestion);
        }

        for question in ["how are we doing", "", "   ", "show me everything"] {
            assert_eq!(err(question).0, "unrecognised_question", "{question:?}");
        }
        let (code, problem) = err("sales at Uptown yesterday");
        assert_eq!(code, "unknown_location");
        assert_eq!(problem["name"], "uptown");
        assert_eq!(problem["known"], json!(["Downtown", "Harbour"]));
        let (code, problem) = err("sales at new york");
        assert_eq!(code, "unknown_location");
        assert_eq!(problem["name"], "new york");

        assert_eq!(err("tips by product").0, "unsupported_question");
        assert_eq!(err("top products after 6pm").0, "unsupported_question");
        assert_eq!(err("sales last 400 days").0, "range_too_long");
        assert_eq!(err("sales this week last week").0, "unrecognised_question");
        assert_eq!(err("top 500 products").0, "invalid_limit");
        assert_eq!(
            err("sales from 2026-11-07 to 2026-11-01").0,
            "invalid_range"
        );
        assert_eq!(err(&"sales ".repeat(100)).0, "question_too_long");
    }

    #[test]
    fn every_suggestion_is_answerable() {
        for suggestion in SUGGESTIONS {
            ok(suggestion);
        }
        let (_, problem) = err("what's the weather at Downtown");
        let suggestions: Vec<String> =
            serde_json::from_value(problem["suggestions"].clone()).unwrap();
        assert!(
            suggestions.iter().any(|s| s.ends_with("at Downtown")),
            "{suggestions:?}"
        );
        for suggestion in &suggestions {
            ok(suggestion);
        }
    }

    #[test]
    fn comparisons_shift_like_for_like() {
        assert_eq!(
            shifted(r("2026-03-01", "2026-03-31"), CompareKind::MonthBefore),
            r("2026-02-01", "2026-02-28")
        );
        assert_eq!(
            shifted(r("2026-03-01", "2026-03-30"), CompareKind::MonthBefore),
            r("2026-02-01", "2026-02-28")
        );
        assert_eq!(
            shifted(r("2024-02-29", "2024-02-29"), CompareKind::YearBefore),
            r("2023-02-28", "2023-02-28")
        );
        assert_eq!(
            shifted(r("2026-12-01", "2026-12-07"), CompareKind::PreviousPeriod),
            r("2026-11-24", "2026-11-30")
        );
        assert_eq!(latest(Weekday::Thu, today(), false), today());
        assert_eq!(latest(Weekday::Thu, today(), true), d("2026-11-26"));
        assert_eq!(latest(Weekday::Fri, today(), false), d("2026-11-27"));
    }
}
