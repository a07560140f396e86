//! Topics and push subscriptions on the Pub/Sub emulator, through its REST API, from the same
//! topology Terraform provisions in production.

use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use olympus::events::DEAD_LETTER_TOPIC;
use serde_json::json;

use crate::topology::Topology;

/// How the local subscriptions retry (short, so a failing handler dead-letters in seconds).
#[derive(Debug, Clone, Copy)]
pub struct RetrySettings {
    pub minimum_backoff: Duration,
    pub maximum_backoff: Duration,
    /// Pub/Sub's minimum is 5.
    pub max_delivery_attempts: u32,
}

impl Default for RetrySettings {
    fn default() -> Self {
        Self {
            minimum_backoff: Duration::from_millis(100),
            maximum_backoff: Duration::from_secs(1),
            max_delivery_attempts: 5,
        }
    }
}

/// An admin client of the emulator for one project.
#[derive(Debug, Clone)]
pub struct EmulatorAdmin {
    http: reqwest::Client,
    base: String,
    project: String,
}

fn duration(d: Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}

impl EmulatorAdmin {
    pub fn new(emulator_host: &str, project: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: format!("http://{emulator_host}/v1/projects/{project}"),
            project: project.to_owned(),
        }
    }

    pub fn topic_path(&self, topic: &str) -> String {
        format!("projects/{}/topics/{topic}", self.project)
    }

    pub fn subscription_path(&self, subscription: &str) -> String {
        format!("projects/{}/subscriptions/{subscription}", self.project)
    }

    /// Creates a topic (an existing one is fine).
    pub async fn create_topic(&self, topic: &str) -> Result<()> {
        let response = self
            .http
            .put(format!("{}/topics/{topic}", self.base))
            .json(&json!({}))
            .send()
            .await
            .with_context(|| format!("cannot reach the emulator to create topic {topic}"))?;
        if !(response.status().is_success() || response.status() == reqwest::StatusCode::CONFLICT) {
            bail!(
                "creating topic {topic} failed: {} {}",
                response.status(),
                response.text().await.unwrap_or_default()
            );
        }
        Ok(())
    }

    /// Creates (or replaces) a push subscription of `topic` delivering to `endpoint`, with the
    /// dead-letter policy unless the topic is the dead-letter topic itself.
    pub async fn create_push_subscription(
        &self,
        name: &str,
        topic: &str,
        endpoint: &str,
        retry: RetrySettings,
    ) -> Result<()> {
        let _ = self
            .http
            .delete(format!("{}/subscriptions/{name}", self.base))
            .send()
            .await;
        let mut body = json!({
            "topic": self.topic_path(topic),
            "pushConfig": { "pushEndpoint": endpoint },
            "ackDeadlineSeconds": 30,
            "retryPolicy": {
                "minimumBackoff": duration(retry.minimum_backoff),
                "maximumBackoff": duration(retry.maximum_backoff),
            },
        });
        if topic != DEAD_LETTER_TOPIC {
            body["deadLetterPolicy"] = json!({
                "deadLetterTopic": self.topic_path(DEAD_LETTER_TOPIC),
                "maxDeliveryAttempts": retry.max_delivery_attempts,
            });
        }
        let response = self
            .http
            .put(format!("{}/subscriptions/{name}", self.base))
            .json(&body)
            .send()
            .await
            .with_context(|| format!("cannot reach the emulator to create subscription {name}"))?;
        if !response.status().is_success() {
            bail!(
                "creating subscription {name} failed: {} {}",
                response.status(),
                response.text().await.unwrap_or_default()
            );
        }
        Ok(())
    }

    /// Every topic of the topology plus the dead-letter topic, and one push subscription per
    /// event function pointing at `base_url` + its push path.
    pub async fn provision(
        &self,
        topology: &Topology,
        base_url: &str,
        retry: RetrySettings,
    ) -> Result<usize> {
        self.create_topic(DEAD_LETTER_TOPIC).await?;
        for topic in &topology.topics {
            self.create_topic(topic).await?;
        }
        let mut subscriptions = 0;
        for (name, spec) in &topology.functions {
            if let (Some(topic), Some(push_path)) = (&spec.topic, &spec.push_path) {
                self.create_push_subscription(
                    name,
                    topic,
                    &format!("{base_url}{push_path}"),
                    retry,
                )
                .await?;
                subscriptions += 1;
            }
        }
        Ok(subscriptions)
    }
}
