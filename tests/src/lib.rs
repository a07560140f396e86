//! Test-only functions ("probes") and the harness that starts the whole platform for black-box
//! tests: a database cloned from the migrated template, the dev runner on a free port, and the
//! Pub/Sub emulator with a project of the test's own (so tests never see each other's topics).

use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::Method;
use olympus::events::push::{EventContext, EventError, EventHandler};
use olympus::events::{Envelope, Event};
use olympus::http::{Idempotency, Json};
use olympus::{AppState, Error, Function};
use serde::{Deserialize, Serialize};

/// An event the probes publish and consume.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProbeRecorded {
    pub label: String,
}

impl Event for ProbeRecorded {
    const TYPE: &'static str = "probe.record.requested";
}

/// An event whose handler fails permanently while `probe_switch.poisoned` is true.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProbePoison {
    pub label: String,
}

impl Event for ProbePoison {
    const TYPE: &'static str = "probe.poison.sent";
}

/// Fixture tables the probes write (created by the test as the owner, granted to the app).
pub const PROBE_FIXTURE_SQL: &str = "
    CREATE TABLE public.probe_effects (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        event_id uuid NOT NULL,
        label text NOT NULL,
        handler text NOT NULL
    );
    CREATE TABLE public.probe_switch (poisoned boolean NOT NULL);
    INSERT INTO public.probe_switch VALUES (true);
    GRANT SELECT, INSERT, UPDATE ON public.probe_effects, public.probe_switch TO olympus_app;
";

/// Records every delivery it processes; not idempotent by itself, so a duplicate row would
/// mean the platform's dedupe failed.
#[derive(Debug)]
pub struct RecordProbe;

impl EventHandler for RecordProbe {
    type Event = ProbeRecorded;

    async fn handle(
        &self,
        ctx: &mut EventContext<'_>,
        envelope: &Envelope,
        event: ProbeRecorded,
    ) -> Result<(), EventError> {
        ctx.tx
            .execute(
                "INSERT INTO public.probe_effects (event_id, label, handler) VALUES ($1, $2, 'record')",
                &[&envelope.id, &event.label],
            )
            .await?;
        if event.label.starts_with("flaky") {
            // After the insert: proves a retried delivery leaves no partial effect behind.
            return Err(EventError::Retry("a dependency timed out".into()));
        }
        Ok(())
    }
}

/// Fails permanently while poisoned; records once cured (to prove a replay works).
#[derive(Debug)]
pub struct PoisonProbe;

impl EventHandler for PoisonProbe {
    type Event = ProbePoison;

    async fn handle(
        &self,
        ctx: &mut EventContext<'_>,
        envelope: &Envelope,
        event: ProbePoison,
    ) -> Result<(), EventError> {
        let poisoned: bool = ctx
            .tx
            .query_one("SELECT poisoned FROM public.probe_switch", &[])
            .await?
            .get(0);
        if poisoned {
            return Err(EventError::permanent(format!("{} is poison", event.label)));
        }
        ctx.tx
            .execute(
                "INSERT INTO public.probe_effects (event_id, label, handler) VALUES ($1, $2, 'poison')",
                &[&envelope.id, &event.label],
            )
            .await?;
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
struct SlowQuery {
    #[serde(default)]
    ms: u64,
}

/// Sleeps `ms` then answers: what the drain test keeps in flight.
async fn slow(Query(query): Query<SlowQuery>) -> Json<serde_json::Value> {
    tokio::time::sleep(Duration::from_millis(query.ms.min(30_000))).await;
    Json(serde_json::json!({ "slept_ms": query.ms }))
}

/// Echoes what it received: what the Lambda test compares across platforms.
async fn echo(
    method: Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: String,
) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "method": method.as_str(),
        "path": uri.path(),
        "query": uri.query(),
        "x_probe": headers.get("x-probe").and_then(|v| v.to_str().ok()),
        "body": body,
    }))
}

#[derive(Debug, Deserialize, Serialize)]
struct CreateProbe {
    label: String,
    #[serde(default)]
    sleep_ms: u64,
}

/// A mutating route behind `Idempotency-Key`, that writes an outbox event and answers 201.
async fn create(
    State(state): State<AppState>,
    Json(body): Json<CreateProbe>,
) -> Result<(axum::http::StatusCode, Json<serde_json::Value>), Error> {
    tokio::time::sleep(Duration::from_millis(body.sleep_ms.min(10_000))).await;
    let mut client = state.db()?.get().await?;
    let tx = client.transaction().await?;
    let mut outbox = olympus::events::Outbox::default();
    let event_id = outbox
        .record(
            &tx,
            None,
            &ProbeRecorded {
                label: body.label.clone(),
            },
        )
        .await?;
    tx.commit().await?;
    outbox.publish(&state).await;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(serde_json::json!({ "event_id": event_id, "label": body.label })),
    ))
}

/// Panics, to prove a panic becomes a 500 problem and never a dropped connection.
async fn panic() -> &'static str {
    panic!("probe panic with a secret: hunter2")
}

/// The HTTP probe function (served by the probe binary and mountable in the test platform).
pub fn http_probe() -> Function {
    Function::http("probe-http")
        .route(&Method::GET, "/probe/slow", slow)
        .route(&Method::GET, "/probe/echo", echo)
        .route(&Method::POST, "/probe/echo", echo)
        .route(&Method::GET, "/probe/panic", panic)
        .idempotent_route(
            &Method::POST,
            "/probe/records",
            create,
            Idempotency::Required,
        )
        .publishes(&[ProbeRecorded::TYPE])
        .build()
}

/// Every probe function.
pub fn probes() -> Vec<Function> {
    vec![
        http_probe(),
        Function::on_event("on-probe-record", RecordProbe),
        Function::on_event("on-probe-poison", PoisonProbe),
    ]
}
