//! `register-device` — `POST /v1/locations/{id}/devices` with `{"name": "Till 1"}`: registers
//! a POS device at a location (needs `devices:write` and access to that location).
//!
//! Inserts the device (`auth.devices`) and its entry in the public device directory
//! (`auth.device_directory`, device id → tenant, read by PIN login before any tenant is known)
//! in one transaction, and answers 201 `{id, location_id, name, created_at}`. The device id is
//! what the till presents to `POST /v1/auth/pin`. An unknown (or another tenant's) location is
//! 404; a location the principal is not granted is 403 `location_denied`; an inactive location
//! is 409 `location_inactive`; a bad name is 422 `invalid_name`. Honours `Idempotency-Key`.
//! Audit: `auth.device.registered`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use chrono::{DateTime, Utc};
use olympus::audit::{self, AuditEvent};
use olympus::auth::Principal;
use olympus::db;
use olympus::http::{ClientInfo, Idempotency, Json, Path};
use olympus::tenants::validate;
use olympus::{AppState, Error, Function};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

/// The permission registering a device needs.
pub const WRITE: &str = "devices:write";

pub fn function() -> Function {
    Function::http("register-device")
        .idempotent_route(
            &Method::POST,
            "/v1/locations/{id}/devices",
            register,
            Idempotency::Optional,
        )
        .build()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterDevice {
    name: String,
}

#[derive(Debug, Serialize)]
pub struct DeviceView {
    pub id: Uuid,
    pub location_id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

fn location_not_found() -> Error {
    Error::not_found("No such location.")
}

async fn register(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    Path(location): Path<String>,
    Json(request): Json<RegisterDevice>,
) -> Result<(StatusCode, Json<DeviceView>), Error> {
    principal.require(WRITE)?;
    let location = Uuid::try_parse(&location).map_err(|_| location_not_found())?;
    principal.require_location(location)?;
    let name = validate::name("name", &request.name)?;
    let tenant = principal.tenant_id;

    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    // RLS hides other tenants' locations; FOR SHARE keeps it from being deactivated meanwhile.
    let active: bool = tx
        .query_opt(
            "SELECT active FROM platform.locations WHERE id = $1 FOR SHARE",
            &[&location],
        )
        .await?
        .map(|row| row.get(0))
        .ok_or_else(location_not_found)?;
    if !active {
        return Err(Error::conflict(
            "location_inactive",
            "The location is deactivated; reactivate it before registering devices.",
        )
        .with_extension("location_id", location.to_string()));
    }
    let id = Uuid::now_v7();
    let created_at: DateTime<Utc> = tx
        .query_one(
            "INSERT INTO auth.devices (id, tenant_id, location_id, name)
             VALUES ($1, $2, $3, $4)
             RETURNING created_at",
            &[&id, &tenant, &location, &name],
        )
        .await?
        .get(0);
    tx.execute(
        "INSERT INTO auth.device_directory (device_id, tenant_id) VALUES ($1, $2)",
        &[&id, &tenant],
    )
    .await?;
    let view = DeviceView {
        id,
        location_id: location,
        name,
        created_at,
    };
    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new((&principal).into(), "auth.device.registered")
            .target("device", id)
            .change(
                None,
                Some(json!({ "location_id": location, "name": view.name })),
            ),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(view)))
}
