//! `update-kitchen-station` — `PATCH /v1/kitchen/stations/{id}`: renames a station, changes
//! the categories it cooks, makes it the location's default or not, activates or deactivates
//! it (needs `locations:write` and access to its location).
//!
//! Body: any of `name`, `categories` (the whole new set), `is_default`, `active`; absent
//! fields are unchanged, and a station never moves to another location. `If-Match` with the
//! station's version is honoured when sent (unreadable 400 `invalid_if_match`, stale 412
//! `version_mismatch` with `current_version`). A change bumps `version` and answers the
//! station with its `ETag`; a request that changes nothing answers it unchanged. Tickets
//! already created keep their station; the change routes the orders placed after it.
//!
//! Errors: 403 `permission_denied`; 404 `not_found` (unknown, other tenant's, or at a location
//! the caller may not access); 409 `station_name_taken`, `default_station_exists` (with
//! `station_id`), `category_mapped` (with `category_id` and `station_id`); 422
//! `invalid_name`, `invalid_categories`, `unknown_category` (with `category_ids`),
//! `invalid_body`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use olympus::auth::Principal;
use olympus::catalog::patch::optional_expected_version;
use olympus::db;
use olympus::http::versioning::{etag, version_mismatch};
use olympus::http::{Json, Path};
use olympus::kitchen::CONFIGURE;
use olympus::kitchen::stations::{self, Fields, StationView};
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use uuid::Uuid;

pub fn function() -> Function {
    Function::http("update-kitchen-station")
        .route(&Method::PATCH, "/v1/kitchen/stations/{id}", update)
        .build()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StationPatch {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    categories: Option<Vec<Uuid>>,
    #[serde(default)]
    is_default: Option<bool>,
    #[serde(default)]
    active: Option<bool>,
}

impl StationPatch {
    /// Validates the given fields and applies them to `current`.
    fn apply(&self, current: &Fields) -> Result<Fields, Error> {
        let mut next = current.clone();
        if let Some(name) = &self.name {
            next.name = stations::name(name)?;
        }
        if let Some(categories) = &self.categories {
            next.categories = stations::categories(categories)?;
        }
        if let Some(is_default) = self.is_default {
            next.is_default = is_default;
        }
        if let Some(active) = self.active {
            next.active = active;
        }
        Ok(next)
    }
}

async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(patch): Json<StationPatch>,
) -> Result<Response, Error> {
    principal.require(CONFIGURE)?;
    let id = stations::path_id(&id)?;
    let expected = optional_expected_version(&headers, "station")?;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let before = stations::lock(&tx, id)
        .await?
        .filter(|station| principal.can_access_location(station.location_id))
        .ok_or_else(stations::not_found)?;
    let current = Fields::of(&before);
    let next = patch.apply(&current)?;
    if let Some(expected) = expected
        && before.version != expected
    {
        return Err(version_mismatch("station", expected, before.version));
    }
    if next == current {
        tx.commit().await?;
        return respond(before);
    }
    let after = stations::update(&tx, principal.tenant_id, &before, &next).await?;
    tx.commit().await?;
    respond(after)
}

fn respond(view: StationView) -> Result<Response, Error> {
    Ok(([(header::ETAG, etag(view.version))], Json(view)).into_response())
}
