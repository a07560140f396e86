//! `list-categories` — `GET /v1/categories?include_archived=`: the caller's tenant's category
//! tree (needs `catalog:read`).
//!
//! Answers `{"items": [...]}`: the root categories in `position` then id order, each with the
//! fields of a category and `children`, its subcategories in the same shape and order. Live
//! categories only unless `include_archived=true`. Not paginated: a POS loads its whole menu
//! tree at once, so the answer is capped at 5000 categories (the most a tenant may have
//! live) and 32 levels; rows past either cap (archived ones, or rows written by other means)
//! are left out, shallowest kept first so no child ever loses its parent, and the answer then
//! says `"truncated": true`. A malformed query is 400 `invalid_query`; without the permission,
//! 403 `permission_denied`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::Method;
use olympus::auth::Principal;
use olympus::catalog::tree::{CategoryNode, MAX_CATEGORIES, MAX_DEPTH, build_tree};
use olympus::catalog::{CATEGORY_COLUMNS, CategoryView, READ};
use olympus::db;
use olympus::http::{Json, Query};
use olympus::{AppState, Error, Function};
use serde::{Deserialize, Serialize};

pub fn function() -> Function {
    Function::http("list-categories")
        .route(&Method::GET, "/v1/categories", list)
        .build()
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(default)]
    include_archived: Option<bool>,
}

#[derive(Debug, Serialize)]
struct Tree {
    items: Vec<CategoryNode>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    truncated: bool,
}

async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<ListQuery>,
) -> Result<Json<Tree>, Error> {
    principal.require(READ)?;
    let include_archived = query.include_archived.unwrap_or(false);
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    // Walked down from the roots: rows come shallowest first (so the caps cut the deepest),
    // and a cycle that bad data might hold is never reached from a root.
    let rows = tx
        .query(
            &format!(
                "WITH RECURSIVE tree AS (
                     SELECT c.*, 1 AS depth FROM catalog.categories c
                     WHERE c.parent_id IS NULL AND ($1 OR c.archived_at IS NULL)
                     UNION ALL
                     SELECT c.*, tree.depth + 1 FROM catalog.categories c
                     JOIN tree ON c.parent_id = tree.id
                     WHERE tree.depth <= $2 AND ($1 OR c.archived_at IS NULL)
                 )
                 SELECT {CATEGORY_COLUMNS}, depth FROM tree
                 ORDER BY depth, position, id
                 LIMIT $3"
            ),
            &[&include_archived, &MAX_DEPTH, &(MAX_CATEGORIES + 1)],
        )
        .await?;
    tx.commit().await?;
    let mut truncated = false;
    let mut categories = Vec::with_capacity(rows.len());
    for row in &rows {
        let depth: i32 = row.try_get("depth")?;
        if depth > MAX_DEPTH
            || i64::try_from(categories.len()).unwrap_or(i64::MAX) >= MAX_CATEGORIES
        {
            truncated = true;
            continue;
        }
        categories.push(CategoryView::from_row(row)?);
    }
    Ok(Json(Tree {
        items: build_tree(categories),
        truncated,
    }))
}
