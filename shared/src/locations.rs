//! Locations (shops, restaurants, venues) as the location endpoints show them, and the
//! validation of their free-form fields: `address` and `tax_settings` (bounded JSON objects),
//! `business_hours` (days to open/close pairs) and `day_cutoff` (when the business day starts).
//! Names, time zones and currencies are checked by [`crate::tenants::validate`].

use chrono::{DateTime, NaiveTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::error::Error;
use crate::tenants::validate;

/// The columns [`LocationView::from_row`] reads, in `SELECT`/`RETURNING` form.
pub const COLUMNS: &str = "id, name, time_zone, day_cutoff, currency, address, business_hours, \
                           tax_settings, active, version, created_at, updated_at";

/// A location as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocationView {
    pub id: Uuid,
    pub name: String,
    pub time_zone: String,
    /// Local time the business day starts (`HH:MM`, 00:00 to 11:59): orders before it belong
    /// to the previous day (see [`crate::sales::orders::business_date`]).
    pub day_cutoff: String,
    pub currency: String,
    pub address: Value,
    pub business_hours: Value,
    pub tax_settings: Value,
    pub active: bool,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl LocationView {
    /// A location from a row holding the [`COLUMNS`].
    pub fn from_row(row: &tokio_postgres::Row) -> Result<Self, Error> {
        Ok(Self {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            time_zone: row.try_get("time_zone")?,
            day_cutoff: format_cutoff(row.try_get("day_cutoff")?),
            currency: row.try_get("currency")?,
            address: row.try_get("address")?,
            business_hours: row.try_get("business_hours")?,
            tax_settings: row.try_get("tax_settings")?,
            active: row.try_get("active")?,
            version: row.try_get("version")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

fn invalid(code: &'static str, field: &str, detail: impl Into<String>) -> Error {
    Error::unprocessable(code, detail).with_extension("field", field)
}

/// `check(value)`, except that absent or `null` is `{}` (the default of a new location).
pub fn or_empty(
    value: Option<Value>,
    check: impl FnOnce(Value) -> Result<Value, Error>,
) -> Result<Value, Error> {
    match value {
        None | Some(Value::Null) => Ok(json!({})),
        Some(value) => check(value),
    }
}

/// A free-form JSON object of bounded size: `address` (422 `invalid_address`) or
/// `tax_settings` (422 `invalid_tax_settings`).
pub fn object(field: &'static str, value: Value) -> Result<Value, Error> {
    let code = match field {
        "address" => "invalid_address",
        _ => "invalid_tax_settings",
    };
    if !value.is_object() {
        return Err(invalid(
            code,
            field,
            format!("`{field}` must be a JSON object."),
        ));
    }
    if value.to_string().len() > validate::MAX_OBJECT_BYTES {
        return Err(invalid(
            code,
            field,
            format!(
                "`{field}` must be at most {} bytes of JSON.",
                validate::MAX_OBJECT_BYTES
            ),
        ));
    }
    Ok(value)
}

/// The latest day cutoff (exclusive): a business day must start before local noon, so that
/// most of it lies on its own calendar date.
pub const MAX_DAY_CUTOFF_MINUTES: u32 = 12 * 60;

/// Validates a `day_cutoff`: `HH:MM` from 00:00 to 11:59, else 422 `invalid_day_cutoff`.
pub fn day_cutoff(value: &str) -> Result<NaiveTime, Error> {
    minutes(value)
        .filter(|m| *m < MAX_DAY_CUTOFF_MINUTES)
        .and_then(|m| NaiveTime::from_hms_opt(m / 60, m % 60, 0))
        .ok_or_else(|| {
            invalid(
                "invalid_day_cutoff",
                "day_cutoff",
                "`day_cutoff` must be a local time \"HH:MM\" from 00:00 to 11:59.",
            )
        })
}

/// A day cutoff as the API shows it (`04:00`).
pub fn format_cutoff(cutoff: NaiveTime) -> String {
    cutoff.format("%H:%M").to_string()
}

/// The days `business_hours` may name.
pub const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Minutes since midnight of `HH:MM` (00:00..=24:00).
fn minutes(text: &str) -> Option<u32> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !(h.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m) = (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?);
    let total = h * 60 + m;
    (m < 60 && total <= 24 * 60).then_some(total)
}

/// Validates `business_hours`: `{"mon": [["09:00", "17:00"], ...], ...}` with days `mon`..`sun`
/// (a day absent or `[]` is closed), each pair open < close (`24:00` closes at midnight), the
/// pairs of a day not overlapping; else 422 `invalid_business_hours`.
pub fn business_hours(value: Value) -> Result<Value, Error> {
    weekly_hours("business_hours", "invalid_business_hours", value)
}

/// Validates weekly opening hours in the shape of [`business_hours`] for `field` (menus use it
/// for their day parts), failing with 422 `code`.
pub fn weekly_hours(field: &str, code: &'static str, value: Value) -> Result<Value, Error> {
    let fail = |detail: String| invalid(code, field, detail);
    let Some(days) = value.as_object() else {
        return Err(fail(format!(
            "`{field}` must be an object of days (mon..sun) to [open, close] pairs."
        )));
    };
    for (day, hours) in days {
        if !DAYS.contains(&day.as_str()) {
            return Err(fail(format!(
                "`{field}` has an unknown day `{day}`; days are mon, tue, wed, thu, fri, sat, sun."
            )));
        }
        let Some(pairs) = hours.as_array() else {
            return Err(fail(format!(
                "`{field}.{day}` must be a list of [\"HH:MM\", \"HH:MM\"] pairs."
            )));
        };
        let mut spans = Vec::with_capacity(pairs.len());
        for pair in pairs {
            let Some((open, close)) = span(pair) else {
                return Err(fail(format!(
                    "`{field}.{day}` must hold [\"HH:MM\", \"HH:MM\"] pairs (00:00 to 24:00)."
                )));
            };
            if open >= close {
                return Err(fail(format!(
                    "`{field}.{day}`: each opening time must be before its closing time."
                )));
            }
            spans.push((open, close));
        }
        spans.sort_unstable();
        if spans.windows(2).any(|w| w[1].0 < w[0].1) {
            return Err(fail(format!(
                "`{field}.{day}` has overlapping opening hours."
            )));
        }
    }
    Ok(value)
}

/// An `["HH:MM", "HH:MM"]` pair as minutes since midnight.
fn span(pair: &Value) -> Option<(u32, u32)> {
    pair.as_array()
        .filter(|p| p.len() == 2)
        .and_then(|p| Some((minutes(p[0].as_str()?)?, minutes(p[1].as_str()?)?)))
}

/// Whether validated weekly `hours` are open at the local `weekday` (0 = Monday) and
/// `minute_of_day`: an opening pair includes its start and excludes its end.
pub fn open_at(hours: &Value, weekday: usize, minute_of_day: u32) -> bool {
    let Some(day) = DAYS.get(weekday) else {
        return false;
    };
    hours
        .get(day)
        .and_then(Value::as_array)
        .is_some_and(|pairs| {
            pairs
                .iter()
                .filter_map(span)
                .any(|(open, close)| (open..close).contains(&minute_of_day))
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn hours_code(value: Value) -> Option<String> {
        business_hours(value).err().map(|e| e.code().to_owned())
    }

    #[test]
    fn open_at_includes_the_start_and_excludes_the_end() {
        let hours = json!({"mon": [["07:00", "11:00"]], "sat": [["18:00", "24:00"]]});
        assert!(open_at(&hours, 0, 7 * 60));
        assert!(open_at(&hours, 0, 10 * 60 + 59));
        assert!(!open_at(&hours, 0, 11 * 60));
        assert!(!open_at(&hours, 1, 8 * 60));
        assert!(open_at(&hours, 5, 23 * 60 + 59));
        assert!(!open_at(&hours, 7, 0));
    }

    #[test]
    fn business_hours_accept_well_formed_days() {
        let ok = json!({
            "mon": [["09:00", "12:00"], ["13:00", "17:30"]],
            "sat": [["18:00", "24:00"]],
            "sun": []
        });
        assert_eq!(business_hours(ok.clone()).unwrap(), ok);
        assert_eq!(or_empty(None, business_hours).unwrap(), json!({}));
        assert_eq!(
            or_empty(Some(Value::Null), business_hours).unwrap(),
            json!({})
        );
    }

    #[test]
    fn business_hours_refuse_bad_shapes() {
        for bad in [
            json!([]),
            Value::Null,
            json!({"monday": [["09:00", "17:00"]]}),
            json!({"mon": ["09:00", "17:00"]}),
            json!({"mon": [["09:00"]]}),
            json!({"mon": [["9:00", "17:00"]]}),
            json!({"mon": [["09:60", "17:00"]]}),
            json!({"mon": [["09:00", "24:01"]]}),
            json!({"mon": [["17:00", "09:00"]]}),
            json!({"mon": [["09:00", "09:00"]]}),
            json!({"mon": [["09:00", "13:00"], ["12:00", "17:00"]]}),
            json!({"mon": [[9, 17]]}),
            json!({"mon": {"open": "09:00"}}),
        ] {
            assert_eq!(
                hours_code(bad.clone()).as_deref(),
                Some("invalid_business_hours"),
                "{bad}"
            );
        }
    }

    #[test]
    fn day_cutoffs_are_morning_times() {
        let at = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        assert_eq!(day_cutoff("00:00").unwrap(), at(0, 0));
        assert_eq!(day_cutoff("04:00").unwrap(), at(4, 0));
        assert_eq!(day_cutoff("11:59").unwrap(), at(11, 59));
        assert_eq!(format_cutoff(at(4, 30)), "04:30");
        for bad in [
            "12:00", "23:00", "24:00", "4:00", "04:60", "04", "", "04:00:00", "-1:00", "ab:cd",
        ] {
            let err = day_cutoff(bad).unwrap_err();
            assert_eq!(err.code(), "invalid_day_cutoff", "{bad}");
            assert_eq!(err.problem().extensions["field"], "day_cutoff");
        }
    }

    #[test]
    fn objects_are_bounded_and_named_by_their_field() {
        assert_eq!(
            object("address", json!({"line1": "1 Main St"})).unwrap(),
            json!({"line1": "1 Main St"})
        );
        assert_eq!(
            object("address", json!("1 Main St")).unwrap_err().code(),
            "invalid_address"
        );
        assert_eq!(
            object("tax_settings", json!([1])).unwrap_err().code(),
            "invalid_tax_settings"
        );
        let big = json!({ "x": "y".repeat(validate::MAX_OBJECT_BYTES) });
        let err = object("address", big).unwrap_err();
        assert_eq!(err.code(), "invalid_address");
        assert_eq!(err.problem().extensions["field"], "address");
        assert_eq!(
            or_empty(Some(Value::Null), |v| object("address", v)).unwrap(),
            json!({})
        );
    }
}
