//! `dev bench-catalog`: catalog reads next to PostgreSQL's own ceiling (see `make bench`).
//!
//! 1. A throwaway PostgreSQL cluster (`target/bench/pg-catalog`), a migrated database, every
//!    function in-process ([`crate::runner::Platform`], default pool size), one tenant signed up
//!    over HTTP and `--products` products (Size S/M/L, three variants each, names from a word
//!    list) created with the same domain code as `POST /v1/products`.
//! 2. `GET /v1/products/{id}` over `--connections` keep-alive connections, ids spread over the
//!    whole catalog -> requests/s, p50/p99. The warm-up fills the function's product cache, so
//!    the counted window measures hits (each still checked fresh against PostgreSQL).
//! 3. A search, `GET /v1/products?q=<word>&limit=20` (trigram), cycling through the words.
//! 4. The ceiling: `pgbench -S` (primary-key selects) with the same client count on the same
//!    cluster over TCP, its own `pgbench -i` data -> transactions/s and p50/p99 from the
//!    per-transaction log.
//!
//! Targets (issue 4): the product read reaches at least half of pgbench's transactions/s, with
//! p99 under 5 ms. The figures go to `target/bench/catalog.json`; a missed target is reported,
//! not an error.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, anyhow, bail};
use olympus::catalog::cache::ProductCache;
use olympus::catalog::write::{NewProduct, NewVariant, create_product};
use olympus::testing::tokens::{self, TestKeys};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::load::{self, Outcome, Plan, Requests, round3, seconds};
use crate::pubsub::RetrySettings;
use crate::runner::{Options, Platform};
use crate::services::{self, Postgres};

/// Options of `dev bench-catalog`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Concurrent keep-alive connections (and pgbench clients).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub connections: u32,
    /// Seconds of each counted run.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Seconds of load before each counted run.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Products in the catalog (three variants each).
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(10..=100_000))]
    pub products: u32,
    /// `pgbench -i` scale factor of the ceiling run.
    #[arg(long, default_value_t = 10)]
    pub pgbench_scale: u32,
}

const DATABASE: &str = "olympus_bench_catalog";
const PGBENCH_DATABASE: &str = "pgbench";
const TARGET_SHARE_OF_CEILING: f64 = 0.5;
const TARGET_P99_MS: f64 = 5.0;
const WORDS: &[&str] = &[
    "Cappuccino",
    "Latte",
    "Espresso",
    "Americano",
    "Mocha",
    "Croissant",
    "Bagel",
    "Margherita",
    "Pepperoni",
    "Carbonara",
    "Lasagne",
    "Caesar",
    "Burrito",
    "Falafel",
    "Ramen",
    "Tiramisu",
];
const STYLES: &[&str] = &[
    "Classic", "Iced", "Double", "Vegan", "Spicy", "House", "Smoked", "Truffle",
];

#[derive(Debug, Serialize)]
struct Report {
    measured_at_unix: u64,
    cpus: usize,
    release_build: bool,
    products: u32,
    variants_per_product: u32,
    database_pool_size: usize,
    product_read: Outcome,
    /// The same reads with the product cache off: what every cache miss costs.
    product_read_uncached: Outcome,
    search: Outcome,
    ceiling: Ceiling,
    product_read_share_of_ceiling: f64,
    targets: Vec<Target>,
    caveat: &'static str,
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
                      CPUs; pgbench -S runs one primary-key select per transaction; after the \
                      warm-up every product read is a cache hit: token verification remembered, \
                      one coalesced freshness-check statement per batch of concurrent reads, \
                      HTTP and the cached JSON (a miss is one five-statement round trip)";

/// Runs the benchmark and writes target/bench/catalog.json.
pub async fn run(args: Args) -> Result<()> {
    let measure = seconds("--seconds", args.seconds)?;
    let warmup = seconds("--warmup", args.warmup)?;
    let out_dir = crate::topology::workspace_root()
        .join("target")
        .join("bench");
    std::fs::create_dir_all(&out_dir)?;
    let pg_dir = out_dir.join("pg-catalog");
    let pg = Postgres::start(&pg_dir)?;
    pg.create_database(DATABASE).await?;
    services::migrate(&pg, DATABASE).await?;
    if let Ok(mode) = std::env::var("BENCH_PLAN_CACHE_MODE") {
        let admin = services::connect(&pg.admin_url(DATABASE)).await?;
        admin
            .batch_execute(&format!(
                "ALTER ROLE olympus_app SET plan_cache_mode = {mode}"
            ))
            .await?;
    }

    let keys = TestKeys::ed25519("bench-catalog").map_err(|e| anyhow!("{e}"))?;
    // Sign-up issues the owner's tokens, so the signing key is configured as in production.
    let env = HashMap::from([
        ("AUTH_JWKS".to_owned(), tokens::jwks_json(&[&keys])),
        (
            "AUTH_SIGNING_KEY".to_owned(),
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, keys.pkcs8_der()),
        ),
        ("AUTH_SIGNING_KEY_ID".to_owned(), keys.kid().to_owned()),
        ("AUTH_SIGNING_ALG".to_owned(), "EdDSA".to_owned()),
    ]);
    let options = |functions| Options {
        database_url: pg.app_url(DATABASE),
        project: "olympus-bench".to_owned(),
        emulator_host: None,
        listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        functions,
        run_schedules: false,
        env: env.clone(),
        retry: RetrySettings::default(),
    };
    let platform = Box::pin(Platform::start(options(crate::registry::all()))).await?;
    let port = platform.addr.port();
    let pool_size = platform.state.config().database_pool_size;

    eprintln!("bench-catalog: seeding {} products", args.products);
    let seeding = Instant::now();
    let tenant = sign_up(port).await?;
    let ids = seed(&pg.app_url(DATABASE), tenant, args.products).await?;
    eprintln!(
        "bench-catalog: seeded in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );
    let config = platform.state.config();
    let token = keys
        .mint(&tokens::claims(
            tenant,
            Uuid::now_v7(),
            &["catalog:read"],
            &config.auth_issuer,
            &config.auth_audience,
        ))
        .map_err(|e| anyhow!("{e}"))?;
    let authorization = http::HeaderValue::from_str(&format!("Bearer {token}"))?;
    let plan = Plan {
        port,
        connections: args.connections,
        warmup,
        duration: measure,
    };

    eprintln!(
        "bench-catalog: GET /v1/products/{{id}}, {} connections, {:.0} s + {:.0} s warm-up",
        args.connections,
        measure.as_secs_f64(),
        warmup.as_secs_f64()
    );
    let reads = Arc::new(ProductReads {
        ids: ids.clone(),
        headers: vec![(http::header::AUTHORIZATION, authorization.clone())],
    });
    let product_read = load::run(plan, reads.clone()).await?;
    eprintln!("bench-catalog: GET /v1/products?q=<word>&limit=20");
    let search = load::run(
        plan,
        Arc::new(Searches {
            headers: vec![(http::header::AUTHORIZATION, authorization)],
        }),
    )
    .await?;
    platform.stop().await;

    eprintln!(
        "bench-catalog: GET /v1/products/{{id}} with the product cache off (every read a miss)"
    );
    let uncached_functions = crate::registry::all()
        .into_iter()
        .map(|function| {
            if function.name() == "get-product" {
                get_product::function_with(ProductCache::new(0))
            } else {
                function
            }
        })
        .collect();
    let platform = Box::pin(Platform::start(options(uncached_functions))).await?;
    let uncached_read = load::run(
        Plan {
            port: platform.addr.port(),
            ..plan
        },
        reads,
    )
    .await?;
    platform.stop().await;

    eprintln!(
        "bench-catalog: pgbench -S, {} clients (scale {})",
        args.connections, args.pgbench_scale
    );
    let ceiling = pgbench(&pg, &pg_dir, args.connections, args.pgbench_scale, measure).await?;
    drop(pg);

    let share = round3(product_read.requests_per_second / ceiling.transactions_per_second);
    let targets = vec![
        Target {
            name: "product read vs pgbench -S".to_owned(),
            limit: format!(">= {TARGET_SHARE_OF_CEILING} x"),
            measured: format!(
                "{share} x ({:.0} / {:.0})",
                product_read.requests_per_second, ceiling.transactions_per_second
            ),
            pass: share >= TARGET_SHARE_OF_CEILING,
        },
        Target {
            name: "product read p99".to_owned(),
            limit: format!("< {TARGET_P99_MS} ms"),
            measured: format!("{} ms", product_read.latency.p99_ms),
            pass: product_read.latency.p99_ms < TARGET_P99_MS,
        },
    ];
    let report = Report {
        measured_at_unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs()),
        cpus: std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        release_build: !cfg!(debug_assertions),
        products: args.products,
        variants_per_product: 3,
        database_pool_size: pool_size,
        product_read,
        product_read_uncached: uncached_read,
        search,
        ceiling,
        product_read_share_of_ceiling: share,
        targets,
        caveat: CAVEAT,
    };
    let json_path = out_dir.join("catalog.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&report)? + "\n")?;
    print_report(&report, &json_path);
    let _ = std::fs::remove_dir_all(&pg_dir);
    Ok(())
}

struct ProductReads {
    ids: Vec<Uuid>,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

impl Requests for ProductReads {
    fn path(&self, connection: u32, n: u64) -> String {
        // A stride that visits every product from a different start on each connection.
        let index = (u64::from(connection) * 7919 + n * 104_729) % self.ids.len() as u64;
        format!(
            "/v1/products/{}",
            self.ids[usize::try_from(index).unwrap_or(0)]
        )
    }

    fn headers(&self) -> &[(http::HeaderName, http::HeaderValue)] {
        &self.headers
    }
}

struct Searches {
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

impl Requests for Searches {
    fn path(&self, connection: u32, n: u64) -> String {
        let index = (u64::from(connection) + n) % WORDS.len() as u64;
        let word = WORDS[usize::try_from(index).unwrap_or(0)].to_lowercase();
        format!("/v1/products?q={word}&limit=20")
    }

    fn headers(&self) -> &[(http::HeaderName, http::HeaderValue)] {
        &self.headers
    }
}

/// Signs a tenant up over HTTP (the real path) and returns its id.
async fn sign_up(port: u16) -> Result<Uuid> {
    let client = reqwest::Client::new();
    let response = client
        .post(format!("http://127.0.0.1:{port}/v1/tenants"))
        .json(&json!({
            "name": "Bench Catalog",
            "slug": "bench-catalog",
            "industry": "restaurant",
            "currency": "EUR",
            "time_zone": "Europe/Paris",
            "owner": {"name": "Bench Owner", "email": "owner@bench.example",
                      "password": "correct horse battery staple"},
        }))
        .send()
        .await?;
    let status = response.status();
    let body: serde_json::Value = response.json().await?;
    if status != reqwest::StatusCode::CREATED {
        bail!("POST /v1/tenants answered {status}: {body}");
    }
    body["tenant"]["id"]
        .as_str()
        .and_then(|id| Uuid::try_parse(id).ok())
        .with_context(|| format!("no tenant.id in the sign-up answer: {body}"))
}

/// Creates `count` products with three sized variants each; returns their ids.
async fn seed(app_url: &str, tenant: Uuid, count: u32) -> Result<Vec<Uuid>> {
    let pool = olympus::db::pool(app_url, 1).map_err(|e| anyhow!("{e}"))?;
    let mut client = pool.get().await?;
    let tx = olympus::db::tenant_tx(&mut client, tenant)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let mut ids = Vec::with_capacity(usize::try_from(count)?);
    for i in 0..count {
        let i = usize::try_from(i)?;
        let name = format!(
            "{} {} {i}",
            STYLES[i % STYLES.len()],
            WORDS[(i / STYLES.len()) % WORDS.len()]
        );
        let variants = ["S", "M", "L"]
            .iter()
            .enumerate()
            .map(|(n, size)| NewVariant {
                option_values: json!({"Size": size}),
                sku: Some(format!("SKU-{i}-{size}")),
                price_minor: 300 + 50 * i64::try_from(n).unwrap_or(0),
                ..NewVariant::default()
            })
            .collect();
        let product = NewProduct {
            name,
            description: Some("Seeded by dev bench-catalog.".to_owned()),
            options: Some(json!([{"name": "Size", "values": ["S", "M", "L"]}])),
            dietary_tags: vec!["vegetarian".to_owned()],
            variants,
            ..NewProduct::default()
        };
        let created = create_product(&tx, tenant, &product)
            .await
            .map_err(|e| anyhow!("{e}"))?;
        ids.push(created.id);
    }
    tx.commit().await?;
    Ok(ids)
}

/// `pgbench -i` then `pgbench -S` with per-transaction logging, on the same cluster.
async fn pgbench(
    pg: &Postgres,
    dir: &Path,
    clients: u32,
    scale: u32,
    duration: Duration,
) -> Result<Ceiling> {
    let admin = services::connect(&pg.admin_url("postgres")).await?;
    admin
        .batch_execute(&format!("CREATE DATABASE {PGBENCH_DATABASE}"))
        .await?;
    let bindir = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .context("pg_config")?;
    let pgbench_path = Path::new(String::from_utf8_lossy(&bindir.stdout).trim()).join("pgbench");
    let port = pg.port.to_string();
    let common = ["-h", "127.0.0.1", "-p", &port, "-U", "postgres"];
    let init = Command::new(&pgbench_path)
        .args(common)
        .args(["-i", "-q", "-s", &scale.to_string(), PGBENCH_DATABASE])
        .output()
        .context("cannot run pgbench -i (is postgresql-contrib / pgbench installed?)")?;
    if !init.status.success() {
        bail!(
            "pgbench -i failed: {}",
            String::from_utf8_lossy(&init.stderr)
        );
    }
    let log_dir = dir.join("pgbench-log");
    std::fs::create_dir_all(&log_dir)?;
    let seconds = duration.as_secs().max(1).to_string();
    let clients_text = clients.to_string();
    let args = [
        "-S",
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
    let prefix = log_dir.join("tx");
    let figures = load::pgbench_figures(
        Command::new(&pgbench_path)
            .args(common)
            .args(args)
            .arg(&prefix)
            .arg(PGBENCH_DATABASE),
        &log_dir,
        "pgbench -S",
    )?;
    Ok(Ceiling {
        command: format!(
            "pgbench -S -n -c {clients} -j 2 -T {seconds} (scale {scale}, TCP 127.0.0.1)"
        ),
        clients,
        transactions_per_second: figures.transactions_per_second,
        p50_ms: figures.p50_ms,
        p99_ms: figures.p99_ms,
    })
}

#[allow(clippy::print_stdout)]
fn print_report(report: &Report, json_path: &Path) {
    println!();
    println!(
        "catalog reads ({} cpus, {} build, {} products x {} variants, pool {})",
        report.cpus,
        if report.release_build {
            "release"
        } else {
            "debug"
        },
        report.products,
        report.variants_per_product,
        report.database_pool_size
    );
    println!(
        "  {:<34} {:>10} {:>9} {:>9} {:>7}",
        "run", "per second", "p50 ms", "p99 ms", "errors"
    );
    for (name, run) in [
        ("GET /v1/products/{id}", &report.product_read),
        ("  same, product cache off", &report.product_read_uncached),
        ("GET /v1/products?q=&limit=20", &report.search),
    ] {
        println!(
            "  {:<34} {:>10.0} {:>9.3} {:>9.3} {:>7}",
            name, run.requests_per_second, run.latency.p50_ms, run.latency.p99_ms, run.errors
        );
    }
    println!(
        "  {:<34} {:>10.0} {:>9.3} {:>9.3} {:>7}",
        "pgbench -S (ceiling)",
        report.ceiling.transactions_per_second,
        report.ceiling.p50_ms,
        report.ceiling.p99_ms,
        0
    );
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
