//! `update-customer` — `PATCH /v1/customers/{id}`: changes a customer's details (needs
//! `customers:write`).
//!
//! Body: any of `name`, `email`, `phone`, `addresses`, `birthday`, `notes`, `allergens`,
//! `dietary_preferences`, `marketing_consent` (validated and normalised as on creation);
//! absent fields are unchanged, `null` clears `email`, `phone` and `birthday`. Changing
//! `marketing_consent` records its date. Statistics are not editable. Requires `If-Match`:
//! missing is 428 `precondition_required`, unreadable 400 `invalid_if_match`, stale 412
//! `version_mismatch` (with `current_version`). A change bumps `version`, is audited
//! (`customer.customer.updated`) and answers the customer with its `ETag`; a request that
//! changes nothing answers it unchanged.
//!
//! Errors: 404 (unknown id, another tenant's included); 410 `customer_merged` (with
//! `merged_into`); 422 as `POST /v1/customers`; 409 `email_taken` / `phone_taken`; 403
//! `permission_denied`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use olympus::audit::{self, AuditEvent};
use olympus::auth::Principal;
use olympus::customers::{self, CustomerPatch, CustomerView, Fields, WRITE};
use olympus::db;
use olympus::http::versioning::{etag, expected_version, version_mismatch};
use olympus::http::{ClientInfo, Json, Path};
use olympus::{AppState, Error, Function};

pub fn function() -> Function {
    Function::http("update-customer")
        .route(&Method::PATCH, "/v1/customers/{id}", update)
        .build()
}

async fn update(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(patch): Json<CustomerPatch>,
) -> Result<Response, Error> {
    principal.require(WRITE)?;
    let id = customers::path_id(&id)?;
    let expected = expected_version(&headers, "customer")?;
    let tenant = principal.tenant_id;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    let before = customers::load_live(&tx, id, true).await?;
    if before.version != expected {
        return Err(version_mismatch("customer", expected, before.version));
    }
    let country = match &patch.phone {
        Some(phone) if Fields::needs_country(phone.as_deref()) => {
            customers::tenant_country(&tx).await?
        }
        _ => None,
    };
    let current = Fields::of(&before);
    let next = current.patched(patch, country.as_deref(), chrono::Utc::now().date_naive())?;
    let changes = current.diff(&next);
    if changes.is_empty() {
        tx.commit().await?;
        return respond(before);
    }
    let after = customers::update(&tx, id, &next).await?;
    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new((&principal).into(), "customer.customer.updated")
            .target("customer", id)
            .versioned_change(changes, before.version, after.version),
    )
    .await?;
    tx.commit().await?;
    respond(after)
}

fn respond(view: CustomerView) -> Result<Response, Error> {
    Ok(([(header::ETAG, etag(view.version))], Json(view)).into_response())
}
