//! `create-inventory-count` — `POST /v1/inventory/counts`: records a physical count at one
//! location (needs `inventory:write` and access to the location).
//!
//! Body: `location_id`, `occurred_at` (when the shelf was counted, client time; default now),
//! `reason`, `lines` (1..=500): `{variant_id, counted}` (0..=1e9; a variant once per count).
//! A count sets the level as of `occurred_at`: movements dated after it still apply on top,
//! movements dated before it that arrive later (an offline till syncing) are recorded with
//! `delta` 0, and a count dated before the pair's latest count changes nothing (`delta` 0).
//! The ledger rows name the reference `count`/<id>. Answers 201 with `{id, location_id,
//! occurred_at, reason, movements, levels}`. Honours `Idempotency-Key`. Audit:
//! `inventory.count.created`.
//!
//! Errors: 403 `permission_denied`, `location_denied`; 422 `invalid_lines`,
//! `duplicate_variant`, `invalid_quantity` (with `line`), `invalid_reason`,
//! `invalid_occurred_at` (more than 5 minutes ahead), `unknown_variant`, `unknown_location`
//! (another tenant's ids too), `invalid_body`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits:
//! `inventory.stock.adjusted`, `inventory.stock.low` (a pair crossing its reorder point).

use std::collections::HashSet;

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use chrono::{DateTime, Utc};
use olympus::auth::Principal;
use olympus::db;
use olympus::events::catalog::{StockAdjusted, StockLow};
use olympus::events::{Event, Outbox};
use olympus::http::{ClientInfo, Idempotency, Json};
use olympus::inventory::api;
use olympus::inventory::{self, Context, Count, Reference};
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use uuid::Uuid;

pub fn function() -> Function {
    Function::http("create-inventory-count")
        .idempotent_route(
            &Method::POST,
            "/v1/inventory/counts",
            create_count,
            Idempotency::Optional,
        )
        .publishes(&[StockAdjusted::TYPE, StockLow::TYPE])
        .build()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateCount {
    location_id: Uuid,
    #[serde(default)]
    occurred_at: Option<DateTime<Utc>>,
    #[serde(default)]
    reason: Option<String>,
    lines: Vec<Line>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    variant_id: Uuid,
    counted: i64,
}

/// A checked count sheet.
#[derive(Debug)]
struct Checked {
    occurred_at: DateTime<Utc>,
    reason: Option<String>,
    counts: Vec<Count>,
}

impl CreateCount {
    fn check(&self, id: Uuid, now: DateTime<Utc>) -> Result<Checked, Error> {
        api::line_count(self.lines.len())?;
        let occurred_at = api::occurred_at(self.occurred_at, now)?;
        let reason = api::reason("reason", self.reason.as_deref())?;
        let mut seen = HashSet::new();
        let mut counts = Vec::with_capacity(self.lines.len());
        for (index, line) in self.lines.iter().enumerate() {
            // Two counts of one variant in one sheet: summed (two shelves) or corrected? The
            // client must say.
            if !seen.insert(line.variant_id) {
                return Err(api::invalid_line(
                    "duplicate_variant",
                    index,
                    "variant_id",
                    format!(
                        "Line {index}: variant {} is counted twice.",
                        line.variant_id
                    ),
                ));
            }
            counts.push(Count {
                variant_id: line.variant_id,
                location_id: self.location_id,
                counted: line.counted,
                reason: reason.clone(),
                occurred_at,
                reference: Some(Reference {
                    kind: "count".to_owned(),
                    id: id.to_string(),
                }),
            });
        }
        Ok(Checked {
            occurred_at,
            reason,
            counts,
        })
    }
}

async fn create_count(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    Json(request): Json<CreateCount>,
) -> Result<Response, Error> {
    principal.require(inventory::WRITE)?;
    principal.require_location(request.location_id)?;
    let id = Uuid::now_v7();
    let Checked {
        occurred_at,
        reason,
        counts,
    } = request.check(id, Utc::now())?;
    let tenant = principal.tenant_id;

    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    let mut outbox = Outbox::default();
    let context = Context {
        actor: api::actor(&principal),
        consumes: None,
    };
    let recorded = inventory::record_counts(&tx, tenant, &counts, context, &mut outbox).await?;
    api::finish_sheet(
        &state,
        tx,
        outbox,
        api::SheetAudit {
            principal: &principal,
            client: &client,
            action: "inventory.count.created",
            target: "count",
        },
        id,
        request.location_id,
        occurred_at,
        reason,
        &recorded,
    )
    .await
}
