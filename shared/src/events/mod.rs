//! The event backbone: the envelope every event travels in, the transactional outbox, the
//! publishers (Google Cloud Pub/Sub or in-process) and the push-endpoint adapter with dedupe.
//!
//! Delivery is at least once. A change that others must hear about writes an outbox row in its
//! own transaction; after commit the row is published and marked; `relay-outbox` publishes
//! whatever a crash left behind. Consumers dedupe on (subscription, event id).

pub mod catalog;
pub mod customers;
pub mod dead_letter;
pub mod envelope;
pub mod identity;
pub mod kitchen;
pub mod outbox;
pub mod publisher;
pub mod push;
pub mod sales;

pub use envelope::{Envelope, Event};
pub use outbox::Outbox;
pub use publisher::{OutgoingMessage, PublishError, Publisher};
pub use push::{EventContext, EventError, EventHandler, PushMessage};

/// The topic Pub/Sub forwards undeliverable messages to.
pub const DEAD_LETTER_TOPIC: &str = "olympus.dead-letter";
