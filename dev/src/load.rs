//! A closed-loop HTTP load driver for the benchmarks: N keep-alive HTTP/1.1 connections, each
//! sending its next request (a `GET` by default; a `POST` with a JSON body and per-request
//! headers where the [`Requests`] say so) as soon as the previous answer is read, for a warm-up
//! and then a counted window. Anything but a 2xx is an error; latencies go to an HDR histogram.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpStream;
use tokio::task::{JoinHandle, JoinSet};

/// One request that takes longer counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest latency the histograms hold (microseconds); larger ones saturate.
const HISTOGRAM_MAX_US: u64 = 60_000_000;

/// What to load and for how long.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub port: u16,
    pub connections: u32,
    pub warmup: Duration,
    pub duration: Duration,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// The outcome of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub connections: u32,
    pub duration_seconds: f64,
    pub requests: u64,
    pub requests_per_second: f64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub latency: Latency,
}

/// The `n`th request of a connection: method, path, headers and body.
pub trait Requests: Send + Sync + 'static {
    fn path(&self, connection: u32, n: u64) -> String;
    /// Headers of every request.
    fn headers(&self) -> &[(http::HeaderName, http::HeaderValue)];
    /// The method of every request (default `GET`).
    fn method(&self) -> http::Method {
        http::Method::GET
    }
    /// The body of the `n`th request (default none); sent as `application/json`.
    fn body(&self, _connection: u32, _n: u64) -> Option<Bytes> {
        None
    }
    /// Headers of the `n`th request only, after [`Requests::headers`] (e.g. a fresh
    /// `Idempotency-Key`).
    fn extra_headers(
        &self,
        _connection: u32,
        _n: u64,
    ) -> Vec<(http::HeaderName, http::HeaderValue)> {
        Vec::new()
    }
}

/// Runs the plan: every connection loops over `requests` until the window ends.
pub async fn run(plan: Plan, requests: Arc<dyn Requests>) -> Result<Outcome> {
    let begin = Instant::now();
    let start = begin + plan.warmup;
    let end = start + plan.duration;
    let mut tasks = JoinSet::new();
    for connection in 0..plan.connections {
        tasks.spawn(connection_loop(
            plan.port,
            connection,
            Arc::clone(&requests),
            start,
            end,
        ));
    }
    let mut histogram = new_histogram()?;
    let mut errors = 0;
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        let stats = joined.map_err(|e| anyhow!("a load task failed: {e}"))??;
        histogram
            .add(&stats.histogram)
            .map_err(|e| anyhow!("cannot merge histograms: {e:?}"))?;
        errors += stats.errors;
        if first_error.is_none() {
            first_error = stats.first_error;
        }
    }
    if histogram.is_empty() {
        bail!(
            "no request succeeded ({errors} errors; first: {})",
            first_error.as_deref().unwrap_or("none")
        );
    }
    let ms = |us: u64| round3(us as f64 / 1000.0);
    Ok(Outcome {
        connections: plan.connections,
        duration_seconds: plan.duration.as_secs_f64(),
        requests: histogram.len(),
        requests_per_second: round3(histogram.len() as f64 / plan.duration.as_secs_f64()),
        errors,
        first_error,
        latency: Latency {
            mean_ms: round3(histogram.mean() / 1000.0),
            p50_ms: ms(histogram.value_at_quantile(0.50)),
            p90_ms: ms(histogram.value_at_quantile(0.90)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            max_ms: ms(histogram.max()),
        },
    })
}

struct Stats {
    histogram: Histogram<u64>,
    errors: u64,
    first_error: Option<String>,
}

async fn connection_loop(
    port: u16,
    connection: u32,
    requests: Arc<dyn Requests>,
    start: Instant,
    end: Instant,
) -> Result<Stats> {
    let mut stats = Stats {
        histogram: new_histogram()?,
        errors: 0,
        first_error: None,
    };
    let mut open: Option<Connection> = None;
    let mut n = 0_u64;
    while Instant::now() < end {
        if open.is_none() {
            match Connection::open(port).await {
                Ok(opened) => open = Some(opened),
                Err(e) => {
                    stats.failed(Instant::now() >= start, format!("connect: {e:#}"));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let Some(live) = open.as_mut() else {
            continue;
        };
        let method = requests.method();
        let path = requests.path(connection, n);
        let request = build_request(
            port,
            &method,
            &path,
            requests.headers(),
            requests.extra_headers(connection, n),
            requests.body(connection, n),
        );
        n += 1;
        let sent = Instant::now();
        let outcome = match request {
            Ok(request) => tokio::time::timeout(REQUEST_TIMEOUT, live.send(request)).await,
            Err(e) => Ok(Err(e)),
        };
        let done = Instant::now();
        let counted = done >= start && done < end;
        match outcome {
            Ok(Ok((status, _))) if status.is_success() => {
                if counted {
                    let us = u64::try_from((done - sent).as_micros()).unwrap_or(u64::MAX);
                    stats.histogram.saturating_record(us);
                }
            }
            failure => {
                let error = match failure {
                    Ok(Ok((status, body))) => format!(
                        "{method} {path}: {status}: {}",
                        String::from_utf8_lossy(&body)
                            .chars()
                            .take(300)
                            .collect::<String>()
                    ),
                    Ok(Err(e)) => format!("{method} {path}: {e:#}"),
                    Err(_) => format!("{method} {path}: no answer within 5 s"),
                };
                stats.failed(counted, error);
                if let Some(broken) = open.take() {
                    broken.close().await;
                }
            }
        }
    }
    if let Some(live) = open {
        live.close().await;
    }
    Ok(stats)
}

impl Stats {
    fn failed(&mut self, counted: bool, error: String) {
        if counted {
            self.errors += 1;
        }
        if self.first_error.is_none() {
            self.first_error = Some(error);
        }
    }
}

struct Connection {
    sender: SendRequest<Full<Bytes>>,
    driver: JoinHandle<()>,
}

impl Connection {
    async fn open(port: u16) -> Result<Self> {
        let stream = TcpStream::connect(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Self { sender, driver })
    }

    async fn send(
        &mut self,
        request: http::Request<Full<Bytes>>,
    ) -> Result<(http::StatusCode, Bytes)> {
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    async fn close(self) {
        drop(self.sender);
        let _ = tokio::time::timeout(Duration::from_secs(1), self.driver).await;
    }
}

/// The request, built before the clock starts.
fn build_request(
    port: u16,
    method: &http::Method,
    path: &str,
    headers: &[(http::HeaderName, http::HeaderValue)],
    extra: Vec<(http::HeaderName, http::HeaderValue)>,
    body: Option<Bytes>,
) -> Result<http::Request<Full<Bytes>>> {
    let mut builder = http::Request::builder()
        .method(method.clone())
        .uri(path)
        .header(http::header::HOST, format!("127.0.0.1:{port}"));
    if body.is_some() {
        builder = builder.header(http::header::CONTENT_TYPE, "application/json");
    }
    let mut request = builder.body(Full::new(body.unwrap_or_default()))?;
    for (name, value) in headers.iter().cloned().chain(extra) {
        request.headers_mut().insert(name, value);
    }
    Ok(request)
}

fn new_histogram() -> Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, HISTOGRAM_MAX_US, 3)
        .map_err(|e| anyhow!("cannot create a histogram: {e}"))
}

/// `value` seconds as a duration; positive and finite only (the benchmarks' `--seconds` flags).
pub fn seconds(flag: &str, value: f64) -> Result<Duration> {
    match Duration::try_from_secs_f64(value) {
        Ok(duration) if !duration.is_zero() => Ok(duration),
        _ => bail!("{flag} must be a positive number of seconds, not {value}"),
    }
}

/// Rounded to three decimals, for reports.
pub fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// What a `pgbench` run measured: transactions/s from its summary, p50/p99 from its
/// per-transaction log.
#[derive(Debug, Clone, Copy)]
pub struct PgbenchFigures {
    pub transactions_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// Runs `command` (a `pgbench` invocation logging each transaction under `log_dir`) and reads
/// its figures; `what` names it in errors.
pub fn pgbench_figures(
    command: &mut std::process::Command,
    log_dir: &std::path::Path,
    what: &str,
) -> Result<PgbenchFigures> {
    use anyhow::Context as _;
    let output = command
        .output()
        .with_context(|| format!("cannot run {what}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "{what} failed: {}{stdout}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let tps = stdout
        .lines()
        .find_map(|line| {
            line.strip_prefix("tps = ")
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse::<f64>().ok())
        })
        .with_context(|| format!("no tps in pgbench's output: {stdout}"))?;
    let mut latencies: Vec<u64> = Vec::new();
    for entry in std::fs::read_dir(log_dir)? {
        let text = std::fs::read_to_string(entry?.path())?;
        // client_id transaction_no time_us script_no time_epoch time_us
        latencies.extend(
            text.lines()
                .filter_map(|line| line.split_whitespace().nth(2)?.parse::<u64>().ok()),
        );
    }
    latencies.sort_unstable();
    let at = |q: f64| {
        let index = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        latencies
            .get(index)
            .map_or(0.0, |us| round3(*us as f64 / 1000.0))
    };
    Ok(PgbenchFigures {
        transactions_per_second: round3(tps),
        p50_ms: at(0.50),
        p99_ms: at(0.99),
    })
}
