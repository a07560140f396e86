//! Tenants as the API shows them, and the validation of their fields (shared by sign-up,
//! the tenant endpoints and, later, locations).

pub mod validate;

use crate::error::Error;
use crate::plans::{Limits, Plan};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// The columns [`TenantView::from_row`] reads, in `SELECT`/`RETURNING` form.
pub const COLUMNS: &str = "id, slug, name, industry, currency, time_zone, plan, settings, \
                           branding, version, created_at, updated_at";

/// `GET /v1/tenant`, and the `tenant` of the sign-up answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TenantView {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub industry: String,
    pub currency: String,
    pub time_zone: String,
    pub plan: Plan,
    pub limits: Limits,
    pub settings: Value,
    pub branding: Value,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TenantView {
    pub fn from_row(row: &tokio_postgres::Row) -> Result<Self, Error> {
        let plan_name: String = row.try_get("plan")?;
        let plan = Plan::parse(&plan_name).ok_or_else(|| {
            Error::internal(std::io::Error::other(format!(
                "unknown plan {plan_name:?} in platform.tenants"
            )))
        })?;
        Ok(Self {
            id: row.try_get("id")?,
            slug: row.try_get("slug")?,
            name: row.try_get("name")?,
            industry: row.try_get("industry")?,
            currency: row.try_get("currency")?,
            time_zone: row.try_get("time_zone")?,
            plan,
            limits: plan.limits(),
            settings: row.try_get("settings")?,
            branding: row.try_get("branding")?,
            version: row.try_get("version")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }

    /// The strong entity tag of this version: `"<version>"`.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }

    /// The view as JSON, for audit before/after images.
    pub fn to_json(&self) -> Result<Value, Error> {
        serde_json::to_value(self).map_err(Error::internal)
    }
}
