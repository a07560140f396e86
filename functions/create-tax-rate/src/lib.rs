//! `create-tax-rate` — `POST /v1/tax-rates`: adds a tax rate (needs `catalog:write`).
//!
//! Body: `name` (required), `tax_category` (required: the key products name in their
//! `tax_category`, `[a-z0-9][a-z0-9_-]{0,62}`), `rate_bps` (required: basis points, 825 =
//! 8.25 %, 0 to 100000), `inclusive` (whether the rate is included in prices; default false),
//! `location_id` (the one location it applies at; absent: every location). Answers 201 with
//! the rate and `ETag: "1"`. Honours `Idempotency-Key`. Audit: `catalog.tax_rate.created`.
//!
//! Errors: 422 `invalid_name`, `invalid_tax_category`, `invalid_rate` (with `field`), 422
//! `unknown_location` (not a location of the tenant, another tenant's included), 422
//! `invalid_body` (a required field missing or of the wrong type); 403 `location_denied` (a
//! location the principal may not act on), `permission_denied`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use olympus::audit::{self, AuditEvent};
use olympus::auth::Principal;
use olympus::catalog::{TAX_RATE_COLUMNS, TaxRateView, WRITE, ensure_location, validate};
use olympus::db;
use olympus::http::versioning::etag;
use olympus::http::{ClientInfo, Idempotency, Json};
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use uuid::Uuid;

/// Highest rate, in basis points (1000 %: some excise duties exceed 100 %).
pub const MAX_RATE_BPS: i64 = 100_000;

pub fn function() -> Function {
    Function::http("create-tax-rate")
        .idempotent_route(
            &Method::POST,
            "/v1/tax-rates",
            create,
            Idempotency::Optional,
        )
        .build()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateTaxRate {
    name: String,
    tax_category: String,
    /// Wider than the column, so an out-of-range number is `invalid_rate`, not a body error.
    rate_bps: i64,
    #[serde(default)]
    inclusive: Option<bool>,
    #[serde(default)]
    location_id: Option<Uuid>,
}

/// A validated rate, ready to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NewTaxRate {
    name: String,
    tax_category: String,
    rate_bps: i32,
    inclusive: bool,
    location_id: Option<Uuid>,
}

impl CreateTaxRate {
    fn validate(self) -> Result<NewTaxRate, Error> {
        let rate_bps = i32::try_from(self.rate_bps)
            .ok()
            .filter(|r| (0..=MAX_RATE_BPS).contains(&i64::from(*r)))
            .ok_or_else(|| {
                Error::unprocessable(
                    "invalid_rate",
                    format!("`rate_bps` must be between 0 and {MAX_RATE_BPS} basis points."),
                )
                .with_extension("field", "rate_bps")
            })?;
        Ok(NewTaxRate {
            name: validate::name("name", &self.name)?,
            tax_category: validate::tax_category(&self.tax_category)?,
            rate_bps,
            inclusive: self.inclusive.unwrap_or(false),
            location_id: self.location_id,
        })
    }
}

async fn create(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    Json(request): Json<CreateTaxRate>,
) -> Result<Response, Error> {
    principal.require(WRITE)?;
    let new = request.validate()?;
    if let Some(location) = new.location_id {
        principal.require_location(location)?;
    }
    let tenant = principal.tenant_id;

    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    if let Some(location) = new.location_id {
        ensure_location(&tx, location, "location_id").await?;
    }
    let row = tx
        .query_one(
            &format!(
                "INSERT INTO catalog.tax_rates (id, tenant_id, name, tax_category, rate_bps,
                                                inclusive, location_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 RETURNING {TAX_RATE_COLUMNS}"
            ),
            &[
                &Uuid::now_v7(),
                &tenant,
                &new.name,
                &new.tax_category,
                &new.rate_bps,
                &new.inclusive,
                &new.location_id,
            ],
        )
        .await?;
    let view = TaxRateView::from_row(&row)?;
    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new((&principal).into(), "catalog.tax_rate.created")
            .target("tax_rate", view.id)
            .change(
                None,
                Some(serde_json::to_value(&view).map_err(Error::internal)?),
            ),
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        [(header::ETAG, etag(view.version))],
        Json(view),
    )
        .into_response())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn code(body: Value) -> String {
        serde_json::from_value::<CreateTaxRate>(body)
            .unwrap()
            .validate()
            .unwrap_err()
            .code()
            .to_owned()
    }

    #[test]
    fn fields_are_validated_with_their_codes() {
        let base = json!({"name": "VAT", "tax_category": "standard", "rate_bps": 2000});
        let with = |key: &str, value: Value| {
            let mut body = base.clone();
            body[key] = value;
            body
        };
        assert_eq!(code(with("rate_bps", json!(-1))), "invalid_rate");
        assert_eq!(code(with("rate_bps", json!(100_001))), "invalid_rate");
        assert_eq!(code(with("rate_bps", json!(1_i64 << 40))), "invalid_rate");
        assert_eq!(
            code(with("tax_category", json!("Food"))),
            "invalid_tax_category"
        );
        assert_eq!(code(with("name", json!(" "))), "invalid_name");
        let ok = serde_json::from_value::<CreateTaxRate>(with("rate_bps", json!(100_000)))
            .unwrap()
            .validate()
            .unwrap();
        assert_eq!(ok.rate_bps, 100_000);
        assert!(!ok.inclusive);
        assert!(serde_json::from_value::<CreateTaxRate>(with("x", json!(1))).is_err());
    }
}
