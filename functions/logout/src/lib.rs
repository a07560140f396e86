//! `logout` — `POST /v1/auth/logout`, body optional: `{"all": true}`.
//!
//! Revokes the caller's own session (the `sid` of the access token), or with `all: true` every
//! open session of the calling user, and answers 204. The refresh tokens of a revoked session
//! stop working at once; its access tokens live out their 15 minutes. Logging out a session
//! that is already closed is still 204. A credential without a session (API keys, later) gets
//! 403 `session_required` for "this session"; `all` works for any user principal.
//!
//! Audit: `auth.logout`. Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`.
//! Emits no events.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{Method, StatusCode};
use olympus::audit::{self, Actor, AuditEvent};
use olympus::auth::Principal;
use olympus::auth::session;
use olympus::db;
use olympus::http::ClientInfo;
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use serde_json::json;

pub fn function() -> Function {
    Function::http("logout")
        .route(&Method::POST, "/v1/auth/logout", logout)
        .build()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogoutRequest {
    #[serde(default)]
    all: bool,
}

/// The optional body: empty means "this session".
fn parse_body(body: &[u8]) -> Result<LogoutRequest, Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(LogoutRequest::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            Error::bad_request("malformed_json", format!("The body is not valid JSON: {e}"))
        } else {
            Error::unprocessable("invalid_body", e.to_string())
        }
    })
}

async fn logout(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, Error> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Error::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
                .with_detail("The request body is larger than this endpoint accepts.")
        } else {
            Error::bad_request("invalid_body", rejection.body_text())
        }
    })?;
    let request = parse_body(&body)?;
    if !request.all && principal.session_id.is_none() {
        return Err(Error::forbidden(
            "session_required",
            "This credential has no session to log out of.",
        ));
    }
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let revoked = if request.all {
        session::revoke_user_sessions(&tx, principal.user_id, None, "logout_all").await?
    } else if let Some(current) = principal.session_id {
        // The token is signed, but only ever touch a session of the caller.
        let owned = tx
            .query_opt(
                "SELECT 1 FROM auth.sessions WHERE id = $1 AND user_id = $2",
                &[&current, &principal.user_id],
            )
            .await?
            .is_some();
        if owned && session::revoke_session(&tx, current, "logout").await? {
            1
        } else {
            0
        }
    } else {
        0
    };
    let mut event = AuditEvent::new(Actor::from(&principal), "auth.logout").details(json!({
        "all": request.all,
        "sessions_revoked": revoked,
    }));
    if let Some(current) = principal.session_id {
        event = event.target("session", current);
    }
    audit::record(&tx, principal.tenant_id, &client, event).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn body_is_optional_and_strict() {
        assert!(!parse_body(b"").unwrap().all);
        assert!(!parse_body(b"  \n").unwrap().all);
        assert!(!parse_body(b"{}").unwrap().all);
        assert!(parse_body(br#"{"all": true}"#).unwrap().all);
        assert_eq!(parse_body(b"{").unwrap_err().code(), "malformed_json");
        assert_eq!(
            parse_body(br#"{"everything": true}"#).unwrap_err().code(),
            "invalid_body"
        );
    }
}
