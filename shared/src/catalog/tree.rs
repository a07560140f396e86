//! The category tree: its limits, the tree as `GET /v1/categories` answers it, and the locks
//! and checks the category writers share (`create-`, `update-`, `delete-category`).
//!
//! The table only forbids a category being its own parent; everything else that keeps the
//! tree a tree (no cycles, bounded depth, live parents) is enforced here, under locks, so two
//! concurrent moves cannot together build a cycle that neither would alone.

use std::collections::HashMap;

use serde::Serialize;
use uuid::Uuid;

use super::{CATEGORY_COLUMNS, CategoryView};
use crate::db::Transaction;
use crate::error::Error;

/// Most live categories a tenant may have; the list answers at most this many (without
/// pagination: a POS loads its whole menu tree at once).
pub const MAX_CATEGORIES: i64 = 5000;
/// Deepest a category may sit (a root is at depth 1). Bounds the recursion of building and
/// serialising the tree, which a hostile chain of thousands of levels would otherwise overflow.
pub const MAX_DEPTH: i32 = 32;

/// A category with its children (same shape, recursively), in `position` then id order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryNode {
    #[serde(flatten)]
    pub category: CategoryView,
    pub children: Vec<CategoryNode>,
}

/// Arranges `categories` as a forest: roots (and categories whose parent is not among
/// `categories`, so nothing given is lost) in `position` then id order, each with its children
/// in the same order. Assumes no cycles among the given rows (those rows would be dropped).
pub fn build_tree(mut categories: Vec<CategoryView>) -> Vec<CategoryNode> {
    categories.sort_by_key(|c| (c.position, c.id));
    let present: std::collections::HashSet<Uuid> = categories.iter().map(|c| c.id).collect();
    let mut by_parent: HashMap<Option<Uuid>, Vec<CategoryView>> = HashMap::new();
    for category in categories {
        let parent = category.parent_id.filter(|p| present.contains(p));
        by_parent.entry(parent).or_default().push(category);
    }
    attach(None, &mut by_parent, 0)
}

fn attach(
    parent: Option<Uuid>,
    by_parent: &mut HashMap<Option<Uuid>, Vec<CategoryView>>,
    depth: i32,
) -> Vec<CategoryNode> {
    // Rows are bounded by the query's depth limit; the guard keeps a bad input from recursing
    // without end.
    if depth > MAX_DEPTH + 1 {
        return Vec::new();
    }
    let Some(children) = by_parent.remove(&parent) else {
        return Vec::new();
    };
    children
        .into_iter()
        .map(|category| {
            let children = attach(Some(category.id), by_parent, depth + 1);
            CategoryNode { category, children }
        })
        .collect()
}

/// One category of the tenant, locked for update, or 404 (another tenant's included).
pub async fn lock_category(tx: &Transaction<'_>, id: Uuid) -> Result<CategoryView, Error> {
    let row = tx
        .query_opt(
            &format!("SELECT {CATEGORY_COLUMNS} FROM catalog.categories WHERE id = $1 FOR UPDATE"),
            &[&id],
        )
        .await?
        .ok_or_else(|| super::not_found("category"))?;
    CategoryView::from_row(&row)
}

/// Serialises moves within the tenant's tree (a transaction-scoped advisory lock): the cycle
/// check of one move then always sees the other moves that committed before it.
pub async fn lock_tree(tx: &Transaction<'_>, tenant: Uuid) -> Result<(), Error> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('catalog.category_tree:' || $1::text, 0))",
        &[&tenant.to_string()],
    )
    .await?;
    Ok(())
}

/// Makes sure `parent` is a live category of the tenant and stays so until commit (a key-share
/// lock: a concurrent archive waits for us, or we see its result), and returns its depth.
/// 422 `unknown_parent` (field `parent_id`) otherwise, another tenant's included.
pub async fn lock_live_parent(tx: &Transaction<'_>, parent: Uuid) -> Result<i32, Error> {
    let live = tx
        .query_opt(
            "SELECT 1 FROM catalog.categories WHERE id = $1 AND archived_at IS NULL
             FOR KEY SHARE",
            &[&parent],
        )
        .await?
        .is_some();
    if !live {
        return Err(
            Error::unprocessable("unknown_parent", format!("No live category {parent}."))
                .with_extension("field", "parent_id"),
        );
    }
    depth(tx, parent).await
}

/// The depth of `id` (1 for a root), counting at most a little past [`MAX_DEPTH`].
pub async fn depth(tx: &Transaction<'_>, id: Uuid) -> Result<i32, Error> {
    let row = tx
        .query_one(
            "WITH RECURSIVE up (id, parent_id, depth) AS (
                 SELECT id, parent_id, 1 FROM catalog.categories WHERE id = $1
                 UNION ALL
                 SELECT c.id, c.parent_id, up.depth + 1
                 FROM catalog.categories c JOIN up ON c.id = up.parent_id
                 WHERE up.depth <= $2
             )
             SELECT COALESCE(max(depth), 0) FROM up",
            &[&id, &MAX_DEPTH],
        )
        .await?;
    Ok(row.try_get(0)?)
}

/// How many levels the subtree under `id` spans (1 for a leaf), counting at most a little
/// past [`MAX_DEPTH`].
pub async fn height(tx: &Transaction<'_>, id: Uuid) -> Result<i32, Error> {
    let row = tx
        .query_one(
            "WITH RECURSIVE down (id, level) AS (
                 SELECT id, 1 FROM catalog.categories WHERE id = $1
                 UNION ALL
                 SELECT c.id, down.level + 1
                 FROM catalog.categories c JOIN down ON c.parent_id = down.id
                 WHERE down.level <= $2
             )
             SELECT COALESCE(max(level), 0) FROM down",
            &[&id, &MAX_DEPTH],
        )
        .await?;
    Ok(row.try_get(0)?)
}

/// Whether `node` is `ancestor` or lies below it (walking up from `node`; `UNION` stops on a
/// cycle that bad data might hold).
pub async fn is_within(tx: &Transaction<'_>, ancestor: Uuid, node: Uuid) -> Result<bool, Error> {
    let row = tx
        .query_one(
            "WITH RECURSIVE up (id, parent_id) AS (
                 SELECT id, parent_id FROM catalog.categories WHERE id = $1
                 UNION
                 SELECT c.id, c.parent_id FROM catalog.categories c JOIN up ON c.id = up.parent_id
             )
             SELECT EXISTS (SELECT 1 FROM up WHERE id = $2)",
            &[&node, &ancestor],
        )
        .await?;
    Ok(row.try_get(0)?)
}

/// 422 `category_too_deep`: the category would sit deeper than [`MAX_DEPTH`].
pub fn too_deep() -> Error {
    Error::unprocessable(
        "category_too_deep",
        format!("Categories nest at most {MAX_DEPTH} levels deep."),
    )
    .with_extension("field", "parent_id")
    .with_extension("max_depth", MAX_DEPTH)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn category(id: u128, parent: Option<u128>, position: i32) -> CategoryView {
        let now = Utc::now();
        CategoryView {
            id: Uuid::from_u128(id),
            parent_id: parent.map(Uuid::from_u128),
            name: format!("c{id}"),
            position,
            external_key: None,
            version: 1,
            change_seq: 1,
            archived_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    fn ids(nodes: &[CategoryNode]) -> Vec<u128> {
        nodes.iter().map(|n| n.category.id.as_u128()).collect()
    }

    #[test]
    fn trees_nest_children_in_position_then_id_order() {
        let tree = build_tree(vec![
            category(5, Some(1), 0),
            category(1, None, 2),
            category(2, None, 1),
            category(4, Some(1), 0),
            category(3, Some(1), -1),
            category(6, Some(5), 0),
        ]);
        assert_eq!(ids(&tree), [2, 1]);
        assert!(tree[0].children.is_empty());
        assert_eq!(ids(&tree[1].children), [3, 4, 5]);
        assert_eq!(ids(&tree[1].children[2].children), [6]);
        let json = serde_json::to_value(&tree[1]).unwrap();
        assert_eq!(json["name"], "c1");
        assert_eq!(json["children"][2]["children"][0]["name"], "c6");
        assert!(build_tree(Vec::new()).is_empty());
    }

    #[test]
    fn a_category_whose_parent_is_missing_is_shown_as_a_root() {
        let tree = build_tree(vec![category(2, Some(9), 0), category(1, None, 1)]);
        assert_eq!(ids(&tree), [2, 1]);
    }
}
