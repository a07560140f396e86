//! `list-sessions` — `GET /v1/auth/sessions?limit=&cursor=&include_revoked=`.
//!
//! The caller's own sessions, newest first, as `{"items": [...], "next_cursor": id | null}`;
//! `cursor` is the last id of the previous page (ids are UUIDv7, so id order is time order).
//! Open sessions only (not revoked, not expired) unless `include_revoked=true`. Each item: id,
//! method, device, ip, user_agent, created_at, last_used_at, expires_at, revoked_at, and
//! `current` (the session of the calling token). `limit` is 1..=100, default 20.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits no events.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::Method;
use chrono::{DateTime, Utc};
use olympus::auth::Principal;
use olympus::db;
use olympus::http::Json;
use olympus::{AppState, Error, Function};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

pub fn function() -> Function {
    Function::http("list-sessions")
        .route(&Method::GET, "/v1/auth/sessions", list)
        .build()
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    cursor: Option<Uuid>,
    #[serde(default)]
    include_revoked: Option<bool>,
}

#[derive(Debug, Serialize)]
pub struct SessionView {
    pub id: Uuid,
    pub method: String,
    pub device: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub current: bool,
}

#[derive(Debug, Serialize)]
pub struct Page {
    pub items: Vec<SessionView>,
    pub next_cursor: Option<Uuid>,
}

async fn list(
    State(state): State<AppState>,
    principal: Principal,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Page>, Error> {
    let Query(query) =
        query.map_err(|rejection| Error::bad_request("invalid_query", rejection.body_text()))?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Error::unprocessable(
            "invalid_limit",
            format!("limit must be between 1 and {MAX_LIMIT}."),
        ));
    }
    let include_revoked = query.include_revoked.unwrap_or(false);
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let rows = tx
        .query(
            "SELECT id, method, device, host(ip), user_agent, created_at, last_used_at,
                    expires_at, revoked_at
             FROM auth.sessions
             WHERE user_id = $1
               AND ($2::uuid IS NULL OR id < $2)
               AND ($3 OR (revoked_at IS NULL AND expires_at > now()))
             ORDER BY id DESC
             LIMIT $4",
            &[
                &principal.user_id,
                &query.cursor,
                &include_revoked,
                &(limit + 1),
            ],
        )
        .await?;
    tx.commit().await?;
    let more = rows.len() as i64 > limit;
    let items: Vec<SessionView> = rows
        .iter()
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(|row| {
            let id: Uuid = row.get(0);
            SessionView {
                id,
                method: row.get(1),
                device: row.get(2),
                ip: row.get(3),
                user_agent: row.get(4),
                created_at: row.get(5),
                last_used_at: row.get(6),
                expires_at: row.get(7),
                revoked_at: row.get(8),
                current: principal.session_id == Some(id),
            }
        })
        .collect();
    let next_cursor = if more {
        items.last().map(|s| s.id)
    } else {
        None
    };
    Ok(Json(Page { items, next_cursor }))
}
