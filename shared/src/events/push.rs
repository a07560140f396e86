//! The Pub/Sub push endpoint adapter.
//!
//! Decodes the push body, dedupes on (subscription, event id) in `events.processed` inside the
//! handler's own transaction (so the effect and the mark commit together, and a concurrent
//! duplicate waits on the row lock and then skips), and maps the outcome to what Pub/Sub
//! understands: 2xx acks, 503 is retried with backoff, 400 is a message that can never be
//! processed and goes to the dead-letter topic once the delivery attempts are spent.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::envelope::{Envelope, Event};
use super::outbox::Outbox;
use crate::db::{self, Transaction};
use crate::error::Error;
use crate::state::AppState;

/// A decoded push delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushMessage {
    pub data: Vec<u8>,
    pub attributes: BTreeMap<String, String>,
    pub message_id: String,
    pub publish_time: Option<DateTime<Utc>>,
    /// `projects/P/subscriptions/S`.
    pub subscription: String,
    /// Present on the real service when a dead-letter policy is set; the emulator omits it.
    pub delivery_attempt: Option<u32>,
}

#[derive(Deserialize)]
struct PushBody {
    message: PushBodyMessage,
    subscription: String,
    #[serde(default, rename = "deliveryAttempt")]
    delivery_attempt: Option<u32>,
}

/// The message of a push body. Pub/Sub sends both camelCase and snake_case names of the id and
/// publish time (the emulator too), so both are read as separate fields: serde aliases would
/// reject the body as a duplicate field.
#[derive(Deserialize)]
struct PushBodyMessage {
    #[serde(default)]
    data: Option<String>,
    #[serde(default)]
    attributes: Option<BTreeMap<String, String>>,
    #[serde(default, rename = "messageId")]
    message_id_camel: Option<String>,
    #[serde(default, rename = "message_id")]
    message_id_snake: Option<String>,
    #[serde(default, rename = "publishTime")]
    publish_time_camel: Option<DateTime<Utc>>,
    #[serde(default, rename = "publish_time")]
    publish_time_snake: Option<DateTime<Utc>>,
}

impl PushMessage {
    /// Decodes a push request body.
    pub fn decode(body: &[u8]) -> Result<Self, String> {
        let body: PushBody =
            serde_json::from_slice(body).map_err(|e| format!("not a Pub/Sub push body: {e}"))?;
        let data = match &body.message.data {
            Some(encoded) => base64::engine::general_purpose::STANDARD
                .decode(encoded.as_bytes())
                .map_err(|e| format!("message.data is not base64: {e}"))?,
            None => Vec::new(),
        };
        let message = body.message;
        let message_id = message
            .message_id_camel
            .or(message.message_id_snake)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| "message.messageId is missing".to_owned())?;
        Ok(Self {
            data,
            attributes: message.attributes.unwrap_or_default(),
            message_id,
            publish_time: message.publish_time_camel.or(message.publish_time_snake),
            subscription: body.subscription,
            delivery_attempt: body.delivery_attempt,
        })
    }

    /// The data as an envelope.
    pub fn envelope(&self) -> Result<Envelope, String> {
        serde_json::from_slice(&self.data)
            .map_err(|e| format!("data is not an event envelope: {e}"))
    }
}

/// How a delivery failed.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// Transient (database down, dependency timeout): answer 503 so Pub/Sub retries.
    #[error("retryable: {0}")]
    Retry(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The message can never be processed (malformed, refers to nothing): answer 400, so it
    /// ends in the dead-letter topic.
    #[error("permanent: {0}")]
    Permanent(String),
}

impl EventError {
    pub fn permanent(reason: impl Into<String>) -> Self {
        Self::Permanent(reason.into())
    }
}

impl From<Error> for EventError {
    fn from(err: Error) -> Self {
        if err.status().is_server_error() {
            Self::Retry(Box::new(err))
        } else {
            Self::Permanent(err.to_string())
        }
    }
}

impl From<tokio_postgres::Error> for EventError {
    fn from(err: tokio_postgres::Error) -> Self {
        Error::from(err).into()
    }
}

/// What a handler gets besides the message: its transaction (tenant-scoped when the message
/// names a tenant) and an outbox for follow-up events, published after commit.
pub struct EventContext<'a> {
    pub state: &'a AppState,
    pub tx: Transaction<'a>,
    pub outbox: Outbox,
    pub message: &'a PushMessage,
}

impl std::fmt::Debug for EventContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventContext")
            .field("message_id", &self.message.message_id)
            .field("subscription", &self.message.subscription)
            .finish_non_exhaustive()
    }
}

/// The identity of a delivery, decided before any work.
#[derive(Debug, Clone)]
pub struct Identified<T> {
    /// Dedupe key within the subscription (the event id for envelopes).
    pub key: String,
    /// Tenant to scope the transaction to.
    pub tenant_id: Option<Uuid>,
    pub decoded: T,
}

/// Anything that can sit behind a push endpoint.
pub trait PushHandler: Send + Sync + 'static {
    type Decoded: Send + Sync;

    /// The topic the function subscribes to.
    fn topic(&self) -> &str;

    /// Decodes the message; an error is permanent (the data will never decode).
    fn identify(&self, message: &PushMessage) -> Result<Identified<Self::Decoded>, EventError>;

    fn handle(
        &self,
        ctx: &mut EventContext<'_>,
        decoded: Self::Decoded,
    ) -> impl Future<Output = Result<(), EventError>> + Send;
}

/// A handler of one typed event: the usual kind of event function.
pub trait EventHandler: Send + Sync + 'static {
    type Event: Event;

    fn handle(
        &self,
        ctx: &mut EventContext<'_>,
        envelope: &Envelope,
        event: Self::Event,
    ) -> impl Future<Output = Result<(), EventError>> + Send;
}

/// Adapts an [`EventHandler`] to a [`PushHandler`]: decodes the envelope and its payload, and
/// dedupes on the event id (stable across republishing by the relay, unlike the message id).
#[derive(Debug)]
pub struct Typed<H>(pub H);

impl<H: EventHandler> PushHandler for Typed<H> {
    type Decoded = (Envelope, H::Event);

    fn topic(&self) -> &str {
        H::Event::TYPE
    }

    fn identify(&self, message: &PushMessage) -> Result<Identified<Self::Decoded>, EventError> {
        let envelope = message.envelope().map_err(EventError::Permanent)?;
        let event = envelope
            .decode::<H::Event>()
            .map_err(EventError::Permanent)?;
        Ok(Identified {
            key: envelope.id.to_string(),
            tenant_id: envelope.tenant_id,
            decoded: (envelope, event),
        })
    }

    async fn handle(
        &self,
        ctx: &mut EventContext<'_>,
        (envelope, event): Self::Decoded,
    ) -> Result<(), EventError> {
        self.0.handle(ctx, &envelope, event).await
    }
}

/// The axum handler of a push endpoint.
pub fn endpoint<H: PushHandler>(
    handler: H,
) -> impl Fn(State<AppState>, Bytes) -> futures::future::BoxFuture<'static, Response>
+ Clone
+ Send
+ Sync
+ 'static {
    let handler = Arc::new(handler);
    move |State(state): State<AppState>, body: Bytes| {
        let handler = Arc::clone(&handler);
        Box::pin(async move {
            deliver(handler.as_ref(), &state, &body)
                .await
                .into_response()
        })
    }
}

/// The outcome of one delivery.
#[derive(Debug)]
pub enum Delivery {
    Processed,
    Duplicate,
    Failed(EventError),
}

impl IntoResponse for Delivery {
    fn into_response(self) -> Response {
        match self {
            Self::Processed | Self::Duplicate => StatusCode::NO_CONTENT.into_response(),
            Self::Failed(EventError::Retry(cause)) => Error::unavailable(cause).into_response(),
            Self::Failed(EventError::Permanent(reason)) => {
                Error::bad_request("event_rejected", reason).into_response()
            }
        }
    }
}

/// Decodes, dedupes and runs one push delivery.
pub async fn deliver<H: PushHandler>(handler: &H, state: &AppState, body: &[u8]) -> Delivery {
    let message = match PushMessage::decode(body) {
        Ok(message) => message,
        Err(reason) => return failed(None, EventError::Permanent(reason)),
    };
    let identified = match handler.identify(&message) {
        Ok(identified) => identified,
        Err(err) => return failed(Some(&message), err),
    };
    match run(handler, state, &message, identified).await {
        Ok(outcome) => outcome,
        Err(err) => failed(Some(&message), err),
    }
}

async fn run<H: PushHandler>(
    handler: &H,
    state: &AppState,
    message: &PushMessage,
    identified: Identified<H::Decoded>,
) -> Result<Delivery, EventError> {
    let pool = state.db()?;
    let mut client = pool.get().await.map_err(Error::from)?;
    let tx = match identified.tenant_id {
        Some(tenant) => db::tenant_tx(&mut client, tenant).await?,
        None => client.transaction().await?,
    };
    // A concurrent duplicate blocks here on the unique key until the first commits (then it
    // inserts nothing and acks) or rolls back (then it does the work).
    let inserted = tx
        .execute(
            "INSERT INTO events.processed (subscription, event_id) VALUES ($1, $2)
             ON CONFLICT DO NOTHING",
            &[&message.subscription, &identified.key],
        )
        .await?;
    if inserted == 0 {
        tracing::debug!(
            subscription = %message.subscription,
            key = %identified.key,
            "duplicate delivery acknowledged"
        );
        return Ok(Delivery::Duplicate);
    }
    let mut ctx = EventContext {
        state,
        tx,
        outbox: Outbox::default(),
        message,
    };
    handler.handle(&mut ctx, identified.decoded).await?;
    let EventContext { tx, outbox, .. } = ctx;
    tx.commit().await?;
    outbox.publish(state).await;
    Ok(Delivery::Processed)
}

fn failed(message: Option<&PushMessage>, err: EventError) -> Delivery {
    let message_id = message.map(|m| m.message_id.as_str()).unwrap_or_default();
    let subscription = message.map(|m| m.subscription.as_str()).unwrap_or_default();
    match &err {
        EventError::Retry(cause) => tracing::warn!(
            message_id,
            subscription,
            error = %cause,
            "event delivery failed; Pub/Sub will retry"
        ),
        EventError::Permanent(reason) => tracing::warn!(
            message_id,
            subscription,
            reason = %reason,
            "event rejected permanently; it will be dead-lettered"
        ),
    }
    Delivery::Failed(err)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_push_body() {
        let body = serde_json::json!({
            "message": {
                "data": base64::engine::general_purpose::STANDARD.encode(b"{\"a\":1}"),
                "attributes": {"event_type": "x.y.z"},
                "messageId": "42",
                "publishTime": "2026-11-24T03:00:00.123Z"
            },
            "subscription": "projects/p/subscriptions/s",
            "deliveryAttempt": 3
        });
        let message = PushMessage::decode(body.to_string().as_bytes()).unwrap();
        assert_eq!(message.data, b"{\"a\":1}");
        assert_eq!(message.attributes["event_type"], "x.y.z");
        assert_eq!(message.message_id, "42");
        assert_eq!(message.subscription, "projects/p/subscriptions/s");
        assert_eq!(message.delivery_attempt, Some(3));
        assert!(message.publish_time.is_some());
    }

    #[test]
    fn accepts_the_emulators_doubled_field_names() {
        let body = r#"{"subscription":"projects/p/subscriptions/s","message":{"publishTime":"2026-11-24T03:40:35.026Z","data":"aGVsbG8=","publish_time":"2026-11-24T03:40:35.026Z","messageId":"1","attributes":{"a":"b"},"message_id":"1"}}"#;
        let message = PushMessage::decode(body.as_bytes()).unwrap();
        assert_eq!(message.message_id, "1");
        assert_eq!(message.data, b"hello");
        assert!(message.publish_time.is_some());
    }

    #[test]
    fn rejects_bad_base64_and_bad_shape() {
        let body = r#"{"message":{"data":"!!!","messageId":"1"},"subscription":"s"}"#;
        assert!(
            PushMessage::decode(body.as_bytes())
                .unwrap_err()
                .contains("base64")
        );
        assert!(PushMessage::decode(b"{}").is_err());
    }

    #[test]
    fn server_errors_retry_and_client_errors_are_permanent() {
        let retry: EventError = Error::unavailable(std::io::Error::other("db down")).into();
        assert!(matches!(retry, EventError::Retry(_)));
        let permanent: EventError = Error::not_found("no such order").into();
        assert!(matches!(permanent, EventError::Permanent(_)));
    }
}
