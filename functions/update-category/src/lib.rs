//! `update-category` — `PATCH /v1/categories/{id}`: renames, moves, reorders or restores a
//! category (needs `catalog:write`).
//!
//! Body: any of `name`, `parent_id` (a live category of the tenant; `null` moves it to the
//! root), `position` (sibling order; a move without `position` puts it after its new live
//! siblings; siblings are not renumbered, ties order by id) and `archived: false` (restores an
//! archived category, which needs a live parent — its own or the `parent_id` sent with it).
//! Absent fields (and `null` `name`/`position`) are unchanged. Requires `If-Match`: missing is
//! 428 `precondition_required`, unreadable 400 `invalid_if_match`, stale 412
//! `version_mismatch` (with `current_version`). A change bumps `version`, is audited
//! (`catalog.category.updated`, before/after of the changed fields) and answers the category
//! with its `ETag`; a request that changes nothing answers it unchanged (no new version).
//!
//! Errors: 404 (unknown id, another tenant's included); 409 `category_archived` (an archived
//! category only takes `archived: false`, with other fields or not); 422 `invalid_name`,
//! `invalid_archived` (`archived: true`: archive with `DELETE`), `unknown_parent` (absent,
//! archived or another tenant's), `category_cycle` (under itself or one of its descendants),
//! `category_too_deep` (the moved subtree would reach past 32 levels); 403
//! `permission_denied`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use olympus::audit::{self, AuditEvent, Changes};
use olympus::auth::Principal;
use olympus::catalog::patch::nullable;
use olympus::catalog::tree::{
    MAX_DEPTH, height, is_within, lock_category, lock_live_parent, lock_tree, too_deep,
};
use olympus::catalog::{CATEGORY_COLUMNS, CategoryView, WRITE, path_id, validate};
use olympus::db;
use olympus::http::versioning::{etag, expected_version, version_mismatch};
use olympus::http::{ClientInfo, Json, Path};
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

pub fn function() -> Function {
    Function::http("update-category")
        .route(&Method::PATCH, "/v1/categories/{id}", update)
        .build()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryPatch {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    parent_id: Option<Option<Uuid>>,
    #[serde(default)]
    position: Option<i32>,
    #[serde(default)]
    archived: Option<bool>,
}

/// The mutable part of a category.
#[derive(Debug, Clone, PartialEq)]
struct Fields {
    name: String,
    parent_id: Option<Uuid>,
    position: i32,
    archived: bool,
}

impl Fields {
    fn of(view: &CategoryView) -> Self {
        Self {
            name: view.name.clone(),
            parent_id: view.parent_id,
            position: view.position,
            archived: view.archived_at.is_some(),
        }
    }

    fn diff(&self, next: &Self) -> Changes {
        let mut changes = Changes::new();
        changes.diff("name", json!(self.name), json!(next.name));
        changes.diff("parent_id", json!(self.parent_id), json!(next.parent_id));
        changes.diff("position", json!(self.position), json!(next.position));
        changes.diff("archived", json!(self.archived), json!(next.archived));
        changes
    }
}

impl CategoryPatch {
    /// Validates the given fields (pure) and applies them to `current`. A move without a
    /// position keeps the current one here; the handler then appends it to its new siblings.
    fn apply(&self, current: &Fields) -> Result<Fields, Error> {
        let mut next = current.clone();
        if let Some(name) = &self.name {
            next.name = validate::name("name", name)?;
        }
        if let Some(parent) = self.parent_id {
            next.parent_id = parent;
        }
        if let Some(position) = self.position {
            next.position = position;
        }
        match self.archived {
            Some(true) => {
                return Err(Error::unprocessable(
                    "invalid_archived",
                    "Archive a category with DELETE; `archived` only takes false (restore).",
                )
                .with_extension("field", "archived"));
            }
            Some(false) => next.archived = false,
            None => {}
        }
        Ok(next)
    }
}

async fn update(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(patch): Json<CategoryPatch>,
) -> Result<Response, Error> {
    principal.require(WRITE)?;
    let id = path_id(&id, "category")?;
    let expected = expected_version(&headers, "category")?;
    let tenant = principal.tenant_id;

    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    if patch.parent_id.is_some() {
        // Before the row lock, so every mover takes the locks in the same order.
        lock_tree(&tx, tenant).await?;
    }
    let before = lock_category(&tx, id).await?;
    let current = Fields::of(&before);
    let mut next = patch.apply(&current)?;
    if before.version != expected {
        return Err(version_mismatch("category", expected, before.version));
    }
    if current.archived && next.archived {
        return Err(Error::conflict(
            "category_archived",
            "The category is archived; restore it with `\"archived\": false` first.",
        ));
    }

    let moved = next.parent_id != current.parent_id;
    let restored = current.archived && !next.archived;
    if moved || restored {
        let parent_depth = match next.parent_id {
            Some(parent) => {
                let depth = lock_live_parent(&tx, parent).await?;
                if moved && is_within(&tx, id, parent).await? {
                    return Err(Error::unprocessable(
                        "category_cycle",
                        "A category cannot move under itself or one of its descendants.",
                    )
                    .with_extension("field", "parent_id"));
                }
                depth
            }
            None => 0,
        };
        if moved && parent_depth + height(&tx, id).await? > MAX_DEPTH {
            return Err(too_deep());
        }
    }
    if moved && patch.position.is_none() {
        next.position = tx
            .query_one(
                "SELECT COALESCE(max(position) + 1, 0) FROM catalog.categories
                 WHERE parent_id IS NOT DISTINCT FROM $1 AND archived_at IS NULL AND id <> $2",
                &[&next.parent_id, &id],
            )
            .await?
            .try_get(0)?;
    }

    let changes = current.diff(&next);
    if changes.is_empty() {
        tx.commit().await?;
        return respond(before);
    }
    let row = tx
        .query_one(
            &format!(
                "UPDATE catalog.categories
                 SET name = $2, parent_id = $3, position = $4,
                     archived_at = CASE WHEN $5 THEN archived_at END,
                     version = version + 1, updated_at = now()
                 WHERE id = $1
                 RETURNING {CATEGORY_COLUMNS}"
            ),
            &[
                &id,
                &next.name,
                &next.parent_id,
                &next.position,
                &next.archived,
            ],
        )
        .await?;
    let after = CategoryView::from_row(&row)?;
    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new((&principal).into(), "catalog.category.updated")
            .target("category", id)
            .versioned_change(changes, before.version, after.version),
    )
    .await?;
    tx.commit().await?;
    respond(after)
}

fn respond(view: CategoryView) -> Result<Response, Error> {
    Ok(([(header::ETAG, etag(view.version))], Json(view)).into_response())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn fields() -> Fields {
        Fields {
            name: "Drinks".to_owned(),
            parent_id: Some(Uuid::from_u128(7)),
            position: 2,
            archived: false,
        }
    }

    fn patch(body: serde_json::Value) -> CategoryPatch {
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn null_parent_moves_to_the_root_and_absent_keeps_it() {
        let current = fields();
        let root = patch(json!({"parent_id": null})).apply(&current).unwrap();
        assert_eq!(root.parent_id, None);
        let same = patch(json!({"name": " Drinks "})).apply(&current).unwrap();
        assert_eq!(same, current);
        assert!(current.diff(&same).is_empty());
        let changed = patch(json!({"name": "Hot drinks", "position": 0}))
            .apply(&current)
            .unwrap();
        assert_eq!(current.diff(&changed).changed(), ["name", "position"]);
    }

    #[test]
    fn bad_fields_are_refused() {
        let code = |body| patch(body).apply(&fields()).unwrap_err().code().to_owned();
        assert_eq!(code(json!({"name": ""})), "invalid_name");
        assert_eq!(code(json!({"archived": true})), "invalid_archived");
        assert!(serde_json::from_value::<CategoryPatch>(json!({"key": "x"})).is_err());
        let mut archived = fields();
        archived.archived = true;
        let restored = patch(json!({"archived": false})).apply(&archived).unwrap();
        assert_eq!(archived.diff(&restored).changed(), ["archived"]);
    }
}
