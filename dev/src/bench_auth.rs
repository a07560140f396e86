//! `dev bench-auth`: what authentication costs (see `make bench`).
//!
//! 1. Access-token verification: one real token, ES256 and then EdDSA, verified by
//!    [`olympus::auth::Verifier`] in a tight loop on one thread -> verifications/s per core.
//! 2. The latency an authenticated request adds: an in-process router built by
//!    [`olympus::http::app`] (the full standard layer stack) with two routes returning the same
//!    small JSON, one extracting a [`Principal`] and one not, served on 127.0.0.1 and loaded over
//!    keep-alive HTTP/1.1 connections that alternate between the two routes, so both see the same
//!    machine state. Once with one connection (latency without queueing), once under load.
//! 3. Password verification: `olympus::auth::password::verify` (argon2id, OWASP parameters) from
//!    two concurrent tasks -> verifications/s and latency; this bounds logins/s on 2 cores.
//! 4. Login over HTTP: a throwaway PostgreSQL cluster (`target/bench/pg`), a migrated database
//!    and every function in-process ([`crate::runner::Platform`], in-process bus, no schedules);
//!    one tenant signs up (`POST /v1/tenants`), then `POST /v1/auth/login` is driven over
//!    keep-alive connections -> logins/s, latency and errors (every answer must be 200; the
//!    per-IP throttle counts failures only). Skipped, with a message, when the PostgreSQL server
//!    binaries are not installed.
//!
//! The figures go to `target/bench/auth.json` and a table with the targets (> 20,000 token
//! verifications/s per core, < 0.2 ms added p99 on the single connection) to stdout. A missed
//! target is reported, not an error; a measurement that cannot be made is.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::load::{round3, seconds};
use anyhow::{Context as _, Result, anyhow, bail};
use axum::Router;
use axum::http::Method;
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use olympus::auth::{Principal, Verifier, password};
use olympus::config::Env;
use olympus::testing::tokens::{self, TestKeys};
use olympus::{AppState, Config, Function};
use serde::Serialize;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::pubsub::RetrySettings;
use crate::runner::{Options, Platform};
use crate::services::{self, Postgres};

/// Options of `dev bench-auth`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Seconds of the verification loop, per algorithm.
    #[arg(long, default_value_t = 3.0)]
    pub verify_seconds: f64,
    /// Connection counts of the HTTP runs (comma-separated); each run alternates the routes.
    #[arg(long, value_delimiter = ',', default_values_t = [1_u32, 16])]
    pub connections: Vec<u32>,
    /// Seconds of each counted HTTP run.
    #[arg(long, default_value_t = 5.0)]
    pub http_seconds: f64,
    /// Seconds of load before each HTTP run, not counted.
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Seconds of the password-verification run.
    #[arg(long, default_value_t = 5.0)]
    pub argon2_seconds: f64,
    /// Concurrent password verifications.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub argon2_tasks: u32,
    /// Concurrent keep-alive connections of the HTTP login run.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub login_connections: u32,
    /// Seconds of the counted HTTP login run (after --warmup).
    #[arg(long, default_value_t = 10.0)]
    pub login_seconds: f64,
}

/// Token verifications per second on one thread must stay above this.
const TARGET_VERIFICATIONS_PER_SECOND: f64 = 20_000.0;
/// The p99 an authenticated request adds over an anonymous one, single connection (ms).
const TARGET_ADDED_P99_MS: f64 = 0.2;

const ISSUER: &str = "https://auth.olympus.bench";
const AUDIENCE: &str = "olympus";
const OPEN_PATH: &str = "/bench/open";
const AUTHED_PATH: &str = "/bench/authed";
/// A realistic permission list: the token travels (and is parsed) on every request.
const PERMISSIONS: &[&str] = &[
    "orders:read",
    "orders:write",
    "payments:write",
    "catalog:*",
    "inventory:read",
    "customers:read",
    "reports:read",
];
const PASSWORD: &str = "correct horse battery staple";

/// One request that takes longer counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest latency the histograms hold (microseconds); larger ones saturate.
const HISTOGRAM_MAX_US: u64 = 60_000_000;

const LOAD_CAVEAT: &str = "client and server share the process and its CPUs: latencies include \
                           client-side work and queueing; compare the two routes, not the \
                           absolute values";

/// Runs every measurement and writes target/bench/auth.json.
pub async fn run(args: Args) -> Result<()> {
    let verify_for = seconds("--verify-seconds", args.verify_seconds)?;
    let http_for = seconds("--http-seconds", args.http_seconds)?;
    let warmup = seconds("--warmup", args.warmup)?;
    let argon2_for = seconds("--argon2-seconds", args.argon2_seconds)?;
    let login_for = seconds("--login-seconds", args.login_seconds)?;
    if args.connections.is_empty() || args.connections.iter().any(|c| !(1..=1024).contains(c)) {
        bail!("--connections must list counts between 1 and 1024");
    }
    let out_dir = crate::topology::workspace_root()
        .join("target")
        .join("bench");
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;

    let es256 = TestKeys::es256("bench-es256").map_err(|e| anyhow!("{e}"))?;
    let ed25519 = TestKeys::ed25519("bench-ed25519").map_err(|e| anyhow!("{e}"))?;

    let mut verification = Vec::new();
    for keys in [&es256, &ed25519] {
        eprintln!(
            "bench-auth: {:?} token verification, one thread, {:.1} s",
            keys.algorithm(),
            verify_for.as_secs_f64()
        );
        verification.push(measure_verification(keys, verify_for).await?);
    }

    let server = BenchServer::start(&es256).await?;
    let mut http_runs = Vec::new();
    for &connections in &args.connections {
        eprintln!(
            "bench-auth: GET {OPEN_PATH} vs {AUTHED_PATH} (ES256), {connections} connection(s), \
             {:.1} s warm-up + {:.1} s",
            warmup.as_secs_f64(),
            http_for.as_secs_f64()
        );
        http_runs.push(measure_http(&server, connections, warmup, http_for).await?);
    }
    server.stop().await;

    eprintln!(
        "bench-auth: argon2id password verification, {} tasks, {:.1} s",
        args.argon2_tasks,
        argon2_for.as_secs_f64()
    );
    let passwords = measure_passwords(args.argon2_tasks, argon2_for).await?;

    let login = if let Some(reason) = postgres_missing() {
        eprintln!("bench-auth: login over HTTP SKIPPED: {reason}");
        LoginSection::Skipped { reason }
    } else {
        eprintln!(
            "bench-auth: POST {LOGIN_PATH} over HTTP, {} connection(s), {:.1} s warm-up + {:.1} s \
             (PostgreSQL in {})",
            args.login_connections,
            warmup.as_secs_f64(),
            login_for.as_secs_f64(),
            out_dir.join("pg").display()
        );
        let mut run = Box::pin(measure_login(
            &out_dir,
            args.login_connections,
            warmup,
            login_for,
        ))
        .await?;
        run.share_of_argon2_bound = if passwords.per_second > 0.0 {
            round3(run.logins_per_second / passwords.per_second)
        } else {
            0.0
        };
        LoginSection::Measured(run)
    };

    let mut targets: Vec<Target> = verification
        .iter()
        .map(|v| Target {
            name: format!("{} verifications/s (1 thread)", v.algorithm),
            limit: format!("> {TARGET_VERIFICATIONS_PER_SECOND:.0} /s"),
            measured: format!("{:.0} /s", v.per_second),
            pass: v.per_second > TARGET_VERIFICATIONS_PER_SECOND,
        })
        .collect();
    if let Some(single) = http_runs.iter().find(|run| run.connections == 1) {
        targets.push(Target {
            name: "added p99, 1 connection".to_owned(),
            limit: format!("< {TARGET_ADDED_P99_MS} ms"),
            measured: format!("{:.3} ms", single.added_ms.p99),
            pass: single.added_ms.p99 < TARGET_ADDED_P99_MS,
        });
    }
    let report = Report {
        measured_at_unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs()),
        cpus: std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        release_build: !cfg!(debug_assertions),
        verification,
        http: http_runs,
        passwords,
        login,
        targets,
    };
    let json_path = out_dir.join("auth.json");
    let json = serde_json::to_string_pretty(&report)?;
    std::fs::write(&json_path, json + "\n")
        .with_context(|| format!("cannot write {}", json_path.display()))?;
    print_report(&report, &json_path);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The report

#[derive(Debug, Serialize)]
struct Report {
    measured_at_unix: u64,
    cpus: usize,
    release_build: bool,
    verification: Vec<Verification>,
    http: Vec<HttpRun>,
    passwords: Passwords,
    login: LoginSection,
    targets: Vec<Target>,
}

#[derive(Debug, Serialize)]
struct Verification {
    algorithm: String,
    token_bytes: usize,
    seconds: f64,
    verifications: u64,
    per_second: f64,
    mean_us: f64,
}

#[derive(Debug, Serialize)]
struct HttpRun {
    connections: u32,
    warmup_seconds: f64,
    duration_seconds: f64,
    /// `GET /bench/open`: no credentials, no extractor.
    open: RouteStats,
    /// `GET /bench/authed`: `Authorization: Bearer <ES256 token>`, `Principal` extractor.
    authed: RouteStats,
    /// authed minus open, per percentile, in milliseconds.
    added_ms: Added,
    caveat: &'static str,
}

#[derive(Debug, Serialize)]
struct RouteStats {
    path: &'static str,
    requests: u64,
    requests_per_second: f64,
    errors: u64,
    latency_us: LatencySummary,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
struct LatencySummary {
    p50: u64,
    p90: u64,
    p99: u64,
    max: u64,
    mean: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
struct Added {
    p50: f64,
    p90: f64,
    p99: f64,
    mean: f64,
}

#[derive(Debug, Serialize)]
struct Passwords {
    algorithm: &'static str,
    tasks: u32,
    seconds: f64,
    /// One `password::hash` of the benchmark password (for scale).
    hash_ms: f64,
    verifications: u64,
    per_second: f64,
    latency_us: LatencySummary,
}

/// Section 4: measured, or skipped (no PostgreSQL server here).
#[derive(Debug, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
enum LoginSection {
    Measured(LoginRun),
    Skipped { reason: String },
}

#[derive(Debug, Serialize)]
struct LoginRun {
    path: &'static str,
    connections: u32,
    /// Cluster creation, migrations, platform start and the sign-up.
    setup_seconds: f64,
    warmup_seconds: f64,
    duration_seconds: f64,
    /// 200 answers completed inside the counted window.
    logins: u64,
    logins_per_second: f64,
    /// Anything but a 200 (status, transport error, timeout) inside the counted window.
    errors: u64,
    /// The same during the warm-up (not in `errors`).
    warmup_errors: u64,
    /// The first failure seen, for diagnosis.
    first_error: Option<String>,
    latency_us: LatencySummary,
    /// `logins_per_second` over the argon2id verifications/s of section 3.
    share_of_argon2_bound: f64,
    caveat: &'static str,
}

#[derive(Debug, Serialize)]
struct Target {
    name: String,
    limit: String,
    measured: String,
    pass: bool,
}

#[allow(clippy::print_stdout)]
fn print_report(report: &Report, json_path: &std::path::Path) {
    println!();
    println!(
        "Olympus bench-auth: {} CPUs, {} build",
        report.cpus,
        if report.release_build {
            "release"
        } else {
            "DEBUG (numbers not representative)"
        }
    );
    println!();
    for v in &report.verification {
        println!(
            "{:<34}{:>10.0} /s  ({:.2} µs each, {} in {:.1} s, token {} B)",
            format!("verify {} token, 1 thread", v.algorithm),
            v.per_second,
            v.mean_us,
            v.verifications,
            v.seconds,
            v.token_bytes
        );
    }
    println!();
    println!(
        "{:<34}{:>9} {:>9} {:>9} {:>9} {:>9} {:>7}",
        "HTTP (µs; alternating routes)", "req/s", "p50", "p90", "p99", "max", "errors"
    );
    for run in &report.http {
        for (label, stats) in [("open", &run.open), ("authed", &run.authed)] {
            println!(
                "{:<34}{:>9.0} {:>9} {:>9} {:>9} {:>9} {:>7}",
                format!("  {} conn, {label} {}", run.connections, stats.path),
                stats.requests_per_second,
                stats.latency_us.p50,
                stats.latency_us.p90,
                stats.latency_us.p99,
                stats.latency_us.max,
                stats.errors
            );
        }
        println!(
            "{:<34}p50 {:+.3} ms | p90 {:+.3} ms | p99 {:+.3} ms | mean {:+.3} ms",
            format!("  {} conn, added by auth", run.connections),
            run.added_ms.p50,
            run.added_ms.p90,
            run.added_ms.p99,
            run.added_ms.mean
        );
    }
    if let Some(run) = report.http.first() {
        println!("  caveat: {}", run.caveat);
    }
    println!();
    let p = &report.passwords;
    println!(
        "{:<34}{:>10.1} /s  (p50 {:.1} ms | p99 {:.1} ms | max {:.1} ms; one hash {:.1} ms)",
        format!("{} verify, {} tasks", p.algorithm, p.tasks),
        p.per_second,
        us_to_ms(p.latency_us.p50),
        us_to_ms(p.latency_us.p99),
        us_to_ms(p.latency_us.max),
        p.hash_ms
    );
    println!(
        "{:<34}at most ~{:.0} logins/s on this machine (one verify each, nothing else)",
        "", p.per_second
    );
    println!();
    print_login(&report.login);
    println!();
    println!(
        "{:<36} {:>14} {:>14}  result",
        "target", "limit", "measured"
    );
    for target in &report.targets {
        println!(
            "{:<36} {:>14} {:>14}  {}",
            target.name,
            target.limit,
            target.measured,
            if target.pass { "PASS" } else { "FAIL" }
        );
    }
    println!();
    println!("written to {}", json_path.display());
}

#[allow(clippy::print_stdout)]
fn print_login(login: &LoginSection) {
    match login {
        LoginSection::Skipped { reason } => {
            println!("login over HTTP: SKIPPED ({reason})");
        }
        LoginSection::Measured(run) => {
            println!(
                "{:<34}{:>9} {:>9} {:>9} {:>9} {:>9} {:>7}",
                "login over HTTP (µs)", "logins/s", "p50", "p90", "p99", "max", "errors"
            );
            println!(
                "{:<34}{:>9.1} {:>9} {:>9} {:>9} {:>9} {:>7}",
                format!("  {} conn, POST {}", run.connections, run.path),
                run.logins_per_second,
                run.latency_us.p50,
                run.latency_us.p90,
                run.latency_us.p99,
                run.latency_us.max,
                run.errors
            );
            println!(
                "{:<34}{} logins in {:.1} s after {:.1} s warm-up ({} warm-up errors); {:.0}% of \
                 the argon2id bound; setup {:.1} s",
                "",
                run.logins,
                run.duration_seconds,
                run.warmup_seconds,
                run.warmup_errors,
                run.share_of_argon2_bound * 100.0,
                run.setup_seconds
            );
            if let Some(error) = &run.first_error {
                println!("{:<34}first error: {error}", "");
            }
            println!("  caveat: {}", run.caveat);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Token verification

async fn measure_verification(keys: &TestKeys, duration: Duration) -> Result<Verification> {
    let verifier = tokens::verifier(&[keys], ISSUER, AUDIENCE).map_err(|e| anyhow!("{e}"))?;
    let token = token(keys)?;
    verifier
        .verify(&token)
        .map_err(|e| anyhow!("the benchmark token does not verify: {e}"))?;
    let algorithm = format!("{:?}", keys.algorithm());
    let token_bytes = token.len();
    let (count, elapsed) =
        tokio::task::spawn_blocking(move || verify_loop(&verifier, &token, duration))
            .await
            .context("the verification thread failed")??;
    Ok(Verification {
        algorithm,
        token_bytes,
        seconds: round3(elapsed.as_secs_f64()),
        verifications: count,
        per_second: round3(per_second(count, elapsed)),
        mean_us: round3(mean_micros(count, elapsed)),
    })
}

/// Verifies `token` back to back for `duration`; every verification must succeed.
fn verify_loop(verifier: &Verifier, token: &str, duration: Duration) -> Result<(u64, Duration)> {
    let start = Instant::now();
    let mut count: u64 = 0;
    loop {
        verifier
            .verify(std::hint::black_box(token))
            .map_err(|e| anyhow!("verification {count} failed: {e}"))?;
        count += 1;
        let elapsed = start.elapsed();
        if elapsed >= duration {
            return Ok((count, elapsed));
        }
    }
}

fn token(keys: &TestKeys) -> Result<String> {
    let claims = tokens::claims(
        Uuid::now_v7(),
        Uuid::now_v7(),
        PERMISSIONS,
        ISSUER,
        AUDIENCE,
    );
    keys.mint(&claims).map_err(|e| anyhow!("{e}"))
}

// ---------------------------------------------------------------------------------------------
// 2. Authenticated vs anonymous requests

/// The in-process server: the standard stack around the two benchmark routes.
struct BenchServer {
    port: u16,
    token: String,
    shutdown: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
}

const BODY: &str = r#"{"status":"ok"}"#;

async fn open() -> ([(axum::http::HeaderName, &'static str); 1], &'static str) {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        BODY,
    )
}

async fn authed(
    principal: Principal,
) -> ([(axum::http::HeaderName, &'static str); 1], &'static str) {
    std::hint::black_box(principal);
    open().await
}

impl BenchServer {
    async fn start(keys: &TestKeys) -> Result<Self> {
        let jwks = tokens::jwks_json(&[keys]);
        let vars = [
            ("AUTH_JWKS", jwks.as_str()),
            ("AUTH_ISSUER", ISSUER),
            ("AUTH_AUDIENCE", AUDIENCE),
        ];
        let config = Config::from(&Env::from_fn(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }))
        .map_err(|e| anyhow!("{e}"))?;
        let verifier = Verifier::from_config(&config).map_err(|e| anyhow!("{e}"))?;
        let state = AppState::new(
            config,
            None,
            Arc::new(olympus::events::publisher::DisabledPublisher),
            verifier,
        );
        let function: Function = Function::http("bench-auth")
            .route(&Method::GET, OPEN_PATH, open)
            .route(&Method::GET, AUTHED_PATH, authed)
            .build();
        let app: Router = olympus::http::app(function.router(), state);
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .context("cannot bind 127.0.0.1")?;
        let port = listener.local_addr()?.port();
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(olympus::runtime::serve_until(
            listener,
            app,
            shutdown.clone().cancelled_owned(),
            Duration::from_secs(1),
        ));
        let bench = Self {
            port,
            token: token(keys)?,
            shutdown,
            server,
        };
        // Both routes answer 200 before anything is measured.
        let mut connection = Connection::open(port).await?;
        connection.get(port, OPEN_PATH, None).await?;
        connection
            .get(port, AUTHED_PATH, Some(&bench.token))
            .await?;
        connection.close().await;
        Ok(bench)
    }

    async fn stop(self) {
        self.shutdown.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.server).await;
    }
}

/// The counted part of a run: requests completing in `start..=end`.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    end: Instant,
}

impl Window {
    fn counts(&self, at: Instant) -> bool {
        at >= self.start && at <= self.end
    }
}

struct ConnectionStats {
    open: Histogram<u64>,
    authed: Histogram<u64>,
    open_errors: u64,
    authed_errors: u64,
}

async fn measure_http(
    server: &BenchServer,
    connections: u32,
    warmup: Duration,
    duration: Duration,
) -> Result<HttpRun> {
    let begin = Instant::now();
    let window = Window {
        start: begin + warmup,
        end: begin + warmup + duration,
    };
    let mut tasks = JoinSet::new();
    for index in 0..connections {
        // Half the connections start with each route, so neither always goes first.
        let authed_first = index % 2 == 1;
        tasks.spawn(alternate(
            server.port,
            server.token.clone(),
            window,
            authed_first,
        ));
    }
    let mut open = new_histogram()?;
    let mut authed = new_histogram()?;
    let (mut open_errors, mut authed_errors) = (0, 0);
    while let Some(joined) = tasks.join_next().await {
        let stats = joined.context("a load task failed")??;
        open.add(&stats.open)
            .map_err(|e| anyhow!("cannot merge histograms: {e:?}"))?;
        authed
            .add(&stats.authed)
            .map_err(|e| anyhow!("cannot merge histograms: {e:?}"))?;
        open_errors += stats.open_errors;
        authed_errors += stats.authed_errors;
    }
    if open.is_empty() || authed.is_empty() {
        bail!("no request of the run succeeded ({open_errors} + {authed_errors} errors)");
    }
    let open_latency = summarize_histogram(&open);
    let authed_latency = summarize_histogram(&authed);
    Ok(HttpRun {
        connections,
        warmup_seconds: warmup.as_secs_f64(),
        duration_seconds: duration.as_secs_f64(),
        open: RouteStats {
            path: OPEN_PATH,
            requests: open.len(),
            requests_per_second: round3(per_second(open.len(), duration)),
            errors: open_errors,
            latency_us: open_latency,
        },
        authed: RouteStats {
            path: AUTHED_PATH,
            requests: authed.len(),
            requests_per_second: round3(per_second(authed.len(), duration)),
            errors: authed_errors,
            latency_us: authed_latency,
        },
        added_ms: added(&open_latency, &authed_latency),
        caveat: LOAD_CAVEAT,
    })
}

/// One keep-alive connection alternating the two routes until `window.end`, reconnecting after
/// a failure.
async fn alternate(
    port: u16,
    token: String,
    window: Window,
    authed_first: bool,
) -> Result<ConnectionStats> {
    let mut stats = ConnectionStats {
        open: new_histogram()?,
        authed: new_histogram()?,
        open_errors: 0,
        authed_errors: 0,
    };
    let mut connection: Option<Connection> = None;
    let mut send_authed = authed_first;
    while Instant::now() < window.end {
        if connection.is_none() {
            match Connection::open(port).await {
                Ok(opened) => connection = Some(opened),
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let Some(live) = connection.as_mut() else {
            continue;
        };
        let (path, bearer) = if send_authed {
            (AUTHED_PATH, Some(token.as_str()))
        } else {
            (OPEN_PATH, None)
        };
        let sent = Instant::now();
        let outcome = tokio::time::timeout(REQUEST_TIMEOUT, live.get(port, path, bearer)).await;
        let done = Instant::now();
        let ok = matches!(outcome, Ok(Ok(())));
        if window.counts(done) {
            let (histogram, errors) = if send_authed {
                (&mut stats.authed, &mut stats.authed_errors)
            } else {
                (&mut stats.open, &mut stats.open_errors)
            };
            if ok {
                histogram.saturating_record(micros(done - sent));
            } else {
                *errors += 1;
            }
        }
        if !ok && let Some(broken) = connection.take() {
            broken.close().await;
        }
        send_authed = !send_authed;
    }
    if let Some(live) = connection {
        live.close().await;
    }
    Ok(stats)
}

/// One HTTP/1.1 keep-alive client connection to 127.0.0.1.
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

    /// `GET path`, with a bearer token when given, reading the whole body; `Err` unless 200.
    async fn get(&mut self, port: u16, path: &str, bearer: Option<&str>) -> Result<()> {
        let mut request =
            http::Request::get(path).header(http::header::HOST, format!("127.0.0.1:{port}"));
        if let Some(token) = bearer {
            request = request.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let (status, _) = self.send(request.body(Full::new(Bytes::new()))?).await?;
        if status != http::StatusCode::OK {
            bail!("GET {path} answered {status}");
        }
        Ok(())
    }

    /// `POST path` with a JSON body; the status and the whole response body.
    async fn post_json(
        &mut self,
        port: u16,
        path: &str,
        json: Bytes,
    ) -> Result<(http::StatusCode, Bytes)> {
        let request = http::Request::post(path)
            .header(http::header::HOST, format!("127.0.0.1:{port}"))
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(json))?;
        self.send(request).await
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

// ---------------------------------------------------------------------------------------------
// 3. Password verification

async fn measure_passwords(tasks: u32, duration: Duration) -> Result<Passwords> {
    let hashing = Instant::now();
    let hash = password::hash(PASSWORD.to_owned())
        .await
        .map_err(|e| anyhow!("cannot hash the benchmark password: {e}"))?;
    let hash_ms = round3(hashing.elapsed().as_secs_f64() * 1000.0);
    let begin = Instant::now();
    let end = begin + duration;
    let mut set = JoinSet::new();
    for _ in 0..tasks {
        let hash = hash.clone();
        set.spawn(async move {
            let mut histogram = new_histogram()?;
            while Instant::now() < end {
                let sent = Instant::now();
                let matches = password::verify(PASSWORD.to_owned(), Some(hash.clone()))
                    .await
                    .map_err(|e| anyhow!("password verification failed: {e}"))?;
                if !matches {
                    bail!("the benchmark password did not verify against its own hash");
                }
                histogram.saturating_record(micros(sent.elapsed()));
            }
            Ok::<_, anyhow::Error>(histogram)
        });
    }
    let mut histogram = new_histogram()?;
    while let Some(joined) = set.join_next().await {
        let task = joined.context("a password task failed")??;
        histogram
            .add(&task)
            .map_err(|e| anyhow!("cannot merge histograms: {e:?}"))?;
    }
    // The last verifications end after `end`: divide by the time actually taken.
    let elapsed = begin.elapsed();
    if histogram.is_empty() {
        bail!("no password verification completed");
    }
    Ok(Passwords {
        algorithm: "argon2id m=19456 KiB t=2 p=1",
        tasks,
        seconds: round3(elapsed.as_secs_f64()),
        hash_ms,
        verifications: histogram.len(),
        per_second: round3(per_second(histogram.len(), elapsed)),
        latency_us: summarize_histogram(&histogram),
    })
}

// ---------------------------------------------------------------------------------------------
// 4. Login over HTTP

const LOGIN_PATH: &str = "/v1/auth/login";
const SIGN_UP_PATH: &str = "/v1/tenants";
const LOGIN_DATABASE: &str = "olympus";
const LOGIN_TENANT: &str = "bench-auth";
const LOGIN_EMAIL: &str = "owner@bench-auth.example";
/// Longest error text kept in the report.
const MAX_ERROR_CHARS: usize = 300;

const LOGIN_CAVEAT: &str = "client, server and PostgreSQL share the machine's CPUs; each login \
                            is an argon2id verify plus a session insert, an audit row and token \
                            signing, in one transaction";

/// Why the login section cannot run here: the PostgreSQL server binaries are not installed.
fn postgres_missing() -> Option<String> {
    let bindir = match std::process::Command::new("pg_config")
        .arg("--bindir")
        .output()
    {
        Ok(output) if output.status.success() => {
            PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
        }
        _ => {
            return Some(
                "PostgreSQL is not installed (`pg_config` not found); install the server with \
                 `apt-get install postgresql`"
                    .to_owned(),
            );
        }
    };
    ["initdb", "pg_ctl", "postgres"]
        .into_iter()
        .find(|binary| !bindir.join(binary).exists())
        .map(|binary| {
            format!(
                "the PostgreSQL server binaries are missing (no `{binary}` in {}); install them \
                 with `apt-get install postgresql`",
                bindir.display()
            )
        })
}

/// Starts the cluster and the platform, signs up the tenant, drives the logins, stops both.
async fn measure_login(
    out_dir: &Path,
    connections: u32,
    warmup: Duration,
    duration: Duration,
) -> Result<LoginRun> {
    let setup = Instant::now();
    let pg_dir = out_dir.join("pg");
    let pg = Postgres::start(&pg_dir)?;
    pg.create_database(LOGIN_DATABASE).await?;
    services::migrate(&pg, LOGIN_DATABASE).await?;
    let keys = TestKeys::ed25519("bench-login").map_err(|e| anyhow!("{e}"))?;
    let env = HashMap::from([
        ("AUTH_JWKS".to_owned(), tokens::jwks_json(&[&keys])),
        (
            "AUTH_SIGNING_KEY".to_owned(),
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, keys.pkcs8_der()),
        ),
        ("AUTH_SIGNING_KEY_ID".to_owned(), keys.kid().to_owned()),
        ("AUTH_SIGNING_ALG".to_owned(), "EdDSA".to_owned()),
    ]);
    let platform = Box::pin(Platform::start(Options {
        database_url: pg.app_url(LOGIN_DATABASE),
        project: "olympus-bench".to_owned(),
        emulator_host: None,
        listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        functions: crate::registry::all(),
        run_schedules: false,
        env,
        retry: RetrySettings::default(),
    }))
    .await?;
    let measured = drive_logins(platform.addr.port(), connections, warmup, duration, setup).await;
    platform.stop().await;
    drop(pg);
    if measured.is_ok() {
        // Only on success: after a failure, postgres.log is worth reading.
        let _ = std::fs::remove_dir_all(&pg_dir);
    }
    measured
}

/// Signs the tenant up, checks one login, then runs the counted load.
async fn drive_logins(
    port: u16,
    connections: u32,
    warmup: Duration,
    duration: Duration,
    setup: Instant,
) -> Result<LoginRun> {
    let sign_up = serde_json::json!({
        "name": "Bench Auth",
        "slug": LOGIN_TENANT,
        "industry": "restaurant",
        "currency": "EUR",
        "time_zone": "Europe/Paris",
        "owner": {"name": "Bench Owner", "email": LOGIN_EMAIL, "password": PASSWORD},
    });
    let login = Bytes::from(serde_json::to_vec(&serde_json::json!({
        "tenant": LOGIN_TENANT,
        "email": LOGIN_EMAIL,
        "password": PASSWORD,
    }))?);
    let mut connection = Connection::open(port).await?;
    let (status, body) = connection
        .post_json(
            port,
            SIGN_UP_PATH,
            Bytes::from(serde_json::to_vec(&sign_up)?),
        )
        .await?;
    if status != http::StatusCode::CREATED {
        bail!("POST {SIGN_UP_PATH} answered {status}: {}", excerpt(&body));
    }
    let (status, body) = connection
        .post_json(port, LOGIN_PATH, login.clone())
        .await?;
    if status != http::StatusCode::OK {
        bail!("POST {LOGIN_PATH} answered {status}: {}", excerpt(&body));
    }
    connection.close().await;
    let setup_seconds = round3(setup.elapsed().as_secs_f64());

    let begin = Instant::now();
    let window = Window {
        start: begin + warmup,
        end: begin + warmup + duration,
    };
    let mut tasks = JoinSet::new();
    for _ in 0..connections {
        tasks.spawn(login_loop(port, login.clone(), window));
    }
    let mut histogram = new_histogram()?;
    let (mut errors, mut warmup_errors) = (0, 0);
    let mut first_error: Option<(Instant, String)> = None;
    while let Some(joined) = tasks.join_next().await {
        let stats = joined.context("a login task failed")??;
        histogram
            .add(&stats.histogram)
            .map_err(|e| anyhow!("cannot merge histograms: {e:?}"))?;
        errors += stats.errors;
        warmup_errors += stats.warmup_errors;
        if let Some((at, error)) = stats.first_error
            && first_error.as_ref().is_none_or(|(first, _)| at < *first)
        {
            first_error = Some((at, error));
        }
    }
    let first_error = first_error.map(|(_, error)| error);
    if histogram.is_empty() {
        bail!(
            "no login of the run succeeded ({errors} errors; first: {})",
            first_error.as_deref().unwrap_or("none")
        );
    }
    Ok(LoginRun {
        path: LOGIN_PATH,
        connections,
        setup_seconds,
        warmup_seconds: warmup.as_secs_f64(),
        duration_seconds: duration.as_secs_f64(),
        logins: histogram.len(),
        logins_per_second: round3(per_second(histogram.len(), duration)),
        errors,
        warmup_errors,
        first_error,
        latency_us: summarize_histogram(&histogram),
        share_of_argon2_bound: 0.0,
        caveat: LOGIN_CAVEAT,
    })
}

struct LoginStats {
    histogram: Histogram<u64>,
    errors: u64,
    warmup_errors: u64,
    first_error: Option<(Instant, String)>,
}

impl LoginStats {
    fn failed(&mut self, window: Window, at: Instant, error: impl FnOnce() -> String) {
        if at < window.start {
            self.warmup_errors += 1;
        } else if window.counts(at) {
            self.errors += 1;
        } else {
            return;
        }
        if self.first_error.is_none() {
            self.first_error = Some((at, error()));
        }
    }
}

/// One keep-alive connection logging in back to back until `window.end`, reconnecting after a
/// failure. Anything but a 200 is an error.
async fn login_loop(port: u16, body: Bytes, window: Window) -> Result<LoginStats> {
    let mut stats = LoginStats {
        histogram: new_histogram()?,
        errors: 0,
        warmup_errors: 0,
        first_error: None,
    };
    let mut connection: Option<Connection> = None;
    while Instant::now() < window.end {
        if connection.is_none() {
            match Connection::open(port).await {
                Ok(opened) => connection = Some(opened),
                Err(e) => {
                    stats.failed(window, Instant::now(), || format!("connect: {e:#}"));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let Some(live) = connection.as_mut() else {
            continue;
        };
        let sent = Instant::now();
        let outcome = tokio::time::timeout(
            REQUEST_TIMEOUT,
            live.post_json(port, LOGIN_PATH, body.clone()),
        )
        .await;
        let done = Instant::now();
        let failure = match outcome {
            Ok(Ok((status, _))) if status == http::StatusCode::OK => None,
            Ok(Ok((status, answer))) => Some(format!("{status}: {}", excerpt(&answer))),
            Ok(Err(e)) => Some(format!("{e:#}")),
            Err(_) => Some(format!("no answer within {} s", REQUEST_TIMEOUT.as_secs())),
        };
        match failure {
            None => {
                if window.counts(done) {
                    stats.histogram.saturating_record(micros(done - sent));
                }
            }
            Some(error) => {
                stats.failed(window, done, || error);
                if let Some(broken) = connection.take() {
                    broken.close().await;
                }
            }
        }
    }
    if let Some(live) = connection {
        live.close().await;
    }
    Ok(stats)
}

/// The start of a response body, for error messages.
fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .chars()
        .take(MAX_ERROR_CHARS)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Pure helpers

fn new_histogram() -> Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, HISTOGRAM_MAX_US, 3)
        .map_err(|err| anyhow!("cannot create a latency histogram: {err:?}"))
}

fn summarize_histogram(histogram: &Histogram<u64>) -> LatencySummary {
    LatencySummary {
        p50: histogram.value_at_quantile(0.50),
        p90: histogram.value_at_quantile(0.90),
        p99: histogram.value_at_quantile(0.99),
        max: histogram.max(),
        mean: round3(histogram.mean()),
    }
}

/// What the authenticated route adds over the open one, per statistic, in milliseconds
/// (negative when it measured faster: noise).
#[allow(clippy::cast_precision_loss)] // microsecond latencies far below 2^52
fn added(open: &LatencySummary, authed: &LatencySummary) -> Added {
    let ms = |authed: u64, open: u64| round3((authed as f64 - open as f64) / 1000.0);
    Added {
        p50: ms(authed.p50, open.p50),
        p90: ms(authed.p90, open.p90),
        p99: ms(authed.p99, open.p99),
        mean: round3((authed.mean - open.mean) / 1000.0),
    }
}

#[allow(clippy::cast_precision_loss)] // counts far below 2^52
fn per_second(count: u64, elapsed: Duration) -> f64 {
    let seconds = elapsed.as_secs_f64();
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

#[allow(clippy::cast_precision_loss)] // counts far below 2^52
fn mean_micros(count: u64, elapsed: Duration) -> f64 {
    if count == 0 {
        0.0
    } else {
        elapsed.as_secs_f64() * 1_000_000.0 / count as f64
    }
}

#[allow(clippy::cast_precision_loss)]
fn us_to_ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::float_cmp)]
mod tests {
    use super::*;

    fn latency(p50: u64, p90: u64, p99: u64, mean: f64) -> LatencySummary {
        LatencySummary {
            p50,
            p90,
            p99,
            max: p99,
            mean,
        }
    }

    #[test]
    fn added_latency_is_the_signed_difference_in_milliseconds() {
        let open = latency(100, 150, 400, 120.0);
        let authed = latency(160, 200, 350, 181.5);
        assert_eq!(
            added(&open, &authed),
            Added {
                p50: 0.06,
                p90: 0.05,
                p99: -0.05,
                mean: 0.062,
            }
        );
    }

    #[test]
    fn rates_and_means_handle_zero() {
        assert_eq!(per_second(50_000, Duration::from_secs(2)), 25_000.0);
        assert_eq!(per_second(10, Duration::ZERO), 0.0);
        assert_eq!(mean_micros(4, Duration::from_micros(10)), 2.5);
        assert_eq!(mean_micros(0, Duration::from_secs(1)), 0.0);
    }

    #[test]
    fn durations_must_be_positive() {
        assert_eq!(seconds("--x", 1.5).unwrap(), Duration::from_millis(1500));
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(seconds("--x", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn login_failures_are_counted_by_window_and_the_first_is_kept() {
        let start = Instant::now();
        let window = Window {
            start: start + Duration::from_secs(1),
            end: start + Duration::from_secs(2),
        };
        let mut stats = LoginStats {
            histogram: new_histogram().unwrap(),
            errors: 0,
            warmup_errors: 0,
            first_error: None,
        };
        stats.failed(window, start, || "warm".to_owned());
        stats.failed(window, start + Duration::from_millis(1500), || {
            "counted".to_owned()
        });
        stats.failed(window, start + Duration::from_secs(3), || "late".to_owned());
        assert_eq!((stats.warmup_errors, stats.errors), (1, 1));
        assert_eq!(stats.first_error.map(|(_, e)| e).as_deref(), Some("warm"));
    }

    #[test]
    fn a_skipped_login_section_says_why() {
        let skipped = LoginSection::Skipped {
            reason: "no initdb".to_owned(),
        };
        assert_eq!(
            serde_json::to_value(&skipped).unwrap(),
            serde_json::json!({"outcome": "skipped", "reason": "no initdb"})
        );
        assert_eq!(excerpt("é".repeat(400).as_bytes()).chars().count(), 300);
    }

    #[test]
    fn histogram_summary_reads_the_percentiles() {
        let mut histogram = new_histogram().unwrap();
        for value in 1..=100 {
            histogram.record(value).unwrap();
        }
        let summary = summarize_histogram(&histogram);
        assert_eq!(summary.p50, 50);
        assert_eq!(summary.p99, 99);
        assert_eq!(summary.max, 100);
        assert_eq!(summary.mean, 50.5);
    }
}
