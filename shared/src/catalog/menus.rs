//! Menus (day parts): a named set of categories offered at some locations during weekly hours
//! in each location's own time zone ("Breakfast", 07:00–11:00 on weekdays, at Downtown).

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_postgres::Row;
use uuid::Uuid;

use super::validate::name;
use crate::db::Transaction;
use crate::error::Error;
use crate::locations::{open_at, weekly_hours};

/// Most categories and locations one menu names.
pub const MAX_IDS: usize = 200;

/// The columns [`MenuView::from_row`] reads.
pub const MENU_COLUMNS: &str = "id, name, category_ids, location_ids, hours, position, version, \
                                change_seq, archived_at, created_at, updated_at";

/// A menu as the API shows it. `location_ids` empty: every location; `hours` null: all day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MenuView {
    pub id: Uuid,
    pub name: String,
    pub category_ids: Vec<Uuid>,
    pub location_ids: Vec<Uuid>,
    pub hours: Option<Value>,
    pub position: i32,
    pub version: i32,
    pub change_seq: i64,
    pub archived_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl MenuView {
    pub fn from_row(row: &Row) -> Result<Self, Error> {
        Ok(Self {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            category_ids: row.try_get("category_ids")?,
            location_ids: row.try_get("location_ids")?,
            hours: row.try_get("hours")?,
            position: row.try_get("position")?,
            version: row.try_get("version")?,
            change_seq: row.try_get("change_seq")?,
            archived_at: row.try_get("archived_at")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }

    /// Whether the menu is offered at a location (`time_zone`) at the instant `at`.
    pub fn available_at(&self, location_id: Uuid, time_zone: &str, at: DateTime<Utc>) -> bool {
        if self.archived_at.is_some()
            || !(self.location_ids.is_empty() || self.location_ids.contains(&location_id))
        {
            return false;
        }
        let Some(hours) = &self.hours else {
            return true;
        };
        let Ok(zone) = time_zone.parse::<Tz>() else {
            return false;
        };
        let local = at.with_timezone(&zone);
        let weekday = usize::try_from(local.weekday().num_days_from_monday()).unwrap_or(7);
        open_at(hours, weekday, local.hour() * 60 + local.minute())
    }
}

/// `POST /v1/menus`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMenu {
    pub name: String,
    #[serde(default)]
    pub category_ids: Vec<Uuid>,
    #[serde(default)]
    pub location_ids: Vec<Uuid>,
    #[serde(default)]
    pub hours: Option<Value>,
    #[serde(default)]
    pub position: Option<i32>,
}

/// Validated menu fields.
#[derive(Debug, Clone, PartialEq)]
pub struct MenuFields {
    pub name: String,
    pub category_ids: Vec<Uuid>,
    pub location_ids: Vec<Uuid>,
    pub hours: Option<Value>,
}

/// Validates a menu (pure): name, hours in the `business_hours` shape (422 `invalid_hours`),
/// de-duplicated id lists of at most [`MAX_IDS`] (422 `too_many_ids`).
pub fn fields(
    menu_name: &str,
    category_ids: &[Uuid],
    location_ids: &[Uuid],
    hours: Option<Value>,
) -> Result<MenuFields, Error> {
    let dedup = |field: &str, ids: &[Uuid]| {
        if ids.len() > MAX_IDS {
            return Err(Error::unprocessable(
                "too_many_ids",
                format!("`{field}` holds at most {MAX_IDS} ids."),
            )
            .with_extension("field", field));
        }
        let mut out: Vec<Uuid> = Vec::with_capacity(ids.len());
        for id in ids {
            if !out.contains(id) {
                out.push(*id);
            }
        }
        Ok(out)
    };
    Ok(MenuFields {
        name: name("name", menu_name)?,
        category_ids: dedup("category_ids", category_ids)?,
        location_ids: dedup("location_ids", location_ids)?,
        hours: match hours {
            None | Some(Value::Null) => None,
            Some(value) => Some(weekly_hours("hours", "invalid_hours", value)?),
        },
    })
}

/// Every id must be a live category / a location of the tenant (RLS hides other tenants'):
/// 422 `unknown_category` / `unknown_location` naming the first that is not.
pub async fn check_references(tx: &Transaction<'_>, fields: &MenuFields) -> Result<(), Error> {
    let live: Vec<Uuid> = tx
        .query(
            "SELECT id FROM catalog.categories WHERE id = ANY($1) AND archived_at IS NULL",
            &[&fields.category_ids],
        )
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?;
    if let Some(missing) = fields.category_ids.iter().find(|id| !live.contains(id)) {
        return Err(Error::unprocessable(
            "unknown_category",
            format!("No live category {missing}."),
        )
        .with_extension("field", "category_ids"));
    }
    let known: Vec<Uuid> = tx
        .query(
            "SELECT id FROM platform.locations WHERE id = ANY($1)",
            &[&fields.location_ids],
        )
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?;
    if let Some(missing) = fields.location_ids.iter().find(|id| !known.contains(id)) {
        return Err(
            Error::unprocessable("unknown_location", format!("No location {missing}."))
                .with_extension("field", "location_ids"),
        );
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn menu(hours: Option<Value>, locations: Vec<Uuid>) -> MenuView {
        MenuView {
            id: Uuid::now_v7(),
            name: "Breakfast".to_owned(),
            category_ids: vec![],
            location_ids: locations,
            hours,
            position: 0,
            version: 1,
            change_seq: 1,
            archived_at: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn availability_follows_the_locations_own_clock() {
        let here = Uuid::now_v7();
        let breakfast = menu(Some(json!({"mon": [["07:00", "11:00"]]})), vec![here]);
        // Monday 2026-11-30 06:30 UTC is 07:30 in Paris and 01:30 in New York.
        let at = Utc.with_ymd_and_hms(2026, 11, 30, 6, 30, 0).unwrap();
        assert!(breakfast.available_at(here, "Europe/Paris", at));
        assert!(!breakfast.available_at(here, "America/New_York", at));
        assert!(!breakfast.available_at(Uuid::now_v7(), "Europe/Paris", at));
        let all_day = menu(None, vec![]);
        assert!(all_day.available_at(Uuid::now_v7(), "Asia/Tokyo", at));
    }

    #[test]
    fn fields_validate_hours_and_dedupe_ids() {
        let id = Uuid::now_v7();
        let ok = fields(
            " Lunch ",
            &[id, id],
            &[],
            Some(json!({"fri": [["11:30", "15:00"]]})),
        )
        .unwrap();
        assert_eq!(ok.name, "Lunch");
        assert_eq!(ok.category_ids, vec![id]);
        let bad = fields("Lunch", &[], &[], Some(json!({"friday": []}))).unwrap_err();
        assert_eq!(bad.code(), "invalid_hours");
        assert_eq!(bad.problem().extensions["field"], "hours");
    }
}
