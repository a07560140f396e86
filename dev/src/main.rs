// A command-line tool: printing to stdout is its interface.
#![allow(clippy::print_stdout)]

//! `dev`: the local platform's command line. See `dev --help`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result, anyhow, bail};
use clap::{Parser, Subcommand};
use dev::pubsub::RetrySettings;
use dev::runner::{Options, Platform};
use dev::services::{self, Emulator, Postgres};
use dev::topology::{self, Topology};
use olympus::testing::tokens::{self, TestKeys};
use uuid::Uuid;

#[derive(Parser)]
#[command(name = "dev", about = "The Olympus local platform")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start PostgreSQL, the Pub/Sub emulator (when installed) and every function on one port.
    Up {
        #[arg(long, env = "DEV_PORT", default_value_t = 8080)]
        port: u16,
        /// Where the throwaway cluster, logs and the operator token live (default: .dev/).
        #[arg(long, env = "DEV_STATE_DIR")]
        state_dir: Option<PathBuf>,
        /// Once listening, seed this scenario (as `dev seed` does) and print its summary.
        #[arg(long, value_enum)]
        seed: Option<dev::seed::Scenario>,
    },
    /// Write terraform/functions.auto.tfvars.json from the function specs.
    Topology {
        /// Fail instead of writing when the file is stale.
        #[arg(long)]
        check: bool,
    },
    /// Start the services tests need, run COMMAND with their addresses in the environment, stop
    /// them, and exit with COMMAND's status.
    WithServices {
        #[arg(trailing_var_arg = true, required = true)]
        command: Vec<String>,
    },
    /// Republish dead letters of the running `make dev` platform (all pending, or --id ...).
    ReplayDeadLetters {
        #[arg(long = "id")]
        ids: Vec<Uuid>,
    },
    /// Measure a release build of one function (see `make bench`).
    Bench(dev::bench::Args),
    /// Measure what authentication costs: token verification, added latency, argon2 logins.
    BenchAuth(dev::bench_auth::Args),
    /// Measure catalog reads (product by id, search) next to `pgbench -S` on the same cluster.
    BenchCatalog(dev::bench_catalog::Args),
    /// Measure taking orders (POST /v1/orders, placed) next to `pgbench` on the same cluster.
    BenchOrders(dev::bench_orders::Args),
    /// Roll up sales of the running `make dev` platform: a backfill of --from..--to, or what
    /// changed since the last run.
    Rollup(dev::rollup::Args),
    /// Measure the sales rollup over 1M generated order lines and the 90-day sales report.
    BenchRollup(dev::bench_rollup::Args),
    /// Seed the running `make dev` platform with a demo restaurant and weeks of orders.
    Seed(dev::seed::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("dev: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("dev: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Up {
            port,
            state_dir,
            seed,
        } => Box::pin(up(port, state_dir.unwrap_or_else(state_dir_default), seed))
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Topology { check } => topology_command(check),
        Command::WithServices { command } => with_services(&command).await,
        Command::ReplayDeadLetters { ids } => replay(ids).await.map(|()| ExitCode::SUCCESS),
        Command::Bench(args) => dev::bench::run(args).await.map(|()| ExitCode::SUCCESS),
        Command::BenchAuth(args) => dev::bench_auth::run(args).await.map(|()| ExitCode::SUCCESS),
        Command::BenchCatalog(args) => Box::pin(dev::bench_catalog::run(args))
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::BenchOrders(args) => Box::pin(dev::bench_orders::run(args))
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Rollup(args) => dev::rollup::run(args).await.map(|()| ExitCode::SUCCESS),
        Command::BenchRollup(args) => Box::pin(dev::bench_rollup::run(args))
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Seed(args) => Box::pin(dev::seed::run(args))
            .await
            .map(|()| ExitCode::SUCCESS),
    }
}

fn state_dir_default() -> PathBuf {
    topology::workspace_root().join(".dev")
}

fn topology_command(check: bool) -> Result<ExitCode> {
    let functions = dev::registry::all();
    let path = topology::workspace_root().join(topology::TFVARS_PATH);
    if check {
        let generated = Topology::of(&functions).render()?;
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if generated != committed {
            eprintln!("{} is stale: run `make topology`", path.display());
            return Ok(ExitCode::FAILURE);
        }
        println!("{} is current", path.display());
    } else if topology::write(&functions)? {
        println!("wrote {}", path.display());
    } else {
        println!("{} already current", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

async fn up(port: u16, dir: PathBuf, seed: Option<dev::seed::Scenario>) -> Result<()> {
    init_logging();
    std::fs::create_dir_all(&dir)?;
    println!("Olympus local platform");
    let pg = Postgres::start(&dir.join("pg"))?;
    println!(
        "  PostgreSQL    127.0.0.1:{} (cluster in {})",
        pg.port,
        pg.dir().display()
    );
    pg.create_database("olympus").await?;
    let report = services::migrate(&pg, "olympus").await?;
    println!("  migrations    {} applied", report.applied.len());

    let emulator = match services::emulator_launcher() {
        Some(launcher) => {
            let emulator = Emulator::start(&launcher, &dir)?;
            println!(
                "  Pub/Sub       emulator at {} (pid {})",
                emulator.host,
                emulator.pid()
            );
            Some(emulator)
        }
        None => {
            println!(
                "  Pub/Sub       emulator not installed (apt-get install google-cloud-cli-pubsub-emulator); using the in-process bus"
            );
            None
        }
    };

    let (bigquery, line) = dev::runner::local_bigquery(&dir, "olympus-dev").await?;
    println!("  BigQuery      {line}");

    let keys = TestKeys::ed25519("dev-1").map_err(|e| anyhow!("{e}"))?;
    let operator_tenant = Uuid::now_v7();
    let mut env = HashMap::new();
    env.insert("AUTH_JWKS".to_owned(), tokens::jwks_json(&[&keys]));
    env.insert(
        "AUTH_SIGNING_KEY".to_owned(),
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, keys.pkcs8_der()),
    );
    env.insert("AUTH_SIGNING_KEY_ID".to_owned(), keys.kid().to_owned());
    env.insert("OPERATOR_TENANT_ID".to_owned(), operator_tenant.to_string());
    let config = olympus::Config::from(&olympus::config::Env::from_fn(|k| env.get(k).cloned()))
        .map_err(|e| anyhow!("{e}"))?;
    let mut operator = tokens::claims(
        operator_tenant,
        Uuid::now_v7(),
        &[olympus::auth::OPERATE],
        &config.auth_issuer,
        &config.auth_audience,
    );
    operator.exp = operator.iat + 12 * 3600;
    let token = keys.mint(&operator).map_err(|e| anyhow!("{e}"))?;
    std::fs::write(dir.join("operator.token"), &token)?;

    let project = "olympus-dev".to_owned();
    let platform = Platform::start(Options {
        database_url: pg.app_url("olympus"),
        project: project.clone(),
        emulator_host: emulator.as_ref().map(|e| e.host.clone()),
        listen: SocketAddr::from(([127, 0, 0, 1], port)),
        functions: dev::registry::all(),
        run_schedules: true,
        env,
        retry: RetrySettings::default(),
    })
    .await?;
    std::fs::write(
        dir.join("env"),
        format!(
            "DATABASE_URL={}\nGOOGLE_CLOUD_PROJECT={project}\nPUBSUB_EMULATOR_HOST={}\n",
            pg.app_url("olympus"),
            emulator
                .as_ref()
                .map(|e| e.host.as_str())
                .unwrap_or_default()
        ),
    )?;
    let functions = &platform.topology.functions;
    println!(
        "  functions     {} on {} ({} bus)",
        functions.len(),
        platform.url(),
        platform.bus
    );
    for (name, spec) in functions {
        let what = match spec.kind.as_str() {
            "http" => spec
                .routes
                .iter()
                .map(|r| format!("{} {}", r.method, r.path))
                .collect::<Vec<_>>()
                .join(", "),
            "event" => format!(
                "on {} -> POST {}",
                spec.topic.as_deref().unwrap_or_default(),
                spec.push_path.as_deref().unwrap_or_default()
            ),
            _ => format!(
                "job {} (POST {})",
                spec.schedule.as_deref().unwrap_or("on demand"),
                spec.job_path.as_deref().unwrap_or_default()
            ),
        };
        println!("    {name:<24} {what}");
    }
    println!(
        "  operator token in {} (12 h)",
        dir.join("operator.token").display()
    );
    println!("  health        curl {}/healthz", platform.url());
    println!("Ctrl-C stops everything.");

    // Seeding runs beside the platform it seeds, so Ctrl-C still stops both at any time.
    let seeding = async {
        if seed == Some(dev::seed::Scenario::Demo) {
            let mut options = dev::seed::Options::demo(platform.url());
            options.env_file = Some(dir.join("demo.env"));
            match Box::pin(dev::seed::seed(&options)).await {
                Ok(summary) => {
                    summary.print();
                    println!("Ctrl-C stops everything.");
                }
                Err(e) => eprintln!("dev: seeding the demo failed: {e:#}"),
            }
        }
        std::future::pending::<()>().await;
    };
    tokio::select! {
        () = olympus::runtime::shutdown_signal() => {}
        () = seeding => {}
    }
    println!("stopping...");
    platform.stop().await;
    drop(bigquery);
    drop(emulator);
    drop(pg);
    let _ = std::fs::remove_file(dir.join("env"));
    println!("stopped.");
    Ok(())
}

fn init_logging() {
    let config = olympus::Config::from(&olympus::config::Env::from_fn(|_| None));
    if let Ok(config) = config {
        olympus::telemetry::init(&config, "dev");
    }
}

/// Starts PostgreSQL with a migrated template database and the emulator for the test suite.
async fn with_services(command: &[String]) -> Result<ExitCode> {
    let dir = topology::workspace_root()
        .join("target/test-services")
        .join(std::process::id().to_string());
    let started = std::time::Instant::now();
    let pg = Postgres::start(&dir.join("pg"))?;
    pg.create_database(olympus::testing::TEMPLATE_DATABASE)
        .await?;
    services::migrate(&pg, olympus::testing::TEMPLATE_DATABASE).await?;
    let emulator = match services::emulator_launcher() {
        Some(launcher) => Some(Emulator::start(&launcher, &dir)?),
        None if std::env::var_os("OLYMPUS_ALLOW_NO_EMULATOR").is_some() => {
            eprintln!("warning: no Pub/Sub emulator: the emulator tests will be skipped");
            None
        }
        None => bail!(
            "the Pub/Sub emulator is not installed: `apt-get install google-cloud-cli-pubsub-emulator` \
             (or set OLYMPUS_ALLOW_NO_EMULATOR=1 to skip the tests that need it)"
        ),
    };
    let bigquery = services::start_test_bigquery(&dir)?;
    eprintln!(
        "services ready in {:.1}s: PostgreSQL on {}{}",
        started.elapsed().as_secs_f64(),
        pg.port,
        emulator
            .as_ref()
            .map(|e| format!(", Pub/Sub emulator on {}", e.host))
            .unwrap_or_default()
    );
    let (program, args) = command.split_first().context("no command given")?;
    let mut child = tokio::process::Command::new(program);
    child
        .args(args)
        .env(olympus::testing::ADMIN_URL_VAR, pg.admin_url("{db}"))
        .env(olympus::testing::OWNER_URL_VAR, pg.owner_url("{db}"))
        .env(olympus::testing::APP_URL_VAR, pg.app_url("{db}"))
        .env("OLYMPUS_TEST_SOCKET_DIR", pg.dir())
        .env("OLYMPUS_TEST_PORT", pg.port.to_string());
    match &emulator {
        Some(emulator) => child.env("PUBSUB_EMULATOR_HOST", &emulator.host),
        None => child.env_remove("PUBSUB_EMULATOR_HOST"),
    };
    match &bigquery {
        Some(bigquery) => child.env(services::TEST_BIGQUERY_ENDPOINT_VAR, &bigquery.endpoint),
        None => child.env_remove(services::TEST_BIGQUERY_ENDPOINT_VAR),
    };
    let status = child
        .status()
        .await
        .with_context(|| format!("cannot run {program}"))?;
    drop(bigquery);
    drop(emulator);
    drop(pg);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}

/// Replays dead letters of the platform `make dev` is running.
async fn replay(ids: Vec<Uuid>) -> Result<()> {
    let env_file = state_dir_default().join("env");
    let text = std::fs::read_to_string(&env_file)
        .with_context(|| format!("{} not found: is `make dev` running?", env_file.display()))?;
    let vars: HashMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
    let database_url = vars.get("DATABASE_URL").context("DATABASE_URL missing")?;
    let project = vars
        .get("GOOGLE_CLOUD_PROJECT")
        .context("project missing")?;
    let publisher: std::sync::Arc<dyn olympus::events::Publisher> =
        match vars.get("PUBSUB_EMULATOR_HOST").filter(|h| !h.is_empty()) {
            Some(host) => std::sync::Arc::new(olympus::events::publisher::PubSubPublisher::new(
                (*project).to_owned(),
                Some((*host).to_owned()),
            )),
            None => bail!(
                "the running platform uses the in-process bus: replay with \
                 POST /v1/admin/dead-letters/replay and the operator token in .dev/operator.token"
            ),
        };
    let pool = olympus::db::pool(database_url, 2).map_err(|e| anyhow!("{e}"))?;
    let selection = if ids.is_empty() {
        olympus::events::dead_letter::ReplaySelection::AllPending
    } else {
        olympus::events::dead_letter::ReplaySelection::Ids(ids)
    };
    let report = olympus::events::dead_letter::replay(&pool, &publisher, &selection, 1000)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    publisher.flush().await;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
