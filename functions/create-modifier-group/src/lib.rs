//! `create-modifier-group` — `POST /v1/modifier-groups`: adds a modifier group with its
//! modifiers (needs `catalog:write`).
//!
//! Body: `name` (required), `min_selections` (default 0), `max_selections` (null or absent:
//! unbounded), `allow_repeats` (default false), `modifiers` (`[{"name", "price_delta_minor"}]`,
//! in order; deltas may be 0 or negative), `key` (the tenant's own external key). Answers 201
//! with the group (modifiers with their ids), `Location: /v1/modifier-groups/{id}` and
//! `ETag: "1"`. 422: `invalid_name`, `invalid_price`, `duplicate_modifier` (two modifiers with
//! one name), `unexpected_modifier_id` (ids are assigned here), `invalid_selection_limits`
//! (`min > max`, `max < 1`, or more required picks than modifiers without repeats),
//! `invalid_key`, `invalid_body`; 409 `already_exists` for a key in use. Honours
//! `Idempotency-Key`. Audit: `catalog.modifier_group.created`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use olympus::audit::{self, AuditEvent};
use olympus::auth::Principal;
use olympus::catalog::write::{NewModifierGroup, create_modifier_group};
use olympus::catalog::{self, ModifierGroupView};
use olympus::db;
use olympus::http::versioning::etag;
use olympus::http::{ClientInfo, Idempotency, Json};
use olympus::{AppState, Error, Function};

pub fn function() -> Function {
    Function::http("create-modifier-group")
        .idempotent_route(
            &Method::POST,
            "/v1/modifier-groups",
            create,
            Idempotency::Optional,
        )
        .build()
}

async fn create(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    Json(new): Json<NewModifierGroup>,
) -> Result<Response, Error> {
    principal.require(catalog::WRITE)?;
    let tenant = principal.tenant_id;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    let view: ModifierGroupView = create_modifier_group(&tx, tenant, &new).await?;
    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new((&principal).into(), "catalog.modifier_group.created")
            .target("modifier_group", view.id)
            .change(
                None,
                Some(serde_json::to_value(&view).map_err(Error::internal)?),
            ),
    )
    .await?;
    tx.commit().await?;

    let location = HeaderValue::from_str(&format!("/v1/modifier-groups/{}", view.id))
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
