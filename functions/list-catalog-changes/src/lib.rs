//! `list-catalog-changes` — `GET /v1/catalog/changes?since=&limit=`: the offline change feed.
//! Everything in the tenant's catalog created, changed or archived after the cursor `since`
//! (needs `catalog:read`), for a till to resync after being offline.
//!
//! Answers `{"items": [{"kind", "id", "change_seq", "archived", "object"}], "next_cursor",
//! "has_more"}` with items in `change_seq` order, at most `limit` (1..=1000, default 200;
//! otherwise 422 `invalid_limit`). `kind` is `category`, `product`, `variant`,
//! `modifier_group`, `tax_rate`, `menu` or `variant_location`; `object` is the object as its own
//! endpoint shows it (a product without `variants`: they come as their own `variant` items; a
//! modifier group with its live modifiers); a `variant_location` is never `archived`. An
//! object changed several times appears once, as it is now. `since` absent starts from the
//! beginning; `next_cursor` (a string) is the `change_seq` up to which the page is complete,
//! to pass as the next `since`; an empty page returns `since` unchanged, so a till can poll.
//! `has_more` says another page is already waiting. A `since` that is not a cursor
//! (a non-negative integer) is 400 `invalid_cursor`; a malformed query is 400 `invalid_query`.
//! A principal limited to some locations sees only those locations' overrides and tax rates
//! (and the tenant-wide ones).
//!
//! Why paging by `change_seq` misses nothing: the trigger that stamps `change_seq` takes the
//! next number from the tenant's counter row and keeps it locked until commit, so a tenant's
//! catalog writes commit in `change_seq` order: once a row with number n is visible, every
//! smaller number that will ever be visible already is. The page is chosen in one statement
//! (one snapshot); the rows are then read by id, and one that changed in between (its
//! `change_seq` no longer the one chosen) is left out of this page: its new number is above
//! the cursor, so a later page brings it.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::Method;
use olympus::auth::Principal;
use olympus::catalog::menus::{MENU_COLUMNS, MenuView};
use olympus::catalog::{
    self, CATEGORY_COLUMNS, CategoryView, PRODUCT_COLUMNS, ProductView, TAX_RATE_COLUMNS,
    TaxRateView, VARIANT_COLUMNS, VARIANT_LOCATION_COLUMNS, VariantLocationView, VariantView,
    load_modifier_groups,
};
use olympus::db::{self, Transaction};
use olympus::http::{Json, Query};
use olympus::{AppState, Error, Function};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

pub const DEFAULT_LIMIT: i64 = 200;
pub const MAX_LIMIT: i64 = 1000;

pub fn function() -> Function {
    Function::http("list-catalog-changes")
        .route(&Method::GET, "/v1/catalog/changes", changes)
        .build()
}

#[derive(Debug, Deserialize)]
struct ChangesQuery {
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    limit: Option<i64>,
}

/// One changed object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub kind: &'static str,
    pub id: Uuid,
    pub change_seq: i64,
    pub archived: bool,
    pub object: Value,
}

/// One page of the feed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangePage {
    pub items: Vec<Change>,
    pub next_cursor: String,
    pub has_more: bool,
}

/// The cursor: absent or empty is the beginning (0), else a non-negative integer.
fn parse_since(since: Option<&str>) -> Result<i64, Error> {
    match since.map(str::trim) {
        None | Some("") => Ok(0),
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0 && text.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                Error::bad_request(
                    "invalid_cursor",
                    "`since` must be a `next_cursor` of this feed (or absent to start over).",
                )
                .with_extension("field", "since")
            }),
    }
}

fn parse_limit(limit: Option<i64>) -> Result<i64, Error> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if (1..=MAX_LIMIT).contains(&limit) {
        Ok(limit)
    } else {
        Err(Error::unprocessable(
            "invalid_limit",
            format!("limit must be between 1 and {MAX_LIMIT}."),
        )
        .with_extension("field", "limit"))
    }
}

/// The page's (kind, id, change_seq), oldest first, one more than `limit` when there are more.
/// Each branch walks its table's (tenant_id, change_seq) index.
const PAGE_SQL: &str = "
    SELECT kind, id, change_seq FROM (
        (SELECT 'category'::text AS kind, id, change_seq FROM catalog.categories
         WHERE tenant_id = $1 AND change_seq > $2 ORDER BY change_seq LIMIT $3)
        UNION ALL
        (SELECT 'product'::text, id, change_seq FROM catalog.products
         WHERE tenant_id = $1 AND change_seq > $2 ORDER BY change_seq LIMIT $3)
        UNION ALL
        (SELECT 'variant'::text, id, change_seq FROM catalog.variants
         WHERE tenant_id = $1 AND change_seq > $2 ORDER BY change_seq LIMIT $3)
        UNION ALL
        (SELECT 'modifier_group'::text, id, change_seq FROM catalog.modifier_groups
         WHERE tenant_id = $1 AND change_seq > $2 ORDER BY change_seq LIMIT $3)
        UNION ALL
        (SELECT 'tax_rate'::text, id, change_seq FROM catalog.tax_rates
         WHERE tenant_id = $1 AND change_seq > $2
           AND (location_id IS NULL OR $4::uuid[] IS NULL OR location_id = ANY($4))
         ORDER BY change_seq LIMIT $3)
        UNION ALL
        (SELECT 'menu'::text, id, change_seq FROM catalog.menus
         WHERE tenant_id = $1 AND change_seq > $2 ORDER BY change_seq LIMIT $3)
        UNION ALL
        (SELECT 'variant_location'::text, id, change_seq FROM catalog.variant_locations
         WHERE tenant_id = $1 AND change_seq > $2
           AND ($4::uuid[] IS NULL OR location_id = ANY($4))
         ORDER BY change_seq LIMIT $3)
    ) AS changes
    ORDER BY change_seq
    LIMIT $3";

async fn changes(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<ChangesQuery>,
) -> Result<Json<ChangePage>, Error> {
    principal.require(catalog::READ)?;
    let since = parse_since(query.since.as_deref())?;
    let limit = parse_limit(query.limit)?;
    let tenant = principal.tenant_id;

    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    let rows = tx
        .query(
            PAGE_SQL,
            &[
                &tenant,
                &since,
                &limit.saturating_add(1),
                &principal.locations,
            ],
        )
        .await?;
    let mut chosen: Vec<(String, Uuid, i64)> = rows
        .iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
        .collect::<Result<_, Error>>()?;
    let mut has_more = chosen.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    chosen.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next_cursor = chosen.last().map_or(since, |(_, _, seq)| *seq);

    let objects = load_objects(&tx, &chosen).await?;
    tx.commit().await?;
    let mut items = Vec::with_capacity(chosen.len());
    for (kind, id, seq) in &chosen {
        match objects.get(&(kind.as_str(), *id)) {
            Some(change) if change.change_seq == *seq => items.push(change.clone()),
            // Changed since the page was chosen: a later page has it with its new number.
            _ => has_more = true,
        }
    }
    Ok(Json(ChangePage {
        items,
        next_cursor: next_cursor.to_string(),
        has_more,
    }))
}

fn ids_of<'a>(chosen: &'a [(String, Uuid, i64)], kind: &'a str) -> Vec<Uuid> {
    chosen
        .iter()
        .filter(|(k, _, _)| k == kind)
        .map(|(_, id, _)| *id)
        .collect()
}

fn change(
    kind: &'static str,
    id: Uuid,
    change_seq: i64,
    archived: bool,
    object: impl Serialize,
) -> Result<((&'static str, Uuid), Change), Error> {
    let object = serde_json::to_value(object).map_err(Error::internal)?;
    Ok((
        (kind, id),
        Change {
            kind,
            id,
            change_seq,
            archived,
            object,
        },
    ))
}

/// The chosen objects as they are now, by (kind, id).
async fn load_objects(
    tx: &Transaction<'_>,
    chosen: &[(String, Uuid, i64)],
) -> Result<HashMap<(&'static str, Uuid), Change>, Error> {
    let mut out = HashMap::with_capacity(chosen.len());
    let ids = ids_of(chosen, "category");
    if !ids.is_empty() {
        let sql = format!("SELECT {CATEGORY_COLUMNS} FROM catalog.categories WHERE id = ANY($1)");
        for row in tx.query(&sql, &[&ids]).await? {
            let v = CategoryView::from_row(&row)?;
            out.extend([change(
                "category",
                v.id,
                v.change_seq,
                v.archived_at.is_some(),
                &v,
            )?]);
        }
    }
    let ids = ids_of(chosen, "product");
    if !ids.is_empty() {
        let sql = format!("SELECT {PRODUCT_COLUMNS} FROM catalog.products p WHERE p.id = ANY($1)");
        for row in tx.query(&sql, &[&ids]).await? {
            let v = ProductView::from_row(&row)?;
            let (key, mut item) =
                change("product", v.id, v.change_seq, v.archived_at.is_some(), &v)?;
            // Variants are items of their own: the product's object would only repeat them.
            if let Some(object) = item.object.as_object_mut() {
                object.remove("variants");
            }
            out.insert(key, item);
        }
    }
    let ids = ids_of(chosen, "variant");
    if !ids.is_empty() {
        let sql = format!("SELECT {VARIANT_COLUMNS} FROM catalog.variants WHERE id = ANY($1)");
        for row in tx.query(&sql, &[&ids]).await? {
            let v = VariantView::from_row(&row)?;
            out.extend([change(
                "variant",
                v.id,
                v.change_seq,
                v.archived_at.is_some(),
                &v,
            )?]);
        }
    }
    let ids = ids_of(chosen, "modifier_group");
    if !ids.is_empty() {
        for v in load_modifier_groups(tx, &ids).await? {
            out.extend([change(
                "modifier_group",
                v.id,
                v.change_seq,
                v.archived_at.is_some(),
                &v,
            )?]);
        }
    }
    let ids = ids_of(chosen, "tax_rate");
    if !ids.is_empty() {
        let sql = format!("SELECT {TAX_RATE_COLUMNS} FROM catalog.tax_rates WHERE id = ANY($1)");
        for row in tx.query(&sql, &[&ids]).await? {
            let v = TaxRateView::from_row(&row)?;
            out.extend([change(
                "tax_rate",
                v.id,
                v.change_seq,
                v.archived_at.is_some(),
                &v,
            )?]);
        }
    }
    let ids = ids_of(chosen, "menu");
    if !ids.is_empty() {
        let sql = format!("SELECT {MENU_COLUMNS} FROM catalog.menus WHERE id = ANY($1)");
        for row in tx.query(&sql, &[&ids]).await? {
            let v = MenuView::from_row(&row)?;
            out.extend([change(
                "menu",
                v.id,
                v.change_seq,
                v.archived_at.is_some(),
                &v,
            )?]);
        }
    }
    let ids = ids_of(chosen, "variant_location");
    if !ids.is_empty() {
        let sql = format!(
            "SELECT {VARIANT_LOCATION_COLUMNS} FROM catalog.variant_locations WHERE id = ANY($1)"
        );
        for row in tx.query(&sql, &[&ids]).await? {
            let v = VariantLocationView::from_row(&row)?;
            out.extend([change("variant_location", v.id, v.change_seq, false, &v)?]);
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_non_negative_integers() {
        assert_eq!(parse_since(None).unwrap(), 0);
        assert_eq!(parse_since(Some("")).unwrap(), 0);
        assert_eq!(parse_since(Some("42")).unwrap(), 42);
        for bad in ["-1", "x", "1.5", "+3", "99999999999999999999"] {
            assert_eq!(parse_since(Some(bad)).unwrap_err().code(), "invalid_cursor");
        }
        assert_eq!(parse_limit(None).unwrap(), DEFAULT_LIMIT);
        assert_eq!(parse_limit(Some(0)).unwrap_err().code(), "invalid_limit");
        assert_eq!(parse_limit(Some(1001)).unwrap_err().code(), "invalid_limit");
    }
}
