//! The event backbone end to end: outbox → Pub/Sub emulator → push handler → dedupe; permanent
//! failures → dead-letter topic → `events.dead_letters` → replay; `relay-outbox` picking up what
//! a crashed request left behind. Same flows on the in-process bus.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::Duration;

use base64::Engine as _;
use common::{TestPlatform, emulator_or_skip, eventually};
use olympus::events::publisher::{OutgoingMessage, PubSubPublisher, Publisher};
use olympus::events::{Envelope, Event as _, Outbox};
use platform_tests::{ProbePoison, ProbeRecorded};
use uuid::Uuid;

async fn effects(platform: &TestPlatform, event_id: Uuid) -> i64 {
    platform
        .owner()
        .await
        .query_one(
            "SELECT count(*) FROM public.probe_effects WHERE event_id = $1",
            &[&event_id],
        )
        .await
        .unwrap()
        .get(0)
}

/// Writes an event to the outbox in its own committed transaction, without publishing: what a
/// request that crashed right after its commit leaves behind.
async fn commit_unpublished(platform: &TestPlatform, event: &ProbeRecorded) -> Envelope {
    let pool = platform.platform.state.db().unwrap();
    let mut client = pool.get().await.unwrap();
    let tx = client.transaction().await.unwrap();
    let envelope = Envelope::new(None, event).unwrap();
    let mut outbox = Outbox::default();
    outbox.record_envelope(&tx, envelope.clone()).await.unwrap();
    tx.commit().await.unwrap();
    envelope
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_to_emulator_to_push_handler_processes_once_despite_duplicates() {
    let Some(host) = emulator_or_skip("outbox_to_emulator") else {
        return;
    };
    let platform = TestPlatform::start(Some(host.clone())).await;

    // A request writes its event in its transaction and publishes after commit.
    let envelope = commit_unpublished(
        &platform,
        &ProbeRecorded {
            label: "first".into(),
        },
    )
    .await;
    olympus::events::outbox::publish_after_commit(&platform.platform.state, vec![envelope.clone()])
        .await;
    eventually(
        Duration::from_secs(30),
        "the push handler to record the event",
        || async { (effects(&platform, envelope.id).await == 1).then_some(()) },
    )
    .await;
    let published: bool = platform
        .owner()
        .await
        .query_one(
            "SELECT published_at IS NOT NULL FROM events.outbox WHERE event_id = $1",
            &[&envelope.id],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        published,
        "the outbox row is marked published after publishing"
    );

    // The same event published twice more (e.g. the relay raced the request): two more Pub/Sub
    // messages with new message ids, one event id.
    let publisher = PubSubPublisher::new(platform.project.clone(), Some(host));
    for _ in 0..2 {
        publisher
            .publish(
                ProbeRecorded::TYPE,
                OutgoingMessage::from_envelope(&envelope).unwrap(),
            )
            .await
            .unwrap();
    }
    // A marker event published after the duplicates: once it is processed, the duplicates have
    // been delivered too (one subscription, delivered in about publish order) — then wait a bit
    // more for stragglers.
    let marker = Envelope::new(
        None,
        &ProbeRecorded {
            label: "marker".into(),
        },
    )
    .unwrap();
    publisher
        .publish(
            ProbeRecorded::TYPE,
            OutgoingMessage::from_envelope(&marker).unwrap(),
        )
        .await
        .unwrap();
    eventually(Duration::from_secs(30), "the marker event", || async {
        (effects(&platform, marker.id).await == 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        effects(&platform, envelope.id).await,
        1,
        "processed exactly once"
    );
    let processed: i64 = platform
        .owner()
        .await
        .query_one(
            "SELECT count(*) FROM events.processed WHERE event_id = $1",
            &[&envelope.id.to_string()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(processed, 1);

    // And the identical push body posted twice straight to the endpoint: 204 both times, one effect.
    let direct = Envelope::new(
        None,
        &ProbeRecorded {
            label: "direct".into(),
        },
    )
    .unwrap();
    let body = serde_json::json!({
        "message": {
            "data": base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&direct).unwrap()),
            "messageId": "direct-1",
            "attributes": direct.attributes(),
        },
        "subscription": format!("projects/{}/subscriptions/on-probe-record", platform.project),
    });
    for _ in 0..2 {
        let response = platform
            .http
            .post(platform.url("/events/on-probe-record"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
    }
    assert_eq!(effects(&platform, direct.id).await, 1);
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_failure_is_dead_lettered_recorded_and_replayable() {
    let Some(host) = emulator_or_skip("dead_letter") else {
        return;
    };
    let platform = TestPlatform::start(Some(host.clone())).await;
    let envelope = Envelope::new(
        None,
        &ProbePoison {
            label: "bad".into(),
        },
    )
    .unwrap();
    let publisher = PubSubPublisher::new(platform.project.clone(), Some(host));
    publisher
        .publish(
            ProbePoison::TYPE,
            OutgoingMessage::from_envelope(&envelope).unwrap(),
        )
        .await
        .unwrap();

    // 5 delivery attempts with 0.1–1 s backoff, then the dead-letter topic, then on-dead-letter.
    let owner = platform.owner().await;
    let (dead_letter_id, source, attempts): (Uuid, Option<String>, Option<i32>) = eventually(
        Duration::from_secs(90),
        "the dead letter to be recorded",
        || async {
            owner
                .query_opt(
                    "SELECT id, source_subscription, delivery_attempts FROM events.dead_letters
                     WHERE event_id = $1",
                    &[&envelope.id],
                )
                .await
                .unwrap()
                .map(|row| (row.get(0), row.get(1), row.get(2)))
        },
    )
    .await;
    assert_eq!(
        source.as_deref(),
        Some(
            format!(
                "projects/{}/subscriptions/on-probe-poison",
                platform.project
            )
            .as_str()
        )
    );
    assert!(
        attempts.unwrap_or_default() >= 5,
        "delivery count recorded: {attempts:?}"
    );
    assert_eq!(effects(&platform, envelope.id).await, 0);

    // The operator lists it...
    let listed: serde_json::Value = platform
        .http
        .get(platform.url("/v1/admin/dead-letters?pending=true"))
        .bearer_auth(platform.operator_token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["id"], dead_letter_id.to_string());
    assert_eq!(listed["items"][0]["event_type"], ProbePoison::TYPE);

    // ...fixes the cause, and replays it: the handler now succeeds, once.
    owner
        .execute("UPDATE public.probe_switch SET poisoned = false", &[])
        .await
        .unwrap();
    let response = platform
        .http
        .post(platform.url("/v1/admin/dead-letters/replay"))
        .bearer_auth(platform.operator_token())
        .json(&serde_json::json!({ "ids": [dead_letter_id] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let report: serde_json::Value = response.json().await.unwrap();
    assert_eq!(report["replayed"][0], dead_letter_id.to_string());
    eventually(
        Duration::from_secs(30),
        "the replayed event to be processed",
        || async { (effects(&platform, envelope.id).await == 1).then_some(()) },
    )
    .await;
    let replayed: bool = owner
        .query_one(
            "SELECT replayed_at IS NOT NULL FROM events.dead_letters WHERE id = $1",
            &[&dead_letter_id],
        )
        .await
        .unwrap()
        .get(0);
    assert!(replayed);
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_outbox_publishes_what_a_crashed_request_left_behind() {
    let Some(host) = emulator_or_skip("relay_outbox") else {
        return;
    };
    let platform = TestPlatform::start(Some(host)).await;
    let left = commit_unpublished(
        &platform,
        &ProbeRecorded {
            label: "left".into(),
        },
    )
    .await;
    let fresh = commit_unpublished(
        &platform,
        &ProbeRecorded {
            label: "fresh".into(),
        },
    )
    .await;
    // The crashed one is a minute old; the fresh one may still be published by its request.
    platform
        .owner()
        .await
        .execute(
            "UPDATE events.outbox SET created_at = now() - interval '1 minute' WHERE event_id = $1",
            &[&left.id],
        )
        .await
        .unwrap();

    let report: serde_json::Value = platform
        .http
        .post(platform.url("/jobs/relay-outbox"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["published"], 1, "{report}");
    eventually(
        Duration::from_secs(30),
        "the relayed event to be processed",
        || async { (effects(&platform, left.id).await == 1).then_some(()) },
    )
    .await;
    let rows = platform
        .owner()
        .await
        .query(
            "SELECT event_id, published_at IS NOT NULL FROM events.outbox ORDER BY seq",
            &[],
        )
        .await
        .unwrap();
    let state: Vec<(Uuid, bool)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(state, vec![(left.id, true), (fresh.id, false)]);

    // A second run finds nothing old enough: nothing is published twice.
    let again: serde_json::Value = platform
        .http
        .post(platform.url("/jobs/relay-outbox"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["published"], 0);
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_relays_never_publish_a_row_twice() {
    let Some(host) = emulator_or_skip("concurrent_relays") else {
        return;
    };
    let platform = TestPlatform::start(Some(host)).await;
    let mut ids = Vec::new();
    for i in 0..40 {
        ids.push(
            commit_unpublished(
                &platform,
                &ProbeRecorded {
                    label: format!("n{i}"),
                },
            )
            .await
            .id,
        );
    }
    platform
        .owner()
        .await
        .execute(
            "UPDATE events.outbox SET created_at = now() - interval '1 minute'",
            &[],
        )
        .await
        .unwrap();
    let pool = platform.platform.state.db().unwrap().clone();
    let publisher = std::sync::Arc::clone(platform.platform.state.publisher());
    let runs = (0..4).map(|_| {
        let pool = pool.clone();
        let publisher = std::sync::Arc::clone(&publisher);
        tokio::spawn(async move {
            olympus::events::outbox::relay_pending(
                &pool,
                &publisher,
                Duration::from_secs(10),
                5,
                Duration::from_secs(30),
            )
            .await
            .unwrap()
        })
    });
    let mut total = 0;
    for run in runs {
        total += run.await.unwrap().published;
    }
    assert_eq!(total, 40, "every row published by exactly one relay");
    for id in ids {
        eventually(
            Duration::from_secs(30),
            "every relayed event processed",
            || async { (effects(&platform, id).await == 1).then_some(()) },
        )
        .await;
    }
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_bus_delivers_dedupes_and_dead_letters_without_the_emulator() {
    let platform = TestPlatform::start(None).await;
    assert_eq!(platform.platform.bus, "in-process");
    let good = commit_unpublished(
        &platform,
        &ProbeRecorded {
            label: "bus".into(),
        },
    )
    .await;
    olympus::events::outbox::publish_after_commit(
        &platform.platform.state,
        vec![good.clone(), good.clone()],
    )
    .await;
    eventually(Duration::from_secs(10), "in-process delivery", || async {
        (effects(&platform, good.id).await == 1).then_some(())
    })
    .await;
    let poison = Envelope::new(
        None,
        &ProbePoison {
            label: "bad".into(),
        },
    )
    .unwrap();
    platform
        .platform
        .state
        .publisher()
        .publish(
            ProbePoison::TYPE,
            OutgoingMessage::from_envelope(&poison).unwrap(),
        )
        .await
        .unwrap();
    let owner = platform.owner().await;
    eventually(
        Duration::from_secs(30),
        "in-process dead letter",
        || async {
            owner
                .query_opt(
                    "SELECT 1 FROM events.dead_letters WHERE event_id = $1",
                    &[&poison.id],
                )
                .await
                .unwrap()
                .map(|_| ())
        },
    )
    .await;
    assert_eq!(effects(&platform, good.id).await, 1);
    platform.stop().await;
}

fn push_body(
    platform: &TestPlatform,
    subscription: &str,
    message_id: &str,
    data: &[u8],
) -> serde_json::Value {
    serde_json::json!({
        "message": {
            "data": base64::engine::general_purpose::STANDARD.encode(data),
            "messageId": message_id,
        },
        "subscription": format!("projects/{}/subscriptions/{subscription}", platform.project),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_outcomes_map_to_ack_retry_and_permanent_failure() {
    let platform = TestPlatform::start(None).await;
    let post = |body: serde_json::Value| {
        platform
            .http
            .post(platform.url("/events/on-probe-record"))
            .json(&body)
            .send()
    };

    // A transient failure: 503 so Pub/Sub retries, and the handler's partial work rolled back
    // with its dedupe mark, so the retry does the work.
    let flaky = Envelope::new(
        None,
        &ProbeRecorded {
            label: "flaky".into(),
        },
    )
    .unwrap();
    let body = push_body(
        &platform,
        "on-probe-record",
        "m-1",
        &serde_json::to_vec(&flaky).unwrap(),
    );
    let response = post(body.clone()).await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(effects(&platform, flaky.id).await, 0, "rolled back");
    let marks: i64 = platform
        .owner()
        .await
        .query_one("SELECT count(*) FROM events.processed", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(marks, 0, "a failed delivery is not marked processed");

    // Data that is not an envelope, or an envelope of another type: 400, dead-lettered later.
    let garbage = post(push_body(&platform, "on-probe-record", "m-2", b"not json"))
        .await
        .unwrap();
    assert_eq!(garbage.status(), 400);
    let problem: serde_json::Value = garbage.json().await.unwrap();
    assert_eq!(problem["code"], "event_rejected");
    let wrong_type = Envelope::new(None, &ProbePoison { label: "x".into() }).unwrap();
    let mismatched = post(push_body(
        &platform,
        "on-probe-record",
        "m-3",
        &serde_json::to_vec(&wrong_type).unwrap(),
    ))
    .await
    .unwrap();
    assert_eq!(mismatched.status(), 400);
    let not_push = post(serde_json::json!({ "hello": "world" })).await.unwrap();
    assert_eq!(not_push.status(), 400);

    // A good one acks with 204.
    let good = Envelope::new(
        None,
        &ProbeRecorded {
            label: "good".into(),
        },
    )
    .unwrap();
    let ok = post(push_body(
        &platform,
        "on-probe-record",
        "m-4",
        &serde_json::to_vec(&good).unwrap(),
    ))
    .await
    .unwrap();
    assert_eq!(ok.status(), 204);
    assert_eq!(effects(&platform, good.id).await, 1);
    platform.stop().await;
}
