//! Kitchen stations: stored, validated and answered. The station functions (`create-`,
//! `list-`, `update-kitchen-station`) share these helpers; the ticket router reads the same
//! tables.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::db::Transaction;
use crate::error::Error;

/// Most categories one station cooks.
pub const MAX_CATEGORIES: usize = 500;

/// A station as answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StationView {
    pub id: Uuid,
    pub location_id: Uuid,
    pub name: String,
    /// The categories it cooks (and their subcategories, unless mapped elsewhere), by id.
    pub categories: Vec<Uuid>,
    /// Takes the lines whose category no active station cooks.
    pub is_default: bool,
    /// An inactive station gets no new tickets.
    pub active: bool,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const STATION_SELECT: &str = "SELECT s.id, s.location_id, s.name, s.is_default, s.active, \
    s.version, s.created_at, s.updated_at, \
    coalesce((SELECT array_agg(sc.category_id ORDER BY sc.category_id) \
              FROM kitchen.station_categories sc WHERE sc.station_id = s.id), '{}') AS categories \
    FROM kitchen.stations s";

impl StationView {
    fn from_row(row: &tokio_postgres::Row) -> Result<Self, Error> {
        Ok(Self {
            id: row.try_get("id")?,
            location_id: row.try_get("location_id")?,
            name: row.try_get("name")?,
            categories: row.try_get("categories")?,
            is_default: row.try_get("is_default")?,
            active: row.try_get("active")?,
            version: row.try_get("version")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

/// 404 `not_found` for a station.
pub fn not_found() -> Error {
    Error::not_found("No such kitchen station.")
}

/// The station id of a path segment; a malformed one is simply not found.
pub fn path_id(text: &str) -> Result<Uuid, Error> {
    Uuid::try_parse(text).map_err(|_| not_found())
}

/// The station `id`, or `None` (RLS: another tenant's station is absent).
pub async fn load(tx: &Transaction<'_>, id: Uuid) -> Result<Option<StationView>, Error> {
    tx.query_opt(&format!("{STATION_SELECT} WHERE s.id = $1"), &[&id])
        .await?
        .as_ref()
        .map(StationView::from_row)
        .transpose()
}

/// The station `id`, locked for the rest of `tx`.
pub async fn lock(tx: &Transaction<'_>, id: Uuid) -> Result<Option<StationView>, Error> {
    tx.query_opt(
        &format!("{STATION_SELECT} WHERE s.id = $1 FOR UPDATE OF s"),
        &[&id],
    )
    .await?
    .as_ref()
    .map(StationView::from_row)
    .transpose()
}

/// The stations at `location` (every location when `None`), limited to `locations` when
/// given (the principal's), by location then name.
pub async fn list(
    tx: &Transaction<'_>,
    location: Option<Uuid>,
    locations: Option<&[Uuid]>,
) -> Result<Vec<StationView>, Error> {
    let locations = locations.map(<[Uuid]>::to_vec);
    tx.query(
        &format!(
            "{STATION_SELECT}
             WHERE ($1::uuid IS NULL OR s.location_id = $1)
               AND ($2::uuid[] IS NULL OR s.location_id = ANY($2))
             ORDER BY s.location_id, s.name, s.id"
        ),
        &[&location, &locations],
    )
    .await?
    .iter()
    .map(StationView::from_row)
    .collect()
}

/// `POST /v1/kitchen/stations`'s body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewStation {
    pub location_id: Uuid,
    pub name: String,
    #[serde(default)]
    pub categories: Vec<Uuid>,
    #[serde(default)]
    pub is_default: bool,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// The mutable fields of a station, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    pub name: String,
    pub categories: Vec<Uuid>,
    pub is_default: bool,
    pub active: bool,
}

impl Fields {
    /// The current fields of `view`.
    pub fn of(view: &StationView) -> Self {
        Self {
            name: view.name.clone(),
            categories: view.categories.clone(),
            is_default: view.is_default,
            active: view.active,
        }
    }
}

/// A trimmed station name (422 `invalid_name`).
pub fn name(value: &str) -> Result<String, Error> {
    crate::tenants::validate::name("name", value)
}

/// The category ids sorted and deduplicated, at most [`MAX_CATEGORIES`] (422
/// `invalid_categories`).
pub fn categories(ids: &[Uuid]) -> Result<Vec<Uuid>, Error> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.len() > MAX_CATEGORIES {
        return Err(Error::unprocessable(
            "invalid_categories",
            format!("A station cooks at most {MAX_CATEGORIES} categories."),
        )
        .with_extension("field", "categories"));
    }
    Ok(ids)
}

/// 422 `unknown_location` unless `location` is one of the tenant's locations.
pub async fn ensure_location(tx: &Transaction<'_>, location: Uuid) -> Result<(), Error> {
    let found = tx
        .query_opt(
            "SELECT 1 FROM platform.locations WHERE id = $1",
            &[&location],
        )
        .await?;
    if found.is_none() {
        return Err(Error::unprocessable(
            "unknown_location",
            "`location_id` is not a location of this tenant.",
        )
        .with_extension("field", "location_id"));
    }
    Ok(())
}

/// Checks that the categories are live categories of the tenant (422 `unknown_category`,
/// naming them) and that no other station at `location` cooks one of them (409
/// `category_mapped`, with `category_id` and `station_id`).
async fn ensure_categories(
    tx: &Transaction<'_>,
    location: Uuid,
    station: Uuid,
    categories: &[Uuid],
) -> Result<(), Error> {
    if categories.is_empty() {
        return Ok(());
    }
    let live: Vec<Uuid> = tx
        .query(
            "SELECT id FROM catalog.categories WHERE id = ANY($1) AND archived_at IS NULL",
            &[&categories],
        )
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?;
    let unknown: Vec<String> = categories
        .iter()
        .filter(|id| !live.contains(id))
        .map(Uuid::to_string)
        .collect();
    if !unknown.is_empty() {
        return Err(Error::unprocessable(
            "unknown_category",
            "Some categories are not live categories of this tenant.",
        )
        .with_extension("field", "categories")
        .with_extension("category_ids", unknown));
    }
    let taken = tx
        .query_opt(
            "SELECT category_id, station_id FROM kitchen.station_categories
             WHERE location_id = $1 AND category_id = ANY($2) AND station_id <> $3
             ORDER BY category_id LIMIT 1",
            &[&location, &categories, &station],
        )
        .await?;
    if let Some(row) = taken {
        let category: Uuid = row.try_get(0)?;
        let other: Uuid = row.try_get(1)?;
        return Err(category_mapped(Some((category, other))));
    }
    Ok(())
}

fn category_mapped(which: Option<(Uuid, Uuid)>) -> Error {
    let err = Error::conflict(
        "category_mapped",
        "A category goes to one station per location; another station here already cooks it.",
    )
    .with_extension("field", "categories");
    match which {
        Some((category, station)) => err
            .with_extension("category_id", category.to_string())
            .with_extension("station_id", station.to_string()),
        None => err,
    }
}

/// 409 `default_station_exists` when another station at `location` is the default.
async fn ensure_single_default(
    tx: &Transaction<'_>,
    location: Uuid,
    station: Uuid,
) -> Result<(), Error> {
    let other = tx
        .query_opt(
            "SELECT id FROM kitchen.stations WHERE location_id = $1 AND is_default AND id <> $2",
            &[&location, &station],
        )
        .await?;
    if let Some(row) = other {
        let other: Uuid = row.try_get(0)?;
        return Err(default_exists().with_extension("station_id", other.to_string()));
    }
    Ok(())
}

fn default_exists() -> Error {
    Error::conflict(
        "default_station_exists",
        "The location already has a default station; unset it first.",
    )
    .with_extension("field", "is_default")
}

/// A write's database error, with the station's own constraints named (a concurrent request
/// can pass the checks above and still lose at the constraint).
fn write_error(err: tokio_postgres::Error) -> Error {
    match err.as_db_error().and_then(|db| db.constraint()) {
        Some("stations_name_key") => name_taken(),
        Some("stations_one_default") => default_exists(),
        Some("station_categories_one_station") => category_mapped(None),
        _ => Error::from(err),
    }
}

fn name_taken() -> Error {
    Error::conflict(
        "station_name_taken",
        "Another station at this location has that name.",
    )
    .with_extension("field", "name")
}

async fn set_categories(
    tx: &Transaction<'_>,
    tenant: Uuid,
    location: Uuid,
    station: Uuid,
    categories: &[Uuid],
) -> Result<(), Error> {
    tx.execute(
        "DELETE FROM kitchen.station_categories WHERE station_id = $1",
        &[&station],
    )
    .await?;
    if !categories.is_empty() {
        tx.execute(
            "INSERT INTO kitchen.station_categories (tenant_id, location_id, station_id, category_id)
             SELECT $1, $2, $3, unnest($4::uuid[])",
            &[&tenant, &location, &station, &categories],
        )
        .await
        .map_err(write_error)?;
    }
    Ok(())
}

/// Stores `new` as a station of `tenant` (the caller checked the location's access).
pub async fn create(
    tx: &Transaction<'_>,
    tenant: Uuid,
    new: &NewStation,
) -> Result<StationView, Error> {
    let name = name(&new.name)?;
    let categories = categories(&new.categories)?;
    ensure_location(tx, new.location_id).await?;
    let id = Uuid::now_v7();
    ensure_categories(tx, new.location_id, id, &categories).await?;
    if new.is_default {
        ensure_single_default(tx, new.location_id, id).await?;
    }
    let clash = tx
        .query_opt(
            "SELECT 1 FROM kitchen.stations WHERE location_id = $1 AND name = $2",
            &[&new.location_id, &name],
        )
        .await?;
    if clash.is_some() {
        return Err(name_taken());
    }
    tx.execute(
        "INSERT INTO kitchen.stations (id, tenant_id, location_id, name, is_default, active)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &id,
            &tenant,
            &new.location_id,
            &name,
            &new.is_default,
            &new.active,
        ],
    )
    .await
    .map_err(write_error)?;
    set_categories(tx, tenant, new.location_id, id, &categories).await?;
    load(tx, id).await?.ok_or_else(not_found)
}

/// Writes `next` over the locked station `before`; answers it as stored. Unchanged fields
/// are not checked again, so a station keeps working when one of its categories is archived.
pub async fn update(
    tx: &Transaction<'_>,
    tenant: Uuid,
    before: &StationView,
    next: &Fields,
) -> Result<StationView, Error> {
    let current = Fields::of(before);
    if next.categories != current.categories {
        let added: Vec<Uuid> = next
            .categories
            .iter()
            .filter(|id| !current.categories.contains(id))
            .copied()
            .collect();
        ensure_categories(tx, before.location_id, before.id, &added).await?;
    }
    if next.is_default && !current.is_default {
        ensure_single_default(tx, before.location_id, before.id).await?;
    }
    if next.name != current.name {
        let clash = tx
            .query_opt(
                "SELECT 1 FROM kitchen.stations WHERE location_id = $1 AND name = $2 AND id <> $3",
                &[&before.location_id, &next.name, &before.id],
            )
            .await?;
        if clash.is_some() {
            return Err(name_taken());
        }
    }
    tx.execute(
        "UPDATE kitchen.stations
         SET name = $2, is_default = $3, active = $4, version = version + 1, updated_at = now()
         WHERE id = $1",
        &[&before.id, &next.name, &next.is_default, &next.active],
    )
    .await
    .map_err(write_error)?;
    if next.categories != current.categories {
        set_categories(tx, tenant, before.location_id, before.id, &next.categories).await?;
    }
    load(tx, before.id).await?.ok_or_else(not_found)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn categories_are_sorted_deduplicated_and_bounded() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        assert_eq!(categories(&[b, a, b]).unwrap(), vec![a, b]);
        let many: Vec<Uuid> = (0..=MAX_CATEGORIES as u128).map(Uuid::from_u128).collect();
        assert_eq!(categories(&many).unwrap_err().code(), "invalid_categories");
        assert_eq!(name("  Grill ").unwrap(), "Grill");
        assert_eq!(name(" ").unwrap_err().code(), "invalid_name");
    }
}
