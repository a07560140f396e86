//! `create-inventory-transfer` — `POST /v1/inventory/transfers`: moves stock from one location
//! to another (needs `inventory:write` and access to both locations).
//!
//! Body: `from_location_id`, `to_location_id`, `occurred_at` (client time; default now),
//! `reason`, `lines` (1..=500): `{variant_id, quantity}` (1..=1e9; lines of one variant are
//! summed for the stock check). One transaction records the transfer (`inventory.transfers`)
//! and, per line, a `transfer_out` at the source and a `transfer_in` at the destination
//! (reference `transfer`/<id>): all of it or nothing. A source pair with the `block` policy
//! must keep at least its live holds, else 409 `insufficient_stock` (with `shortages`) and
//! nothing moves at either location. Answers 201 with `{id, from_location_id,
//! to_location_id, occurred_at, reason, lines, movements, levels}`. Honours
//! `Idempotency-Key`. Audit: `inventory.transfer.created`.
//!
//! Errors: 403 `permission_denied`, `location_denied`; 409 `insufficient_stock`; 422
//! `same_location`, `invalid_lines`, `invalid_quantity` (with `line`), `invalid_reason`,
//! `invalid_occurred_at` (more than 5 minutes ahead), `unknown_variant`, `unknown_location`
//! (another tenant's ids too), `invalid_body`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits:
//! `inventory.transfer.completed`, `inventory.stock.low` (a source pair crossing its reorder
//! point).

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use olympus::audit::{self, AuditEvent};
use olympus::auth::Principal;
use olympus::db;
use olympus::events::catalog::{StockLow, TransferCompleted, TransferLine};
use olympus::events::{Event, Outbox};
use olympus::http::{ClientInfo, Idempotency, Json};
use olympus::inventory::api::{self, MovementView};
use olympus::inventory::{self, Context, Kind, LevelView, Movement, Reference};
use olympus::{AppState, Error, Function};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

pub fn function() -> Function {
    Function::http("create-inventory-transfer")
        .idempotent_route(
            &Method::POST,
            "/v1/inventory/transfers",
            create_transfer,
            Idempotency::Optional,
        )
        .publishes(&[TransferCompleted::TYPE, StockLow::TYPE])
        .build()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateTransfer {
    from_location_id: Uuid,
    to_location_id: Uuid,
    #[serde(default)]
    occurred_at: Option<DateTime<Utc>>,
    #[serde(default)]
    reason: Option<String>,
    lines: Vec<Line>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    variant_id: Uuid,
    quantity: i64,
}

/// The transfer as recorded.
#[derive(Debug, Serialize)]
struct Transfer {
    id: Uuid,
    from_location_id: Uuid,
    to_location_id: Uuid,
    occurred_at: DateTime<Utc>,
    reason: Option<String>,
    lines: Vec<TransferLine>,
    movements: Vec<MovementView>,
    levels: Vec<LevelView>,
}

/// A checked transfer.
#[derive(Debug)]
struct Checked {
    occurred_at: DateTime<Utc>,
    reason: Option<String>,
    movements: Vec<Movement>,
}

impl CreateTransfer {
    fn check(&self, id: Uuid, now: DateTime<Utc>) -> Result<Checked, Error> {
        if self.from_location_id == self.to_location_id {
            return Err(Error::unprocessable(
                "same_location",
                "A transfer moves stock between two different locations.",
            )
            .with_extension("field", "to_location_id"));
        }
        api::line_count(self.lines.len())?;
        let occurred_at = api::occurred_at(self.occurred_at, now)?;
        let reason = api::reason("reason", self.reason.as_deref())?;
        let reference = Reference {
            kind: "transfer".to_owned(),
            id: id.to_string(),
        };
        let movement = |line: &Line, kind: Kind, location_id: Uuid| Movement {
            variant_id: line.variant_id,
            location_id,
            kind,
            quantity: line.quantity,
            reason: reason.clone(),
            occurred_at,
            reference: Some(reference.clone()),
        };
        // Every out first, then every in: the engine's `line` index of a quantity error is
        // then the body's line index.
        let movements = self
            .lines
            .iter()
            .map(|line| movement(line, Kind::TransferOut, self.from_location_id))
            .chain(
                self.lines
                    .iter()
                    .map(|line| movement(line, Kind::TransferIn, self.to_location_id)),
            )
            .collect();
        Ok(Checked {
            occurred_at,
            reason,
            movements,
        })
    }
}

async fn create_transfer(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    Json(request): Json<CreateTransfer>,
) -> Result<Response, Error> {
    principal.require(inventory::WRITE)?;
    principal.require_location(request.from_location_id)?;
    principal.require_location(request.to_location_id)?;
    let id = Uuid::now_v7();
    let Checked {
        occurred_at,
        reason,
        movements,
    } = request.check(id, Utc::now())?;
    let lines: Vec<TransferLine> = request
        .lines
        .iter()
        .map(|line| TransferLine {
            variant_id: line.variant_id,
            quantity: line.quantity,
        })
        .collect();
    let tenant = principal.tenant_id;
    let actor = api::actor(&principal);

    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    let mut outbox = Outbox::default();
    // The engine checks both locations and every variant (422) and the stock (409) before the
    // transfer row is written, so its foreign keys cannot fail.
    let recorded = inventory::record(
        &tx,
        tenant,
        &movements,
        Context {
            actor,
            consumes: None,
        },
        &mut outbox,
    )
    .await?;
    tx.execute(
        "INSERT INTO inventory.transfers
             (id, tenant_id, from_location_id, to_location_id, lines, reason, actor_user_id,
              occurred_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &id,
            &tenant,
            &request.from_location_id,
            &request.to_location_id,
            &serde_json::to_value(&lines).map_err(Error::internal)?,
            &reason,
            &actor,
            &occurred_at,
        ],
    )
    .await?;
    outbox
        .record(
            &tx,
            Some(tenant),
            &TransferCompleted {
                transfer_id: id,
                from_location_id: request.from_location_id,
                to_location_id: request.to_location_id,
                occurred_at,
                lines: lines.clone(),
            },
        )
        .await?;
    let transfer = Transfer {
        id,
        from_location_id: request.from_location_id,
        to_location_id: request.to_location_id,
        occurred_at,
        reason,
        lines,
        movements: api::movements(&tx, &recorded).await?,
        levels: api::levels(&tx, &recorded).await?,
    };
    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new((&principal).into(), "inventory.transfer.created")
            .target("transfer", id)
            .details(json!({
                "from_location_id": request.from_location_id,
                "to_location_id": request.to_location_id,
                "occurred_at": occurred_at,
                "lines": transfer.lines.len(),
            })),
    )
    .await?;
    tx.commit().await?;
    outbox.publish(&state).await;
    Ok((StatusCode::CREATED, Json(transfer)).into_response())
}
