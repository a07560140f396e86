//! `update-menu` — `PATCH /v1/menus/{id}`: changes a menu (needs `catalog:write`).
//!
//! Body: any of `name`, `category_ids`, `location_ids` (lists replaced whole), `hours` (`null`
//! clears them: all day), `position`, `archived` (`true` archives, `false` restores); an absent
//! field is unchanged. Field rules and 422 codes are those of `create-menu`. Requires
//! `If-Match` with the menu's version: missing is 428 `precondition_required`, stale is 412
//! `version_mismatch` with `current_version`. A change bumps `version` and `change_seq` (the
//! offline feed), is audited (`catalog.menu.updated` with before/after of the changed fields)
//! and answers the menu with its new `ETag`; a request that changes nothing answers the menu as
//! it is. An unknown id (or another tenant's) is 404.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use olympus::audit::{self, AuditEvent, Changes};
use olympus::auth::Principal;
use olympus::catalog::menus::{self, MENU_COLUMNS, MenuView};
use olympus::catalog::{WRITE, not_found, path_id};
use olympus::db;
use olympus::http::versioning::{etag, expected_version, version_mismatch};
use olympus::http::{ClientInfo, Json, Path};
use olympus::{AppState, Error, Function};
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};
use uuid::Uuid;

pub fn function() -> Function {
    Function::http("update-menu")
        .route(&Method::PATCH, "/v1/menus/{id}", update_menu)
        .build()
}

/// `Some(None)` for an explicit `null`, `None` for an absent field.
fn nullable<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<Value>>, D::Error> {
    Ok(Some(Option::<Value>::deserialize(deserializer)?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MenuPatch {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    category_ids: Option<Vec<Uuid>>,
    #[serde(default)]
    location_ids: Option<Vec<Uuid>>,
    #[serde(default, deserialize_with = "nullable")]
    hours: Option<Option<Value>>,
    #[serde(default)]
    position: Option<i32>,
    #[serde(default)]
    archived: Option<bool>,
}

async fn update_menu(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(patch): Json<MenuPatch>,
) -> Result<Response, Error> {
    principal.require(WRITE)?;
    let id = path_id(&id, "menu")?;
    let expected = expected_version(&headers, "menu")?;
    let tenant = principal.tenant_id;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    let row = tx
        .query_opt(
            &format!("SELECT {MENU_COLUMNS} FROM catalog.menus WHERE id = $1 FOR UPDATE"),
            &[&id],
        )
        .await?
        .ok_or_else(|| not_found("menu"))?;
    let before = MenuView::from_row(&row)?;
    let next = menus::fields(
        patch.name.as_deref().unwrap_or(&before.name),
        patch
            .category_ids
            .as_deref()
            .unwrap_or(&before.category_ids),
        patch
            .location_ids
            .as_deref()
            .unwrap_or(&before.location_ids),
        match patch.hours {
            Some(hours) => hours,
            None => before.hours.clone(),
        },
    )?;
    if before.version != expected {
        return Err(version_mismatch("menu", expected, before.version));
    }
    for location in next.location_ids.iter().chain(&before.location_ids) {
        principal.require_location(*location)?;
    }
    let position = patch.position.unwrap_or(before.position);
    let archived = patch.archived.unwrap_or(before.archived_at.is_some());

    let mut changes = Changes::new();
    changes.diff("name", json!(before.name), json!(next.name));
    changes.diff(
        "category_ids",
        json!(before.category_ids),
        json!(next.category_ids),
    );
    changes.diff(
        "location_ids",
        json!(before.location_ids),
        json!(next.location_ids),
    );
    changes.diff("hours", json!(before.hours), json!(next.hours));
    changes.diff("position", json!(before.position), json!(position));
    changes.diff(
        "archived",
        json!(before.archived_at.is_some()),
        json!(archived),
    );
    if changes.is_empty() {
        tx.commit().await?;
        return respond(before);
    }
    menus::check_references(&tx, &next).await?;
    let row = tx
        .query_one(
            &format!(
                "UPDATE catalog.menus
                 SET name = $2, category_ids = $3, location_ids = $4, hours = $5, position = $6,
                     archived_at = CASE WHEN $7 THEN COALESCE(archived_at, now()) END,
                     version = version + 1, updated_at = now()
                 WHERE id = $1
                 RETURNING {MENU_COLUMNS}"
            ),
            &[
                &id,
                &next.name,
                &next.category_ids,
                &next.location_ids,
                &next.hours,
                &position,
                &archived,
            ],
        )
        .await?;
    let after = MenuView::from_row(&row)?;
    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new((&principal).into(), "catalog.menu.updated")
            .target("menu", id)
            .versioned_change(changes, before.version, after.version),
    )
    .await?;
    tx.commit().await?;
    respond(after)
}

fn respond(view: MenuView) -> Result<Response, Error> {
    Ok(([(header::ETAG, etag(view.version))], Json(view)).into_response())
}
