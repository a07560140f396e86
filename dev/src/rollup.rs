//! `dev rollup`: the sales rollup against the `make dev` database.
//!
//! With `--from` and `--to` (business dates, inclusive) it backfills that range
//! ([`olympus::analytics::rollup::backfill`]: every day rebuilt from the orders, a chunk of
//! days per transaction, a progress bar per tenant); without them it runs what the
//! `rollup-sales` job runs every 15 minutes (the days touched since each tenant's watermark).
//! `--tenant` limits it to one tenant. `DATABASE_URL` comes from `.dev/env`, which `make dev`
//! writes while it runs (as `dev replay-dead-letters` reads it), unless given.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{Context as _, Result, anyhow, bail};
use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressStyle};
use olympus::analytics::rollup::{self, Outcome, Progress};
use uuid::Uuid;

/// Options of `dev rollup`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// First business date of a backfill (YYYY-MM-DD; with --to).
    #[arg(long, requires = "to")]
    pub from: Option<NaiveDate>,
    /// Last business date of a backfill (YYYY-MM-DD, inclusive; with --from).
    #[arg(long, requires = "from")]
    pub to: Option<NaiveDate>,
    /// Only this tenant (default: every tenant).
    #[arg(long)]
    pub tenant: Option<Uuid>,
    /// The app role's database URL (default: DATABASE_URL of the running `make dev`).
    #[arg(long, env = "ROLLUP_DATABASE_URL")]
    pub database_url: Option<String>,
}

/// `DATABASE_URL` of the platform `make dev` is running, from its `.dev/env`.
pub fn dev_database_url() -> Result<String> {
    let env_file = crate::topology::workspace_root().join(".dev").join("env");
    let text = std::fs::read_to_string(&env_file)
        .with_context(|| format!("{} not found: is `make dev` running?", env_file.display()))?;
    let vars: HashMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
    vars.get("DATABASE_URL")
        .map(|url| (*url).to_owned())
        .with_context(|| format!("no DATABASE_URL in {}", env_file.display()))
}

/// Runs the rollup as the arguments say and prints what it did.
#[allow(clippy::print_stdout)] // a command-line tool: printing is its interface
pub async fn run(args: Args) -> Result<()> {
    let url = match args.database_url {
        Some(url) => url,
        None => dev_database_url()?,
    };
    let pool = olympus::db::pool(&url, 2).map_err(|e| anyhow!("{e}"))?;
    let tenants = match args.tenant {
        Some(tenant) => vec![tenant],
        None => rollup::tenants(&pool).await.map_err(|e| anyhow!("{e}"))?,
    };
    if tenants.is_empty() {
        bail!("no tenants in {}", olympus::db::redact(&url));
    }
    let started = Instant::now();
    let mut total = Outcome::default();
    match (args.from, args.to) {
        (Some(from), Some(to)) => {
            if from > to {
                bail!("--from {from} is after --to {to}");
            }
            println!(
                "backfilling business dates {from} to {to} for {} tenant(s)",
                tenants.len()
            );
            for tenant in &tenants {
                total += backfill_one(&pool, *tenant, from, to).await?;
            }
        }
        _ => {
            println!(
                "rolling up what changed since each tenant's last run ({} tenant(s))",
                tenants.len()
            );
            for tenant in &tenants {
                let outcome = rollup::incremental(&pool, *tenant)
                    .await
                    .map_err(|e| anyhow!("tenant {tenant}: {}", e.cause_chain()))?;
                println!(
                    "  {tenant}: {} day(s), {} row(s)",
                    outcome.days, outcome.rows
                );
                total += outcome;
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)] // a rate to print
    let rate = total.days as f64 / seconds.max(1e-3);
    println!(
        "done: {} location-day(s), {} rollup row(s) in {seconds:.1} s ({rate:.0} days/s)",
        total.days, total.rows
    );
    Ok(())
}

async fn backfill_one(
    pool: &olympus::db::Pool,
    tenant: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Outcome> {
    let bar = ProgressBar::new(0);
    if let Ok(style) = ProgressStyle::with_template(
        "{msg} [{bar:32}] {pos}/{len} days, {per_sec}, eta {eta} ({prefix} rows)",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(tenant.to_string());
    let mut on_progress = |progress: &Progress| {
        bar.set_length(progress.days_total);
        bar.set_position(progress.days_done);
        bar.set_prefix(progress.rows.to_string());
        // Not a terminal (a log, CI): a line per chunk instead of the bar.
        if bar.is_hidden() && progress.days_done > 0 {
            eprintln!(
                "  {tenant}: {}/{} days, {} rows, {:.1} s",
                progress.days_done, progress.days_total, progress.rows, progress.elapsed_seconds
            );
        }
    };
    let outcome = rollup::backfill(pool, tenant, from, to, &mut on_progress)
        .await
        .map_err(|e| anyhow!("tenant {tenant}: {}", e.cause_chain()))?;
    bar.finish();
    Ok(outcome)
}
