//! `list-menus` — `GET /v1/menus?location_id=&at=&include_archived=`: the tenant's menus (day
//! parts) in `position` order (needs `catalog:read`).
//!
//! Answers `{"items": [...]}` (a tenant has a handful of menus: no pagination). With
//! `location_id`, only the menus offered at that location (those naming it or naming none), each
//! with `available` — whether it is offered at `at` (RFC 3339, default now) on the location's
//! own clock, which is what a till or an online menu shows. Archived menus only with
//! `include_archived=true`. An unknown location (or another tenant's) is 404; a location the
//! principal is not granted is 403 `location_denied`; a malformed query is 400 `invalid_query`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::Method;
use chrono::{DateTime, Utc};
use olympus::auth::Principal;
use olympus::catalog::READ;
use olympus::catalog::menus::{MENU_COLUMNS, MenuView};
use olympus::db;
use olympus::http::{Json, Query};
use olympus::{AppState, Error, Function};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Most menus listed.
pub const MAX_MENUS: i64 = 500;

pub fn function() -> Function {
    Function::http("list-menus")
        .route(&Method::GET, "/v1/menus", list_menus)
        .build()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MenuQuery {
    #[serde(default)]
    location_id: Option<Uuid>,
    #[serde(default)]
    at: Option<DateTime<Utc>>,
    #[serde(default)]
    include_archived: Option<bool>,
}

#[derive(Debug, Serialize)]
struct MenuItem {
    #[serde(flatten)]
    menu: MenuView,
    #[serde(skip_serializing_if = "Option::is_none")]
    available: Option<bool>,
}

#[derive(Debug, Serialize)]
struct MenuList {
    items: Vec<MenuItem>,
}

async fn list_menus(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<MenuQuery>,
) -> Result<Json<MenuList>, Error> {
    principal.require(READ)?;
    if let Some(location) = query.location_id {
        principal.require_location(location)?;
    }
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let time_zone: Option<String> = match query.location_id {
        Some(location) => Some(
            tx.query_opt(
                "SELECT time_zone FROM platform.locations WHERE id = $1",
                &[&location],
            )
            .await?
            .ok_or_else(|| Error::not_found("No such location."))?
            .try_get(0)?,
        ),
        None => None,
    };
    let rows = tx
        .query(
            &format!(
                "SELECT {MENU_COLUMNS} FROM catalog.menus
                 WHERE ($1 OR archived_at IS NULL)
                   AND ($2::uuid IS NULL OR location_ids = '{{}}' OR $2 = ANY(location_ids))
                 ORDER BY position, id
                 LIMIT $3"
            ),
            &[
                &query.include_archived.unwrap_or(false),
                &query.location_id,
                &MAX_MENUS,
            ],
        )
        .await?;
    tx.commit().await?;
    let at = query.at.unwrap_or_else(Utc::now);
    let items = rows
        .iter()
        .map(|row| {
            let menu = MenuView::from_row(row)?;
            let available = match (query.location_id, &time_zone) {
                (Some(location), Some(zone)) => Some(menu.available_at(location, zone, at)),
                _ => None,
            };
            Ok(MenuItem { menu, available })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(Json(MenuList { items }))
}
