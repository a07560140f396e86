//! `list-audit-events` — `GET /v1/audit-events` (needs `audit:read`).
//!
//! The audit log of the caller's tenant, newest first, as `{"items": [...], "next_cursor": id |
//! null}`; `cursor` is the last id of the previous page, `limit` is 1..=100 (default 50).
//! Filters, all optional and combined with AND: `action` (exact, or a prefix ending in `.*`:
//! `auth.role.*`), `actor_id` (uuid), `target_type`, `target_id`, `from` (inclusive) and `to`
//! (exclusive), RFC 3339 timestamps on `occurred_at` (percent-encode a `+` offset, or use `Z`).
//! An unknown parameter is 400 `invalid_query` (a misspelt filter must not silently widen the
//! result); a malformed timestamp is 422 `invalid_timestamp`.
//!
//! Each item: id, occurred_at, actor_type, actor_id, action, target_type, target_id, ip,
//! user_agent, request_id, before, after, details.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits no events.

use axum::extract::State;
use axum::http::Method;
use chrono::{DateTime, Utc};
use olympus::auth::Principal;
use olympus::db;
use olympus::http::pagination::{Page, PageQuery, fetch_limit};
use olympus::http::{Json, Query};
use olympus::{AppState, Error, Function};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

pub const READ: &str = "audit:read";
pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 100;

pub fn function() -> Function {
    Function::http("list-audit-events")
        .route(&Method::GET, "/v1/audit-events", list)
        .build()
}

/// The filters; `limit` and `cursor` are parsed by [`PageQuery`] and only named here so that
/// `deny_unknown_fields` accepts them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default, rename = "limit")]
    _limit: IgnoredAny,
    #[serde(default, rename = "cursor")]
    _cursor: IgnoredAny,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    actor_id: Option<Uuid>,
    #[serde(default)]
    target_type: Option<String>,
    #[serde(default)]
    target_id: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AuditItem {
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub actor_type: String,
    pub actor_id: Option<Uuid>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub details: Value,
}

/// An RFC 3339 timestamp; a `+` offset that arrived unencoded (decoded as a space) is repaired.
fn timestamp(field: &'static str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, Error> {
    let Some(value) = value else {
        return Ok(None);
    };
    let value = value.trim();
    DateTime::parse_from_rfc3339(value)
        .or_else(|e| {
            value.rsplit_once(' ').map_or(Err(e), |(at, offset)| {
                DateTime::parse_from_rfc3339(&format!("{at}+{offset}"))
            })
        })
        .map(|at| Some(at.with_timezone(&Utc)))
        .map_err(|_| {
            Error::unprocessable(
                "invalid_timestamp",
                format!("`{field}` must be an RFC 3339 timestamp such as 2025-01-31T12:00:00Z."),
            )
            .with_extension("field", field)
        })
}

/// `(exact, prefix)`: `auth.role.*` is the prefix `auth.role.`, anything else is exact.
fn action_filter(action: Option<&str>) -> (Option<String>, Option<String>) {
    match action.map(str::trim).filter(|a| !a.is_empty()) {
        None => (None, None),
        Some(a) => match a.strip_suffix('*') {
            Some(prefix) => (None, Some(prefix.to_owned())),
            None => (Some(a.to_owned()), None),
        },
    }
}

async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<PageQuery>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Page<AuditItem>>, Error> {
    principal.require(READ)?;
    let limit = page.limit(DEFAULT_LIMIT, MAX_LIMIT)?;
    let from = timestamp("from", query.from.as_deref())?;
    let to = timestamp("to", query.to.as_deref())?;
    let (action, action_prefix) = action_filter(query.action.as_deref());

    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let rows = tx
        .query(
            "SELECT id, occurred_at, actor_type, actor_id, action, target_type, target_id,
                    host(ip), user_agent, request_id, before, after, details
             FROM audit.events
             WHERE ($1::uuid IS NULL OR id < $1)
               AND ($2::text IS NULL OR action = $2)
               AND ($3::text IS NULL OR starts_with(action, $3))
               AND ($4::uuid IS NULL OR actor_id = $4)
               AND ($5::text IS NULL OR target_type = $5)
               AND ($6::text IS NULL OR target_id = $6)
               AND ($7::timestamptz IS NULL OR occurred_at >= $7)
               AND ($8::timestamptz IS NULL OR occurred_at < $8)
             ORDER BY id DESC
             LIMIT $9",
            &[
                &page.cursor,
                &action,
                &action_prefix,
                &query.actor_id,
                &query.target_type,
                &query.target_id,
                &from,
                &to,
                &fetch_limit(limit),
            ],
        )
        .await?;
    tx.commit().await?;
    let items: Vec<AuditItem> = rows
        .iter()
        .map(|row| AuditItem {
            id: row.get(0),
            occurred_at: row.get(1),
            actor_type: row.get(2),
            actor_id: row.get(3),
            action: row.get(4),
            target_type: row.get(5),
            target_id: row.get(6),
            ip: row.get(7),
            user_agent: row.get(8),
            request_id: row.get(9),
            before: row.get(10),
            after: row.get(11),
            details: row.get(12),
        })
        .collect();
    Ok(Json(Page::from_items(items, limit, |e| e.id)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_even_with_a_decoded_plus() {
        let utc = timestamp("from", Some("2025-01-31T12:00:00Z"))
            .unwrap()
            .unwrap();
        assert_eq!(utc.to_rfc3339(), "2025-01-31T12:00:00+00:00");
        let plus = timestamp("from", Some("2025-01-31T13:00:00 01:00"))
            .unwrap()
            .unwrap();
        assert_eq!(plus, utc);
        assert_eq!(timestamp("to", None).unwrap(), None);
        let err = timestamp("to", Some("yesterday")).unwrap_err();
        assert_eq!(err.code(), "invalid_timestamp");
        assert_eq!(err.problem().extensions["field"], "to");
    }

    #[test]
    fn actions_filter_exactly_or_by_prefix() {
        assert_eq!(action_filter(None), (None, None));
        assert_eq!(action_filter(Some(" ")), (None, None));
        assert_eq!(
            action_filter(Some("auth.role.created")),
            (Some("auth.role.created".to_owned()), None)
        );
        assert_eq!(
            action_filter(Some("auth.role.*")),
            (None, Some("auth.role.".to_owned()))
        );
    }

    #[test]
    fn misspelt_filters_are_refused() {
        assert!(serde_urlencoded_like("actor=x").is_err());
        assert!(serde_urlencoded_like("actor_id=0190c0de-0000-7000-8000-000000000000").is_ok());
        assert!(
            serde_urlencoded_like("limit=5&cursor=0190c0de-0000-7000-8000-000000000000").is_ok()
        );
    }

    fn serde_urlencoded_like(query: &str) -> Result<ListQuery, String> {
        let uri: axum::http::Uri = format!("/v1/audit-events?{query}").parse().unwrap();
        axum::extract::Query::<ListQuery>::try_from_uri(&uri)
            .map(|q| q.0)
            .map_err(|e| e.to_string())
    }
}
