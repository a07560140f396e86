//! `set-loyalty-program` — `PUT /v1/loyalty/program`: creates or replaces the caller's
//! tenant's loyalty program (needs `tenant:write`: the program is the tenant's economics, so
//! owners and admins set it, not the till staff who hold `customers:write`).
//!
//! Body (`olympus::loyalty::ProgramBody`): `points_per_unit` (points per unit of the currency,
//! positive, at most three decimals), `rounding` (`down`, `nearest`, `up`), `tiers`
//! (`[{name, threshold, multiplier}]`: unique names, lifetime-point thresholds ≥ 0 and strictly
//! ascending, multipliers positive with at most three decimals), `rewards`
//! (`[{id, name, points, discount: {"type": "fixed", "amount_minor"} |
//! {"type": "percent", "percent"}}]`: unique ids of a-z, 0-9, `_`, `-`), `points_expire_days`
//! (1..=3650, null or absent: never), `active` (default true). Points already earned keep the
//! expiry they were earned with. `If-Match` is optional: when sent, a stale version is 412
//! `version_mismatch`. Answers 200 with the program and its `ETag`. Audit:
//! `customer.loyalty_program.updated`.
//!
//! Errors: 422 `invalid_points_per_unit`, `invalid_tiers`, `invalid_rewards`,
//! `duplicate_reward`, `invalid_points_expire_days` (each with `field`, e.g.
//! `tiers[1].threshold`); 403 `permission_denied`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use olympus::audit::{self, AuditEvent};
use olympus::auth::Principal;
use olympus::catalog::patch::optional_expected_version;
use olympus::db;
use olympus::http::versioning::{etag, version_mismatch};
use olympus::http::{ClientInfo, Json};
use olympus::loyalty::{self, PROGRAM_WRITE, ProgramBody};
use olympus::{AppState, Error, Function};

pub fn function() -> Function {
    Function::http("set-loyalty-program")
        .route(&Method::PUT, "/v1/loyalty/program", put_program)
        .build()
}

async fn put_program(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    headers: HeaderMap,
    Json(body): Json<ProgramBody>,
) -> Result<Response, Error> {
    principal.require(PROGRAM_WRITE)?;
    let expected = optional_expected_version(&headers, "loyalty program")?;
    let program = body.validate()?;
    let tenant = principal.tenant_id;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    let before = loyalty::load_program(&tx, true).await?;
    if let Some(expected) = expected {
        let current = before.as_ref().map_or(0, |b| b.version);
        if current != expected {
            return Err(version_mismatch("loyalty program", expected, current));
        }
    }
    let after = loyalty::save_program(&tx, tenant, &program).await?;
    let as_json = |view| serde_json::to_value(view).map_err(Error::internal);
    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new((&principal).into(), "customer.loyalty_program.updated")
            .target("loyalty_program", tenant)
            .change(
                before.as_ref().map(|b| as_json(b.view())).transpose()?,
                Some(as_json(after.view())?),
            ),
    )
    .await?;
    tx.commit().await?;
    Ok(([(header::ETAG, etag(after.version))], Json(after.view())).into_response())
}
