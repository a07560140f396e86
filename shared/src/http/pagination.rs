//! Cursor pagination shared by every `GET` list endpoint.
//!
//! Every list answers `{"items": [...], "next_cursor": id | null}`, newest first, where
//! `cursor` is the last id of the previous page (ids are UUIDv7, so id order is creation
//! order) and `limit` is checked against a per-endpoint range (422 `invalid_limit`). The query
//! fields, the limit check and the page shape lived in a copy per list function; they live here
//! so the endpoints cannot drift apart.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::Error;

/// The `limit` and `cursor` query parameters of a list endpoint.
///
/// Extract it on its own (`Query<PageQuery>`) next to an endpoint's filter struct: serde's
/// `flatten` cannot be used with query strings, since it buffers every value as a string and
/// `limit` then no longer parses as a number.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct PageQuery {
    /// Page size; the endpoint's default when absent.
    #[serde(default)]
    pub limit: Option<i64>,
    /// The last id of the previous page; the first page when absent.
    #[serde(default)]
    pub cursor: Option<Uuid>,
}

impl PageQuery {
    /// The page size: `default` when absent, else 1..=`max` or 422 `invalid_limit`.
    pub fn limit(&self, default: i64, max: i64) -> Result<i64, Error> {
        let limit = self.limit.unwrap_or(default);
        if (1..=max).contains(&limit) {
            Ok(limit)
        } else {
            Err(Error::unprocessable(
                "invalid_limit",
                format!("limit must be between 1 and {max}."),
            ))
        }
    }
}

/// The SQL `LIMIT` that tells whether another page follows: one row more than the page holds.
pub fn fetch_limit(limit: i64) -> i64 {
    limit.saturating_add(1)
}

/// One page of a list: `{"items": [...], "next_cursor": id | null}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<Uuid>,
}

impl<T> Page<T> {
    /// A page from items fetched with [`fetch_limit`] (`LIMIT limit + 1`): the extra item, if
    /// any, is dropped and proves there is a next page, whose cursor is the last kept id. So
    /// an exactly full last page has no `next_cursor`.
    pub fn from_items(mut items: Vec<T>, limit: i64, id: impl Fn(&T) -> Uuid) -> Self {
        let keep = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = items.len() > keep;
        items.truncate(keep);
        let next_cursor = if more { items.last().map(id) } else { None };
        Self { items, next_cursor }
    }

    /// A page from items fetched with `LIMIT limit`: a full page may have a next one, so its
    /// last id is the cursor (the caller may then get one empty page at the end).
    pub fn from_full_page(items: Vec<T>, limit: i64, id: impl Fn(&T) -> Uuid) -> Self {
        let full = i64::try_from(items.len()).is_ok_and(|len| len == limit);
        let next_cursor = if full { items.last().map(id) } else { None };
        Self { items, next_cursor }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ids(n: u128) -> Vec<Uuid> {
        (1..=n).rev().map(Uuid::from_u128).collect()
    }

    #[test]
    fn limit_defaults_and_is_range_checked() {
        let query = |limit| PageQuery {
            limit,
            cursor: None,
        };
        assert_eq!(query(None).limit(20, 100).unwrap(), 20);
        assert_eq!(query(Some(1)).limit(20, 100).unwrap(), 1);
        assert_eq!(query(Some(200)).limit(50, 200).unwrap(), 200);
        for bad in [0, -1, 101] {
            let err = query(Some(bad)).limit(20, 100).unwrap_err();
            assert_eq!(err.code(), "invalid_limit");
            assert_eq!(err.status(), axum::http::StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(err.detail(), Some("limit must be between 1 and 100."));
        }
    }

    #[test]
    fn query_parses_from_a_query_string() {
        let uri: axum::http::Uri = "/x?limit=5&cursor=0190c0de-0000-7000-8000-000000000000"
            .parse()
            .unwrap();
        let axum::extract::Query(query) =
            axum::extract::Query::<PageQuery>::try_from_uri(&uri).unwrap();
        assert_eq!(query.limit, Some(5));
        assert!(query.cursor.is_some());
        let uri: axum::http::Uri = "/x?limit=many".parse().unwrap();
        assert!(axum::extract::Query::<PageQuery>::try_from_uri(&uri).is_err());
    }

    #[test]
    fn overfetched_items_tell_whether_a_next_page_exists() {
        let page = Page::from_items(ids(3), 2, |id| *id);
        assert_eq!(page.items, vec![Uuid::from_u128(3), Uuid::from_u128(2)]);
        assert_eq!(page.next_cursor, Some(Uuid::from_u128(2)));

        let last = Page::from_items(ids(2), 2, |id| *id);
        assert_eq!(last.items.len(), 2);
        assert_eq!(last.next_cursor, None);

        let empty = Page::from_items(Vec::<Uuid>::new(), 2, |id| *id);
        assert_eq!(empty.next_cursor, None);
        assert_eq!(fetch_limit(2), 3);
    }

    #[test]
    fn a_full_page_has_a_cursor() {
        let full = Page::from_full_page(ids(2), 2, |id| *id);
        assert_eq!(full.next_cursor, Some(Uuid::from_u128(1)));
        let short = Page::from_full_page(ids(1), 2, |id| *id);
        assert_eq!(short.next_cursor, None);
    }

    #[test]
    fn a_page_serializes_as_items_and_next_cursor() {
        let page = Page::from_items(ids(1), 5, |id| *id);
        let json = serde_json::to_value(&page).unwrap();
        assert_eq!(json["next_cursor"], serde_json::Value::Null);
        assert_eq!(json["items"].as_array().map(Vec::len), Some(1));
    }
}
