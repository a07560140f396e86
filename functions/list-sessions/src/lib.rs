//! `list-sessions` — `GET /v1/auth/sessions?limit=&cursor=&include_revoked=`.
//!
//! The caller's own sessions, newest first, as `{"items": [...], "next_cursor": id | null}`;
//! `cursor` is the last id of the previous page (ids are UUIDv7, so id order is time order).
//! Open sessions only (not revoked, not expired) unless `include_revoked=true`. Each item: id,
//! method, device, ip, user_agent, created_at, last_used_at, expires_at, revoked_at, and
//! `current` (the session of the calling token). `limit` is 1..=100, default 20.
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

async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<PageQuery>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Page<SessionView>>, Error> {
    let limit = page.limit(DEFAULT_LIMIT, MAX_LIMIT)?;
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
                &page.cursor,
                &include_revoked,
                &fetch_limit(limit),
            ],
        )
        .await?;
    tx.commit().await?;
    let items: Vec<SessionView> = rows
        .iter()
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
    Ok(Json(Page::from_items(items, limit, |s| s.id)))
}
