//! Analytics (issue 6): the business day in SQL, the sales rollups (`analytics` schema,
//! [`rollup`]) and the reports answered from them ([`report`]).

pub mod anomalies;
pub mod ask;
pub mod export;
pub mod forecast;
pub mod recommendations;
pub mod report;
pub mod rollup;
pub mod segments;

/// The business date of the timestamptz expression `at` at a location with the SQL
/// expressions `time_zone` (IANA name) and `cutoff` (`time`): the same rule as
/// [`crate::sales::orders::business_date`] (local wall-clock time minus the cutoff, then its
/// date), for rows the rollup dates itself (refunds). Arguments are SQL fragments of the
/// caller's own query (column names), never user input.
pub fn business_date_sql(at: &str, time_zone: &str, cutoff: &str) -> String {
    format!("((({at}) AT TIME ZONE ({time_zone})) - ({cutoff})::interval)::date")
}

/// Business-date cases across time-zone, cutoff and DST boundaries: (time zone, cutoff,
/// instant, business date). The unit tests check [`crate::sales::orders::business_date`]
/// against them and the platform tests check [`business_date_sql`] in PostgreSQL.
#[cfg(any(test, feature = "testing"))]
#[rustfmt::skip] // a table: one case a line
pub const BUSINESS_DATE_CASES: &[(&str, &str, &str, &str)] = &[
    // Midnight cutoff: the local calendar date.
    ("UTC", "00:00", "2026-05-01T23:59:59Z", "2026-05-01"),
    ("UTC", "00:00", "2026-05-02T00:00:00Z", "2026-05-02"),
    ("Asia/Kolkata", "00:00", "2026-05-01T18:29:59Z", "2026-05-01"),
    ("Asia/Kolkata", "00:00", "2026-05-01T18:30:00Z", "2026-05-02"),
    ("Pacific/Kiritimati", "00:00", "2026-05-01T10:00:00Z", "2026-05-02"),
    ("Pacific/Pago_Pago", "00:00", "2026-05-02T10:59:00Z", "2026-05-01"),
    // A 04:00 cutoff: the small hours belong to the evening before.
    ("UTC", "04:00", "2026-05-02T03:59:59Z", "2026-05-01"),
    ("UTC", "04:00", "2026-05-02T04:00:00Z", "2026-05-02"),
    ("Europe/Paris", "04:00", "2026-11-20T00:30:00Z", "2026-11-19"),
    ("Europe/Paris", "04:00", "2026-11-20T03:00:00Z", "2026-11-20"),
    ("Asia/Kolkata", "11:59", "2026-05-02T06:28:00Z", "2026-05-01"),
    ("Asia/Kolkata", "11:59", "2026-05-02T06:29:00Z", "2026-05-02"),
    // New York springs forward on 2026-03-08 (02:00 EST -> 03:00 EDT): with a 04:00 cutoff the
    // business day of the 7th lasts 23 hours, 09:00Z to 08:00Z.
    ("America/New_York", "04:00", "2026-03-07T08:59:59Z", "2026-03-06"),
    ("America/New_York", "04:00", "2026-03-07T09:00:00Z", "2026-03-07"),
    ("America/New_York", "04:00", "2026-03-08T06:30:00Z", "2026-03-07"), // 01:30 EST
    ("America/New_York", "04:00", "2026-03-08T07:30:00Z", "2026-03-07"), // 03:30 EDT
    ("America/New_York", "04:00", "2026-03-08T07:59:59Z", "2026-03-07"), // 03:59 EDT
    ("America/New_York", "04:00", "2026-03-08T08:00:00Z", "2026-03-08"), // 04:00 EDT
    ("America/New_York", "00:00", "2026-03-08T04:59:59Z", "2026-03-07"), // 23:59 EST
    ("America/New_York", "00:00", "2026-03-08T05:00:00Z", "2026-03-08"), // 00:00 EST
    // ...and falls back on 2026-11-01 (02:00 EDT -> 01:00 EST): 01:30 happens twice, both on
    // the 31st's business day, which lasts 25 hours, 08:00Z to 09:00Z.
    ("America/New_York", "04:00", "2026-10-31T07:59:59Z", "2026-10-30"),
    ("America/New_York", "04:00", "2026-10-31T08:00:00Z", "2026-10-31"),
    ("America/New_York", "04:00", "2026-11-01T05:30:00Z", "2026-10-31"), // 01:30 EDT
    ("America/New_York", "04:00", "2026-11-01T06:30:00Z", "2026-10-31"), // 01:30 EST
    ("America/New_York", "04:00", "2026-11-01T08:59:59Z", "2026-10-31"), // 03:59 EST
    ("America/New_York", "04:00", "2026-11-01T09:00:00Z", "2026-11-01"), // 04:00 EST
    ("America/New_York", "00:00", "2026-11-01T03:59:59Z", "2026-10-31"), // 23:59 EDT
    ("America/New_York", "00:00", "2026-11-01T04:00:00Z", "2026-11-01"), // 00:00 EDT
    // London springs forward on 2026-03-29 (01:00 GMT -> 02:00 BST) and falls back on
    // 2026-10-25 (02:00 BST -> 01:00 GMT).
    ("Europe/London", "04:00", "2026-03-29T02:59:59Z", "2026-03-28"), // 03:59 BST
    ("Europe/London", "04:00", "2026-03-29T03:00:00Z", "2026-03-29"), // 04:00 BST
    ("Europe/London", "04:00", "2026-10-25T03:59:59Z", "2026-10-24"), // 03:59 GMT
    ("Europe/London", "04:00", "2026-10-25T04:00:00Z", "2026-10-25"), // 04:00 GMT
    // A cutoff inside the skipped hour: the day starts at the first instant whose wall clock
    // is past it (02:00 BST).
    ("Europe/London", "01:30", "2026-03-29T00:59:59Z", "2026-03-28"), // 00:59 GMT
    ("Europe/London", "01:30", "2026-03-29T01:00:00Z", "2026-03-29"), // 02:00 BST
    // A cutoff inside the repeated hour is read on the wall clock both times: the second
    // 01:15 is before the cutoff again. (Choose a cutoff outside 01:00-02:00 where clocks
    // change; the usual 04:00 never meets this.)
    ("Europe/London", "01:30", "2026-10-25T00:30:00Z", "2026-10-25"), // 01:30 BST
    ("Europe/London", "01:30", "2026-10-25T01:15:00Z", "2026-10-24"), // 01:15 GMT
    ("Europe/London", "01:30", "2026-10-25T01:30:00Z", "2026-10-25"), // 01:30 GMT
];

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

    use super::*;
    use crate::sales::orders::business_date;

    #[test]
    fn business_dates_follow_the_zone_the_cutoff_and_dst() {
        for (zone, cutoff, at, expected) in BUSINESS_DATE_CASES {
            let cutoff = NaiveTime::parse_from_str(cutoff, "%H:%M").unwrap();
            let at: DateTime<Utc> = at.parse().unwrap();
            let expected: NaiveDate = expected.parse().unwrap();
            assert_eq!(
                business_date(zone, cutoff, at),
                expected,
                "{zone} cutoff {cutoff} at {at}"
            );
        }
    }

    #[test]
    fn an_unknown_zone_reads_as_utc() {
        let at: DateTime<Utc> = "2026-05-02T03:00:00Z".parse().unwrap();
        assert_eq!(
            business_date("Mars/Olympus", NaiveTime::MIN, at),
            NaiveDate::from_ymd_opt(2026, 5, 2).unwrap()
        );
    }

    #[test]
    fn the_sql_rule_quotes_nothing_it_is_not_given() {
        assert_eq!(
            business_date_sql("r.created_at", "l.time_zone", "l.day_cutoff"),
            "(((r.created_at) AT TIME ZONE (l.time_zone)) - (l.day_cutoff)::interval)::date"
        );
    }
}
