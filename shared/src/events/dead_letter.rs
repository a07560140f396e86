//! Dead letters (`events.dead_letters`): listing and replaying what Pub/Sub gave up on.
//!
//! Recording is the `on-dead-letter` function's job; replay is shared by the
//! `replay-dead-letters` endpoint and `dev replay-dead-letters`.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::envelope::Envelope;
use super::publisher::{OutgoingMessage, Publisher};
use crate::db::Pool;
use crate::error::Error;

/// Attribute prefix Pub/Sub adds when it forwards a message to a dead-letter topic.
pub const DEAD_LETTER_ATTRIBUTE_PREFIX: &str = "CloudPubSubDeadLetter";

/// One recorded dead letter, as an operator sees it.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    pub id: Uuid,
    pub message_id: String,
    pub source_subscription: Option<String>,
    pub delivery_attempts: Option<i32>,
    pub event_id: Option<Uuid>,
    pub event_type: Option<String>,
    pub tenant_id: Option<Uuid>,
    /// The message data: the envelope JSON when it parses, else the raw text (lossy).
    pub data: serde_json::Value,
    pub attributes: serde_json::Value,
    pub publish_time: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    pub replayed_at: Option<DateTime<Utc>>,
    pub replay_count: i32,
}

impl DeadLetter {
    fn from_row(row: &tokio_postgres::Row) -> Self {
        let data: Vec<u8> = row.get("data");
        let data = serde_json::from_slice(&data).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&data).into_owned())
        });
        Self {
            id: row.get("id"),
            message_id: row.get("message_id"),
            source_subscription: row.get("source_subscription"),
            delivery_attempts: row.get("delivery_attempts"),
            event_id: row.get("event_id"),
            event_type: row.get("event_type"),
            tenant_id: row.get("tenant_id"),
            data,
            attributes: row.get("attributes"),
            publish_time: row.get("publish_time"),
            received_at: row.get("received_at"),
            replayed_at: row.get("replayed_at"),
            replay_count: row.get("replay_count"),
        }
    }
}

const COLUMNS: &str = "id, message_id, source_subscription, delivery_attempts, event_id, \
    event_type, tenant_id, data, attributes, publish_time, received_at, replayed_at, replay_count";

/// Dead letters newest first; `pending_only` hides the replayed ones. `before` is the cursor
/// (the `id` of the last item of the previous page: ids are UUIDv7, so time-ordered).
pub async fn list(
    pool: &Pool,
    pending_only: bool,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<DeadLetter>, Error> {
    let client = pool.get().await?;
    let rows = client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM events.dead_letters
                 WHERE ($1 = false OR replayed_at IS NULL)
                   AND ($2::uuid IS NULL OR id < $2)
                 ORDER BY id DESC LIMIT $3"
            ),
            &[&pending_only, &before, &limit],
        )
        .await?;
    Ok(rows.iter().map(DeadLetter::from_row).collect())
}

/// What a replay did.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct ReplayReport {
    pub replayed: Vec<Uuid>,
    /// Dead letters whose data is not an envelope: there is no topic to send them back to.
    pub unreplayable: Vec<Uuid>,
    pub failed: Vec<Uuid>,
}

/// Which dead letters to replay.
#[derive(Debug, Clone)]
pub enum ReplaySelection {
    /// Every dead letter not yet replayed.
    AllPending,
    /// These ids, replayed or not.
    Ids(Vec<Uuid>),
}

/// Republishes dead letters to their event's topic and marks them replayed.
///
/// The message goes to every subscription of the topic; those that processed it before ack the
/// duplicate through their dedupe, so only the one that failed does the work again.
pub async fn replay(
    pool: &Pool,
    publisher: &Arc<dyn Publisher>,
    selection: &ReplaySelection,
    limit: i64,
) -> Result<ReplayReport, Error> {
    let client = pool.get().await?;
    let rows = match selection {
        ReplaySelection::AllPending => {
            client
                .query(
                    &format!(
                        "SELECT {COLUMNS} FROM events.dead_letters WHERE replayed_at IS NULL
                         ORDER BY id LIMIT $1"
                    ),
                    &[&limit],
                )
                .await?
        }
        ReplaySelection::Ids(ids) => {
            client
                .query(
                    &format!(
                        "SELECT {COLUMNS} FROM events.dead_letters WHERE id = ANY($1)
                         ORDER BY id LIMIT $2"
                    ),
                    &[ids, &limit],
                )
                .await?
        }
    };
    let mut report = ReplayReport::default();
    for row in &rows {
        let id: Uuid = row.get("id");
        let data: Vec<u8> = row.get("data");
        let Ok(envelope) = serde_json::from_slice::<Envelope>(&data) else {
            report.unreplayable.push(id);
            continue;
        };
        let attributes: serde_json::Value = row.get("attributes");
        let mut attributes: BTreeMap<String, String> =
            serde_json::from_value(attributes).unwrap_or_default();
        attributes.retain(|k, _| !k.starts_with(DEAD_LETTER_ATTRIBUTE_PREFIX));
        attributes.insert("replayed_from".to_owned(), id.to_string());
        match publisher
            .publish(&envelope.event_type, OutgoingMessage { data, attributes })
            .await
        {
            Ok(_) => {
                client
                    .execute(
                        "UPDATE events.dead_letters
                         SET replayed_at = now(), replay_count = replay_count + 1 WHERE id = $1",
                        &[&id],
                    )
                    .await?;
                report.replayed.push(id);
            }
            Err(error) => {
                tracing::warn!(dead_letter = %id, %error, "replay failed");
                report.failed.push(id);
            }
        }
    }
    Ok(report)
}
