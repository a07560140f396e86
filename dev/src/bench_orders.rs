//! `dev bench-orders`: taking orders next to PostgreSQL's own ceiling (see `make bench`).
//!
//! 1. A throwaway PostgreSQL cluster (`target/bench/pg-orders`, fsync and synchronous commit
//!    off like every bench cluster), a migrated database, every function in-process
//!    ([`crate::runner::Platform`], default pool size), one tenant signed up over HTTP (plan
//!    `enterprise`, so it may have several locations) and a menu created over HTTP: a tax rate,
//!    a milk modifier group, three products with two sized variants each linked to it (stock
//!    tracked), `--locations` locations with ten million units of every variant received.
//! 2. `POST /v1/orders` with three lines, each with a modifier, and `"place": true` (priced from
//!    the catalog, numbered, stock sold, kitchen tickets, outbox, idempotency record; a fresh
//!    `Idempotency-Key` per request), at each `--connections` count, every order at the first
//!    location -> orders/s, p50/p99. Then the largest count again with the orders spread over
//!    all locations: what the per-location order-number counter row costs.
//! 3. The ceiling: `pgbench` (default TPC-B-like script) with the same client counts on the
//!    same cluster over TCP, its own `pgbench -i` data -> transactions/s and p50/p99 from the
//!    per-transaction log.
//!
//! Targets (issue 5): orders/s at least a third of pgbench's transactions/s at the same client
//! count, p99 under 20 ms at 16 connections. The figures go to `target/bench/orders.json`; a
//! missed target is reported, not an error.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, anyhow, bail};
use bytes::Bytes;
use olympus::testing::tokens::{self, TestKeys};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::load::{self, Outcome, Plan, Requests, round3, seconds};
use crate::pubsub::RetrySettings;
use crate::runner::{Options, Platform};
use crate::services::{self, Postgres};

/// Options of `dev bench-orders`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Concurrent keep-alive connections of each run (and pgbench clients).
    #[arg(long, value_delimiter = ',', default_values_t = [16_u32, 64])]
    pub connections: Vec<u32>,
    /// Seconds of each counted run.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Seconds of load before each counted run.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Locations of the spread run (orders of connection c go to location c mod this); 1 skips it.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub locations: u32,
    /// The functions' `DATABASE_POOL_SIZE` (default: the platform's default).
    #[arg(long)]
    pub pool_size: Option<usize>,
    /// `pgbench -i` scale factor of the ceiling runs.
    #[arg(long, default_value_t = 16)]
    pub pgbench_scale: u32,
}

const DATABASE: &str = "olympus_bench_orders";
const PGBENCH_DATABASE: &str = "pgbench";
const TARGET_SHARE_OF_CEILING: f64 = 1.0 / 3.0;
const TARGET_P99_MS: f64 = 20.0;
const TARGET_P99_CONNECTIONS: u32 = 16;
const STOCK: i64 = 10_000_000;
const PRODUCTS: &[&str] = &["Latte", "Cappuccino", "Mocha"];

#[derive(Debug, Serialize)]
struct Report {
    measured_at_unix: u64,
    cpus: usize,
    release_build: bool,
    database_pool_size: usize,
    order: Value,
    runs: Vec<Run>,
    ceilings: Vec<Ceiling>,
    targets: Vec<Target>,
    caveat: &'static str,
}

#[derive(Debug, Serialize)]
struct Run {
    name: String,
    locations: u32,
    outcome: Outcome,
}

#[derive(Debug, Serialize)]
struct Ceiling {
    command: String,
    clients: u32,
    transactions_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

#[derive(Debug, Serialize)]
struct Target {
    name: String,
    limit: String,
    measured: String,
    pass: bool,
}

const CAVEAT: &str = "load generator, functions, PostgreSQL and pgbench share this machine's \
                      CPUs; the cluster runs with fsync and synchronous_commit off for both \
                      (no WAL flush waits); pgbench's TPC-B-like transaction is 7 statements \
                      with BEGIN and END in one transaction, an order with place is 24 in 4 \
                      transactions and 14 round trips (idempotency claim; number counter; quote, \
                      order and lines, kitchen tickets, stock and ledger, outbox and answer; \
                      outbox mark) plus the in-process delivery of its events";

/// Runs the benchmark and writes target/bench/orders.json.
pub async fn run(args: Args) -> Result<()> {
    let measure = seconds("--seconds", args.seconds)?;
    let warmup = seconds("--warmup", args.warmup)?;
    if args.connections.is_empty() || args.connections.iter().any(|c| !(1..=256).contains(c)) {
        bail!("--connections must list counts of 1 to 256");
    }
    let out_dir = crate::topology::workspace_root()
        .join("target")
        .join("bench");
    std::fs::create_dir_all(&out_dir)?;
    let pg_dir = out_dir.join("pg-orders");
    let pg = Postgres::start(&pg_dir)?;
    pg.create_database(DATABASE).await?;
    services::migrate(&pg, DATABASE).await?;

    let keys = TestKeys::ed25519("bench-orders").map_err(|e| anyhow!("{e}"))?;
    let mut env = HashMap::from([
        ("AUTH_JWKS".to_owned(), tokens::jwks_json(&[&keys])),
        (
            "AUTH_SIGNING_KEY".to_owned(),
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, keys.pkcs8_der()),
        ),
        ("AUTH_SIGNING_KEY_ID".to_owned(), keys.kid().to_owned()),
        ("AUTH_SIGNING_ALG".to_owned(), "EdDSA".to_owned()),
    ]);
    if let Some(size) = args.pool_size {
        env.insert("DATABASE_POOL_SIZE".to_owned(), size.to_string());
    }
    let platform = Box::pin(Platform::start(Options {
        database_url: pg.app_url(DATABASE),
        project: "olympus-bench".to_owned(),
        emulator_host: None,
        listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        functions: crate::registry::all(),
        run_schedules: false,
        env,
        retry: RetrySettings::default(),
    }))
    .await?;
    let port = platform.addr.port();
    let pool_size = platform.state.config().database_pool_size;

    eprintln!(
        "bench-orders: signing up and seeding a menu at {} locations",
        args.locations
    );
    let seeder = Seeder::sign_up(port).await?;
    let menu = seeder.menu(args.locations).await?;
    let config = platform.state.config();
    let mut claims = tokens::claims(
        seeder.tenant,
        seeder.user,
        &["orders:write", "orders:read"],
        &config.auth_issuer,
        &config.auth_audience,
    );
    claims.exp = claims.iat + 3600;
    let token = keys.mint(&claims).map_err(|e| anyhow!("{e}"))?;
    let authorization = http::HeaderValue::from_str(&format!("Bearer {token}"))?;
    let bodies: Vec<Bytes> = menu
        .locations
        .iter()
        .map(|location| order_body(&menu, *location).map(Bytes::from))
        .collect::<Result<_>>()?;
    let order = serde_json::from_slice(&bodies[0])?;

    let mut runs = Vec::new();
    for &connections in &args.connections {
        eprintln!(
            "bench-orders: POST /v1/orders (3 lines, place), {connections} connections, 1 location, {:.0} s + {:.0} s warm-up",
            measure.as_secs_f64(),
            warmup.as_secs_f64()
        );
        let outcome = load::run(
            Plan {
                port,
                connections,
                warmup,
                duration: measure,
            },
            Arc::new(Orders {
                bodies: bodies[..1].to_vec(),
                headers: vec![(http::header::AUTHORIZATION, authorization.clone())],
            }),
        )
        .await?;
        runs.push(Run {
            name: format!("POST /v1/orders, {connections} conn"),
            locations: 1,
            outcome,
        });
    }
    let widest = args.connections.iter().copied().max().unwrap_or(16);
    let locations = u32::try_from(bodies.len())?;
    if locations > 1 {
        eprintln!(
            "bench-orders: POST /v1/orders, {widest} connections spread over {locations} locations"
        );
        let outcome = load::run(
            Plan {
                port,
                connections: widest,
                warmup,
                duration: measure,
            },
            Arc::new(Orders {
                bodies: bodies.clone(),
                headers: vec![(http::header::AUTHORIZATION, authorization.clone())],
            }),
        )
        .await?;
        runs.push(Run {
            name: format!("  same, {locations} locations"),
            locations,
            outcome,
        });
    }
    platform.stop().await;

    let mut ceilings = Vec::new();
    let pgbench = PgBench::init(&pg, &pg_dir, args.pgbench_scale).await?;
    for &clients in &args.connections {
        eprintln!(
            "bench-orders: pgbench (TPC-B-like), {clients} clients (scale {})",
            args.pgbench_scale
        );
        ceilings.push(pgbench.run(clients, measure)?);
    }
    drop(pg);

    let mut targets = Vec::new();
    for (run, ceiling) in runs.iter().zip(&ceilings) {
        let share = round3(run.outcome.requests_per_second / ceiling.transactions_per_second);
        targets.push(Target {
            name: format!("orders vs pgbench, {} conn", ceiling.clients),
            limit: ">= 0.333 x".to_owned(),
            measured: format!(
                "{share} x ({:.0} / {:.0})",
                run.outcome.requests_per_second, ceiling.transactions_per_second
            ),
            pass: share >= TARGET_SHARE_OF_CEILING,
        });
    }
    if let Some(run) = runs
        .iter()
        .find(|run| run.locations == 1 && run.outcome.connections == TARGET_P99_CONNECTIONS)
    {
        targets.push(Target {
            name: format!("order p99, {TARGET_P99_CONNECTIONS} conn"),
            limit: format!("< {TARGET_P99_MS} ms"),
            measured: format!("{} ms", run.outcome.latency.p99_ms),
            pass: run.outcome.latency.p99_ms < TARGET_P99_MS,
        });
    }
    let report = Report {
        measured_at_unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs()),
        cpus: std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        release_build: !cfg!(debug_assertions),
        database_pool_size: pool_size,
        order,
        runs,
        ceilings,
        targets,
        caveat: CAVEAT,
    };
    let json_path = out_dir.join("orders.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&report)? + "\n")?;
    print_report(&report, &json_path);
    let _ = std::fs::remove_dir_all(&pg_dir);
    Ok(())
}

/// Orders of one pre-serialised body per location; connection `c` orders at location
/// `c mod locations`, each request with a fresh `Idempotency-Key`.
struct Orders {
    bodies: Vec<Bytes>,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

impl Requests for Orders {
    fn path(&self, _connection: u32, _n: u64) -> String {
        "/v1/orders".to_owned()
    }

    fn headers(&self) -> &[(http::HeaderName, http::HeaderValue)] {
        &self.headers
    }

    fn method(&self) -> http::Method {
        http::Method::POST
    }

    fn body(&self, connection: u32, _n: u64) -> Option<Bytes> {
        let index = usize::try_from(connection).unwrap_or(0) % self.bodies.len();
        self.bodies.get(index).cloned()
    }

    fn extra_headers(
        &self,
        _connection: u32,
        _n: u64,
    ) -> Vec<(http::HeaderName, http::HeaderValue)> {
        let key = http::HeaderValue::from_str(&Uuid::now_v7().to_string())
            .unwrap_or_else(|_| http::HeaderValue::from_static("invalid"));
        vec![(http::HeaderName::from_static("idempotency-key"), key)]
    }
}

struct Menu {
    /// Per product: its variant ids.
    variants: Vec<Vec<String>>,
    /// The milk modifiers' ids.
    modifiers: Vec<String>,
    locations: Vec<Uuid>,
}

/// Three lines (one of each product, alternating sizes), each with a milk modifier, placed.
fn order_body(menu: &Menu, location: Uuid) -> Result<Vec<u8>> {
    let lines: Vec<Value> = menu
        .variants
        .iter()
        .enumerate()
        .map(|(i, variants)| {
            json!({
                "variant_id": variants[i % variants.len()],
                "quantity": 1 + i,
                "modifiers": [{"modifier_id": menu.modifiers[i % menu.modifiers.len()]}],
            })
        })
        .collect();
    Ok(serde_json::to_vec(&json!({
        "location_id": location,
        "channel": "takeout",
        "source": "pos",
        "lines": lines,
        "place": true,
    }))?)
}

/// The owner of the bench tenant, seeding over HTTP with the sign-up token.
struct Seeder {
    client: reqwest::Client,
    port: u16,
    tenant: Uuid,
    user: Uuid,
    location: Uuid,
    token: String,
}

impl Seeder {
    async fn sign_up(port: u16) -> Result<Self> {
        let client = reqwest::Client::new();
        let response = client
            .post(format!("http://127.0.0.1:{port}/v1/tenants"))
            .json(&json!({
                "name": "Bench Orders",
                "slug": "bench-orders",
                "industry": "restaurant",
                "currency": "EUR",
                "time_zone": "Europe/Paris",
                "plan": "enterprise",
                "owner": {"name": "Bench Owner", "email": "owner@bench.example",
                          "password": "correct horse battery staple"},
            }))
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        if status != reqwest::StatusCode::CREATED {
            bail!("POST /v1/tenants answered {status}: {body}");
        }
        let id = |value: &Value, what: &str| {
            value
                .as_str()
                .and_then(|id| Uuid::try_parse(id).ok())
                .with_context(|| format!("no {what} in the sign-up answer: {body}"))
        };
        Ok(Self {
            tenant: id(&body["tenant"]["id"], "tenant.id")?,
            user: id(&body["user"]["id"], "user.id")?,
            location: id(&body["location"]["id"], "location.id")?,
            token: body["tokens"]["access_token"]
                .as_str()
                .with_context(|| format!("no access token in the sign-up answer: {body}"))?
                .to_owned(),
            client,
            port,
        })
    }

    /// POSTs `body` (fresh `Idempotency-Key`), expects a 2xx and answers its JSON.
    async fn post(&self, path: &str, body: &Value) -> Result<Value> {
        let response = self
            .client
            .post(format!("http://127.0.0.1:{}{path}", self.port))
            .bearer_auth(&self.token)
            .header("idempotency-key", Uuid::now_v7().to_string())
            .json(body)
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("POST {path} answered {status}: {text}");
        }
        Ok(serde_json::from_str(&text)?)
    }

    /// Receives `STOCK` units of every line's variant at `location`.
    async fn receive(&self, location: Uuid, lines: &[Value]) -> Result<()> {
        self.post(
            "/v1/inventory/adjustments",
            &json!({"location_id": location, "lines": lines}),
        )
        .await
        .map(|_| ())
    }

    /// The tax rate, the modifier group, the products, the locations and their stock.
    async fn menu(&self, locations: u32) -> Result<Menu> {
        let text = |value: &Value| {
            value
                .as_str()
                .map(str::to_owned)
                .with_context(|| format!("expected an id, found {value}"))
        };
        self.post(
            "/v1/tax-rates",
            &json!({"name": "Sales tax", "tax_category": "standard", "rate_bps": 800,
                    "inclusive": false}),
        )
        .await?;
        let milk = self
            .post(
                "/v1/modifier-groups",
                &json!({"name": "Milk", "min_selections": 0, "max_selections": 1,
                        "modifiers": [{"name": "Whole"},
                                      {"name": "Oat", "price_delta_minor": 60},
                                      {"name": "Soy", "price_delta_minor": 50}]}),
            )
            .await?;
        let modifiers = milk["modifiers"]
            .as_array()
            .context("no modifiers in the group")?
            .iter()
            .map(|modifier| text(&modifier["id"]))
            .collect::<Result<Vec<_>>>()?;
        let mut variants = Vec::new();
        for (i, name) in PRODUCTS.iter().enumerate() {
            let base = 300 + 40 * i64::try_from(i)?;
            let product = self
                .post(
                    "/v1/products",
                    &json!({"name": name, "options": [{"name": "Size", "values": ["S", "L"]}],
                            "modifier_group_ids": [milk["id"]],
                            "variants": [
                                {"option_values": {"Size": "S"}, "price_minor": base,
                                 "track_inventory": true},
                                {"option_values": {"Size": "L"}, "price_minor": base + 70,
                                 "track_inventory": true}]}),
                )
                .await?;
            variants.push(
                product["variants"]
                    .as_array()
                    .context("no variants in the product")?
                    .iter()
                    .map(|variant| text(&variant["id"]))
                    .collect::<Result<Vec<_>>>()?,
            );
        }
        let lines: Vec<Value> = variants
            .iter()
            .flatten()
            .map(|variant| json!({"variant_id": variant, "kind": "receive", "quantity": STOCK}))
            .collect();
        self.receive(self.location, &lines).await?;
        let mut all = vec![self.location];
        for n in 2..=locations {
            // The spread run is a diagnosis: without its locations it is skipped, not fatal.
            match self
                .post("/v1/locations", &json!({"name": format!("Bench {n}")}))
                .await
            {
                Ok(location) => {
                    let location = Uuid::try_parse(&text(&location["id"])?)?;
                    self.receive(location, &lines).await?;
                    all.push(location);
                }
                Err(e) => {
                    eprintln!("bench-orders: cannot add location {n} ({e:#}): no spread run");
                    all.truncate(1);
                    break;
                }
            }
        }
        Ok(Menu {
            variants,
            modifiers,
            locations: all,
        })
    }
}

/// pgbench's own data (`pgbench -i`) on the bench cluster, ready for runs.
struct PgBench {
    path: std::path::PathBuf,
    port: String,
    dir: std::path::PathBuf,
    scale: u32,
}

impl PgBench {
    async fn init(pg: &Postgres, dir: &Path, scale: u32) -> Result<Self> {
        let admin = services::connect(&pg.admin_url("postgres")).await?;
        admin
            .batch_execute(&format!("CREATE DATABASE {PGBENCH_DATABASE}"))
            .await?;
        let bindir = Command::new("pg_config")
            .arg("--bindir")
            .output()
            .context("pg_config")?;
        let this = Self {
            path: Path::new(String::from_utf8_lossy(&bindir.stdout).trim()).join("pgbench"),
            port: pg.port.to_string(),
            dir: dir.to_owned(),
            scale,
        };
        let init = Command::new(&this.path)
            .args(this.common())
            .args(["-i", "-q", "-s", &scale.to_string(), PGBENCH_DATABASE])
            .output()
            .context("cannot run pgbench -i (is postgresql-contrib / pgbench installed?)")?;
        if !init.status.success() {
            bail!(
                "pgbench -i failed: {}",
                String::from_utf8_lossy(&init.stderr)
            );
        }
        Ok(this)
    }

    fn common(&self) -> [&str; 6] {
        ["-h", "127.0.0.1", "-p", &self.port, "-U", "postgres"]
    }

    /// The default (TPC-B-like) script with `clients` clients, logged per transaction.
    fn run(&self, clients: u32, duration: Duration) -> Result<Ceiling> {
        let log_dir = self.dir.join(format!("pgbench-log-{clients}"));
        std::fs::create_dir_all(&log_dir)?;
        let seconds = duration.as_secs().max(1).to_string();
        let clients_text = clients.to_string();
        let args = [
            "-n",
            "-c",
            &clients_text,
            "-j",
            "2",
            "-T",
            &seconds,
            "-l",
            "--log-prefix",
        ];
        let figures = load::pgbench_figures(
            Command::new(&self.path)
                .args(self.common())
                .args(args)
                .arg(log_dir.join("tx"))
                .arg(PGBENCH_DATABASE),
            &log_dir,
            "pgbench",
        )?;
        Ok(Ceiling {
            command: format!(
                "pgbench -n -c {clients} -j 2 -T {seconds} (TPC-B-like, scale {}, TCP 127.0.0.1)",
                self.scale
            ),
            clients,
            transactions_per_second: figures.transactions_per_second,
            p50_ms: figures.p50_ms,
            p99_ms: figures.p99_ms,
        })
    }
}

#[allow(clippy::print_stdout)]
fn print_report(report: &Report, json_path: &Path) {
    println!();
    println!(
        "orders ({} cpus, {} build, 3 lines with modifiers, placed, pool {})",
        report.cpus,
        if report.release_build {
            "release"
        } else {
            "debug"
        },
        report.database_pool_size
    );
    println!(
        "  {:<34} {:>10} {:>9} {:>9} {:>7}",
        "run", "per second", "p50 ms", "p99 ms", "errors"
    );
    for run in &report.runs {
        println!(
            "  {:<34} {:>10.0} {:>9.3} {:>9.3} {:>7}",
            run.name,
            run.outcome.requests_per_second,
            run.outcome.latency.p50_ms,
            run.outcome.latency.p99_ms,
            run.outcome.errors
        );
    }
    for ceiling in &report.ceilings {
        println!(
            "  {:<34} {:>10.0} {:>9.3} {:>9.3} {:>7}",
            format!("pgbench TPC-B, {} clients", ceiling.clients),
            ceiling.transactions_per_second,
            ceiling.p50_ms,
            ceiling.p99_ms,
            0
        );
    }
    for run in &report.runs {
        if let Some(error) = &run.outcome.first_error {
            println!("  first error of {}: {error}", run.name.trim());
        }
    }
    println!("targets:");
    for target in &report.targets {
        println!(
            "  {:<30} {:<12} {:<28} {}",
            target.name,
            target.limit,
            target.measured,
            if target.pass { "PASS" } else { "MISS" }
        );
    }
    println!("caveat: {}", report.caveat);
    println!("figures: {}", json_path.display());
}
