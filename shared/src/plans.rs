//! Plan tiers and their limits, enforced with 403 `plan_limit`.

use serde::{Deserialize, Serialize};

use crate::db::Transaction;
use crate::error::Error;

/// A tenant's plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    Free,
    Starter,
    Pro,
    Enterprise,
}

/// What a plan allows; `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    pub users: Option<i64>,
    pub locations: Option<i64>,
}

impl Plan {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Starter => "starter",
            Self::Pro => "pro",
            Self::Enterprise => "enterprise",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "free" => Some(Self::Free),
            "starter" => Some(Self::Starter),
            "pro" => Some(Self::Pro),
            "enterprise" => Some(Self::Enterprise),
            _ => None,
        }
    }

    pub fn limits(self) -> Limits {
        match self {
            Self::Free => Limits {
                users: Some(3),
                locations: Some(1),
            },
            Self::Starter => Limits {
                users: Some(10),
                locations: Some(3),
            },
            Self::Pro => Limits {
                users: Some(50),
                locations: Some(20),
            },
            Self::Enterprise => Limits {
                users: None,
                locations: None,
            },
        }
    }
}

/// What a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Users,
    Locations,
}

/// Refuses with 403 `plan_limit` when the tenant (of `tx`) is at its plan's limit of
/// `resource`. Locks the tenant row so two concurrent additions cannot both pass.
pub async fn ensure_room_for(tx: &Transaction<'_>, resource: Resource) -> Result<(), Error> {
    let row = tx
        .query_one("SELECT plan FROM platform.tenants FOR UPDATE", &[])
        .await?;
    let plan_name: String = row.get(0);
    let plan = Plan::parse(&plan_name).unwrap_or(Plan::Free);
    let limits = plan.limits();
    let (limit, count_sql, noun) = match resource {
        Resource::Users => (
            limits.users,
            "SELECT count(*) FROM auth.users WHERE status <> 'deactivated'",
            "users",
        ),
        Resource::Locations => (
            limits.locations,
            "SELECT count(*) FROM platform.locations WHERE active",
            "locations",
        ),
    };
    let Some(limit) = limit else {
        return Ok(());
    };
    let count: i64 = tx.query_one(count_sql, &[]).await?.get(0);
    if count >= limit {
        return Err(Error::forbidden(
            "plan_limit",
            format!("The {plan_name} plan allows {limit} {noun}; upgrade the plan to add more."),
        )
        .with_extension("plan", plan_name)
        .with_extension("limit", limit)
        .with_extension("resource", noun));
    }
    Ok(())
}
