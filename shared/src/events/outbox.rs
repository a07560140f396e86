//! The transactional outbox (`events.outbox`).
//!
//! ```ignore
//! let mut outbox = Outbox::default();
//! let tx = db::tenant_tx(&mut client, tenant).await?;
//! // ... the change ...
//! outbox.record(&tx, Some(tenant), &OrderPaid { .. }).await?;
//! tx.commit().await?;
//! outbox.publish(&state).await; // before the response: Cloud Run throttles CPU after it
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use uuid::Uuid;

use super::envelope::{Envelope, Event};
use super::publisher::{OutgoingMessage, Publisher};
use crate::db::Prepared as _;
use crate::db::{Pool, Transaction};
use crate::error::Error;
use crate::state::AppState;

/// Events recorded in a transaction, to publish once it has committed.
#[derive(Debug, Default)]
pub struct Outbox {
    pending: Vec<Envelope>,
    /// Written by [`Outbox::write`] in one statement rather than one statement per event.
    batched: bool,
    /// How many of the last `pending` envelopes a batched outbox has not written yet.
    unwritten: usize,
}

impl Outbox {
    /// An outbox whose events are written together by [`Outbox::write`], which must run in the
    /// transaction before it commits (or use [`Outbox::commit`]): one statement for all the
    /// events of a request instead of one each, on paths that record several.
    pub fn batched() -> Self {
        Self {
            batched: true,
            ..Self::default()
        }
    }

    /// Writes what a [`Outbox::batched`] outbox holds unwritten, in one statement, in the
    /// order recorded (the relay publishes in `seq` order). A no-op for an immediate outbox.
    pub async fn write(&mut self, tx: &Transaction<'_>) -> Result<(), Error> {
        if self.unwritten == 0 {
            return Ok(());
        }
        let rows = &self.pending[self.pending.len() - self.unwritten..];
        let ids: Vec<Uuid> = rows.iter().map(|e| e.id).collect();
        let tenants: Vec<Option<Uuid>> = rows.iter().map(|e| e.tenant_id).collect();
        let types: Vec<&str> = rows.iter().map(|e| e.event_type.as_str()).collect();
        let envelopes = rows
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<Vec<_>, _>>()
            .map_err(Error::internal)?;
        tx.execute_cached(
            "INSERT INTO events.outbox (event_id, tenant_id, event_type, envelope)
             SELECT event_id, tenant_id, event_type, envelope
             FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::jsonb[])
                 WITH ORDINALITY AS t(event_id, tenant_id, event_type, envelope, n)
             ORDER BY n",
            &[&ids, &tenants, &types, &envelopes],
        )
        .await?;
        self.unwritten = 0;
        Ok(())
    }

    /// Writes what is unwritten and commits `tx`.
    pub async fn commit(&mut self, tx: Transaction<'_>) -> Result<(), Error> {
        self.write(&tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Writes `event` to the outbox inside `tx`; returns the event id.
    pub async fn record<E: Event>(
        &mut self,
        tx: &Transaction<'_>,
        tenant_id: Option<Uuid>,
        event: &E,
    ) -> Result<Uuid, Error> {
        let envelope = Envelope::new(tenant_id, event).map_err(Error::internal)?;
        let id = envelope.id;
        self.record_envelope(tx, envelope).await?;
        Ok(id)
    }

    /// Writes a ready envelope to the outbox inside `tx`.
    pub async fn record_envelope(
        &mut self,
        tx: &Transaction<'_>,
        envelope: Envelope,
    ) -> Result<(), Error> {
        if self.batched {
            self.pending.push(envelope);
            self.unwritten += 1;
            return Ok(());
        }
        let json = serde_json::to_value(&envelope).map_err(Error::internal)?;
        tx.execute_cached(
            "INSERT INTO events.outbox (event_id, tenant_id, event_type, envelope)
             VALUES ($1, $2, $3, $4)",
            &[
                &envelope.id,
                &envelope.tenant_id,
                &envelope.event_type,
                &json,
            ],
        )
        .await?;
        self.pending.push(envelope);
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// After commit: publishes the recorded events and marks them published. A failure is
    /// logged and left to `relay-outbox`; the caller's request has already succeeded.
    pub async fn publish(self, state: &AppState) {
        publish_after_commit(state, self.pending).await;
    }
}

/// Publishes committed envelopes and marks their outbox rows; failures stay for the relay.
pub async fn publish_after_commit(state: &AppState, envelopes: Vec<Envelope>) {
    if envelopes.is_empty() {
        return;
    }
    let publisher = Arc::clone(state.publisher());
    let results = futures::future::join_all(envelopes.iter().map(|envelope| {
        let publisher = Arc::clone(&publisher);
        async move {
            let message = OutgoingMessage::from_envelope(envelope).map_err(|e| e.to_string())?;
            publisher
                .publish(&envelope.event_type, message)
                .await
                .map_err(|e| e.to_string())
        }
    }))
    .await;
    let mut published = Vec::new();
    for (envelope, result) in envelopes.iter().zip(results) {
        match result {
            Ok(_) => published.push(envelope.id),
            Err(error) => tracing::warn!(
                event_id = %envelope.id,
                event_type = %envelope.event_type,
                %error,
                "publish after commit failed; relay-outbox will retry"
            ),
        }
    }
    if published.is_empty() {
        return;
    }
    // The caller usually still holds its own pooled connection (its transaction just
    // committed). Waiting for a second one here would deadlock a saturated pool: every request
    // holding one connection and waiting for another. So the marking takes a connection only
    // if one is free right now, and otherwise runs once the request has let its own go.
    let Ok(pool) = state.db() else {
        return;
    };
    let now = deadpool_postgres::Timeouts {
        wait: Some(std::time::Duration::ZERO),
        ..pool.timeouts()
    };
    match pool.timeout_get(&now).await {
        Ok(client) => mark_published(&client, &published).await,
        Err(_) => {
            let pool = pool.clone();
            tokio::spawn(async move {
                match pool.get().await {
                    Ok(client) => mark_published(&client, &published).await,
                    Err(error) => {
                        tracing::warn!(%error, "could not mark outbox rows published");
                    }
                }
            });
        }
    }
}

/// Stamps `published_at` on the outbox rows of `events`; a failure only means the relay will
/// publish them again (consumers dedupe).
async fn mark_published(client: &deadpool_postgres::Client, events: &[uuid::Uuid]) {
    if let Err(error) = client
        .execute_cached(
            // Not `AND published_at IS NULL`: with it the planner also walks the partial
            // index of unpublished rows, whose dead entries (every row marked since the last
            // vacuum) made this the costliest statement of taking an order (0.5 ms, growing).
            "UPDATE events.outbox SET published_at = coalesce(published_at, now())
             WHERE event_id = ANY($1)",
            &[&events],
        )
        .await
    {
        tracing::warn!(%error, "could not mark outbox rows published");
    }
}

/// What one relay run did.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct RelayReport {
    pub published: u64,
    pub failed: u64,
    pub batches: u64,
}

/// Publishes outbox rows unpublished for at least `min_age`, oldest first, in batches of
/// `batch_size`, until none are left or `budget` is spent.
///
/// Each batch is claimed with `FOR UPDATE SKIP LOCKED`, so concurrent relays (two scheduler
/// ticks overlapping, or a manual run) take disjoint rows and never publish a row twice at once.
/// Messages of a batch are handed to the publisher in `seq` order; a failed row stays
/// unpublished with its error recorded and is retried by the next run.
pub async fn relay_pending(
    pool: &Pool,
    publisher: &Arc<dyn Publisher>,
    min_age: Duration,
    batch_size: i64,
    budget: Duration,
) -> Result<RelayReport, Error> {
    let started = Instant::now();
    let mut report = RelayReport::default();
    let mut client = pool.get().await?;
    loop {
        let tx = client.transaction().await?;
        let rows = tx
            .query_cached(
                "SELECT seq, event_type, envelope FROM events.outbox
                 WHERE published_at IS NULL
                   AND created_at <= now() - make_interval(secs => $1)
                 ORDER BY seq
                 LIMIT $2
                 FOR UPDATE SKIP LOCKED",
                &[&min_age.as_secs_f64(), &batch_size],
            )
            .await?;
        if rows.is_empty() {
            tx.commit().await?;
            break;
        }
        report.batches += 1;
        let claimed = rows.len();
        let sends = rows.iter().map(|row| {
            let seq: i64 = row.get(0);
            let event_type: String = row.get(1);
            let envelope: serde_json::Value = row.get(2);
            let publisher = Arc::clone(publisher);
            async move {
                let result = match serde_json::to_vec(&envelope) {
                    Ok(data) => {
                        let attributes = serde_json::from_value::<Envelope>(envelope)
                            .map(|e| e.attributes())
                            .unwrap_or_default();
                        publisher
                            .publish(&event_type, OutgoingMessage { data, attributes })
                            .await
                            .map_err(|e| e.to_string())
                    }
                    Err(e) => Err(e.to_string()),
                };
                (seq, result)
            }
        });
        let results = futures::future::join_all(sends).await;
        let mut published = Vec::new();
        for (seq, result) in results {
            match result {
                Ok(_) => published.push(seq),
                Err(error) => {
                    report.failed += 1;
                    tracing::warn!(seq, %error, "relay could not publish outbox row");
                    tx.execute_cached(
                        "UPDATE events.outbox SET attempts = attempts + 1, last_error = $2
                         WHERE seq = $1",
                        &[&seq, &error],
                    )
                    .await?;
                }
            }
        }
        tx.execute_cached(
            "UPDATE events.outbox SET published_at = now(), attempts = attempts + 1,
                    last_error = NULL
             WHERE seq = ANY($1)",
            &[&published],
        )
        .await?;
        tx.commit().await?;
        report.published += published.len() as u64;
        let all_failed = published.is_empty();
        if all_failed || (claimed as i64) < batch_size || started.elapsed() >= budget {
            break;
        }
    }
    Ok(report)
}
