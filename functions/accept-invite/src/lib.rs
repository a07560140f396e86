//! `accept-invite` — `POST /v1/auth/invite/accept` with `{"token", "password", "name"?}`.
//!
//! Public (the token is the credential). Consumes the single-use invite token, sets the
//! password, activates the user (`invited` → `active`), marks the email verified (the link
//! reached it), optionally renames the user, and opens the first session (method `invite`):
//! 200 with the tokens, like login. A token that is malformed, unknown, expired, used,
//! superseded by a newer invite, or of a user who is no longer `invited` is 400
//! `invalid_token`; a short or long password is 422 `weak_password`; a bad name 422
//! `invalid_name`. Audit: `auth.invite.accepted`.
//!
//! Not behind `Idempotency-Key`: a stored replay would keep a refresh token in the database.
//!
//! Env: `DATABASE_URL`, `AUTH_SIGNING_KEY`, `AUTH_SIGNING_KEY_ID`, `AUTH_SIGNING_ALG`,
//! `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits no events.

use axum::extract::State;
use axum::http::Method;
use olympus::audit::{self, Actor, AuditEvent};
use olympus::auth::one_time::{self, Purpose};
use olympus::auth::password;
use olympus::auth::session::{self, Tokens};
use olympus::db;
use olympus::http::{ClientInfo, Json};
use olympus::tenants::validate;
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

pub fn function() -> Function {
    Function::http("accept-invite")
        .route(&Method::POST, "/v1/auth/invite/accept", accept)
        .secrets(&[olympus::auth::SIGNING_KEY_SECRET])
        .build()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AcceptRequest {
    token: String,
    password: String,
    #[serde(default)]
    name: Option<String>,
}

// Never print the token or the password, even in a debug log.
impl std::fmt::Debug for AcceptRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcceptRequest")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

fn invalid_token() -> Error {
    Error::bad_request(
        "invalid_token",
        "The link or code is invalid, expired or already used.",
    )
}

/// The tenant of the token and the checked optional name (pure).
fn check(request: &AcceptRequest) -> Result<(Uuid, Option<String>), Error> {
    let tenant = one_time::tenant_of(request.token.trim()).ok_or_else(invalid_token)?;
    password::validate_new_password(&request.password)?;
    let name = request
        .name
        .as_deref()
        .map(|n| validate::name("name", n))
        .transpose()?;
    Ok((tenant, name))
}

async fn accept(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(request): Json<AcceptRequest>,
) -> Result<Json<Tokens>, Error> {
    let (tenant, name) = check(&request)?;
    // Fail before the expensive hash when this deployment cannot issue tokens.
    let signer = state.signer()?;
    let token = request.token.trim().to_owned();
    let hash = password::hash(request.password).await?;

    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    let consumed = one_time::consume(&tx, &token, Purpose::Invite).await?;
    let user = consumed.user_id;
    // Only an invited user accepts; a deactivated one stays out (the rollback keeps the
    // token as it was, which changes nothing: it cannot work for them either way).
    let updated = tx
        .query_opt(
            "UPDATE auth.users
             SET password_hash = $2, status = 'active',
                 email_verified_at = coalesce(email_verified_at, now()),
                 name = coalesce($3, name), failed_logins = 0, locked_until = NULL,
                 version = version + 1, updated_at = now()
             WHERE id = $1 AND status = 'invited'
             RETURNING id",
            &[&user, &hash, &name],
        )
        .await?;
    if updated.is_none() {
        return Err(invalid_token());
    }
    let tokens = session::start(
        &tx,
        signer,
        tenant,
        user,
        session::Method::Invite,
        None,
        &client,
    )
    .await?;
    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new(Actor::User(user), "auth.invite.accepted")
            .target("user", user)
            .details(json!({
                "session_id": tokens.session_id,
                "invited_by": consumed.details.get("invited_by"),
                "renamed": name.is_some(),
            })),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(tenant_id = %tenant, user_id = %user, "invite accepted");
    Ok(Json(tokens))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn request(token: &str, password: &str, name: Option<&str>) -> AcceptRequest {
        AcceptRequest {
            token: token.to_owned(),
            password: password.to_owned(),
            name: name.map(str::to_owned),
        }
    }

    #[test]
    fn the_token_names_the_tenant_and_inputs_are_checked() {
        let tenant = Uuid::now_v7();
        let token = format!("ott_{}_{}", tenant.simple(), "x".repeat(43));
        let (t, name) = check(&request(&token, "long enough pass", Some(" Sam "))).unwrap();
        assert_eq!(t, tenant);
        assert_eq!(name.as_deref(), Some("Sam"));
        let code = |r: AcceptRequest| check(&r).unwrap_err().code().to_owned();
        assert_eq!(
            code(request("ott_nope", "long enough pass", None)),
            "invalid_token"
        );
        assert_eq!(code(request(&token, "short", None)), "weak_password");
        assert_eq!(
            code(request(&token, "long enough pass", Some(""))),
            "invalid_name"
        );
        let printed = format!("{:?}", request(&token, "long enough pass", None));
        assert!(!printed.contains("ott_") && !printed.contains("long enough"));
    }
}
