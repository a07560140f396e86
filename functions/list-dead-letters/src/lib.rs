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
use olympus::{AppState, Error, Function};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub fn function() -> Function {
    Function::http("list-dead-letters")
        .route(&Method::GET, "/v1/admin/dead-letters", list)
        .build()
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(default)]
    pending: Option<bool>,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    cursor: Option<Uuid>,
}

#[derive(Debug, Serialize)]
struct Page {
    items: Vec<DeadLetter>,
    next_cursor: Option<Uuid>,
}

async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<ListQuery>,
) -> Result<Json<Page>, Error> {
    require_operator(&principal, state.config())?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(Error::unprocessable(
            "invalid_limit",
            "limit must be between 1 and 200.",
        ));
    }
    let items = dead_letter::list(
        state.db()?,
        query.pending.unwrap_or(false),
        query.cursor,
        limit,
    )
    .await?;
    let next_cursor = if items.len() as i64 == limit {
        items.last().map(|d| d.id)
    } else {
        None
    };
    Ok(Json(Page { items, next_cursor }))
}
