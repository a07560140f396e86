//! `confirm-totp` — `POST /v1/auth/mfa/totp/confirm` (bearer token of a session) with
//! `{"code": "123456"}`.
//!
//! Activates the TOTP enrolment started by `enroll-totp`: the code must match the enrolled
//! secret (SHA-1, 6 digits, 30 s steps, ±1 step of skew). On success `confirmed_at` and
//! `last_step` (replay protection) are set, [`RECOVERY_CODES`] new recovery codes replace any
//! old ones (only their SHA-256 is stored) and are returned ONCE:
//! 200 `{"recovery_codes": ["abcde-fghjk", ...]}` with `Cache-Control: no-store`.
//!
//! - A wrong or malformed code: 422 `invalid_code` (audited, the enrolment stays pending).
//! - Nothing enrolled: 409 `mfa_not_enrolled`; already confirmed: 409 `mfa_already_enabled`.
//! - A credential without a session (API keys): 403 `session_required`.
//!
//! Not behind `Idempotency-Key`: a stored replay would keep the recovery codes in the database.
//!
//! Audit: `auth.mfa.confirmed`, `auth.mfa.failed`. Env: `DATABASE_URL`, `AUTH_JWKS`,
//! `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits no events.

use axum::extract::State;
use axum::http::{HeaderValue, Method, header};
use olympus::audit::{self, Actor, AuditEvent};
use olympus::auth::Principal;
use olympus::auth::totp::{matching_step, recovery_code, recovery_hash, unix_now};
use olympus::db;
use olympus::http::{ClientInfo, Json};
use olympus::{AppState, Error, Function};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// How many recovery codes a confirmation issues.
pub const RECOVERY_CODES: usize = 10;

pub fn function() -> Function {
    Function::http("confirm-totp")
        .route(&Method::POST, "/v1/auth/mfa/totp/confirm", confirm)
        .build()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfirmRequest {
    code: String,
}

impl std::fmt::Debug for ConfirmRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfirmRequest").finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Confirmed {
    recovery_codes: Vec<String>,
}

impl std::fmt::Debug for Confirmed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Confirmed").finish_non_exhaustive()
    }
}

fn invalid_code() -> Error {
    Error::unprocessable(
        "invalid_code",
        "The code does not match; check the authenticator app and the device clock.",
    )
    .with_extension("field", "code")
}

async fn confirm(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    Json(request): Json<ConfirmRequest>,
) -> Result<([(header::HeaderName, HeaderValue); 1], Json<Confirmed>), Error> {
    if principal.session_id.is_none() {
        return Err(Error::forbidden(
            "session_required",
            "Only a signed-in user can confirm a second factor.",
        ));
    }
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let row = tx
        .query_opt(
            "SELECT secret, confirmed_at IS NOT NULL FROM auth.mfa_totp
             WHERE user_id = $1 FOR UPDATE",
            &[&principal.user_id],
        )
        .await?;
    let Some(row) = row else {
        return Err(Error::conflict(
            "mfa_not_enrolled",
            "There is no TOTP enrolment to confirm; start one first.",
        ));
    };
    if row.get::<_, bool>(1) {
        return Err(Error::conflict(
            "mfa_already_enabled",
            "Two-factor authentication is already enabled.",
        ));
    }
    let Some(step) = matching_step(row.get(0), &request.code, unix_now())? else {
        audit::record(
            &tx,
            principal.tenant_id,
            &client,
            AuditEvent::new(Actor::from(&principal), "auth.mfa.failed")
                .target("user", principal.user_id)
                .details(json!({ "stage": "confirm", "method": "totp", "reason": "wrong_code" })),
        )
        .await?;
        tx.commit().await?;
        return Err(invalid_code());
    };
    let step = i64::try_from(step).map_err(Error::internal)?;
    tx.execute(
        "UPDATE auth.mfa_totp SET confirmed_at = now(), last_step = $2 WHERE user_id = $1",
        &[&principal.user_id, &step],
    )
    .await?;
    tx.execute(
        "DELETE FROM auth.recovery_codes WHERE user_id = $1",
        &[&principal.user_id],
    )
    .await?;
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    while codes.len() < RECOVERY_CODES {
        let code = recovery_code()?;
        // A duplicate (about 1 in 10^13) would violate the primary key: draw again.
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    let hashes: Vec<Vec<u8>> = codes.iter().map(|c| recovery_hash(c)).collect();
    tx.execute(
        "INSERT INTO auth.recovery_codes (tenant_id, user_id, code_hash)
         SELECT $1, $2, h FROM unnest($3::bytea[]) AS h",
        &[&principal.tenant_id, &principal.user_id, &hashes],
    )
    .await?;
    audit::record(
        &tx,
        principal.tenant_id,
        &client,
        AuditEvent::new(Actor::from(&principal), "auth.mfa.confirmed")
            .target("user", principal.user_id)
            .details(json!({ "method": "totp", "recovery_codes": RECOVERY_CODES })),
    )
    .await?;
    tx.commit().await?;
    Ok((
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(Confirmed {
            recovery_codes: codes,
        }),
    ))
}
