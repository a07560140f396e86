//! `create-location` — `POST /v1/locations`: adds a location (shop, restaurant, venue) to the
//! caller's tenant (needs `locations:write`).
//!
//! Body: `name` (required), `time_zone` (IANA; default the tenant's), `day_cutoff` (local
//! `HH:MM` the business day starts, 00:00 to 11:59; default 00:00: a bar open past midnight
//! sets 04:00 so its 01:30 orders belong to the evening's business day), `currency` (ISO 4217;
//! default the tenant's), `address` (object), `business_hours` (object: day → list of
//! `["HH:MM", "HH:MM"]` open/close pairs, days `mon`..`sun`, open before close, no overlaps),
//! `tax_settings` (object). Answers 201 with the location, `Location: /v1/locations/{id}` and
//! `ETag: "1"`. A tenant at its plan's number of active locations gets 403 `plan_limit`;
//! invalid fields are 422 `invalid_name`, `invalid_time_zone`, `invalid_day_cutoff`,
//! `invalid_currency`, `invalid_address`, `invalid_business_hours`, `invalid_tax_settings`
//! (with `field`).
//! Honours `Idempotency-Key`. Audit: `platform.location.created`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveTime;
use olympus::audit::{self, AuditEvent};
use olympus::auth::Principal;
use olympus::db;
use olympus::http::versioning::etag;
use olympus::http::{ClientInfo, Idempotency, Json};
use olympus::locations::{COLUMNS, business_hours, day_cutoff, object, or_empty};
use olympus::plans::{self, Resource};
use olympus::tenants::validate;
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

pub use olympus::locations::LocationView;

/// The permission creating a location needs.
pub const WRITE: &str = "locations:write";

pub fn function() -> Function {
    Function::http("create-location")
        .idempotent_route(
            &Method::POST,
            "/v1/locations",
            create_location,
            Idempotency::Optional,
        )
        .build()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateLocation {
    name: String,
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
}

/// A validated location, ready to insert.
#[derive(Debug, Clone, PartialEq)]
struct NewLocation {
    name: String,
    time_zone: Option<String>,
    day_cutoff: NaiveTime,
    currency: Option<String>,
    address: Value,
    business_hours: Value,
    tax_settings: Value,
}

impl CreateLocation {
    fn validate(self) -> Result<NewLocation, Error> {
        Ok(NewLocation {
            name: validate::name("name", &self.name)?,
            time_zone: self
                .time_zone
                .map(|tz| validate::time_zone("time_zone", &tz))
                .transpose()?,
            day_cutoff: self
                .day_cutoff
                .as_deref()
                .map_or(Ok(NaiveTime::MIN), day_cutoff)?,
            currency: self
                .currency
                .map(|c| validate::currency("currency", &c))
                .transpose()?,
            address: or_empty(self.address, |v| object("address", v))?,
            business_hours: or_empty(self.business_hours, business_hours)?,
            tax_settings: or_empty(self.tax_settings, |v| object("tax_settings", v))?,
        })
    }
}

async fn create_location(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    Json(request): Json<CreateLocation>,
) -> Result<Response, Error> {
    principal.require(WRITE)?;
    let new = request.validate()?;
    let tenant = principal.tenant_id;
    let id = Uuid::now_v7();

    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    // Locks the tenant row: two concurrent creations cannot both pass the limit.
    plans::ensure_room_for(&tx, Resource::Locations).await?;
    let row = tx
        .query_one(
            &format!(
                "INSERT INTO platform.locations
                        (id, tenant_id, name, time_zone, currency, address, business_hours,
                         tax_settings, day_cutoff)
                 SELECT $1, t.id, $2, coalesce($3, t.time_zone), coalesce($4, t.currency),
                        $5, $6, $7, $9
                 FROM platform.tenants t WHERE t.id = $8
                 RETURNING {COLUMNS}"
            ),
            &[
                &id,
                &new.name,
                &new.time_zone,
                &new.currency,
                &new.address,
                &new.business_hours,
                &new.tax_settings,
                &tenant,
                &new.day_cutoff,
            ],
        )
        .await?;
    let view = LocationView::from_row(&row)?;
    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new((&principal).into(), "platform.location.created")
            .target("location", id)
            .change(
                None,
                Some(serde_json::to_value(&view).map_err(Error::internal)?),
            ),
    )
    .await?;
    tx.commit().await?;

    let location =
        HeaderValue::from_str(&format!("/v1/locations/{id}")).map_err(Error::internal)?;
    Ok((
        StatusCode::CREATED,
        [
            (header::LOCATION, location),
            (header::ETAG, etag(view.version)),
        ],
        Json(view),
    )
        .into_response())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_are_validated_with_their_own_codes() {
        let code = |body: Value| {
            serde_json::from_value::<CreateLocation>(body)
                .unwrap()
                .validate()
                .unwrap_err()
                .code()
                .to_owned()
        };
        assert_eq!(code(json!({"name": " "})), "invalid_name");
        assert_eq!(
            code(json!({"name": "A", "time_zone": "Mars/Olympus"})),
            "invalid_time_zone"
        );
        assert_eq!(
            code(json!({"name": "A", "currency": "usd"})),
            "invalid_currency"
        );
        assert_eq!(
            code(json!({"name": "A", "day_cutoff": "12:00"})),
            "invalid_day_cutoff"
        );
        assert_eq!(
            code(json!({"name": "A", "address": "1 Main St"})),
            "invalid_address"
        );
        assert_eq!(
            code(json!({"name": "A", "tax_settings": [1]})),
            "invalid_tax_settings"
        );
        let ok = serde_json::from_value::<CreateLocation>(json!({"name": " Main "}))
            .unwrap()
            .validate()
            .unwrap();
        assert_eq!(ok.name, "Main");
        assert_eq!(ok.address, json!({}));
        assert_eq!(ok.day_cutoff, NaiveTime::MIN);
        assert!(serde_json::from_value::<CreateLocation>(json!({"name": "A", "x": 1})).is_err());
    }
}
