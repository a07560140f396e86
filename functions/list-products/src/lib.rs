//! `list-products` — `GET /v1/products`: lists and searches the caller's catalog (needs
//! `catalog:read`).
//!
//! Query:
//! - `q`: search text (at most 200 characters, else 422 `invalid_search`). A product matches
//!   when its name is trigram-similar to `q` (`name % q`, so typos still find it), contains
//!   `q` (case-insensitive, `%` and `_` taken literally), or one of its live variants has `q`
//!   as its exact SKU or barcode. Matches come by relevance: an exact SKU/barcode first, then
//!   `similarity(name, q) + word_similarity(q, name)`, ties newest first.
//! - `category_id`: products of that category or any category below it (an unknown id
//!   matches nothing).
//! - `tag`: dietary tags the product must all carry; repeat it (`tag=vegan&tag=gluten-free`)
//!   or give a comma list (`tag=vegan,gluten-free`), or both (422 `invalid_tags` for a bad
//!   tag).
//! - `location_id`: only live products with a live variant not hidden at that location;
//!   with `available=true` also not sold out there right now. The location must be the
//!   principal's (403 `location_denied`) and the tenant's (422 `unknown_location`);
//!   `available=true` without `location_id` is 422 `missing_location`.
//! - `include_archived=true`: archived products too (never with `location_id`).
//! - `limit` 1..=100 (default 20; else 422 `invalid_limit`) and `cursor` (the previous page's
//!   `next_cursor`; an unreadable one is 400 `invalid_cursor`). Without `q` the list is newest
//!   first and the cursor is the last id; with `q` it is an opaque keyset of (relevance, id),
//!   so paging walks every match exactly once.
//!
//! Answers `{"items": [...], "next_cursor": string | null}`; items are products as
//! `GET /v1/products/{id}` shows them (with variants). A malformed query (e.g. a bad
//! `category_id`) is 400 `invalid_query`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::{RawQuery, State};
use axum::http::Method;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use olympus::auth::Principal;
use olympus::catalog::{ProductView, READ, ensure_location, load_products, validate};
use olympus::db;
use olympus::http::pagination::{Page, PageQuery, fetch_limit};
use olympus::http::{Json, Query};
use olympus::{AppState, Error, Function};
use serde::{Deserialize, Serialize};
use tokio_postgres::types::ToSql;
use uuid::Uuid;

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;
/// Longest search text, in characters.
pub const MAX_SEARCH: usize = 200;

pub fn function() -> Function {
    Function::http("list-products")
        .route(&Method::GET, "/v1/products", list)
        .build()
}

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    category_id: Option<Uuid>,
    #[serde(default)]
    location_id: Option<Uuid>,
    #[serde(default)]
    available: Option<bool>,
    #[serde(default)]
    include_archived: Option<bool>,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    cursor: Option<String>,
}

/// One page of products.
#[derive(Debug, Serialize)]
pub struct ProductPage {
    pub items: Vec<ProductView>,
    pub next_cursor: Option<String>,
}

/// Where a relevance-ordered page ends: the last item's score and id.
#[derive(Debug, Clone, Copy, PartialEq)]
struct SearchCursor {
    score: f64,
    id: Uuid,
}

impl SearchCursor {
    fn encode(self) -> String {
        let mut bytes = [0u8; 24];
        bytes[..8].copy_from_slice(&self.score.to_be_bytes());
        bytes[8..].copy_from_slice(self.id.as_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn decode(text: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        let bytes: [u8; 24] = bytes.try_into().ok()?;
        let (score, id) = bytes.split_at(8);
        let score = f64::from_be_bytes(score.try_into().ok()?);
        let id = Uuid::from_slice(id).ok()?;
        score.is_finite().then_some(Self { score, id })
    }
}

fn invalid_cursor() -> Error {
    Error::bad_request(
        "invalid_cursor",
        "cursor must be the next_cursor of a previous page of the same kind of list.",
    )
    .with_extension("field", "cursor")
}

/// The dietary tags of every `tag` parameter (repeated and/or comma lists), validated.
fn tags(raw: Option<&str>) -> Result<Vec<String>, Error> {
    let given: Vec<String> = url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .filter(|(key, _)| key == "tag")
        .flat_map(|(_, value)| {
            value
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    validate::tags("tag", &given)
}

/// The search text: trimmed, absent when empty, at most [`MAX_SEARCH`] characters.
fn search_text(q: Option<&str>) -> Result<Option<String>, Error> {
    let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) else {
        return Ok(None);
    };
    if q.chars().count() > MAX_SEARCH {
        return Err(Error::unprocessable(
            "invalid_search",
            format!("q holds at most {MAX_SEARCH} characters."),
        )
        .with_extension("field", "q"));
    }
    Ok(Some(q.to_owned()))
}

/// `%q%` for ILIKE with `\`, `%` and `_` escaped (backslash is ILIKE's default escape).
fn contains_pattern(q: &str) -> String {
    let mut pattern = String::with_capacity(q.len() + 2);
    pattern.push('%');
    for c in q.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The category subtree `$1` (as `cats`), shared by both statements.
const CATEGORY_TREE: &str = "WITH RECURSIVE cats AS (
        SELECT c.id FROM catalog.categories c WHERE c.id = $1
        UNION
        SELECT c.id FROM catalog.categories c JOIN cats ON c.parent_id = cats.id
    )";

/// The filters, on `catalog.products p`, with parameters `$1`..`$5`: category subtree, tags,
/// include archived, location, available now. Unset filters fold away when the statement is
/// planned with its parameters.
const FILTERS: &str = "($1::uuid IS NULL OR p.category_id IN (SELECT id FROM cats))
    AND ($2::text[] IS NULL OR p.dietary_tags @> $2::text[])
    AND ($3::bool OR p.archived_at IS NULL)
    AND ($4::uuid IS NULL OR (p.archived_at IS NULL AND EXISTS (
        SELECT 1 FROM catalog.variants v
        LEFT JOIN catalog.variant_locations o ON o.variant_id = v.id AND o.location_id = $4
        WHERE v.product_id = p.id AND v.archived_at IS NULL AND o.hidden IS NOT TRUE
          AND (NOT $5::bool OR o.sold_out_until IS NULL OR o.sold_out_until <= now()))))";

async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<ListQuery>,
    RawQuery(raw): RawQuery,
) -> Result<Json<ProductPage>, Error> {
    principal.require(READ)?;
    let limit = PageQuery {
        limit: query.limit,
        cursor: None,
    }
    .limit(DEFAULT_LIMIT, MAX_LIMIT)
    .map_err(|e| e.with_extension("field", "limit"))?;
    let q = search_text(query.q.as_deref())?;
    let tags = tags(raw.as_deref())?;
    let tags = (!tags.is_empty()).then_some(tags);
    let available = query.available.unwrap_or(false);
    if available && query.location_id.is_none() {
        return Err(Error::unprocessable(
            "missing_location",
            "available=true needs the location_id to be available at.",
        )
        .with_extension("field", "location_id"));
    }
    if let Some(location) = query.location_id {
        principal.require_location(location)?;
    }
    let include_archived = query.include_archived.unwrap_or(false);
    let fetch = fetch_limit(limit);

    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    if let Some(location) = query.location_id {
        ensure_location(&tx, location, "location_id").await?;
    }
    let filters: [&(dyn ToSql + Sync); 5] = [
        &query.category_id,
        &tags,
        &include_archived,
        &query.location_id,
        &available,
    ];
    let page = if let Some(q) = q {
        let cursor = query
            .cursor
            .as_deref()
            .map(|c| SearchCursor::decode(c).ok_or_else(invalid_cursor))
            .transpose()?;
        let pattern = contains_pattern(&q);
        let (after_score, after_id) = (cursor.map(|c| c.score), cursor.map(|c| c.id));
        let search: [&(dyn ToSql + Sync); 5] = [&q, &pattern, &after_score, &after_id, &fetch];
        let params = [filters.as_slice(), search.as_slice()].concat();
        // Candidates come from the name's trigram index and the SKU/barcode indexes (a UNION,
        // so each arm keeps its index); only they are scored and filtered.
        let rows = tx
            .query(
                &format!(
                    "{CATEGORY_TREE},
                     hits AS (
                         SELECT p.id FROM catalog.products p
                         WHERE p.name OPERATOR(public.%) $6 OR p.name ILIKE $7
                         UNION
                         SELECT v.product_id FROM catalog.variants v
                         WHERE v.archived_at IS NULL AND (v.sku = $6 OR v.barcode = $6)
                     ),
                     scored AS (
                         SELECT p.id,
                                (CASE WHEN EXISTS (
                                     SELECT 1 FROM catalog.variants v
                                     WHERE v.product_id = p.id AND v.archived_at IS NULL
                                       AND (v.sku = $6 OR v.barcode = $6))
                                  THEN 2 ELSE 0 END)::float8
                                + public.similarity(p.name, $6)::float8
                                + public.word_similarity($6, p.name)::float8 AS score
                         FROM catalog.products p JOIN hits ON hits.id = p.id
                         WHERE {FILTERS}
                     )
                     SELECT id, score FROM scored
                     WHERE $8::float8 IS NULL OR (score, id) < ($8::float8, $9::uuid)
                     ORDER BY score DESC, id DESC
                     LIMIT $10"
                ),
                &params,
            )
            .await?;
        let mut hits = rows
            .iter()
            .map(|row| {
                Ok(SearchCursor {
                    id: row.try_get(0)?,
                    score: row.try_get(1)?,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let keep = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = hits.len() > keep;
        hits.truncate(keep);
        let next_cursor = if more {
            hits.last().map(|c| c.encode())
        } else {
            None
        };
        let ids: Vec<Uuid> = hits.iter().map(|c| c.id).collect();
        ProductPage {
            items: load_products(&tx, &ids).await?,
            next_cursor,
        }
    } else {
        let cursor = query
            .cursor
            .as_deref()
            .map(|c| Uuid::try_parse(c).map_err(|_| invalid_cursor()))
            .transpose()?;
        let keyset: [&(dyn ToSql + Sync); 2] = [&cursor, &fetch];
        let params = [filters.as_slice(), keyset.as_slice()].concat();
        let rows = tx
            .query(
                &format!(
                    "{CATEGORY_TREE}
                     SELECT p.id FROM catalog.products p
                     WHERE {FILTERS} AND ($6::uuid IS NULL OR p.id < $6)
                     ORDER BY p.id DESC
                     LIMIT $7"
                ),
                &params,
            )
            .await?;
        let ids = rows
            .iter()
            .map(|row| row.try_get(0))
            .collect::<Result<Vec<Uuid>, _>>()?;
        let page = Page::from_items(ids, limit, |id| *id);
        ProductPage {
            items: load_products(&tx, &page.items).await?,
            next_cursor: page.next_cursor.map(|id| id.to_string()),
        }
    };
    tx.commit().await?;
    Ok(Json(page))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn search_cursors_round_trip_exactly_and_reject_garbage() {
        let cursor = SearchCursor {
            score: 0.538_461_538_461_538_5,
            id: Uuid::now_v7(),
        };
        assert_eq!(SearchCursor::decode(&cursor.encode()), Some(cursor));
        for bad in ["", "x", "not base64!", &Uuid::now_v7().to_string()] {
            assert_eq!(SearchCursor::decode(bad), None, "{bad}");
        }
        let nan = URL_SAFE_NO_PAD.encode([[0x7f, 0xf8, 0, 0, 0, 0, 0, 0], [0; 8], [0; 8]].concat());
        assert_eq!(SearchCursor::decode(&nan), None);
    }

    #[test]
    fn like_metacharacters_are_literal() {
        assert_eq!(contains_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
        assert_eq!(contains_pattern("latte"), "%latte%");
    }

    #[test]
    fn tags_repeat_or_split_on_commas() {
        let tags = tags(Some("tag=Vegan,gluten-free&q=x&tag=vegan&tag=%20halal%20")).unwrap();
        assert_eq!(tags, ["gluten-free", "halal", "vegan"]);
        assert!(super::tags(None).unwrap().is_empty());
        assert_eq!(
            super::tags(Some("tag=no!")).unwrap_err().code(),
            "invalid_tags"
        );
    }

    #[test]
    fn search_text_is_trimmed_and_bounded() {
        assert_eq!(search_text(Some("  ")).unwrap(), None);
        assert_eq!(
            search_text(Some(" latte ")).unwrap().as_deref(),
            Some("latte")
        );
        let long = "a".repeat(MAX_SEARCH + 1);
        assert_eq!(
            search_text(Some(&long)).unwrap_err().code(),
            "invalid_search"
        );
    }
}
