//! `on-dead-letter` — Pub/Sub push handler on the dead-letter topic (`olympus.dead-letter`),
//! at `POST /events/on-dead-letter`.
//!
//! Records every message Pub/Sub gave up on in `events.dead_letters`, with its source
//! subscription and delivery count, so an operator can inspect it
//! (`GET /v1/admin/dead-letters`) and replay it (`POST /v1/admin/dead-letters/replay` or
//! `dev replay-dead-letters`). The data need not be an envelope: whatever arrived is kept.
//!
//! Env: `DATABASE_URL`. Emits no events.

use olympus::Function;
use olympus::events::DEAD_LETTER_TOPIC;
use olympus::events::push::{EventContext, EventError, Identified, PushHandler, PushMessage};
use uuid::Uuid;

pub fn function() -> Function {
    Function::event("on-dead-letter", RecordDeadLetter)
}

struct RecordDeadLetter;

/// Where Pub/Sub says the message came from (attributes it adds when dead-lettering).
const SOURCE_SUBSCRIPTION: &str = "CloudPubSubDeadLetterSourceSubscription";
const SOURCE_PROJECT: &str = "CloudPubSubDeadLetterSourceSubscriptionProject";
const SOURCE_DELIVERY_COUNT: &str = "CloudPubSubDeadLetterSourceDeliveryCount";

/// The source subscription's full path: Pub/Sub gives its short id and project separately.
fn source_subscription(message: &PushMessage) -> Option<String> {
    let name = message.attributes.get(SOURCE_SUBSCRIPTION)?;
    if name.contains('/') {
        return Some(name.clone());
    }
    let project = message
        .attributes
        .get(SOURCE_PROJECT)
        .cloned()
        .or_else(|| {
            // Same project as this (dead-letter) subscription: projects/P/subscriptions/S.
            message.subscription.split('/').nth(1).map(str::to_owned)
        })?;
    Some(format!("projects/{project}/subscriptions/{name}"))
}

impl PushHandler for RecordDeadLetter {
    type Decoded = ();

    fn topic(&self) -> &str {
        DEAD_LETTER_TOPIC
    }

    fn identify(&self, message: &PushMessage) -> Result<Identified<()>, EventError> {
        // Keyed by message id: each dead-lettering is its own record, even of one event.
        Ok(Identified {
            key: message.message_id.clone(),
            tenant_id: None,
            decoded: (),
        })
    }

    async fn handle(&self, ctx: &mut EventContext<'_>, (): ()) -> Result<(), EventError> {
        let message = ctx.message;
        let envelope = message.envelope().ok();
        let delivery_attempts: Option<i32> = message
            .attributes
            .get(SOURCE_DELIVERY_COUNT)
            .and_then(|c| c.parse().ok())
            .or_else(|| message.delivery_attempt.and_then(|a| i32::try_from(a).ok()));
        let source = source_subscription(message);
        let attributes = serde_json::to_value(&message.attributes)
            .map_err(|e| EventError::permanent(e.to_string()))?;
        ctx.tx
            .execute(
                "INSERT INTO events.dead_letters
                     (id, message_id, source_subscription, delivery_attempts, event_id,
                      event_type, tenant_id, data, attributes, publish_time)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                 ON CONFLICT (message_id) DO NOTHING",
                &[
                    &Uuid::now_v7(),
                    &message.message_id,
                    &source,
                    &delivery_attempts,
                    &envelope.as_ref().map(|e| e.id),
                    &envelope.as_ref().map(|e| e.event_type.clone()),
                    &envelope.as_ref().and_then(|e| e.tenant_id),
                    &message.data,
                    &attributes,
                    &message.publish_time,
                ],
            )
            .await?;
        tracing::warn!(
            message_id = %message.message_id,
            source = source.as_deref().unwrap_or("unknown"),
            event_type = envelope.as_ref().map_or("unknown", |e| e.event_type.as_str()),
            "dead letter recorded"
        );
        Ok(())
    }
}
