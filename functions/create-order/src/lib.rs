//! `create-order` — `POST /v1/orders`: takes an order at a location, priced by the server from
//! the catalog (needs `orders:write` and access to the location; `Idempotency-Key` required).
//!
//! Body: as `POST /v1/orders/preview` (`location_id`, `channel`, `source`, `lines`,
//! `discounts`, `service_charge`, `tip_minor`, `customer_id`, `table`, `party_size`, `note`,
//! `created_at` for an order taken offline), plus `client_order_id`, the till's own id. The
//! order starts `open`, numbered `A-001`, `A-002`, … per location and business day (the
//! location's local date of `created_at`). Answers 201 with the order (lines, totals,
//! `next_states`, `payment_status`), `Location` and `ETag`. A replay of the same
//! `Idempotency-Key` replays the answer; a `client_order_id` the tenant already used answers
//! that order (200, `Idempotent-Replayed: true`) — an offline till's retry days later creates
//! no duplicate. Numbers are taken before the order's transaction (see
//! `olympus::sales::orders::allot`), so an order that fails leaves a gap in the day's
//! numbers. Client prices are ignored. With `"place": true` the order is placed in the
//! same transaction (stock sold; on `insufficient_stock` nothing is created).
//!
//! Errors: 400 `idempotency_key_required`; 403 `permission_denied`, `location_denied`; 409
//! `idempotency_request_in_progress`; 422 the codes of `POST /v1/orders/preview`,
//! `invalid_client_order_id`, `idempotency_key_reused`; with `place`, the codes of
//! `POST /v1/orders/{id}/place` (409 `insufficient_stock`, `order_empty`).
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits:
//! `sales.order.created`; with `place`, `sales.order.placed`, `kitchen.ticket.created` and
//! `inventory.stock.low`.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use olympus::auth::Principal;
use olympus::db;
use olympus::events::Event;
use olympus::events::Outbox;
use olympus::events::catalog::StockLow;
use olympus::events::kitchen::TicketCreated;
use olympus::events::sales::{OrderCreated, OrderPlaced};
use olympus::http::idempotency::{Claimed, IDEMPOTENT_REPLAYED};
use olympus::http::versioning::etag;
use olympus::http::{Idempotency, Json};
use olympus::inventory::api;
use olympus::sales::lifecycle::{self, actor};
use olympus::sales::orders::{self, Allotment, Created, OrderView, WRITE};
use olympus::sales::quote::{self, OrderDraft};
use olympus::{AppState, Error, Function};
use uuid::Uuid;

pub fn function() -> Function {
    Function::http("create-order")
        .idempotent_route(
            &Method::POST,
            "/v1/orders",
            create_order,
            Idempotency::Required,
        )
        .publishes(&[
            OrderCreated::TYPE,
            OrderPlaced::TYPE,
            StockLow::TYPE,
            TicketCreated::TYPE,
        ])
        .build()
}

async fn create_order(
    State(state): State<AppState>,
    principal: Principal,
    claimed: Option<Claimed>,
    Json(draft): Json<OrderDraft>,
) -> Result<Response, Error> {
    principal.require(WRITE)?;
    principal.require_location(draft.location_id)?;
    let tenant = principal.tenant_id;
    let now = Utc::now();
    let at = quote::check(&draft, now)?;
    let mut conn = state.db()?.get().await?;
    let client_order_id = draft.client_order_id.as_deref();
    let allotted =
        match orders::allot(&conn, tenant, draft.location_id, client_order_id, at).await? {
            Allotment::Replay(id) => {
                let tx = db::tenant_tx(&mut conn, tenant).await?;
                return replay(&tx, id).await;
            }
            Allotment::Number(allotted) => allotted,
        };
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    let quote = quote::quote(&tx, &draft, now).await?;
    let created_by = api::actor(&principal);
    let order = match orders::create(&tx, tenant, created_by, &draft, &quote, &allotted).await? {
        Created::New(order) => *order,
        Created::Existing(id) => {
            // Another request with this client_order_id committed first: answer its order
            // (the number allotted to this one stays unused).
            tx.rollback().await?;
            let tx = db::tenant_tx(&mut conn, tenant).await?;
            return replay(&tx, id).await;
        }
    };
    // Every event of the order in one statement, written with the answer just before commit.
    let mut outbox = Outbox::batched();
    outbox
        .record(&tx, Some(tenant), &created_event(&order))
        .await?;
    if draft.place {
        lifecycle::send_created(&tx, actor(&principal), &order, &quote, &mut outbox).await?;
    }
    let location =
        HeaderValue::from_str(&format!("/v1/orders/{}", order.id)).map_err(Error::internal)?;
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::LOCATION, location);
    headers.insert(header::ETAG, etag(order.version));
    let body = serde_json::to_vec(&order).map_err(Error::internal)?;
    // The answer commits with the order: a retry after a crash replays it, never re-creates.
    match &claimed {
        Some(claimed) => {
            futures::try_join!(
                outbox.write(&tx),
                claimed.store(&tx, StatusCode::CREATED, &headers, &body)
            )?;
        }
        None => outbox.write(&tx).await?,
    }
    tx.commit().await?;
    outbox.publish(&state).await;
    Ok((StatusCode::CREATED, headers, body).into_response())
}

/// The order a till already created with its `client_order_id`.
async fn replay(tx: &db::Transaction<'_>, id: Uuid) -> Result<Response, Error> {
    let order = orders::load(tx, id).await?.ok_or_else(orders::not_found)?;
    Ok((
        StatusCode::OK,
        [
            (IDEMPOTENT_REPLAYED, HeaderValue::from_static("true")),
            (header::ETAG, etag(order.version)),
        ],
        Json(order),
    )
        .into_response())
}

fn created_event(order: &OrderView) -> OrderCreated {
    OrderCreated {
        order_id: order.id,
        location_id: order.location_id,
        number: order.number.clone(),
        channel: order.channel.clone(),
        source: order.source.clone(),
        customer_id: order.customer_id,
        currency: order.currency.clone(),
        total_minor: order.total_minor,
        ordered_at: order.ordered_at,
    }
}
