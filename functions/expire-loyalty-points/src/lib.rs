//! `expire-loyalty-points` — scheduled job, daily at 03:15 UTC (also `POST
//! /jobs/expire-loyalty-points`).
//!
//! For every tenant whose loyalty program sets `points_expire_days`: earned points whose
//! `expires_at` has passed and that were not used (redemptions and earlier expiries consume
//! the oldest points first; refund claw-backs reduce what their order earned) are written off
//! with one `expire` entry per customer, never taking a balance below zero. Running it again
//! expires nothing more. Tenants are walked from the public slug directory, each in its own
//! tenant transaction (RLS stays in force).
//!
//! Answers `{"tenants": n, "customers": n, "points": n}`.
//!
//! Env: `DATABASE_URL`. Emits: nothing.

use olympus::db;
use olympus::function::{Job, JobReport};
use olympus::loyalty;
use olympus::{AppState, Error, Function};
use serde_json::json;
use uuid::Uuid;

pub fn function() -> Function {
    Function::job("expire-loyalty-points", Some("15 3 * * *"), Expire)
}

struct Expire;

impl Job for Expire {
    async fn run(&self, state: AppState) -> Result<JobReport, Error> {
        let pool = state.db()?;
        let tenants: Vec<Uuid> = {
            let client = pool.get().await?;
            client
                .query("SELECT tenant_id FROM platform.tenant_directory", &[])
                .await?
                .iter()
                .map(|row| row.try_get(0))
                .collect::<Result<_, _>>()?
        };
        let now = chrono::Utc::now();
        let (mut touched, mut customers, mut points) = (0_u64, 0_u64, 0_i64);
        for tenant in tenants {
            let mut client = pool.get().await?;
            let tx = db::tenant_tx(&mut client, tenant).await?;
            let expires = loyalty::load_program(&tx, false)
                .await?
                .is_some_and(|p| p.program.points_expire_days.is_some());
            if !expires {
                tx.commit().await?;
                continue;
            }
            let (n, total) = loyalty::expire_due(&tx, tenant, now).await?;
            tx.commit().await?;
            if n > 0 {
                touched += 1;
                customers += n;
                points += total;
                tracing::info!(%tenant, customers = n, points = total, "loyalty points expired");
            }
        }
        Ok(json!({"tenants": touched, "customers": customers, "points": points}))
    }
}
