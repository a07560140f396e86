//! `create-inventory-reservation` — `POST /v1/inventory/reservations`: holds stock at one
//! location for a while, e.g. for an online cart (needs `inventory:write` and access to the
//! location).
//!
//! Body: `location_id`, `lines` (1..=500): `{variant_id, quantity}` (1..=1e9; lines of one
//! variant are summed), `ttl_seconds` (60..=86400, default 900), `reference` (free text,
//! 1..=200 characters, e.g. a cart id). With the `block` policy a hold must fit in what is
//! available (on hand minus live holds), else 409 `insufficient_stock` (with `shortages`) and
//! nothing is held; concurrent reservations queue on the stock rows, so they can never
//! together hold more than is there. Variants that do not track inventory and
//! `allow_negative` pairs always fit. A hold counts in `reserved` until released, consumed by
//! a sale or `expires_at` passes (nothing has to run for it to stop counting). Answers 201
//! with `{id, location_id, status, reference, expires_at, lines}`; release it with `DELETE
//! /v1/inventory/reservations/{id}`. Honours `Idempotency-Key`. Not audited: holds are
//! short-lived cart state, recorded in `inventory.reservations` itself.
//!
//! Errors: 403 `permission_denied`, `location_denied`; 409 `insufficient_stock`; 422
//! `invalid_lines`, `invalid_quantity` (with `line`), `invalid_ttl`, `invalid_reference`,
//! `unknown_variant`, `unknown_location` (another tenant's ids too), `invalid_body`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use olympus::auth::Principal;
use olympus::db;
use olympus::http::{Idempotency, Json};
use olympus::inventory::{self, HoldLine, api};
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use uuid::Uuid;

/// Default life of a hold: a checkout's worth.
pub const DEFAULT_TTL_SECONDS: i64 = 900;
pub const MIN_TTL_SECONDS: i64 = 60;
pub const MAX_TTL_SECONDS: i64 = 86_400;
/// Longest `reference`, as stored.
pub const MAX_REFERENCE: usize = 200;

pub fn function() -> Function {
    Function::http("create-inventory-reservation")
        .idempotent_route(
            &Method::POST,
            "/v1/inventory/reservations",
            create_reservation,
            Idempotency::Optional,
        )
        .build()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateReservation {
    location_id: Uuid,
    lines: Vec<HoldLine>,
    #[serde(default)]
    ttl_seconds: Option<i64>,
    #[serde(default)]
    reference: Option<String>,
}

fn invalid(code: &'static str, field: &str, detail: impl Into<String>) -> Error {
    Error::unprocessable(code, detail).with_extension("field", field)
}

impl CreateReservation {
    /// The hold's life and reference, checked (pure).
    fn check(&self) -> Result<(Duration, Option<String>), Error> {
        api::line_count(self.lines.len())?;
        let ttl = self.ttl_seconds.unwrap_or(DEFAULT_TTL_SECONDS);
        if !(MIN_TTL_SECONDS..=MAX_TTL_SECONDS).contains(&ttl) {
            return Err(invalid(
                "invalid_ttl",
                "ttl_seconds",
                format!("ttl_seconds is {MIN_TTL_SECONDS} to {MAX_TTL_SECONDS}."),
            ));
        }
        let reference = match self.reference.as_deref().map(str::trim) {
            None => None,
            Some(text) if (1..=MAX_REFERENCE).contains(&text.chars().count()) => {
                Some(text.to_owned())
            }
            Some(_) => {
                return Err(invalid(
                    "invalid_reference",
                    "reference",
                    format!("reference is 1 to {MAX_REFERENCE} characters."),
                ));
            }
        };
        Ok((Duration::seconds(ttl), reference))
    }
}

async fn create_reservation(
    State(state): State<AppState>,
    principal: Principal,
    Json(request): Json<CreateReservation>,
) -> Result<Response, Error> {
    principal.require(inventory::WRITE)?;
    principal.require_location(request.location_id)?;
    let (ttl, reference) = request.check()?;
    let tenant = principal.tenant_id;

    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    let reservation = inventory::reserve(
        &tx,
        tenant,
        request.location_id,
        &request.lines,
        Utc::now() + ttl,
        reference,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(reservation)).into_response())
}
