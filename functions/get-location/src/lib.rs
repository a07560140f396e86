//! `get-location` — `GET /v1/locations/{id}`: one location of the caller's tenant (needs
//! `locations:read` and access to that location).
//!
//! Answers the location (id, name, time_zone, day_cutoff (`HH:MM`, when its business day
//! starts), currency, address, business_hours, tax_settings, active, version, created_at,
//! updated_at) with `ETag: "<version>"` for
//! `PATCH /v1/locations/{id}`'s `If-Match`. A location outside the principal's locations is 403
//! `location_denied`; an unknown, malformed or other tenant's id is 404 `not_found`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use olympus::auth::Principal;
use olympus::db;
use olympus::http::versioning::etag;
use olympus::http::{Json, Path};
use olympus::locations::COLUMNS;
use olympus::{AppState, Error, Function};
use uuid::Uuid;

pub use olympus::locations::LocationView;

/// The permission reading a location needs.
pub const READ: &str = "locations:read";

pub fn function() -> Function {
    Function::http("get-location")
        .route(&Method::GET, "/v1/locations/{id}", get_location)
        .build()
}

fn location_not_found() -> Error {
    Error::not_found("No such location.")
}

async fn get_location(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    principal.require(READ)?;
    let id = Uuid::try_parse(&id).map_err(|_| location_not_found())?;
    principal.require_location(id)?;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let row = tx
        .query_opt(
            &format!("SELECT {COLUMNS} FROM platform.locations WHERE id = $1"),
            &[&id],
        )
        .await?
        .ok_or_else(location_not_found)?;
    tx.commit().await?;
    let view = LocationView::from_row(&row)?;
    Ok(([(header::ETAG, etag(view.version))], Json(view)).into_response())
}
