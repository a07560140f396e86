//! The envelope: `{id, timestamp, tenant_id, event_type, payload, trace}`.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// A typed event: producer and consumers share this one definition.
pub trait Event: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// `module.entity.action`, e.g. `sales.order.paid`; also the Pub/Sub topic name.
    const TYPE: &'static str;
}

/// The wire form of every event, JSON in the Pub/Sub message data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// UUIDv7: unique and time-ordered; the dedupe key of consumers.
    pub id: Uuid,
    pub timestamp: DateTime<Utc>,
    /// The tenant the event belongs to; `None` only for platform-level events.
    pub tenant_id: Option<Uuid>,
    pub event_type: String,
    pub payload: Value,
    /// W3C `traceparent` of the request that caused the event, to correlate logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
}

impl Envelope {
    /// Wraps a typed event for `tenant`.
    pub fn new<E: Event>(tenant_id: Option<Uuid>, event: &E) -> Result<Self, serde_json::Error> {
        Ok(Self {
            id: Uuid::now_v7(),
            timestamp: Utc::now(),
            tenant_id,
            event_type: E::TYPE.to_owned(),
            payload: serde_json::to_value(event)?,
            trace: None,
        })
    }

    #[must_use]
    pub fn with_trace(mut self, traceparent: Option<String>) -> Self {
        self.trace = traceparent;
        self
    }

    /// The payload as its typed event, checking the type matches.
    pub fn decode<E: Event>(&self) -> Result<E, String> {
        if self.event_type != E::TYPE {
            return Err(format!(
                "event type {} where {} was expected",
                self.event_type,
                E::TYPE
            ));
        }
        serde_json::from_value(self.payload.clone()).map_err(|e| e.to_string())
    }

    /// Message attributes, so subscriptions can filter without decoding data.
    pub fn attributes(&self) -> std::collections::BTreeMap<String, String> {
        let mut attributes = std::collections::BTreeMap::new();
        attributes.insert("event_id".to_owned(), self.id.to_string());
        attributes.insert("event_type".to_owned(), self.event_type.clone());
        if let Some(tenant) = self.tenant_id {
            attributes.insert("tenant_id".to_owned(), tenant.to_string());
        }
        attributes
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Pinged {
        n: u32,
    }
    impl Event for Pinged {
        const TYPE: &'static str = "test.ping.sent";
    }

    #[test]
    fn round_trips_and_checks_type() {
        let tenant = Uuid::now_v7();
        let envelope = Envelope::new(Some(tenant), &Pinged { n: 7 }).unwrap();
        let json = serde_json::to_string(&envelope).unwrap();
        let back: Envelope = serde_json::from_str(&json).unwrap();
        assert_eq!(back, envelope);
        assert_eq!(back.decode::<Pinged>().unwrap(), Pinged { n: 7 });
        assert_eq!(envelope.id.get_version_num(), 7);
        assert_eq!(envelope.attributes()["tenant_id"], tenant.to_string());
        let mut wrong = back;
        wrong.event_type = "other.thing.done".into();
        assert!(wrong.decode::<Pinged>().is_err());
    }
}
