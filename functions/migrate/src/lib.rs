//! `migrate` — Cloud Run job, no schedule: the deploy pipeline executes it after every deploy,
//! and the dev and test harnesses run it before starting the platform.
//!
//! Applies the embedded migrations of `olympus` as the owner role and grants the app role data
//! access (never ownership, never BYPASSRLS). Functions never migrate at start-up.
//!
//! Env: `DATABASE_URL` (the owner's connection), `APP_DB_ROLE` (default `olympus_app`).
//! Emits no events.

use olympus::function::{Job, JobReport};
use olympus::{AppState, Error, Function};

/// The role functions connect as, unless `APP_DB_ROLE` names another.
pub const DEFAULT_APP_ROLE: &str = "olympus_app";

pub fn function() -> Function {
    Function::job("migrate", None, Migrate)
}

struct Migrate;

impl Job for Migrate {
    async fn run(&self, state: AppState) -> Result<JobReport, Error> {
        let app_role = std::env::var("APP_DB_ROLE")
            .ok()
            .filter(|r| !r.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_APP_ROLE.to_owned());
        let mut client = state.db()?.get().await?;
        let report = olympus::db::migrate(&mut client, &app_role).await?;
        tracing::info!(applied = report.applied.len(), app_role = %app_role, "migrations applied");
        serde_json::to_value(report).map_err(Error::internal)
    }
}
