//! `dev bench`: start-up time, idle memory, binary size and `/healthz` throughput of one release
//! function binary (see `make bench`).
//!
//! Every instance is started with `PORT` as its only environment variable (no database: the pool
//! is lazy), stdout and stderr appended to `target/bench/<function>.log`, and stopped with
//! SIGTERM (`kill -TERM`), which must make it drain and exit 0. Everything stays on 127.0.0.1.
//!
//! The figures go to `target/bench/<function>.json` and a table with the targets (start-to-ready
//! median < 15 ms, idle RSS < 15 MB, binary < 20 MB; MB = 10^6 bytes) goes to stdout. A missed
//! target is reported, not an error; a measurement that cannot be made is.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::load::{round3, seconds};
use anyhow::{Context as _, Result, anyhow, bail};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt as _, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::task::{JoinHandle, JoinSet};

/// Options of `dev bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Function name (for the report).
    #[arg(long)]
    pub function: String,
    /// Path of the release binary.
    #[arg(long)]
    pub binary: PathBuf,
    /// How many times to start the binary for the start-to-ready figures.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub starts: u32,
    /// Seconds the instance stays idle before its memory is read.
    #[arg(long, default_value_t = 1.0)]
    pub idle: f64,
    /// Concurrent keep-alive connections of the throughput run.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub connections: u32,
    /// Seconds of the counted throughput run.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds of load before the throughput run, not counted.
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
}

/// Start-to-ready median must stay below this (milliseconds).
const TARGET_READY_MS: f64 = 15.0;
/// Idle VmRSS must stay below this (bytes; MB = 10^6 bytes).
const TARGET_IDLE_RSS_BYTES: u64 = 15_000_000;
/// The binary as built must stay below this (bytes).
const TARGET_BINARY_BYTES: u64 = 20_000_000;

/// Sleep between connection attempts while an instance starts; with it the start-to-ready
/// resolution stays well under a millisecond.
const POLL_INTERVAL: Duration = Duration::from_micros(150);
/// An instance that is not ready by then failed to start.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// SIGTERM to exit may take the 8 s drain grace; past this the instance is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// One request of the throughput run that takes longer counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest latency the histograms hold (microseconds); larger ones saturate.
const HISTOGRAM_MAX_US: u64 = 60_000_000;

const LOAD_CAVEAT: &str = "the load generator runs on the same machine as the server and competes \
                           with it for the CPUs: requests/s is a lower bound and latencies include \
                           client-side queueing";

/// Runs every measurement and writes target/bench/<function>.json.
pub async fn run(args: Args) -> Result<()> {
    let idle = seconds("--idle", args.idle)?;
    let duration = seconds("--duration", args.duration)?;
    let warmup = seconds("--warmup", args.warmup)?;
    let metadata = std::fs::metadata(&args.binary)
        .with_context(|| format!("cannot read the binary {}", args.binary.display()))?;
    if !metadata.is_file() {
        bail!("{} is not a file", args.binary.display());
    }
    let binary = std::fs::canonicalize(&args.binary)
        .with_context(|| format!("cannot resolve {}", args.binary.display()))?;

    let out_dir = workspace_root()?.join("target").join("bench");
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let log_path = out_dir.join(format!("{}.log", args.function));
    File::create(&log_path).with_context(|| format!("cannot create {}", log_path.display()))?;
    let launcher = Launcher {
        binary: binary.clone(),
        log_path,
    };

    eprintln!("bench: binary size of {}", binary.display());
    let binary_size = measure_binary_size(&binary, metadata.len()).await?;

    eprintln!("bench: start-to-ready over {} starts", args.starts);
    let startup = measure_startup(&launcher, args.starts).await?;

    eprintln!("bench: idle memory after {:.1} s", idle.as_secs_f64());
    let idle_memory = measure_idle_memory(&launcher, idle).await?;

    eprintln!(
        "bench: /healthz throughput, {} connections, {:.1} s warm-up + {:.1} s",
        args.connections,
        warmup.as_secs_f64(),
        duration.as_secs_f64()
    );
    let throughput = measure_throughput(&launcher, args.connections, warmup, duration).await?;

    let targets = vec![
        Target {
            name: "start-to-ready (median)",
            limit: TARGET_READY_MS,
            unit: "ms",
            value: startup.ready_ms.median,
            pass: startup.ready_ms.median < TARGET_READY_MS,
        },
        Target {
            name: "idle RSS (VmRSS)",
            limit: megabytes(TARGET_IDLE_RSS_BYTES),
            unit: "MB",
            value: megabytes(idle_memory.vm_rss_bytes),
            pass: idle_memory.vm_rss_bytes < TARGET_IDLE_RSS_BYTES,
        },
        Target {
            name: "binary size (as built)",
            limit: megabytes(TARGET_BINARY_BYTES),
            unit: "MB",
            value: megabytes(binary_size.bytes),
            pass: binary_size.bytes < TARGET_BINARY_BYTES,
        },
    ];
    let report = Report {
        function: args.function.clone(),
        binary: binary.display().to_string(),
        measured_at_unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs()),
        cpus: std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        megabyte: "10^6 bytes",
        binary_size,
        startup,
        idle_memory,
        throughput,
        targets,
    };
    let json_path = out_dir.join(format!("{}.json", args.function));
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
    function: String,
    binary: String,
    measured_at_unix: u64,
    cpus: usize,
    megabyte: &'static str,
    binary_size: BinarySize,
    startup: Startup,
    idle_memory: IdleMemory,
    throughput: Throughput,
    targets: Vec<Target>,
}

#[derive(Debug, Serialize)]
struct BinarySize {
    bytes: u64,
    /// `strip` run on a copy; `None` when `strip` is not installed or failed.
    stripped_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    strip_note: Option<String>,
}

#[derive(Debug, Serialize)]
struct Startup {
    starts: u32,
    /// Spawn to the first 200 of `GET /healthz`.
    ready_ms: Summary,
    /// Every start, in order.
    ready_samples_ms: Vec<f64>,
    /// SIGTERM to exit.
    stop_ms: Summary,
    /// Stops that did not end in exit status 0 within the stop timeout.
    unclean_stops: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
struct Summary {
    min: f64,
    median: f64,
    p90: f64,
    max: f64,
}

#[derive(Debug, Serialize)]
struct IdleMemory {
    idle_seconds: f64,
    vm_rss_bytes: u64,
    vm_hwm_bytes: u64,
}

#[derive(Debug, Serialize)]
struct Throughput {
    path: &'static str,
    connections: u32,
    warmup_seconds: f64,
    duration_seconds: f64,
    /// Successful requests completed inside the counted window.
    requests: u64,
    requests_per_second: f64,
    latency_us: LatencySummary,
    /// Failed requests (transport error, timeout or status other than 200) in the window.
    errors: u64,
    warmup_errors: u64,
    vm_rss_after_bytes: u64,
    vm_hwm_after_bytes: u64,
    caveat: &'static str,
}

#[derive(Debug, Serialize)]
struct LatencySummary {
    p50: u64,
    p90: u64,
    p99: u64,
    max: u64,
    mean: f64,
}

#[derive(Debug, Serialize)]
struct Target {
    name: &'static str,
    limit: f64,
    unit: &'static str,
    value: f64,
    pass: bool,
}

#[allow(clippy::print_stdout)]
fn print_report(report: &Report, json_path: &Path) {
    let startup = &report.startup;
    let ready = &startup.ready_ms;
    let size = &report.binary_size;
    let memory = &report.idle_memory;
    let load = &report.throughput;
    let latency = &load.latency_us;
    let stripped = size.stripped_bytes.map_or_else(
        || format!("n/a ({})", size.strip_note.as_deref().unwrap_or("no strip")),
        |bytes| format!("{:.2} MB ({bytes} B)", megabytes(bytes)),
    );

    println!();
    println!(
        "Olympus bench: {} ({}), {} CPUs, MB = 10^6 bytes",
        report.function, report.binary, report.cpus
    );
    println!();
    println!(
        "{:<28}min {:.2} ms | median {:.2} ms | p90 {:.2} ms | max {:.2} ms",
        format!("start-to-ready ({} starts)", startup.starts),
        ready.min,
        ready.median,
        ready.p90,
        ready.max
    );
    println!(
        "{:<28}median {:.2} ms | max {:.2} ms | unclean stops {}",
        "stop (SIGTERM to exit)",
        startup.stop_ms.median,
        startup.stop_ms.max,
        startup.unclean_stops
    );
    println!(
        "{:<28}VmRSS {:.2} MB | VmHWM {:.2} MB",
        format!("idle memory (after {:.1} s)", memory.idle_seconds),
        megabytes(memory.vm_rss_bytes),
        megabytes(memory.vm_hwm_bytes)
    );
    println!(
        "{:<28}{:.2} MB ({} B) as built | stripped copy {stripped}",
        "binary size",
        megabytes(size.bytes),
        size.bytes
    );
    println!(
        "{:<28}{} connections x {:.1} s (+{:.1} s warm-up): {:.0} req/s ({} requests), errors {} (warm-up {})",
        format!("throughput GET {}", load.path),
        load.connections,
        load.duration_seconds,
        load.warmup_seconds,
        load.requests_per_second,
        load.requests,
        load.errors,
        load.warmup_errors
    );
    println!(
        "{:<28}p50 {} µs | p90 {} µs | p99 {} µs | max {} µs | mean {:.0} µs",
        "  latency", latency.p50, latency.p90, latency.p99, latency.max, latency.mean
    );
    println!(
        "{:<28}VmRSS {:.2} MB | VmHWM {:.2} MB",
        "  memory after load",
        megabytes(load.vm_rss_after_bytes),
        megabytes(load.vm_hwm_after_bytes)
    );
    println!("  caveat: {}", load.caveat);
    println!();
    println!(
        "{:<26} {:>10} {:>12}  result",
        "target", "limit", "measured"
    );
    for target in &report.targets {
        println!(
            "{:<26} {:>10} {:>12}  {}",
            target.name,
            format!("< {} {}", target.limit, target.unit),
            format!("{:.2} {}", target.value, target.unit),
            if target.pass { "PASS" } else { "FAIL" }
        );
    }
    println!();
    println!("written to {}", json_path.display());
}

// ---------------------------------------------------------------------------------------------
// Measurements

async fn measure_binary_size(binary: &Path, bytes: u64) -> Result<BinarySize> {
    let (stripped_bytes, strip_note) = match stripped_size(binary).await {
        Ok(size) => (Some(size), None),
        Err(err) => (None, Some(format!("{err:#}"))),
    };
    Ok(BinarySize {
        bytes,
        stripped_bytes,
        strip_note,
    })
}

/// Size of a copy of `binary` after `strip` (in a temporary directory, removed afterwards).
async fn stripped_size(binary: &Path) -> Result<u64> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.subsec_nanos());
    let dir = std::env::temp_dir().join(format!("olympus-bench-{}-{nanos}", std::process::id()));
    tokio::fs::create_dir_all(&dir)
        .await
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let copy = dir.join("stripped");
    let result = async {
        tokio::fs::copy(binary, &copy)
            .await
            .with_context(|| format!("cannot copy the binary to {}", copy.display()))?;
        let status = Command::new("strip")
            .arg(&copy)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .await
            .context("cannot run strip")?;
        if !status.success() {
            bail!("strip failed: {status}");
        }
        Ok(tokio::fs::metadata(&copy).await?.len())
    }
    .await;
    let _ = tokio::fs::remove_dir_all(&dir).await;
    result
}

async fn measure_startup(launcher: &Launcher, starts: u32) -> Result<Startup> {
    let mut ready = Vec::new();
    let mut stops = Vec::new();
    let mut unclean_stops = 0;
    for start in 1..=starts {
        let (instance, elapsed) = launcher
            .start()
            .await
            .with_context(|| format!("start {start} of {starts}"))?;
        ready.push(millis(elapsed));
        let stop = instance.stop().await?;
        stops.push(millis(stop.elapsed));
        if !stop.clean() {
            unclean_stops += 1;
            eprintln!(
                "bench: start {start}: stop was not clean ({})",
                stop.describe()
            );
        }
    }
    Ok(Startup {
        starts,
        ready_ms: summarize(&ready).context("no start was measured")?,
        ready_samples_ms: ready.iter().map(|ms| round3(*ms)).collect(),
        stop_ms: summarize(&stops).context("no stop was measured")?,
        unclean_stops,
    })
}

async fn measure_idle_memory(launcher: &Launcher, idle: Duration) -> Result<IdleMemory> {
    let (instance, _) = launcher.start().await?;
    tokio::time::sleep(idle).await;
    let memory = instance.memory().await;
    let stop = instance.stop().await?;
    if !stop.clean() {
        eprintln!(
            "bench: idle instance: stop was not clean ({})",
            stop.describe()
        );
    }
    let (vm_rss_bytes, vm_hwm_bytes) = memory?;
    Ok(IdleMemory {
        idle_seconds: idle.as_secs_f64(),
        vm_rss_bytes,
        vm_hwm_bytes,
    })
}

async fn measure_throughput(
    launcher: &Launcher,
    connections: u32,
    warmup: Duration,
    duration: Duration,
) -> Result<Throughput> {
    let (instance, _) = launcher.start().await?;
    let port = instance.port;
    let begin = Instant::now();
    let window = Window {
        start: begin + warmup,
        end: begin + warmup + duration,
    };
    let mut tasks = JoinSet::new();
    for _ in 0..connections {
        tasks.spawn(load_connection(port, window));
    }
    let mut histogram = new_histogram()?;
    let mut errors = 0;
    let mut warmup_errors = 0;
    let mut failure = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(stats)) => {
                histogram
                    .add(&stats.histogram)
                    .map_err(|err| anyhow!("cannot merge latency histograms: {err:?}"))?;
                errors += stats.errors;
                warmup_errors += stats.warmup_errors;
            }
            Ok(Err(err)) => failure = Some(err),
            Err(err) => failure = Some(anyhow!("a load task failed: {err}")),
        }
    }
    let memory = instance.memory().await;
    let stop = instance.stop().await?;
    if !stop.clean() {
        eprintln!(
            "bench: loaded instance: stop was not clean ({})",
            stop.describe()
        );
    }
    if let Some(err) = failure {
        return Err(err);
    }
    let (vm_rss_after_bytes, vm_hwm_after_bytes) = memory?;
    let requests = histogram.len();
    if requests == 0 {
        bail!("no request of the throughput run succeeded ({errors} errors)");
    }
    #[allow(clippy::cast_precision_loss)] // request counts are far below 2^52
    let requests_per_second = requests as f64 / duration.as_secs_f64();
    Ok(Throughput {
        path: "/healthz",
        connections,
        warmup_seconds: warmup.as_secs_f64(),
        duration_seconds: duration.as_secs_f64(),
        requests,
        requests_per_second: round3(requests_per_second),
        latency_us: LatencySummary {
            p50: histogram.value_at_quantile(0.50),
            p90: histogram.value_at_quantile(0.90),
            p99: histogram.value_at_quantile(0.99),
            max: histogram.max(),
            mean: round3(histogram.mean()),
        },
        errors,
        warmup_errors,
        vm_rss_after_bytes,
        vm_hwm_after_bytes,
        caveat: LOAD_CAVEAT,
    })
}

/// The counted part of the throughput run: requests completing in `start..=end`.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    end: Instant,
}

struct ConnectionStats {
    histogram: Histogram<u64>,
    errors: u64,
    warmup_errors: u64,
}

/// One keep-alive connection sending `GET /healthz` back to back until `window.end`,
/// reconnecting after a failure.
async fn load_connection(port: u16, window: Window) -> Result<ConnectionStats> {
    let mut stats = ConnectionStats {
        histogram: new_histogram()?,
        errors: 0,
        warmup_errors: 0,
    };
    let mut connection: Option<Connection> = None;
    while Instant::now() < window.end {
        if connection.is_none() {
            match Connection::open(port).await {
                Ok(opened) => connection = Some(opened),
                Err(_) => {
                    count_error(&mut stats, window, Instant::now());
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let Some(live) = connection.as_mut() else {
            continue;
        };
        let sent = Instant::now();
        let outcome = tokio::time::timeout(REQUEST_TIMEOUT, live.get_healthz(port)).await;
        let done = Instant::now();
        if let Ok(Ok(())) = outcome {
            if done >= window.start && done <= window.end {
                stats.histogram.saturating_record(micros(done - sent));
            }
        } else {
            count_error(&mut stats, window, done);
            if let Some(broken) = connection.take() {
                broken.close().await;
            }
        }
    }
    if let Some(live) = connection {
        live.close().await;
    }
    Ok(stats)
}

fn count_error(stats: &mut ConnectionStats, window: Window, at: Instant) {
    if at < window.start {
        stats.warmup_errors += 1;
    } else {
        stats.errors += 1;
    }
}

fn new_histogram() -> Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, HISTOGRAM_MAX_US, 3)
        .map_err(|err| anyhow!("cannot create a latency histogram: {err:?}"))
}

// ---------------------------------------------------------------------------------------------
// Instances

/// Starts instances of the binary.
struct Launcher {
    binary: PathBuf,
    log_path: PathBuf,
}

impl Launcher {
    /// Starts one instance on a free port and waits for its first `GET /healthz` 200; returns it
    /// and the time from spawn to that response.
    async fn start(&self) -> Result<(Instance, Duration)> {
        let port = free_port()?;
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.log_path)
            .with_context(|| format!("cannot open {}", self.log_path.display()))?;
        let mut command = Command::new(&self.binary);
        command
            .env_clear()
            .env("PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        let spawned = Instant::now();
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {}", self.binary.display()))?;
        let pid = child
            .id()
            .context("the started instance has no process id")?;
        let deadline = spawned + READY_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "the instance exited with {status} before it was ready; see {}",
                    self.log_path.display()
                );
            }
            if probe(port).await {
                let elapsed = spawned.elapsed();
                return Ok((Instance { child, pid, port }, elapsed));
            }
            if Instant::now() >= deadline {
                // Dropping the child kills it (kill_on_drop).
                bail!(
                    "the instance was not ready within {} s; see {}",
                    READY_TIMEOUT.as_secs(),
                    self.log_path.display()
                );
            }
            fine_sleep(POLL_INTERVAL).await?;
        }
    }
}

/// Whether `GET /healthz` on `port` answers 200 now (a refused connection fails at once).
async fn probe(port: u16) -> bool {
    let Ok(mut connection) = Connection::open(port).await else {
        return false;
    };
    let ok = matches!(
        tokio::time::timeout(REQUEST_TIMEOUT, connection.get_healthz(port)).await,
        Ok(Ok(()))
    );
    connection.close().await;
    ok
}

/// Sleeps `duration` with microsecond precision: tokio's timer rounds up to whole milliseconds,
/// so the sleep happens on a blocking-pool thread.
async fn fine_sleep(duration: Duration) -> Result<()> {
    tokio::task::spawn_blocking(move || std::thread::sleep(duration))
        .await
        .context("the sleeping thread failed")
}

/// A port that was free a moment ago (bound on 127.0.0.1:0 and released).
fn free_port() -> Result<u16> {
    let listener =
        std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("cannot find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// A started, ready instance; killed if dropped without [`Instance::stop`].
struct Instance {
    child: Child,
    pid: u32,
    port: u16,
}

struct Stop {
    elapsed: Duration,
    /// `None` when the instance did not exit within [`STOP_TIMEOUT`] and was killed.
    status: Option<ExitStatus>,
}

impl Stop {
    fn clean(&self) -> bool {
        self.status.is_some_and(|status| status.success())
    }

    fn describe(&self) -> String {
        match self.status {
            Some(status) => status.to_string(),
            None => format!("no exit within {} s, killed", STOP_TIMEOUT.as_secs()),
        }
    }
}

impl Instance {
    /// VmRSS and VmHWM in bytes, from /proc/<pid>/status.
    async fn memory(&self) -> Result<(u64, u64)> {
        let path = format!("/proc/{}/status", self.pid);
        let status = tokio::fs::read_to_string(&path)
            .await
            .with_context(|| format!("cannot read {path}"))?;
        let rss = status_kb(&status, "VmRSS").with_context(|| format!("no VmRSS in {path}"))?;
        let hwm = status_kb(&status, "VmHWM").with_context(|| format!("no VmHWM in {path}"))?;
        Ok((rss * 1024, hwm * 1024))
    }

    /// Sends SIGTERM and waits for the exit (killing the instance after [`STOP_TIMEOUT`]).
    async fn stop(mut self) -> Result<Stop> {
        if let Some(status) = self.child.try_wait()? {
            return Ok(Stop {
                elapsed: Duration::ZERO,
                status: Some(status),
            });
        }
        // The child is not reaped yet, so its pid cannot have been reused.
        let sent = Instant::now();
        let kill = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .stdin(Stdio::null())
            .status()
            .await
            .context("cannot run kill -TERM")?;
        if !kill.success() {
            bail!("kill -TERM {} failed: {kill}", self.pid);
        }
        match tokio::time::timeout(STOP_TIMEOUT, self.child.wait()).await {
            Ok(status) => Ok(Stop {
                elapsed: sent.elapsed(),
                status: Some(status?),
            }),
            Err(_) => {
                self.child.kill().await?;
                Ok(Stop {
                    elapsed: sent.elapsed(),
                    status: None,
                })
            }
        }
    }
}

/// One HTTP/1.1 keep-alive client connection to 127.0.0.1.
struct Connection {
    sender: SendRequest<Empty<Bytes>>,
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

    /// `GET /healthz`, reading the whole body; `Err` unless the status is 200.
    async fn get_healthz(&mut self, port: u16) -> Result<()> {
        let request = http::Request::get("/healthz")
            .header(http::header::HOST, format!("127.0.0.1:{port}"))
            .body(Empty::<Bytes>::new())?;
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        response.into_body().collect().await?;
        if status != http::StatusCode::OK {
            bail!("GET /healthz answered {status}");
        }
        Ok(())
    }

    /// Closes the connection and waits (briefly) for its driver to finish.
    async fn close(self) {
        drop(self.sender);
        let _ = tokio::time::timeout(Duration::from_secs(1), self.driver).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Pure helpers

/// The workspace root: the parent of this crate's directory.
fn workspace_root() -> Result<PathBuf> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .context("the dev crate has no parent directory")
}

/// The value in kB of `key` (e.g. `VmRSS`) in the text of /proc/<pid>/status.
fn status_kb(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let (name, rest) = line.split_once(':')?;
        if name != key {
            return None;
        }
        let mut words = rest.split_whitespace();
        let value = words.next()?.parse().ok()?;
        match words.next() {
            Some("kB") | None => Some(value),
            Some(_) => None,
        }
    })
}

/// Median of `sorted` values: the middle one, or the mean of the two middle ones.
fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    if n % 2 == 1 {
        Some(sorted[n / 2])
    } else {
        Some(f64::midpoint(sorted[n / 2 - 1], sorted[n / 2]))
    }
}

/// Nearest-rank percentile (`0 < p <= 100`) of `sorted` values.
fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )] // small positive counts
    let rank = ((p / 100.0) * n as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, n) - 1])
}

/// Min, median, p90 and max of `values` (any order), rounded to 3 decimals.
fn summarize(values: &[f64]) -> Option<Summary> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    Some(Summary {
        min: round3(*sorted.first()?),
        median: round3(median(&sorted)?),
        p90: round3(percentile(&sorted, 90.0)?),
        max: round3(*sorted.last()?),
    })
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

#[allow(clippy::cast_precision_loss)] // byte counts far below 2^52
fn megabytes(bytes: u64) -> f64 {
    bytes as f64 / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tlist-dead-lette\nUmask:\t0022\nState:\tS (sleeping)\n\
                          VmPeak:\t  640000 kB\nVmHWM:\t    9876 kB\nVmRSS:\t    8192 kB\n\
                          RssAnon:\t    2048 kB\nThreads:\t3\n";

    #[test]
    fn reads_kilobytes_from_proc_status() {
        assert_eq!(status_kb(STATUS, "VmRSS"), Some(8192));
        assert_eq!(status_kb(STATUS, "VmHWM"), Some(9876));
        assert_eq!(status_kb(STATUS, "Threads"), Some(3));
        assert_eq!(status_kb(STATUS, "VmSwap"), None);
        assert_eq!(status_kb(STATUS, "State"), None);
        // A prefix of another key is not that key.
        assert_eq!(status_kb(STATUS, "Rss"), None);
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[4.0]), Some(4.0));
        assert_eq!(median(&[1.0, 2.0, 9.0]), Some(2.0));
        assert_eq!(median(&[1.0, 2.0, 4.0, 9.0]), Some(3.0));
    }

    #[test]
    fn nearest_rank_percentiles() {
        let twenty: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(&twenty, 90.0), Some(18.0));
        assert_eq!(percentile(&twenty, 50.0), Some(10.0));
        assert_eq!(percentile(&twenty, 100.0), Some(20.0));
        assert_eq!(percentile(&twenty, 0.1), Some(1.0));
        assert_eq!(percentile(&[7.0], 90.0), Some(7.0));
        assert_eq!(percentile(&[], 90.0), None);
    }

    #[test]
    fn summaries_sort_first() {
        let summary = summarize(&[5.0, 1.0, 3.0, 2.0, 4.0]);
        assert_eq!(
            summary,
            Some(Summary {
                min: 1.0,
                median: 3.0,
                p90: 5.0,
                max: 5.0
            })
        );
        assert_eq!(summarize(&[]), None);
    }

    #[test]
    fn durations_must_be_positive_and_finite() {
        assert_eq!(seconds("--x", 1.5).ok(), Some(Duration::from_millis(1500)));
        assert!(seconds("--x", 0.0).is_err());
        assert!(seconds("--x", -1.0).is_err());
        assert!(seconds("--x", f64::NAN).is_err());
        assert!(seconds("--x", f64::INFINITY).is_err());
    }

    #[test]
    fn megabytes_are_decimal() {
        assert!((megabytes(15_000_000) - 15.0).abs() < f64::EPSILON);
        assert!((round3(1.23456) - 1.235).abs() < 1e-12);
    }
}
