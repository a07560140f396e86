//! `create-customer` — `POST /v1/customers`: adds a customer to the caller's tenant (needs
//! `customers:write`).
//!
//! Body (`olympus::customers::NewCustomer`): `name` (required), `email` (stored trimmed and
//! lower-cased), `phone` (stored in E.164; a number without `+`/`00` is read in the tenant's
//! country: `settings.country`, else the one country its locations' addresses name),
//! `addresses` (up to 10 JSON objects), `birthday` (`YYYY-MM-DD`), `notes`, `allergens` and
//! `dietary_preferences` (tags), `marketing_consent` (its date is recorded). Answers 201 with
//! the customer (stats at zero), `Location: /v1/customers/{id}` and `ETag: "1"`. Honours
//! `Idempotency-Key`. Audit: `customer.customer.created`.
//!
//! Errors: 422 `invalid_name`, `invalid_email`, `invalid_phone` (also: a national number
//! and no known country), `invalid_addresses`, `invalid_birthday`, `invalid_notes`,
//! `invalid_tags` (each with `field`); 409 `email_taken` / `phone_taken` (another live
//! customer of the tenant has it); 403 `permission_denied`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits:
//! `customer.customer.created`.

use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use olympus::audit::{self, AuditEvent};
use olympus::auth::Principal;
use olympus::customers::{self, CustomerView, Fields, NewCustomer, WRITE};
use olympus::db;
use olympus::events::customers::CustomerCreated;
use olympus::events::{Event as _, Outbox};
use olympus::http::versioning::etag;
use olympus::http::{ClientInfo, Idempotency, Json};
use olympus::{AppState, Error, Function};

pub fn function() -> Function {
    Function::http("create-customer")
        .idempotent_route(
            &Method::POST,
            "/v1/customers",
            create,
            Idempotency::Optional,
        )
        .publishes(&[CustomerCreated::TYPE])
        .build()
}

async fn create(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    Json(new): Json<NewCustomer>,
) -> Result<Response, Error> {
    principal.require(WRITE)?;
    let tenant = principal.tenant_id;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    let country = if Fields::needs_country(new.phone.as_deref()) {
        customers::tenant_country(&tx).await?
    } else {
        None
    };
    let fields = Fields::new(new, country.as_deref(), chrono::Utc::now().date_naive())?;
    let view = customers::create(&tx, tenant, &fields).await?;
    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new((&principal).into(), "customer.customer.created")
            .target("customer", view.id)
            .change(
                None,
                Some(serde_json::to_value(&view).map_err(Error::internal)?),
            ),
    )
    .await?;
    let mut outbox = Outbox::default();
    outbox
        .record(
            &tx,
            Some(tenant),
            &CustomerCreated {
                customer_id: view.id,
                name: view.name.clone(),
                email: view.email.clone(),
                phone: view.phone.clone(),
                marketing_consent: view.marketing_consent,
                created_at: view.created_at,
            },
        )
        .await?;
    tx.commit().await?;
    outbox.publish(&state).await;
    respond(view)
}

fn respond(view: CustomerView) -> Result<Response, Error> {
    let location =
        HeaderValue::from_str(&format!("/v1/customers/{}", view.id)).map_err(Error::internal)?;
    Ok((
        StatusCode::CREATED,
        [
            (header::LOCATION, location),
            (header::ETAG, etag(view.version)),
        ],
        Json(view),
    )
        .into_response())
}
