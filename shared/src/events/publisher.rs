//! Publishers: Google Cloud Pub/Sub (production and the emulator), an in-process bus for local
//! development without the emulator, and a disabled one that leaves events in the outbox.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use base64::Engine as _;
use google_cloud_pubsub::client::{BasePublisher, Publisher as TopicPublisher};
use google_cloud_pubsub::model::Message;
use tokio::sync::OnceCell;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

use super::DEAD_LETTER_TOPIC;
use super::envelope::Envelope;
use crate::config::Config;

/// One message to publish: the bytes and the attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub data: Vec<u8>,
    pub attributes: BTreeMap<String, String>,
}

impl OutgoingMessage {
    /// The message carrying an envelope (JSON data, id/type/tenant attributes).
    pub fn from_envelope(envelope: &Envelope) -> Result<Self, serde_json::Error> {
        Ok(Self {
            data: serde_json::to_vec(envelope)?,
            attributes: envelope.attributes(),
        })
    }
}

/// Why a publish did not happen; the outbox keeps the event for `relay-outbox`.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("no event bus is configured (set GOOGLE_CLOUD_PROJECT)")]
    NotConfigured,
    #[error("publishing to {topic} failed: {message}")]
    Failed { topic: String, message: String },
}

/// Where events go. Implementations are cheap to share (`Arc<dyn Publisher>`).
#[async_trait]
pub trait Publisher: Send + Sync {
    /// Publishes one message and waits until the bus has accepted it; returns its message id.
    async fn publish(&self, topic: &str, message: OutgoingMessage) -> Result<String, PublishError>;

    /// Sends anything buffered; called on shutdown.
    async fn flush(&self) {}
}

/// The publisher a deployed function uses: Pub/Sub when a project is configured, otherwise a
/// disabled one (events then wait in the outbox).
pub fn from_config(config: &Config) -> Arc<dyn Publisher> {
    match &config.project_id {
        Some(project) => Arc::new(PubSubPublisher::new(
            project.clone(),
            config.pubsub_emulator_host.clone(),
        )),
        None => Arc::new(DisabledPublisher),
    }
}

/// Refuses every publish; the outbox keeps the events.
#[derive(Debug, Default)]
pub struct DisabledPublisher;

#[async_trait]
impl Publisher for DisabledPublisher {
    async fn publish(
        &self,
        _topic: &str,
        _message: OutgoingMessage,
    ) -> Result<String, PublishError> {
        Err(PublishError::NotConfigured)
    }
}

/// Google Cloud Pub/Sub through the official client. The gRPC connection is made on the first
/// publish, never at start-up.
pub struct PubSubPublisher {
    project: String,
    emulator_host: Option<String>,
    base: OnceCell<BasePublisher>,
    topics: Mutex<HashMap<String, TopicPublisher>>,
}

impl std::fmt::Debug for PubSubPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PubSubPublisher")
            .field("project", &self.project)
            .field("emulator_host", &self.emulator_host)
            .finish_non_exhaustive()
    }
}

impl PubSubPublisher {
    /// A publisher for `project`; with `emulator_host` (`host:port`) it talks plaintext to the
    /// emulator with anonymous credentials (the official crate ignores PUBSUB_EMULATOR_HOST).
    pub fn new(project: String, emulator_host: Option<String>) -> Self {
        Self {
            project,
            emulator_host,
            base: OnceCell::new(),
            topics: Mutex::new(HashMap::new()),
        }
    }

    async fn base(&self) -> Result<&BasePublisher, PublishError> {
        self.base
            .get_or_try_init(|| async {
                let mut builder = BasePublisher::builder();
                if let Some(host) = &self.emulator_host {
                    builder = builder
                        .with_endpoint(format!("http://{host}"))
                        .with_credentials(
                            google_cloud_auth::credentials::anonymous::Builder::new().build(),
                        );
                }
                builder.build().await.map_err(|e| PublishError::Failed {
                    topic: String::new(),
                    message: format!("could not create the Pub/Sub client: {e}"),
                })
            })
            .await
    }

    async fn topic_publisher(&self, topic: &str) -> Result<TopicPublisher, PublishError> {
        if let Some(existing) = self.lock_topics().get(topic) {
            return Ok(existing.clone());
        }
        let base = self.base().await?;
        let publisher = base
            .publisher(format!("projects/{}/topics/{topic}", self.project))
            // Handlers await the publish before answering (Cloud Run throttles CPU after the
            // response), so batching delay is pure latency: send at once.
            .set_delay_threshold(Duration::ZERO)
            .build();
        Ok(self
            .lock_topics()
            .entry(topic.to_owned())
            .or_insert(publisher)
            .clone())
    }

    fn lock_topics(&self) -> std::sync::MutexGuard<'_, HashMap<String, TopicPublisher>> {
        // A panic while holding this lock cannot leave the map inconsistent (insert only).
        self.topics
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl Publisher for PubSubPublisher {
    async fn publish(&self, topic: &str, message: OutgoingMessage) -> Result<String, PublishError> {
        let publisher = self.topic_publisher(topic).await?;
        publisher
            .publish(
                Message::new()
                    .set_data(message.data)
                    .set_attributes(message.attributes),
            )
            .await
            .map_err(|e| PublishError::Failed {
                topic: topic.to_owned(),
                message: e.to_string(),
            })
    }

    async fn flush(&self) {
        let publishers: Vec<TopicPublisher> = self.lock_topics().values().cloned().collect();
        for publisher in publishers {
            publisher.flush().await;
        }
    }
}

/// A subscription of the in-process bus: deliver `topic` to the router at `push_path`.
#[derive(Debug, Clone)]
pub struct InProcessSubscription {
    pub name: String,
    pub topic: String,
    pub push_path: String,
}

/// Delivers published messages to push endpoints of a router in the same process, with the
/// semantics of a Pub/Sub push subscription: 2xx acks, other answers are retried with backoff,
/// and after `max_delivery_attempts` the message goes to the dead-letter topic.
pub struct InProcessBus {
    project: String,
    subscriptions: Vec<InProcessSubscription>,
    router: OnceLock<Router>,
    max_delivery_attempts: u32,
    initial_backoff: Duration,
    tasks: TaskTracker,
    next_id: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for InProcessBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessBus")
            .field("subscriptions", &self.subscriptions)
            .finish_non_exhaustive()
    }
}

impl InProcessBus {
    pub fn new(project: &str, subscriptions: Vec<InProcessSubscription>) -> Self {
        Self {
            project: project.to_owned(),
            subscriptions,
            router: OnceLock::new(),
            max_delivery_attempts: 5,
            initial_backoff: Duration::from_millis(200),
            tasks: TaskTracker::new(),
            next_id: std::sync::atomic::AtomicU64::new(1),
        }
    }

    /// The router to deliver to; set once, after the router (whose state holds this bus) exists.
    pub fn attach(&self, router: Router) {
        let _ = self.router.set(router);
    }

    fn deliver(
        self: &Arc<Self>,
        subscription: InProcessSubscription,
        message: OutgoingMessage,
        id: String,
    ) {
        let bus = Arc::clone(self);
        self.tasks.spawn(async move {
            let Some(router) = bus.router.get().cloned() else {
                tracing::warn!(topic = %subscription.topic, "in-process bus has no router yet; message dropped");
                return;
            };
            let subscription_path = format!(
                "projects/{}/subscriptions/{}",
                bus.project, subscription.name
            );
            let mut backoff = bus.initial_backoff;
            for attempt in 1..=bus.max_delivery_attempts {
                let body = serde_json::json!({
                    "message": {
                        "data": base64::engine::general_purpose::STANDARD.encode(&message.data),
                        "attributes": message.attributes,
                        "messageId": id,
                        "publishTime": chrono::Utc::now().to_rfc3339(),
                    },
                    "subscription": subscription_path,
                    "deliveryAttempt": attempt,
                });
                let request = http::Request::post(&subscription.push_path)
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(axum::body::Body::from(body.to_string()));
                let status = match request {
                    Ok(request) => router
                        .clone()
                        .oneshot(request)
                        .await
                        .map_or(http::StatusCode::SERVICE_UNAVAILABLE, |r| r.status()),
                    Err(_) => http::StatusCode::BAD_REQUEST,
                };
                if status.is_success() {
                    return;
                }
                if attempt < bus.max_delivery_attempts {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
            if subscription.topic == DEAD_LETTER_TOPIC {
                tracing::error!(message_id = %id, "dead-letter delivery failed; message dropped");
                return;
            }
            let mut attributes = message.attributes.clone();
            attributes.insert(
                "CloudPubSubDeadLetterSourceSubscription".to_owned(),
                subscription_path,
            );
            attributes.insert(
                "CloudPubSubDeadLetterSourceDeliveryCount".to_owned(),
                bus.max_delivery_attempts.to_string(),
            );
            let dead = OutgoingMessage {
                data: message.data,
                attributes,
            };
            let _ = bus.publish_inner(DEAD_LETTER_TOPIC, &dead);
        });
    }

    fn publish_inner(self: &Arc<Self>, topic: &str, message: &OutgoingMessage) -> String {
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .to_string();
        for subscription in self.subscriptions.iter().filter(|s| s.topic == topic) {
            self.deliver(subscription.clone(), message.clone(), id.clone());
        }
        id
    }
}

/// The in-process bus as a [`Publisher`].
#[derive(Debug, Clone)]
pub struct InProcessPublisher(pub Arc<InProcessBus>);

#[async_trait]
impl Publisher for InProcessPublisher {
    async fn publish(&self, topic: &str, message: OutgoingMessage) -> Result<String, PublishError> {
        Ok(self.0.publish_inner(topic, &message))
    }

    async fn flush(&self) {
        // Wait for deliveries in flight, so a shutdown does not cut a handler short.
        self.0.tasks.close();
        self.0.tasks.wait().await;
        self.0.tasks.reopen();
    }
}

/// Records what was published; for tests that check what a handler emitted.
#[derive(Debug, Default)]
pub struct RecordingPublisher {
    published: Mutex<Vec<(String, OutgoingMessage)>>,
}

impl RecordingPublisher {
    pub fn published(&self) -> Vec<(String, OutgoingMessage)> {
        self.published
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

#[async_trait]
impl Publisher for RecordingPublisher {
    async fn publish(&self, topic: &str, message: OutgoingMessage) -> Result<String, PublishError> {
        let mut published = self
            .published
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        published.push((topic.to_owned(), message));
        Ok(published.len().to_string())
    }
}
