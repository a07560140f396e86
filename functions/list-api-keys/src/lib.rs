//! `list-api-keys` — `GET /v1/api-keys?limit=&cursor=` (needs `api_keys:read`).
//!
//! The API keys of the caller's tenant, revoked ones included, newest first, as
//! `{"items": [...], "next_cursor": id | null}`; `cursor` is the last id of the previous page.
//! Each item: id, name, prefix, scopes, location_ids, expires_at, created_at, last_used_at
//! (to the minute), revoked_at. Never the secret, nor its hash. `limit` is 1..=100, default 20.
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
use serde::Serialize;
use uuid::Uuid;

pub const READ: &str = "api_keys:read";
pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

pub fn function() -> Function {
    Function::http("list-api-keys")
        .route(&Method::GET, "/v1/api-keys", list)
        .build()
}

#[derive(Debug, Serialize)]
pub struct KeyView {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    pub location_ids: Option<Vec<Uuid>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<KeyView>>, Error> {
    principal.require(READ)?;
    let limit = page.limit(DEFAULT_LIMIT, MAX_LIMIT)?;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let rows = tx
        .query(
            "SELECT id, name, prefix, scopes, location_ids, expires_at, created_at,
                    last_used_at, revoked_at
             FROM auth.api_keys
             WHERE ($1::uuid IS NULL OR id < $1)
             ORDER BY id DESC
             LIMIT $2",
            &[&page.cursor, &fetch_limit(limit)],
        )
        .await?;
    tx.commit().await?;
    let items: Vec<KeyView> = rows
        .iter()
        .map(|row| KeyView {
            id: row.get(0),
            name: row.get(1),
            prefix: row.get(2),
            scopes: row.get(3),
            location_ids: row.get(4),
            expires_at: row.get(5),
            created_at: row.get(6),
            last_used_at: row.get(7),
            revoked_at: row.get(8),
        })
        .collect();
    Ok(Json(Page::from_items(items, limit, |k| k.id)))
}
