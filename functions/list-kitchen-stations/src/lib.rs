//! `list-kitchen-stations` — `GET /v1/kitchen/stations?location=`: the kitchen stations of the
//! caller's tenant with the categories they cook (needs `kitchen:read`).
//!
//! `location` (also `location_id`) limits the list to one location (one of the principal's,
//! else 403 `location_denied`); a principal limited to some locations sees only theirs.
//! Answers `{"items": [...], "next_cursor": null}` by location then name; a location has a
//! handful of stations, so the list is not paged. A malformed query is 400 `invalid_query`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::Method;
use olympus::auth::Principal;
use olympus::db;
use olympus::http::pagination::Page;
use olympus::http::{Json, Query};
use olympus::kitchen::READ;
use olympus::kitchen::stations::{self, StationView};
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use uuid::Uuid;

pub fn function() -> Function {
    Function::http("list-kitchen-stations")
        .route(&Method::GET, "/v1/kitchen/stations", list)
        .build()
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(default, alias = "location_id")]
    location: Option<Uuid>,
}

async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<ListQuery>,
) -> Result<Json<Page<StationView>>, Error> {
    principal.require(READ)?;
    if let Some(location) = query.location {
        principal.require_location(location)?;
    }
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let items = stations::list(&tx, query.location, principal.locations.as_deref()).await?;
    tx.commit().await?;
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}
