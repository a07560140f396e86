//! Every function in one process, on one port, with production routes; events delivered to the
//! `on-*` handlers by the Pub/Sub emulator's push subscriptions (or the in-process bus where no
//! emulator is installed); scheduled jobs run on their cron.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow};
use axum::Router;
use olympus::config::Env;
use olympus::events::publisher::{
    InProcessBus, InProcessPublisher, InProcessSubscription, PubSubPublisher, Publisher,
};
use olympus::mail::MemoryMailbox;
use olympus::{AppState, Config, Function, Trigger};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::pubsub::{EmulatorAdmin, RetrySettings};
use crate::topology::Topology;

/// What to run.
#[derive(Debug)]
pub struct Options {
    /// The app role's connection URL.
    pub database_url: String,
    /// Pub/Sub project id (any name works on the emulator).
    pub project: String,
    /// `host:port` of the emulator; `None` uses the in-process bus.
    pub emulator_host: Option<String>,
    pub listen: SocketAddr,
    pub functions: Vec<Function>,
    /// Run jobs on their cron schedules (off in tests, which trigger jobs explicitly).
    pub run_schedules: bool,
    /// Further environment for the functions (AUTH_JWKS, OPERATOR_TENANT_ID, ...).
    pub env: HashMap<String, String>,
    pub retry: RetrySettings,
}

/// A running platform.
#[derive(Debug)]
pub struct Platform {
    pub addr: SocketAddr,
    pub state: AppState,
    pub topology: Topology,
    pub bus: &'static str,
    /// Mail the platform sent (also at `GET /dev/mailbox`), unless `SMTP_URL` was configured.
    pub mailbox: Arc<MemoryMailbox>,
    shutdown: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
    schedulers: Vec<JoinHandle<()>>,
}

impl Platform {
    /// Builds the state and router, provisions topics and subscriptions, starts serving.
    pub async fn start(options: Options) -> Result<Self> {
        let topology = Topology::of(&options.functions);
        let mut vars = options.env.clone();
        vars.insert("DATABASE_URL".into(), options.database_url.clone());
        vars.insert("GOOGLE_CLOUD_PROJECT".into(), options.project.clone());
        if let Some(host) = &options.emulator_host {
            vars.insert("PUBSUB_EMULATOR_HOST".into(), host.clone());
        }
        let config =
            Config::from(&Env::from_fn(|k| vars.get(k).cloned())).map_err(|e| anyhow!("{e}"))?;

        let (publisher, bus, in_process): (
            Arc<dyn Publisher>,
            &'static str,
            Option<Arc<InProcessBus>>,
        ) = match &options.emulator_host {
            Some(host) => (
                Arc::new(PubSubPublisher::new(
                    options.project.clone(),
                    Some(host.clone()),
                )),
                "pubsub-emulator",
                None,
            ),
            None => {
                let subscriptions = topology
                    .functions
                    .iter()
                    .filter_map(|(name, spec)| {
                        Some(InProcessSubscription {
                            name: name.clone(),
                            topic: spec.topic.clone()?,
                            push_path: spec.push_path.clone()?,
                        })
                    })
                    .collect();
                let bus = Arc::new(InProcessBus::new(&options.project, subscriptions));
                (
                    Arc::new(InProcessPublisher(Arc::clone(&bus))),
                    "in-process",
                    Some(bus),
                )
            }
        };
        let pool = olympus::db::pool(&options.database_url, config.database_pool_size.max(16))
            .map_err(|e| anyhow!("{e}"))?;
        let verifier = olympus::auth::Verifier::from_config(&config).map_err(|e| anyhow!("{e}"))?;
        let mailbox = Arc::new(MemoryMailbox::default());
        let mut state = AppState::new(config, Some(pool), publisher, verifier);
        if state.config().smtp_url.is_none() {
            state = state.with_mailer(Arc::clone(&mailbox) as Arc<dyn olympus::mail::Mailer>);
        }

        let routes = options
            .functions
            .iter()
            .fold(Router::new(), |router, function| {
                router.merge(function.router())
            })
            .route("/dev/mailbox", mailbox_route(Arc::clone(&mailbox)));
        let app = olympus::http::app(routes, state.clone());
        if let Some(bus) = &in_process {
            bus.attach(app.clone());
        }

        let listener = TcpListener::bind(options.listen)
            .await
            .with_context(|| format!("cannot listen on {}", options.listen))?;
        let addr = listener.local_addr()?;
        if let Some(host) = &options.emulator_host {
            EmulatorAdmin::new(host, &options.project)
                .provision(&topology, &format!("http://{addr}"), options.retry)
                .await?;
        }

        let shutdown = CancellationToken::new();
        let server = tokio::spawn(olympus::runtime::serve_until(
            listener,
            app,
            shutdown.clone().cancelled_owned(),
            Duration::from_secs(8),
        ));
        let schedulers = if options.run_schedules {
            options
                .functions
                .iter()
                .filter_map(|function| {
                    schedule_job(function.clone(), state.clone(), shutdown.clone())
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(Self {
            addr,
            state,
            topology,
            bus,
            mailbox,
            shutdown,
            server,
            schedulers,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Drains the server, stops the schedulers, flushes the publisher, closes the pool.
    pub async fn stop(self) {
        self.shutdown.cancel();
        for scheduler in &self.schedulers {
            scheduler.abort();
        }
        let _ = self.server.await;
        self.state.close().await;
    }
}

/// `GET /dev/mailbox` (dev runner only, never deployed): every message sent, newest first.
fn mailbox_route(mailbox: Arc<MemoryMailbox>) -> axum::routing::MethodRouter<AppState> {
    axum::routing::get(move || {
        let mailbox = Arc::clone(&mailbox);
        async move {
            let mut messages = mailbox.messages();
            messages.reverse();
            axum::Json(serde_json::json!({ "messages": messages }))
        }
    })
}

/// A 5-field cron (Cloud Scheduler's form) as the `cron` crate's 6-field form.
pub fn parse_cron(expression: &str) -> Result<cron::Schedule> {
    let fields = expression.split_whitespace().count();
    let six = if fields == 5 {
        format!("0 {expression}")
    } else {
        expression.to_owned()
    };
    cron::Schedule::from_str(&six).map_err(|e| anyhow!("bad cron {expression:?}: {e}"))
}

fn schedule_job(
    function: Function,
    state: AppState,
    shutdown: CancellationToken,
) -> Option<JoinHandle<()>> {
    let Trigger::Job {
        schedule: Some(expression),
        ..
    } = function.trigger().clone()
    else {
        return None;
    };
    let schedule = match parse_cron(&expression) {
        Ok(schedule) => schedule,
        Err(e) => {
            tracing::error!(function = function.name(), error = %e, "job not scheduled");
            return None;
        }
    };
    Some(tokio::spawn(async move {
        loop {
            let Some(next) = schedule.upcoming(chrono::Utc).next() else {
                return;
            };
            let wait = (next - chrono::Utc::now()).to_std().unwrap_or_default();
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
            match function.run_job(state.clone()).await {
                Ok(report) => {
                    tracing::info!(function = function.name(), %report, "scheduled job finished");
                }
                Err(error) => {
                    tracing::error!(function = function.name(), %error, "scheduled job failed");
                }
            }
        }
    }))
}

/// The dataset `dev up` creates on the BigQuery emulator.
pub const LOCAL_BIGQUERY_DATASET: &str = "olympus";

/// BigQuery for `dev up`: with `BIGQUERY_DATASET` in the environment the export job writes
/// there (as deployed); else, when dev/setup.sh installed the emulator, it is started, the
/// dataset, tables and views are created from `shared/bigquery/*.json` (what Terraform does)
/// and the in-process export job is pointed at it; else nothing is exported and the rollups
/// stay in PostgreSQL only. Answers the emulator to keep running and the line to print.
pub async fn local_bigquery(
    log_dir: &std::path::Path,
    project: &str,
) -> Result<(Option<crate::services::BigQueryEmulator>, String)> {
    use olympus::analytics::export;
    if let Some(target) = export::from_env(&Env::process()).map_err(|e| anyhow!("{e}"))? {
        return Ok((
            None,
            format!(
                "dataset {}.{} (BIGQUERY_* environment): export-bigquery writes there hourly",
                target.project(),
                target.dataset()
            ),
        ));
    }
    let Some(install) = crate::services::bigquery_emulator_install() else {
        return Ok((
            None,
            "not configured (no BIGQUERY_DATASET, emulator not installed): the rollups stay in \
             PostgreSQL only"
                .to_owned(),
        ));
    };
    let emulator = crate::services::BigQueryEmulator::start(&install, log_dir, project)?;
    let target = export::BigQuery::anonymous(&emulator.endpoint, project, LOCAL_BIGQUERY_DATASET);
    let specs = export::specs().map_err(|e| anyhow!("{e}"))?;
    target
        .provision(&specs)
        .await
        .map_err(|e| anyhow!("provisioning the BigQuery emulator: {}", e.cause_chain()))?;
    export::set_local_target(target);
    let line = format!(
        "emulator at {} (pid {}), dataset {project}.{LOCAL_BIGQUERY_DATASET}: export-bigquery \
         writes there hourly (POST /jobs/export-bigquery to run it now)",
        emulator.endpoint,
        emulator.pid()
    );
    Ok((Some(emulator), line))
}
