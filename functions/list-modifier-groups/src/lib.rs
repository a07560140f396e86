//! `list-modifier-groups` — `GET /v1/modifier-groups?limit=&cursor=&include_archived=`: the
//! modifier groups of the caller's tenant, each with its live modifiers in order (needs
//! `catalog:read`).
//!
//! Newest first, as `{"items": [...], "next_cursor": id | null}`; `cursor` is the last id of
//! the previous page. Live groups only unless `include_archived=true`. `limit` is 1..=200
//! (default 50; otherwise 422 `invalid_limit`); a malformed query is 400 `invalid_query`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::Method;
use olympus::auth::Principal;
use olympus::catalog::{self, MODIFIER_GROUP_COLUMNS, ModifierGroupView};
use olympus::db;
use olympus::http::pagination::{Page, PageQuery, fetch_limit};
use olympus::http::{Json, Query};
use olympus::{AppState, Error, Function};
use serde::Deserialize;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

pub fn function() -> Function {
    Function::http("list-modifier-groups")
        .route(&Method::GET, "/v1/modifier-groups", list)
        .build()
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(default)]
    include_archived: Option<bool>,
}

async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<PageQuery>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Page<ModifierGroupView>>, Error> {
    principal.require(catalog::READ)?;
    let limit = page
        .limit(DEFAULT_LIMIT, MAX_LIMIT)
        .map_err(|e| e.with_extension("field", "limit"))?;
    let include_archived = query.include_archived.unwrap_or(false);
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let rows = tx
        .query(
            &format!(
                "SELECT {MODIFIER_GROUP_COLUMNS}
                 FROM catalog.modifier_groups m
                 WHERE ($1::uuid IS NULL OR m.id < $1)
                   AND ($2 OR m.archived_at IS NULL)
                 ORDER BY m.id DESC
                 LIMIT $3"
            ),
            &[&page.cursor, &include_archived, &fetch_limit(limit)],
        )
        .await?;
    tx.commit().await?;
    let items = rows
        .iter()
        .map(ModifierGroupView::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(Page::from_items(items, limit, |g| g.id)))
}
