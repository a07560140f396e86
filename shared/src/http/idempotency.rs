//! `Idempotency-Key` (DESIGN.md, HTTP conventions).
//!
//! Same key and same request: the stored response is replayed with `Idempotent-Replayed: true`.
//! Same key, another request: 422 `idempotency_key_reused`. A retry while the first is still
//! running: 409 `idempotency_request_in_progress`. Keys live 72 hours, scoped per tenant and
//! principal (unauthenticated requests share the public scope of their route).
//!
//! The record is claimed in its own short transaction before the handler runs and completed in
//! another after it: the handler's own transaction commits independently, so a crash between
//! the two leaves a `running` record whose lock expires and lets a retry run again. A 5xx answer
//! deletes the record so the client may retry at once.
//!
//! A handler whose work is one transaction can do better: it takes the [`Claimed`] record and
//! stores its answer inside that transaction ([`Claimed::store`]). The answer then commits
//! with the work — no window in which done work has no answer to replay — and the request
//! saves the completing transaction.

use std::sync::{Arc, OnceLock};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use crate::auth::Principal;
use crate::auth::api_keys::principal_from_request;
use crate::db::Prepared as _;
use crate::db::{self, PUBLIC_TENANT};
use crate::error::Error;
use crate::state::AppState;

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// How long a `running` record blocks retries before a crashed first attempt is presumed dead.
const LOCK_SECONDS: f64 = 60.0;

/// Whether a route requires the header or merely honours it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Order and payment creation: a request without a key is refused with 400.
    Required,
    /// Every other mutating POST: honoured when sent.
    Optional,
}

/// Response headers worth replaying (others, like Date or request ids, belong to the new reply).
const STORED_HEADERS: [HeaderName; 4] = [
    header::CONTENT_TYPE,
    header::LOCATION,
    header::ETAG,
    header::CACHE_CONTROL,
];

/// The middleware; mount it on a route with [`crate::function::HttpFunction::idempotent_route`].
pub async fn middleware(mode: Idempotency, request: Request, next: Next) -> Response {
    match handle(mode, request, next).await {
        Ok(response) | Err(response) => response,
    }
}

async fn handle(mode: Idempotency, request: Request, next: Next) -> Result<Response, Response> {
    let key = match request.headers().get(&IDEMPOTENCY_KEY) {
        Some(value) => Some(parse_key(value).map_err(IntoResponse::into_response)?),
        None if mode == Idempotency::Required => {
            return Err(Error::bad_request(
                "idempotency_key_required",
                "This endpoint requires an Idempotency-Key header (a unique value per operation, e.g. a UUID).",
            )
            .into_response());
        }
        None => None,
    };
    let Some(key) = key else {
        return Ok(next.run(request).await);
    };
    let state = request
        .extensions()
        .get::<AppState>()
        .cloned()
        .ok_or_else(|| {
            Error::internal(std::io::Error::other(
                "AppState missing from request extensions",
            ))
            .into_response()
        })?;

    // Authenticate once here; the handler's Principal extractor reuses the result.
    let principal = principal_from_request(&state, request.headers())
        .await
        .map_err(IntoResponse::into_response)?;
    let (tenant, scope) = scope_of(principal.as_ref(), &request);

    let (mut parts, body) = request.into_parts();
    if let Some(principal) = principal {
        parts.extensions.insert(principal);
    }
    let limit = parts
        .extensions
        .get::<super::BodyLimit>()
        .map_or(state.config().max_body_bytes, |limit| limit.0);
    let bytes = http_body_util::Limited::new(body, limit)
        .collect()
        .await
        .map_err(|_| super::payload_too_large().into_response())?
        .to_bytes();
    let fingerprint = fingerprint(&parts.method, &parts.uri, &bytes);

    match claim(&state, tenant, &scope, &key, &fingerprint)
        .await
        .map_err(IntoResponse::into_response)?
    {
        Claim::Replay(response) => return Ok(response),
        Claim::Proceed => {}
    }
    let claimed = Claimed {
        tenant,
        scope: scope.clone(),
        key: key.clone(),
        stored: Arc::new(OnceLock::new()),
    };
    parts.extensions.insert(claimed.clone());

    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let (parts, body) = response.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            release(&state, tenant, &scope, &key).await;
            return Err(Error::internal(std::io::Error::other(e.to_string())).into_response());
        }
    };
    if claimed.stored.get() == Some(&parts.status) {
        // Stored by the handler in its own, committed, transaction.
    } else if should_store(parts.status) {
        if let Err(e) = complete(
            &state,
            tenant,
            &scope,
            &key,
            parts.status,
            &parts.headers,
            &body,
        )
        .await
        {
            tracing::warn!(error = %e, "could not store the idempotent response");
        }
    } else {
        release(&state, tenant, &scope, &key).await;
    }
    Ok(Response::from_parts(parts, Body::from(body)))
}

fn parse_key(value: &HeaderValue) -> Result<String, Error> {
    let key = value.to_str().unwrap_or_default().trim();
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::bad_request(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 255 visible ASCII characters.",
        ));
    }
    Ok(key.to_owned())
}

fn scope_of(principal: Option<&Principal>, request: &Request) -> (Uuid, String) {
    match principal {
        Some(p) => (p.tenant_id, format!("user:{}", p.user_id)),
        None => (PUBLIC_TENANT, format!("public:{}", request.uri().path())),
    }
}

fn fingerprint(method: &axum::http::Method, uri: &axum::http::Uri, body: &Bytes) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(method.as_str().as_bytes());
    hasher.update(b"\n");
    hasher.update(uri.path_and_query().map_or("", |pq| pq.as_str()).as_bytes());
    hasher.update(b"\n");
    hasher.update(body);
    hasher.finalize().to_vec()
}

/// Conflicts, rate limits and timeouts say nothing final about the operation: not stored.
fn should_store(status: StatusCode) -> bool {
    !(status.is_server_error()
        || status == StatusCode::CONFLICT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::UNAUTHORIZED)
}

enum Claim {
    Proceed,
    Replay(Response),
}

async fn claim(
    state: &AppState,
    tenant: Uuid,
    scope: &str,
    key: &str,
    fingerprint: &[u8],
) -> Result<Claim, Error> {
    let mut client = state.db()?.get().await?;
    // The common case (a new key) is one round trip; only a key seen before needs the
    // locking read below. The claim commits without waiting for its WAL flush: a claim lost
    // in a crash is one whose work did not commit either (that commit would have flushed it),
    // and a retry then simply runs.
    let fresh: [&(dyn ToSql + Sync); 5] = [&tenant, &scope, &key, &fingerprint, &LOCK_SECONDS];
    let inserted = db::tenant_batch(
        &client,
        "BEGIN; SET LOCAL synchronous_commit TO off",
        tenant,
        &[(
            "INSERT INTO platform.idempotency_keys
                 (tenant_id, scope, key, request_hash, state, locked_until)
             VALUES ($1, $2, $3, $4, 'running', now() + make_interval(secs => $5))
             ON CONFLICT (tenant_id, scope, key) DO NOTHING
             RETURNING 1",
            &fresh,
        )],
    )
    .await?;
    if inserted.first().is_some_and(|rows| !rows.is_empty()) {
        return Ok(Claim::Proceed);
    }
    let tx = db::tenant_tx(&mut client, tenant).await?;
    let row = tx
        .query_one_cached(
            "SELECT request_hash, state, locked_until > now() AS locked, expires_at <= now() AS expired,
                    response_status, response_headers, response_body
             FROM platform.idempotency_keys
             WHERE tenant_id = $1 AND scope = $2 AND key = $3
             FOR UPDATE",
            &[&tenant, &scope, &key],
        )
        .await?;
    let expired: bool = row.get("expired");
    let stored_hash: Vec<u8> = row.get("request_hash");
    let record_state: String = row.get("state");
    let locked: Option<bool> = row.get("locked");
    if expired || (record_state == "running" && locked != Some(true) && stored_hash == fingerprint)
    {
        // An expired key is a new key; a running record whose lock lapsed is a crashed attempt.
        tx.execute_cached(
            "UPDATE platform.idempotency_keys
             SET request_hash = $4, state = 'running',
                 locked_until = now() + make_interval(secs => $5),
                 response_status = NULL, response_headers = NULL, response_body = NULL,
                 created_at = CASE WHEN expires_at <= now() THEN now() ELSE created_at END,
                 expires_at = CASE WHEN expires_at <= now() THEN now() + interval '72 hours'
                                   ELSE expires_at END
             WHERE tenant_id = $1 AND scope = $2 AND key = $3",
            &[&tenant, &scope, &key, &fingerprint, &LOCK_SECONDS],
        )
        .await?;
        tx.commit().await?;
        return Ok(Claim::Proceed);
    }
    tx.commit().await?;
    if stored_hash != fingerprint {
        return Err(Error::unprocessable(
            "idempotency_key_reused",
            "This Idempotency-Key was used with a different request; use a new key for a new operation.",
        ));
    }
    if record_state == "running" {
        return Err(Error::conflict(
            "idempotency_request_in_progress",
            "A request with this Idempotency-Key is still being processed; retry shortly.",
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from_static("1")));
    }
    Ok(Claim::Replay(replay(&row)))
}

fn replay(row: &tokio_postgres::Row) -> Response {
    let status: Option<i16> = row.get("response_status");
    let headers: Option<serde_json::Value> = row.get("response_headers");
    let body: Option<Vec<u8>> = row.get("response_body");
    let status = status
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let mut response = Response::new(Body::from(body.unwrap_or_default()));
    *response.status_mut() = status;
    if let Some(serde_json::Value::Object(map)) = headers {
        for (name, value) in map {
            if let (Ok(name), Some(Ok(value))) = (
                HeaderName::from_bytes(name.as_bytes()),
                value.as_str().map(HeaderValue::from_str),
            ) {
                response.headers_mut().insert(name, value);
            }
        }
    }
    response
        .headers_mut()
        .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    response
}

/// Marks the record completed with the answer to replay.
const COMPLETE: &str = "UPDATE platform.idempotency_keys
     SET state = 'completed', locked_until = NULL,
         response_status = $4, response_headers = $5, response_body = $6
     WHERE tenant_id = $1 AND scope = $2 AND key = $3";

/// The replayable part of a response: its status and [`STORED_HEADERS`].
fn stored_parts(status: StatusCode, headers: &HeaderMap) -> (i16, serde_json::Value) {
    let stored: serde_json::Map<String, serde_json::Value> = STORED_HEADERS
        .iter()
        .filter_map(|name| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| (name.as_str().to_owned(), serde_json::Value::from(v)))
        })
        .collect();
    (
        i16::try_from(status.as_u16()).unwrap_or(500),
        serde_json::Value::Object(stored),
    )
}

async fn complete(
    state: &AppState,
    tenant: Uuid,
    scope: &str,
    key: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(), Error> {
    let (status, stored) = stored_parts(status, headers);
    let client = state.db()?.get().await?;
    let body = body.as_ref();
    let params: [&(dyn ToSql + Sync); 6] = [&tenant, &scope, &key, &status, &stored, &body];
    db::tenant_batch(&client, "BEGIN", tenant, &[(COMPLETE, &params)]).await?;
    Ok(())
}

/// The idempotency record claimed for the request being handled (a request extension; a
/// handler takes it as `Option<Claimed>`, `None` when the request has no key).
#[derive(Debug, Clone)]
pub struct Claimed {
    tenant: Uuid,
    scope: String,
    key: String,
    /// The status the handler stored, which the middleware then does not store again.
    stored: Arc<OnceLock<StatusCode>>,
}

impl Claimed {
    /// Stores the answer `status`, `headers`, `body` inside `tx`, the handler's own tenant
    /// transaction, which must then commit and return exactly this answer. If it does not
    /// commit, the handler's error (a 5xx) tells the middleware to release the claim.
    pub async fn store(
        &self,
        tx: &db::Transaction<'_>,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), Error> {
        let (code, stored) = stored_parts(status, headers);
        tx.execute_cached(
            COMPLETE,
            &[&self.tenant, &self.scope, &self.key, &code, &stored, &body],
        )
        .await?;
        let _ = self.stored.set(status);
        Ok(())
    }
}

impl<S: Send + Sync> axum::extract::OptionalFromRequestParts<S> for Claimed {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Self>().cloned())
    }
}

/// Forgets a claim whose outcome is not final, so the client can retry with the same key.
async fn release(state: &AppState, tenant: Uuid, scope: &str, key: &str) {
    let result = async {
        let client = state.db()?.get().await?;
        let params: [&(dyn ToSql + Sync); 3] = [&tenant, &scope, &key];
        db::tenant_batch(
            &client,
            "BEGIN",
            tenant,
            &[(
                "DELETE FROM platform.idempotency_keys
                 WHERE tenant_id = $1 AND scope = $2 AND key = $3 AND state = 'running'",
                &params,
            )],
        )
        .await?;
        Ok::<_, Error>(())
    }
    .await;
    if let Err(e) = result {
        // The lock expires on its own; the client waits at most LOCK_SECONDS.
        tracing::warn!(error = %e, "could not release an idempotency claim");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_validated() {
        assert!(parse_key(&HeaderValue::from_static("a1b2-c3")).is_ok());
        assert!(parse_key(&HeaderValue::from_static("")).is_err());
        assert!(parse_key(&HeaderValue::from_static("has space")).is_err());
        let long = "k".repeat(256);
        assert!(parse_key(&HeaderValue::from_str(&long).unwrap()).is_err());
    }

    #[test]
    fn fingerprint_depends_on_method_path_and_body() {
        let uri: axum::http::Uri = "/v1/orders".parse().unwrap();
        let a = fingerprint(&axum::http::Method::POST, &uri, &Bytes::from_static(b"{}"));
        let b = fingerprint(&axum::http::Method::POST, &uri, &Bytes::from_static(b"{ }"));
        let c = fingerprint(&axum::http::Method::PUT, &uri, &Bytes::from_static(b"{}"));
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            a,
            fingerprint(&axum::http::Method::POST, &uri, &Bytes::from_static(b"{}"))
        );
    }

    #[test]
    fn only_final_outcomes_are_stored() {
        assert!(should_store(StatusCode::CREATED));
        assert!(should_store(StatusCode::UNPROCESSABLE_ENTITY));
        assert!(!should_store(StatusCode::INTERNAL_SERVER_ERROR));
        assert!(!should_store(StatusCode::CONFLICT));
    }
}
