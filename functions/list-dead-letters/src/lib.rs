//! `list-dead-letters` — `GET /v1/admin/dead-letters?pending=true&limit=50&cursor=<id>`.
//!
//! Dead-lettered messages, newest first, for platform operators only: they span tenants, so a
//! tenant's own permissions never suffice (see `olympus::auth::require_operator`).
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`, `OPERATOR_TENANT_ID`.
//! Emits no events.

use axum::extract::{Query, State};
use axum::http::Method;
use olympus::auth::{Principal, require_operator};
use olympus::events::dead_letter::{self, DeadLetter};
use olympus::http::Json;
use olympus::http::pagination::{Page, PageQuery};
use olympus::{AppState, Error, Function};
use serde::Deserialize;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

pub fn function() -> Function {
    Function::http("list-dead-letters")
        .route(&Method::GET, "/v1/admin/dead-letters", list)
        .build()
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(default)]
    pending: Option<bool>,
}

async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<PageQuery>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Page<DeadLetter>>, Error> {
    require_operator(&principal, state.config())?;
    let limit = page.limit(DEFAULT_LIMIT, MAX_LIMIT)?;
    let items = dead_letter::list(
        state.db()?,
        query.pending.unwrap_or(false),
        page.cursor,
        limit,
    )
    .await?;
    // `dead_letter::list` fetches exactly `limit` rows, so a full page carries the cursor.
    Ok(Json(Page::from_full_page(items, limit, |d| d.id)))
}
