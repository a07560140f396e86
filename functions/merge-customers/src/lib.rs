//! `merge-customers` — `POST /v1/customers/{id}/merge` `{"duplicate_id": …}`: merges a
//! duplicate customer into customer `{id}`, the survivor (needs `customers:write`).
//!
//! In one transaction: the duplicate's orders (`sales.orders.customer_id`), counted order
//! statistics and loyalty ledger entries move to the survivor; the survivor's statistics and
//! points (balance and lifetime) are recomputed from them; the survivor takes the duplicate's
//! email, phone and birthday where it has none, and the union of both allergen and dietary
//! lists (its version is bumped); the duplicate is marked `merged_into` the survivor, and so is
//! whatever had been merged into the duplicate. From then on the duplicate's id answers 410
//! `customer_merged` with `merged_into`, search no longer lists it, and events naming it
//! (an order paid by it) count for the survivor. Answers 200 with the survivor, its `ETag`
//! and `merged: {orders_moved, ledger_entries_moved}`. Honours `Idempotency-Key`. Audit:
//! `customer.customer.merged`.
//!
//! Errors: 404 (unknown survivor); 410 `customer_merged` (the survivor was itself merged);
//! 422 `unknown_duplicate`, `invalid_duplicate` (the survivor itself), 409 `customer_merged`
//! (the duplicate is already merged), each with `field: duplicate_id`; 403
//! `permission_denied`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits:
//! `customer.customer.merged`.

use axum::extract::State;
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use olympus::audit::{self, AuditEvent};
use olympus::auth::Principal;
use olympus::customers::{self, CustomerView, Merged, WRITE};
use olympus::db;
use olympus::events::customers::CustomerMerged;
use olympus::events::{Event as _, Outbox};
use olympus::http::versioning::etag;
use olympus::http::{ClientInfo, Idempotency, Json, Path};
use olympus::{AppState, Error, Function};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

pub fn function() -> Function {
    Function::http("merge-customers")
        .idempotent_route(
            &Method::POST,
            "/v1/customers/{id}/merge",
            merge,
            Idempotency::Optional,
        )
        .publishes(&[CustomerMerged::TYPE])
        .build()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MergeBody {
    duplicate_id: Uuid,
}

#[derive(Debug, Serialize)]
struct MergeAnswer {
    #[serde(flatten)]
    customer: CustomerView,
    merged: Merged,
}

async fn merge(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    Path(id): Path<String>,
    Json(body): Json<MergeBody>,
) -> Result<Response, Error> {
    principal.require(WRITE)?;
    let survivor = customers::path_id(&id)?;
    let tenant = principal.tenant_id;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    let (customer, merged) = customers::merge(&tx, survivor, body.duplicate_id).await?;
    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new((&principal).into(), "customer.customer.merged")
            .target("customer", survivor)
            .details(json!({
                "duplicate_id": body.duplicate_id,
                "orders_moved": merged.orders_moved,
                "ledger_entries_moved": merged.ledger_entries_moved,
            })),
    )
    .await?;
    let mut outbox = Outbox::default();
    outbox
        .record(
            &tx,
            Some(tenant),
            &CustomerMerged {
                survivor_id: survivor,
                duplicate_id: body.duplicate_id,
                orders_moved: merged.orders_moved,
                ledger_entries_moved: merged.ledger_entries_moved,
                merged_at: customer.updated_at,
            },
        )
        .await?;
    tx.commit().await?;
    outbox.publish(&state).await;
    let version = customer.version;
    Ok((
        [(header::ETAG, etag(version))],
        Json(MergeAnswer { customer, merged }),
    )
        .into_response())
}
