//! `relay-outbox` — scheduled job, every minute.
//!
//! Publishes outbox rows that a request committed but did not publish (it crashed, or Pub/Sub
//! was unreachable), oldest first, in batches. Safe to run concurrently with itself: each batch
//! is claimed with `FOR UPDATE SKIP LOCKED`.
//!
//! Env: `DATABASE_URL`, `GOOGLE_CLOUD_PROJECT`, `PUBSUB_EMULATOR_HOST` (local),
//! `RELAY_MIN_AGE_SECONDS` (default 10: younger rows are still being published by their
//! request), `RELAY_BATCH_SIZE` (default 500), `RELAY_BUDGET_SECONDS` (default 50: stop before
//! the next tick). Emits: any event type found in the outbox.

use std::time::Duration;

use olympus::config::Env;
use olympus::events::outbox::relay_pending;
use olympus::function::{Job, JobReport};
use olympus::{AppState, Error, Function};

pub fn function() -> Function {
    Function::job("relay-outbox", Some("* * * * *"), Relay).publishes(&["*"])
}

struct Relay;

/// Tunables, read per run so a test or an operator can change them without a redeploy.
#[derive(Debug, Clone, Copy)]
struct Settings {
    min_age: Duration,
    batch_size: i64,
    budget: Duration,
}

fn settings(env: &Env<'_>) -> Result<Settings, Error> {
    let invalid = |e: olympus::config::ConfigError| Error::internal(e);
    Ok(Settings {
        min_age: env
            .seconds("RELAY_MIN_AGE_SECONDS", Duration::from_secs(10))
            .map_err(invalid)?,
        batch_size: env.or("RELAY_BATCH_SIZE", 500).map_err(invalid)?,
        budget: env
            .seconds("RELAY_BUDGET_SECONDS", Duration::from_secs(50))
            .map_err(invalid)?,
    })
}

impl Job for Relay {
    async fn run(&self, state: AppState) -> Result<JobReport, Error> {
        let settings = settings(&Env::process())?;
        let report = relay_pending(
            state.db()?,
            state.publisher(),
            settings.min_age,
            settings.batch_size.max(1),
            settings.budget,
        )
        .await?;
        if report.failed > 0 {
            tracing::warn!(
                failed = report.failed,
                "some outbox rows could not be published"
            );
        }
        serde_json::to_value(report).map_err(Error::internal)
    }
}
