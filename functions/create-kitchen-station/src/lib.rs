//! `create-kitchen-station` — `POST /v1/kitchen/stations`: adds a kitchen station (grill, bar,
//! pastry) to a location (needs `locations:write` and access to the location).
//!
//! Body: `location_id`, `name` (unique at the location), `categories` (catalog category ids
//! it cooks; a category goes to one station per location, and its subcategories follow it
//! unless mapped elsewhere), `is_default` (default false: takes the lines whose category no
//! station cooks; at most one per location), `active` (default true). Answers 201 with the
//! station, `Location: /v1/kitchen/stations/{id}` and `ETag: "1"`. Honours `Idempotency-Key`.
//! From then on, placing an order at the location creates tickets for its stations.
//!
//! Errors: 403 `permission_denied`, `location_denied`; 409 `station_name_taken`,
//! `default_station_exists` (with `station_id`), `category_mapped` (with `category_id` and
//! `station_id`); 422 `invalid_name`, `invalid_categories`, `unknown_location`,
//! `unknown_category` (with `category_ids`), `invalid_body`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use olympus::auth::Principal;
use olympus::db;
use olympus::http::versioning::etag;
use olympus::http::{Idempotency, Json};
use olympus::kitchen::CONFIGURE;
use olympus::kitchen::stations::{self, NewStation};
use olympus::{AppState, Error, Function};

pub fn function() -> Function {
    Function::http("create-kitchen-station")
        .idempotent_route(
            &Method::POST,
            "/v1/kitchen/stations",
            create,
            Idempotency::Optional,
        )
        .build()
}

async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Json(new): Json<NewStation>,
) -> Result<Response, Error> {
    principal.require(CONFIGURE)?;
    principal.require_location(new.location_id)?;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let view = stations::create(&tx, principal.tenant_id, &new).await?;
    tx.commit().await?;
    let location = HeaderValue::from_str(&format!("/v1/kitchen/stations/{}", view.id))
        .map_err(Error::internal)?;
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
