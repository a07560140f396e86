//! `release-inventory-reservation` — `DELETE /v1/inventory/reservations/{id}`: releases a
//! hold, e.g. an abandoned cart (needs `inventory:write` and access to the hold's location).
//!
//! Answers 204: the held units are available again at once. An unknown, malformed or other
//! tenant's id is 404 `not_found`; a hold already released or consumed by a sale is 409
//! `reservation_not_active`. A hold past its `expires_at` no longer counts anyway, but is still
//! `active` and may be released. Not audited (cart state; the row keeps `closed_at`).
//!
//! Errors: 403 `permission_denied`, `location_denied`; 404 `not_found`; 409
//! `reservation_not_active`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use olympus::auth::Principal;
use olympus::db;
use olympus::http::Path;
use olympus::inventory;
use olympus::{AppState, Error, Function};
use uuid::Uuid;

pub fn function() -> Function {
    Function::http("release-inventory-reservation")
        .route(
            &Method::DELETE,
            "/v1/inventory/reservations/{id}",
            release_reservation,
        )
        .build()
}

fn reservation_not_found() -> Error {
    Error::not_found("No such reservation.")
}

async fn release_reservation(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, Error> {
    principal.require(inventory::WRITE)?;
    let id = Uuid::try_parse(&id).map_err(|_| reservation_not_found())?;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    // RLS hides other tenants' holds; the lock makes a concurrent release or sale wait, so
    // exactly one of them finds the hold active.
    let row = tx
        .query_opt(
            "SELECT location_id, status FROM inventory.reservations
             WHERE reservation_id = $1
             ORDER BY variant_id
             LIMIT 1
             FOR UPDATE",
            &[&id],
        )
        .await?
        .ok_or_else(reservation_not_found)?;
    let location: Uuid = row.try_get(0)?;
    principal.require_location(location)?;
    if !inventory::release(&tx, id).await? {
        let status: String = row.try_get(1)?;
        return Err(Error::conflict(
            "reservation_not_active",
            format!("Reservation {id} is {status}, not active."),
        ));
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
