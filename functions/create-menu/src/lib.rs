//! `create-menu` — `POST /v1/menus`: creates a menu (day part) — a named set of categories
//! offered at some locations during weekly hours (needs `catalog:write`).
//!
//! Body: `name`, `category_ids` (live categories of the tenant), `location_ids` (none: every
//! location; each must be a location the principal may act on), `hours` (the
//! `business_hours` shape, `{"mon": [["07:00", "11:00"]], ...}`, in each location's own time
//! zone; absent or null: all day), `position`. Answers 201 with the menu, `ETag` and
//! `Location`; audited `catalog.menu.created`. Takes an optional `Idempotency-Key`.
//! Errors (422): `invalid_name`, `invalid_hours`, `too_many_ids`, `unknown_category`,
//! `unknown_location` (another tenant's ids included); 403 `location_denied`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use olympus::audit::{self, AuditEvent};
use olympus::auth::Principal;
use olympus::catalog::WRITE;
use olympus::catalog::menus::{self, MENU_COLUMNS, MenuView, NewMenu};
use olympus::db;
use olympus::http::versioning::etag;
use olympus::http::{ClientInfo, Idempotency, Json};
use olympus::{AppState, Error, Function};
use uuid::Uuid;

pub fn function() -> Function {
    Function::http("create-menu")
        .idempotent_route(
            &Method::POST,
            "/v1/menus",
            create_menu,
            Idempotency::Optional,
        )
        .build()
}

async fn create_menu(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    Json(new): Json<NewMenu>,
) -> Result<Response, Error> {
    principal.require(WRITE)?;
    let fields = menus::fields(&new.name, &new.category_ids, &new.location_ids, new.hours)?;
    for location in &fields.location_ids {
        principal.require_location(*location)?;
    }
    let tenant = principal.tenant_id;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    menus::check_references(&tx, &fields).await?;
    let id = Uuid::now_v7();
    let row = tx
        .query_one(
            &format!(
                "INSERT INTO catalog.menus (id, tenant_id, name, category_ids, location_ids,
                                            hours, position)
                 VALUES ($1, $2, $3, $4, $5, $6,
                         COALESCE($7, (SELECT COALESCE(max(position) + 1, 0)
                                       FROM catalog.menus WHERE archived_at IS NULL)))
                 RETURNING {MENU_COLUMNS}"
            ),
            &[
                &id,
                &tenant,
                &fields.name,
                &fields.category_ids,
                &fields.location_ids,
                &fields.hours,
                &new.position,
            ],
        )
        .await?;
    let view = MenuView::from_row(&row)?;
    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new((&principal).into(), "catalog.menu.created")
            .target("menu", id)
            .change(
                None,
                Some(serde_json::to_value(&view).map_err(Error::internal)?),
            ),
    )
    .await?;
    tx.commit().await?;
    let location = HeaderValue::from_str(&format!("/v1/menus/{id}")).map_err(Error::internal)?;
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
