//! `refresh-session` — `POST /v1/auth/refresh` with `{"refresh_token": "ort_..."}`.
//!
//! Exchanges a refresh token for new tokens (200 [`Tokens`]), rotating it. A token of the wrong
//! shape, unknown, expired or of a closed session answers 401 `invalid_refresh_token`. A rotated
//! token presented again after the grace interval is reuse: the whole session is revoked (and
//! that revocation committed), the event is audited and published, and the answer is 401
//! `refresh_token_reused`.
//!
//! Not behind `Idempotency-Key`: a stored replay would keep a refresh token in the database.
//!
//! Env: `DATABASE_URL`, `AUTH_SIGNING_KEY`, `AUTH_SIGNING_KEY_ID`, `AUTH_SIGNING_ALG`,
//! `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`, `GOOGLE_CLOUD_PROJECT`, `PUBSUB_EMULATOR_HOST`.
//! Emits `auth.session.reuse_detected` ([`SessionReuseDetected`]).

use axum::extract::State;
use axum::http::Method;
use olympus::audit::{self, Actor, AuditEvent};
use olympus::auth::session::{self, Refresh, Tokens};
use olympus::db;
use olympus::events::identity::SessionReuseDetected;
use olympus::events::{Event, Outbox};
use olympus::http::{ClientInfo, Json};
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

pub fn function() -> Function {
    Function::http("refresh-session")
        .route(&Method::POST, "/v1/auth/refresh", refresh)
        .publishes(&[SessionReuseDetected::TYPE])
        .secrets(&[olympus::auth::SIGNING_KEY_SECRET])
        .build()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshRequest {
    refresh_token: String,
}

impl std::fmt::Debug for RefreshRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshRequest").finish_non_exhaustive()
    }
}

fn invalid_refresh_token() -> Error {
    Error::unauthorized(
        "invalid_refresh_token",
        "The refresh token is unknown, expired or revoked; sign in again.",
    )
}

fn refresh_token_reused() -> Error {
    Error::unauthorized(
        "refresh_token_reused",
        "This refresh token was already used; its session has been revoked. Sign in again.",
    )
}

async fn refresh(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(request): Json<RefreshRequest>,
) -> Result<Json<Tokens>, Error> {
    let token = request.refresh_token.trim();
    let tenant = session::refresh_token_tenant(token).ok_or_else(invalid_refresh_token)?;
    let signer = state.signer()?;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    match session::refresh(&tx, signer, token).await? {
        Refresh::Rotated(tokens) => {
            let user: Option<Uuid> = tx
                .query_opt(
                    "SELECT user_id FROM auth.sessions WHERE id = $1",
                    &[&tokens.session_id],
                )
                .await?
                .map(|row| row.get(0));
            let actor = user.map_or(Actor::Anonymous, Actor::User);
            audit::record(
                &tx,
                tenant,
                &client,
                AuditEvent::new(actor, "auth.session.refreshed")
                    .target("session", tokens.session_id),
            )
            .await?;
            tx.commit().await?;
            Ok(Json(tokens))
        }
        Refresh::ReuseDetected { session, user } => {
            audit::record(
                &tx,
                tenant,
                &client,
                AuditEvent::new(Actor::User(user), "auth.session.reuse_detected")
                    .target("session", session)
                    .details(json!({ "revoked_reason": "refresh_token_reuse" })),
            )
            .await?;
            let mut outbox = Outbox::default();
            outbox
                .record(
                    &tx,
                    Some(tenant),
                    &SessionReuseDetected {
                        session_id: session,
                        user_id: user,
                    },
                )
                .await?;
            // The revocation must stick although the answer is an error.
            tx.commit().await?;
            drop(conn);
            outbox.publish(&state).await;
            tracing::warn!(%tenant, %session, %user, "refresh token reuse: session revoked");
            Err(refresh_token_reused())
        }
    }
}
