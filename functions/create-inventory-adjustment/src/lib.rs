//! `create-inventory-adjustment` — `POST /v1/inventory/adjustments`: records stock received,
//! wasted, adjusted or returned at one location (needs `inventory:write` and access to the
//! location).
//!
//! Body: `location_id`, `occurred_at` (the client's time; default now), `reason` (applies to
//! lines without their own), `lines` (1..=500): `{variant_id, kind, quantity, reason?}` where
//! `kind` is `receive`, `waste`, `return` (a positive `quantity`, 1..=1e9) or `adjust` (a signed,
//! non-zero `quantity`). Sales, transfers and counts have their own endpoints. Movements dated
//! at or before the pair's latest count are recorded with `delta` 0 (the count saw them). The
//! movements name the reference `adjustment`/<id>. Answers 201 with `{id, location_id,
//! occurred_at, reason, movements, levels}` (the ledger rows as `GET
//! /v1/inventory/movements` shows them and the resulting levels). Honours `Idempotency-Key`.
//! Audit: `inventory.adjustment.created`.
//!
//! Errors: 403 `permission_denied`, `location_denied`; 422 `invalid_lines`, `invalid_kind`,
//! `invalid_quantity` (with `line`), `invalid_reason`, `invalid_occurred_at` (more than 5
//! minutes ahead), `unknown_variant`, `unknown_location` (another tenant's ids too),
//! `invalid_body`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits:
//! `inventory.stock.adjusted`, `inventory.stock.low` (a pair crossing its reorder point).

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
use olympus::inventory::{self, Context, Kind, Movement, Reference};
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use uuid::Uuid;

pub fn function() -> Function {
    Function::http("create-inventory-adjustment")
        .idempotent_route(
            &Method::POST,
            "/v1/inventory/adjustments",
            create_adjustment,
            Idempotency::Optional,
        )
        .publishes(&[StockAdjusted::TYPE, StockLow::TYPE])
        .build()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateAdjustment {
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
    kind: String,
    quantity: i64,
    #[serde(default)]
    reason: Option<String>,
}

/// The kinds this endpoint records; a sale comes with its order, a transfer moves between two
/// locations, and a count sets a level rather than moving it.
fn kind(index: usize, text: &str) -> Result<Kind, Error> {
    match text {
        "receive" => Ok(Kind::Receive),
        "waste" => Ok(Kind::Waste),
        "adjust" => Ok(Kind::Adjust),
        "return" => Ok(Kind::Return),
        _ => Err(api::invalid_line(
            "invalid_kind",
            index,
            "kind",
            format!(
                "Line {index}: kind is receive, waste, adjust or return (sales, transfers and \
                 counts have their own endpoints)."
            ),
        )),
    }
}

/// A checked adjustment: its time, its reason and the movements to record.
#[derive(Debug)]
struct Checked {
    occurred_at: DateTime<Utc>,
    reason: Option<String>,
    movements: Vec<Movement>,
}

impl CreateAdjustment {
    /// The movements to record (pure), with the header's occurred_at and reason resolved.
    fn check(&self, id: Uuid, now: DateTime<Utc>) -> Result<Checked, Error> {
        api::line_count(self.lines.len())?;
        let occurred_at = api::occurred_at(self.occurred_at, now)?;
        let reason = api::reason("reason", self.reason.as_deref())?;
        let mut movements = Vec::with_capacity(self.lines.len());
        for (index, line) in self.lines.iter().enumerate() {
            let kind = kind(index, &line.kind)?;
            let line_reason =
                api::reason(&format!("lines[{index}].reason"), line.reason.as_deref())?;
            movements.push(Movement {
                variant_id: line.variant_id,
                location_id: self.location_id,
                kind,
                quantity: line.quantity,
                reason: line_reason.or_else(|| reason.clone()),
                occurred_at,
                reference: Some(Reference {
                    kind: "adjustment".to_owned(),
                    id: id.to_string(),
                }),
            });
        }
        Ok(Checked {
            occurred_at,
            reason,
            movements,
        })
    }
}

async fn create_adjustment(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    Json(request): Json<CreateAdjustment>,
) -> Result<Response, Error> {
    principal.require(inventory::WRITE)?;
    principal.require_location(request.location_id)?;
    let id = Uuid::now_v7();
    let Checked {
        occurred_at,
        reason,
        movements,
    } = request.check(id, Utc::now())?;
    let tenant = principal.tenant_id;

    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    let mut outbox = Outbox::default();
    let context = Context {
        actor: api::actor(&principal),
        consumes: None,
    };
    let recorded = inventory::record(&tx, tenant, &movements, context, &mut outbox).await?;
    api::finish_sheet(
        &state,
        tx,
        outbox,
        api::SheetAudit {
            principal: &principal,
            client: &client,
            action: "inventory.adjustment.created",
            target: "adjustment",
        },
        id,
        request.location_id,
        occurred_at,
        reason,
        &recorded,
    )
    .await
}
