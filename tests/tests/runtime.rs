//! The runtime of a real function binary: graceful drain on SIGTERM, and the same binary on AWS
//! Lambda (driven through a local Lambda Runtime API) answering like it does over HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

const PROBE: &str = env!("CARGO_BIN_EXE_probe-function");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn_probe(envs: &[(&str, String)]) -> Child {
    let mut command = Command::new(PROBE);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    for (k, v) in envs {
        command.env(k, v);
    }
    command.spawn().expect("probe binary starts")
}

async fn wait_ready(client: &reqwest::Client, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(response) = client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            && response.status() == 200
        {
            return;
        }
        assert!(Instant::now() < deadline, "probe never became ready");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_requests_refuses_new_ones_and_exits_zero() {
    let port = free_port();
    let mut child = spawn_probe(&[("PORT", port.to_string())]);
    let client = reqwest::Client::new();
    wait_ready(&client, port).await;

    let slow = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .get(format!("http://127.0.0.1:{port}/probe/slow?ms=1500"))
                .send()
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = child.id().unwrap().to_string();
    let signalled = Instant::now();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    tokio::time::sleep(Duration::from_millis(200)).await;

    // New connections are refused while the old request is still running.
    let refused = tokio::net::TcpStream::connect(("127.0.0.1", port)).await;
    assert!(
        refused.is_err(),
        "a new connection was accepted during the drain"
    );
    assert!(
        !slow.is_finished(),
        "the slow request must still be in flight"
    );

    let response = slow.await.unwrap().expect("in-flight request completes");
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["slept_ms"], 1500);

    let status = tokio::time::timeout(Duration::from_secs(9), child.wait())
        .await
        .expect("exits within the 8 s grace")
        .unwrap();
    assert!(status.success(), "exit status {status:?}");
    assert!(signalled.elapsed() < Duration::from_secs(8));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_outliving_the_grace_period_is_cut_and_the_process_still_exits_zero() {
    let port = free_port();
    let mut child = spawn_probe(&[
        ("PORT", port.to_string()),
        ("SHUTDOWN_GRACE_SECONDS", "1".to_owned()),
    ]);
    let client = reqwest::Client::new();
    wait_ready(&client, port).await;
    let slow = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .get(format!("http://127.0.0.1:{port}/probe/slow?ms=20000"))
                .send()
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let pid = child.id().unwrap().to_string();
    let signalled = Instant::now();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .expect("exits at the deadline")
        .unwrap();
    assert!(status.success());
    let elapsed = signalled.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900),
        "exited before the grace period: {elapsed:?}"
    );
    assert!(
        slow.await.unwrap().is_err(),
        "the request past the deadline is cut"
    );
}

#[derive(Clone)]
struct FakeRuntime {
    event: String,
    responses: mpsc::UnboundedSender<(String, String)>,
    served: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// `GET /2018-06-01/runtime/invocation/next`: the fixture once, then nothing more (long poll).
async fn next_invocation(State(runtime): State<FakeRuntime>) -> axum::response::Response {
    use axum::response::IntoResponse;
    if runtime
        .served
        .swap(true, std::sync::atomic::Ordering::SeqCst)
    {
        std::future::pending::<()>().await;
    }
    let deadline = (chrono::Utc::now().timestamp_millis() + 30_000).to_string();
    (
        [
            ("lambda-runtime-aws-request-id", "req-1".to_owned()),
            ("lambda-runtime-deadline-ms", deadline),
            (
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:eu-west-1:123456789012:function:probe".to_owned(),
            ),
            (
                "lambda-runtime-trace-id",
                "Root=1-5759e988-bd862e3fe1be46a994272793".to_owned(),
            ),
            ("content-type", "application/json".to_owned()),
        ],
        runtime.event.clone(),
    )
        .into_response()
}

async fn invocation_response(
    State(runtime): State<FakeRuntime>,
    axum::extract::Path(id): axum::extract::Path<String>,
    body: String,
) -> axum::http::StatusCode {
    let _ = runtime.responses.send((id, body));
    axum::http::StatusCode::ACCEPTED
}

async fn invocation_error(
    State(runtime): State<FakeRuntime>,
    axum::extract::Path(id): axum::extract::Path<String>,
    body: String,
) -> axum::http::StatusCode {
    let _ = runtime.responses.send((format!("{id}/error"), body));
    axum::http::StatusCode::ACCEPTED
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_binary_on_lambda_answers_an_api_gateway_v2_event_like_http() {
    let fixture = include_str!("../fixtures/apigw-v2-echo.json");
    let (responses, mut received) = mpsc::unbounded_channel();
    let runtime = FakeRuntime {
        event: fixture.to_owned(),
        responses,
        served: std::sync::Arc::default(),
    };
    let api = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(invocation_response),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/error",
            post(invocation_error),
        )
        .with_state(runtime);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, api).await });

    let _lambda = spawn_probe(&[
        ("AWS_LAMBDA_RUNTIME_API", api_addr.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", "probe".to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_owned()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/probe".to_owned()),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "stream".to_owned()),
    ]);
    let (id, lambda_body) = tokio::time::timeout(Duration::from_secs(15), received.recv())
        .await
        .expect("the Lambda runtime posts a response")
        .unwrap();
    assert_eq!(
        id, "req-1",
        "posted to the invocation's response path: {lambda_body}"
    );
    let lambda: serde_json::Value = serde_json::from_str(&lambda_body).unwrap();

    // The same request over HTTP to the same binary in its Cloud Run mode.
    let port = free_port();
    let mut http = spawn_probe(&[("PORT", port.to_string())]);
    let client = reqwest::Client::new();
    wait_ready(&client, port).await;
    let direct = client
        .post(format!("http://127.0.0.1:{port}/probe/echo?x=1&y=two"))
        .header("content-type", "application/json")
        .header("x-probe", "lambda")
        .body(r#"{"hello":"world"}"#)
        .send()
        .await
        .unwrap();
    let direct_status = direct.status().as_u16();
    let direct_type = direct.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let direct_nosniff = direct.headers()["x-content-type-options"]
        .to_str()
        .unwrap()
        .to_owned();
    let direct_body: serde_json::Value = direct.json().await.unwrap();
    let _ = http.kill().await;

    assert_eq!(lambda["statusCode"], direct_status);
    let lambda_payload: serde_json::Value =
        serde_json::from_str(lambda["body"].as_str().expect("string body")).unwrap();
    assert_eq!(lambda_payload, direct_body);
    assert_eq!(direct_body["query"], "x=1&y=two");
    assert_eq!(direct_body["x_probe"], "lambda");
    let header = |name: &str| {
        lambda["headers"][name]
            .as_str()
            .or_else(|| lambda["multiValueHeaders"][name][0].as_str())
            .map(str::to_owned)
    };
    assert_eq!(
        header("content-type").as_deref(),
        Some(direct_type.as_str())
    );
    assert_eq!(
        header("x-content-type-options").as_deref(),
        Some(direct_nosniff.as_str())
    );
}

#[tokio::test]
async fn a_malformed_environment_stops_start_up_with_a_message_naming_the_variable() {
    let output = Command::new(PROBE)
        .env_clear()
        .env("PORT", "not-a-port")
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("PORT"), "{stderr}");
    assert!(stderr.contains("not-a-port"), "{stderr}");
}
