//! `replay-dead-letters` — `POST /v1/admin/dead-letters/replay`
//! with `{"ids": [...]}` or `{"all_pending": true, "limit": 100}`.
//!
//! Republishes dead letters to their event's topic for platform operators. Subscriptions that
//! already processed the event ack the copy through their dedupe, so only the one that failed
//! does the work again. Honours `Idempotency-Key`.
//!
//! Env: `DATABASE_URL`, `GOOGLE_CLOUD_PROJECT`, `PUBSUB_EMULATOR_HOST` (local), `AUTH_JWKS`,
//! `AUTH_ISSUER`, `AUTH_AUDIENCE`, `OPERATOR_TENANT_ID`. Emits: the replayed events' types.

use axum::extract::State;
use axum::http::Method;
use olympus::auth::{Principal, require_operator};
use olympus::events::dead_letter::{self, ReplayReport, ReplaySelection};
use olympus::http::{Idempotency, Json};
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use uuid::Uuid;

pub fn function() -> Function {
    Function::http("replay-dead-letters")
        .idempotent_route(
            &Method::POST,
            "/v1/admin/dead-letters/replay",
            replay,
            Idempotency::Optional,
        )
        .publishes(&["*"])
        .build()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayRequest {
    #[serde(default)]
    ids: Option<Vec<Uuid>>,
    #[serde(default)]
    all_pending: bool,
    #[serde(default)]
    limit: Option<i64>,
}

async fn replay(
    State(state): State<AppState>,
    principal: Principal,
    Json(request): Json<ReplayRequest>,
) -> Result<Json<ReplayReport>, Error> {
    require_operator(&principal, state.config())?;
    let selection = match (request.ids, request.all_pending) {
        (Some(ids), false) if !ids.is_empty() => ReplaySelection::Ids(ids),
        (None, true) => ReplaySelection::AllPending,
        _ => {
            return Err(Error::unprocessable(
                "invalid_selection",
                "Give either a non-empty `ids` list or `all_pending: true`.",
            ));
        }
    };
    let limit = request.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Error::unprocessable(
            "invalid_limit",
            "limit must be between 1 and 1000.",
        ));
    }
    let report = dead_letter::replay(state.db()?, state.publisher(), &selection, limit).await?;
    Ok(Json(report))
}
