//! `update-location` — `PATCH /v1/locations/{id}`: changes a location (needs
//! `locations:write` and access to that location).
//!
//! Body: any of `name`, `time_zone`, `day_cutoff`, `currency`, `address`, `business_hours`,
//! `tax_settings` (objects replaced whole) and `active` (`false` deactivates, `true` reactivates — which
//! counts against the plan: 403 `plan_limit`); a field absent or `null` is unchanged. Field
//! rules and 422 codes are those of `create-location`. Requires `If-Match: "<version>"` (or the
//! bare number): missing is 428 `precondition_required`, stale is 412 `version_mismatch` with
//! `current_version`. A change bumps `version`, is audited (`platform.location.updated`,
//! before/after of the changed fields) and answers the location with its new `ETag`; a request
//! that changes nothing answers the location as it is. A location the principal is not granted
//! is 403 `location_denied`; an unknown id (or another tenant's) is 404 and changes nothing.
//! A new `time_zone` or `day_cutoff` dates the orders taken from then on; orders already
//! taken keep their business day (the sales rollup recomputes the location's days).
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveTime;
use olympus::audit::{self, AuditEvent, Changes};
use olympus::auth::Principal;
use olympus::db;
use olympus::http::versioning::{etag, expected_version, version_mismatch};
use olympus::http::{ClientInfo, Json, Path};
use olympus::locations::{COLUMNS, business_hours, day_cutoff, format_cutoff, object};
use olympus::plans::{self, Resource};
use olympus::tenants::validate;
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

pub use olympus::locations::LocationView;

/// The permission every change needs.
pub const WRITE: &str = "locations:write";

pub fn function() -> Function {
    Function::http("update-location")
        .route(&Method::PATCH, "/v1/locations/{id}", update_location)
        .build()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LocationPatch {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    time_zone: Option<String>,
    #[serde(default)]
    day_cutoff: Option<String>,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    address: Option<Value>,
    #[serde(default)]
    business_hours: Option<Value>,
    #[serde(default)]
    tax_settings: Option<Value>,
    #[serde(default)]
    active: Option<bool>,
}

/// The mutable part of a location.
#[derive(Debug, Clone, PartialEq)]
struct Profile {
    name: String,
    time_zone: String,
    day_cutoff: NaiveTime,
    currency: String,
    address: Value,
    business_hours: Value,
    tax_settings: Value,
    active: bool,
}

impl Profile {
    fn of(view: &LocationView) -> Result<Self, Error> {
        Ok(Self {
            name: view.name.clone(),
            time_zone: view.time_zone.clone(),
            // The view shows what the column holds, so it always parses back.
            day_cutoff: day_cutoff(&view.day_cutoff)?,
            currency: view.currency.clone(),
            address: view.address.clone(),
            business_hours: view.business_hours.clone(),
            tax_settings: view.tax_settings.clone(),
            active: view.active,
        })
    }

    /// The fields that differ from `other`, each as (name, this value, other value).
    fn diff(&self, other: &Self) -> Vec<(&'static str, Value, Value)> {
        let mut changes = Vec::new();
        let mut field = |name: &'static str, mine: Value, theirs: Value| {
            if mine != theirs {
                changes.push((name, mine, theirs));
            }
        };
        field("name", json!(self.name), json!(other.name));
        field("time_zone", json!(self.time_zone), json!(other.time_zone));
        field(
            "day_cutoff",
            json!(format_cutoff(self.day_cutoff)),
            json!(format_cutoff(other.day_cutoff)),
        );
        field("currency", json!(self.currency), json!(other.currency));
        field("address", self.address.clone(), other.address.clone());
        field(
            "business_hours",
            self.business_hours.clone(),
            other.business_hours.clone(),
        );
        field(
            "tax_settings",
            self.tax_settings.clone(),
            other.tax_settings.clone(),
        );
        field("active", json!(self.active), json!(other.active));
        changes
    }
}

impl LocationPatch {
    /// Validates the given fields (pure) and applies them to `current`.
    fn apply(self, current: &Profile) -> Result<Profile, Error> {
        let mut next = current.clone();
        if let Some(name) = self.name {
            next.name = validate::name("name", &name)?;
        }
        if let Some(time_zone) = self.time_zone {
            next.time_zone = validate::time_zone("time_zone", &time_zone)?;
        }
        if let Some(cutoff) = self.day_cutoff {
            next.day_cutoff = day_cutoff(&cutoff)?;
        }
        if let Some(currency) = self.currency {
            next.currency = validate::currency("currency", &currency)?;
        }
        if let Some(address) = self.address {
            next.address = object("address", address)?;
        }
        if let Some(hours) = self.business_hours {
            next.business_hours = business_hours(hours)?;
        }
        if let Some(tax) = self.tax_settings {
            next.tax_settings = object("tax_settings", tax)?;
        }
        if let Some(active) = self.active {
            next.active = active;
        }
        Ok(next)
    }
}

fn location_not_found() -> Error {
    Error::not_found("No such location.")
}

async fn update_location(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(patch): Json<LocationPatch>,
) -> Result<Response, Error> {
    principal.require(WRITE)?;
    let id = Uuid::try_parse(&id).map_err(|_| location_not_found())?;
    principal.require_location(id)?;
    let expected = expected_version(&headers, "location")?;
    let tenant = principal.tenant_id;

    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    // RLS hides other tenants' locations: their ids are simply not found.
    let row = tx
        .query_opt(
            &format!("SELECT {COLUMNS} FROM platform.locations WHERE id = $1 FOR UPDATE"),
            &[&id],
        )
        .await?
        .ok_or_else(location_not_found)?;
    let before = LocationView::from_row(&row)?;
    let current = Profile::of(&before)?;
    let next = patch.apply(&current)?;
    if before.version != expected {
        return Err(version_mismatch("location", expected, before.version));
    }
    let changes: Changes = current.diff(&next).into_iter().collect();
    if changes.is_empty() {
        tx.commit().await?;
        return respond(before);
    }
    if next.active && !current.active {
        // Reactivating counts against the plan like a new location.
        plans::ensure_room_for(&tx, Resource::Locations).await?;
    }

    let row = tx
        .query_one(
            &format!(
                "UPDATE platform.locations
                 SET name = $2, time_zone = $3, currency = $4, address = $5,
                     business_hours = $6, tax_settings = $7, active = $8, day_cutoff = $9,
                     version = version + 1, updated_at = now()
                 WHERE id = $1
                 RETURNING {COLUMNS}"
            ),
            &[
                &id,
                &next.name,
                &next.time_zone,
                &next.currency,
                &next.address,
                &next.business_hours,
                &next.tax_settings,
                &next.active,
                &next.day_cutoff,
            ],
        )
        .await?;
    let after = LocationView::from_row(&row)?;

    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new((&principal).into(), "platform.location.updated")
            .target("location", id)
            .versioned_change(changes, before.version, after.version),
    )
    .await?;
    tx.commit().await?;
    respond(after)
}

fn respond(view: LocationView) -> Result<Response, Error> {
    Ok(([(header::ETAG, etag(view.version))], Json(view)).into_response())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn profile() -> Profile {
        Profile {
            name: "Main".to_owned(),
            time_zone: "Europe/Paris".to_owned(),
            day_cutoff: NaiveTime::MIN,
            currency: "EUR".to_owned(),
            address: json!({}),
            business_hours: json!({}),
            tax_settings: json!({}),
            active: true,
        }
    }

    #[test]
    fn patches_apply_validated_fields_and_diff_names_them() {
        let patch: LocationPatch = serde_json::from_value(json!({
            "name": " Harbour ", "active": false, "business_hours": {"mon": [["08:00", "16:00"]]},
            "address": null, "day_cutoff": "04:00"
        }))
        .unwrap();
        let current = profile();
        let next = patch.apply(&current).unwrap();
        assert_eq!(next.name, "Harbour");
        assert!(!next.active);
        let names: Vec<_> = current.diff(&next).into_iter().map(|c| c.0).collect();
        assert_eq!(next.day_cutoff, NaiveTime::from_hms_opt(4, 0, 0).unwrap());
        assert_eq!(names, ["name", "day_cutoff", "business_hours", "active"]);
        assert!(
            LocationPatch::default()
                .apply(&current)
                .unwrap()
                .diff(&current)
                .is_empty()
        );
    }

    #[test]
    fn invalid_fields_are_refused_with_their_codes() {
        let bad = |body: Value| {
            serde_json::from_value::<LocationPatch>(body)
                .unwrap()
                .apply(&profile())
                .unwrap_err()
                .code()
                .to_owned()
        };
        assert_eq!(bad(json!({"currency": "eur"})), "invalid_currency");
        assert_eq!(bad(json!({"time_zone": "Nowhere/x"})), "invalid_time_zone");
        assert_eq!(bad(json!({"name": ""})), "invalid_name");
        assert_eq!(bad(json!({"day_cutoff": "13:00"})), "invalid_day_cutoff");
        assert_eq!(bad(json!({"address": 7})), "invalid_address");
        assert_eq!(bad(json!({"tax_settings": "x"})), "invalid_tax_settings");
        assert_eq!(
            bad(json!({"business_hours": {"mon": [["10:00", "09:00"]]}})),
            "invalid_business_hours"
        );
        assert_eq!(
            bad(json!({"business_hours": {"xyz": []}})),
            "invalid_business_hours"
        );
        assert!(serde_json::from_value::<LocationPatch>(json!({"tenant_id": "x"})).is_err());
    }
}
