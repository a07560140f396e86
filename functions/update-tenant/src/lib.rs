//! `update-tenant` — `PATCH /v1/tenant`: changes the caller's tenant (needs `tenant:write`;
//! changing `plan` also needs `tenant:billing`, which only the owner role holds).
//!
//! Body: any of `name`, `industry`, `currency`, `time_zone`, `settings` (object, replaced
//! whole), `branding` (object, replaced whole), `plan`; a field absent or `null` is unchanged.
//! Requires `If-Match: "<version>"` (or the bare number): missing is 428
//! `precondition_required`, stale is 412 `version_mismatch` with `current_version`. A change
//! bumps `version` and `updated_at`, is audited (`platform.tenant.updated`, before/after of the
//! changed fields) and answers the tenant with its new `ETag`; a request that changes nothing
//! answers the tenant as it is. A plan whose limits are below the current usage (active users or
//! locations) is 403 `plan_limit`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

pub use axum::extract::State;
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use olympus::audit::{self, AuditEvent, Changes};
use olympus::auth::Principal;
use olympus::db::{self, Transaction};
use olympus::http::versioning::{etag, expected_version, version_mismatch};
use olympus::http::{ClientInfo, Json};
use olympus::plans::Plan;
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use serde_json::{Value, json};

pub use olympus::tenants::TenantView;
use olympus::tenants::{self as tenant_view, validate};

pub fn function() -> Function {
    Function::http("update-tenant")
        .route(&Method::PATCH, "/v1/tenant", update_tenant)
        .build()
}

/// The permission every change needs.
pub const WRITE: &str = "tenant:write";
/// The permission a plan change needs in addition.
pub const BILLING: &str = "tenant:billing";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantPatch {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    industry: Option<String>,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    time_zone: Option<String>,
    #[serde(default)]
    settings: Option<Value>,
    #[serde(default)]
    branding: Option<Value>,
    #[serde(default)]
    plan: Option<String>,
}

/// The mutable part of a tenant.
#[derive(Debug, Clone, PartialEq)]
struct Profile {
    name: String,
    industry: String,
    currency: String,
    time_zone: String,
    settings: Value,
    branding: Value,
    plan: Plan,
}

impl Profile {
    fn of(view: &TenantView) -> Self {
        Self {
            name: view.name.clone(),
            industry: view.industry.clone(),
            currency: view.currency.clone(),
            time_zone: view.time_zone.clone(),
            settings: view.settings.clone(),
            branding: view.branding.clone(),
            plan: view.plan,
        }
    }

    /// The fields that differ from `other`, each as (name, this value, other value).
    fn diff(&self, other: &Self) -> Vec<(&'static str, Value, Value)> {
        let mut changes = Vec::new();
        let mut field = |name: &'static str, mine: Value, theirs: Value| {
            if mine != theirs {
                changes.push((name, mine, theirs));
            }
        };
        field("name", json!(self.name), json!(other.name));
        field("industry", json!(self.industry), json!(other.industry));
        field("currency", json!(self.currency), json!(other.currency));
        field("time_zone", json!(self.time_zone), json!(other.time_zone));
        field("settings", self.settings.clone(), other.settings.clone());
        field("branding", self.branding.clone(), other.branding.clone());
        field("plan", json!(self.plan), json!(other.plan));
        changes
    }
}

impl TenantPatch {
    /// Validates the given fields (pure) and applies them to `current`.
    fn apply(self, current: &Profile) -> Result<Profile, Error> {
        let mut next = current.clone();
        if let Some(name) = self.name {
            next.name = validate::name("name", &name)?;
        }
        if let Some(industry) = self.industry {
            next.industry = validate::industry(&industry)?;
        }
        if let Some(currency) = self.currency {
            next.currency = validate::currency("currency", &currency)?;
        }
        if let Some(time_zone) = self.time_zone {
            next.time_zone = validate::time_zone("time_zone", &time_zone)?;
        }
        if let Some(settings) = self.settings {
            next.settings = validate::object("settings", settings)?;
        }
        if let Some(branding) = self.branding {
            next.branding = validate::object("branding", branding)?;
        }
        if let Some(plan) = self.plan {
            next.plan = validate::plan(&plan)?;
        }
        Ok(next)
    }
}

async fn update_tenant(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    headers: HeaderMap,
    Json(patch): Json<TenantPatch>,
) -> Result<Response, Error> {
    principal.require(WRITE)?;
    let expected = expected_version(&headers, "tenant")?;
    let tenant = principal.tenant_id;

    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    let row = tx
        .query_opt(
            &format!(
                "SELECT {} FROM platform.tenants WHERE id = $1 FOR UPDATE",
                tenant_view::COLUMNS
            ),
            &[&tenant],
        )
        .await?
        .ok_or_else(|| Error::not_found("The tenant of this token does not exist."))?;
    let before = TenantView::from_row(&row)?;
    let current = Profile::of(&before);
    let next = patch.apply(&current)?;
    if before.version != expected {
        return Err(version_mismatch("tenant", expected, before.version));
    }
    if next.plan != current.plan {
        principal.require(BILLING)?;
        ensure_usage_fits(&tx, next.plan).await?;
    }
    let changes: Changes = current.diff(&next).into_iter().collect();
    if changes.is_empty() {
        tx.commit().await?;
        return respond(before);
    }

    let row = tx
        .query_one(
            &format!(
                "UPDATE platform.tenants
                 SET name = $2, industry = $3, currency = $4, time_zone = $5, settings = $6,
                     branding = $7, plan = $8, version = version + 1, updated_at = now()
                 WHERE id = $1
                 RETURNING {}",
                tenant_view::COLUMNS
            ),
            &[
                &tenant,
                &next.name,
                &next.industry,
                &next.currency,
                &next.time_zone,
                &next.settings,
                &next.branding,
                &next.plan.as_str(),
            ],
        )
        .await?;
    let after = TenantView::from_row(&row)?;

    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new((&principal).into(), "platform.tenant.updated")
            .target("tenant", tenant)
            .versioned_change(changes, before.version, after.version),
    )
    .await?;
    tx.commit().await?;
    respond(after)
}

fn respond(view: TenantView) -> Result<Response, Error> {
    Ok(([(header::ETAG, etag(view.version))], Json(view)).into_response())
}

/// Refuses with 403 `plan_limit` when the tenant (of `tx`) uses more than `plan` allows.
async fn ensure_usage_fits(tx: &Transaction<'_>, plan: Plan) -> Result<(), Error> {
    let row = tx
        .query_one(
            "SELECT (SELECT count(*) FROM auth.users WHERE status <> 'deactivated'),
                    (SELECT count(*) FROM platform.locations WHERE active)",
            &[],
        )
        .await?;
    let limits = plan.limits();
    let usage = [
        ("users", limits.users, row.try_get::<_, i64>(0)?),
        ("locations", limits.locations, row.try_get::<_, i64>(1)?),
    ];
    for (resource, limit, used) in usage {
        if let Some(limit) = limit
            && used > limit
        {
            return Err(Error::forbidden(
                "plan_limit",
                format!(
                    "The {} plan allows {limit} {resource} and this tenant has {used}; \
                     remove some before changing the plan.",
                    plan.as_str()
                ),
            )
            .with_extension("plan", plan.as_str())
            .with_extension("resource", resource)
            .with_extension("limit", limit)
            .with_extension("usage", used));
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn profile() -> Profile {
        Profile {
            name: "Joe's".to_owned(),
            industry: "restaurant".to_owned(),
            currency: "EUR".to_owned(),
            time_zone: "Europe/Paris".to_owned(),
            settings: json!({}),
            branding: json!({}),
            plan: Plan::Free,
        }
    }

    #[test]
    fn patches_apply_validated_fields_and_diff_names_them() {
        let patch: TenantPatch = serde_json::from_value(json!({
            "name": " Joe's Bistro ", "plan": "pro", "settings": {"tips": true}, "branding": null
        }))
        .unwrap();
        let current = profile();
        let next = patch.apply(&current).unwrap();
        assert_eq!(next.name, "Joe's Bistro");
        assert_eq!(next.plan, Plan::Pro);
        let names: Vec<_> = current.diff(&next).into_iter().map(|c| c.0).collect();
        assert_eq!(names, ["name", "settings", "plan"]);
        assert!(
            TenantPatch::default()
                .apply(&current)
                .unwrap()
                .diff(&current)
                .is_empty()
        );
    }

    #[test]
    fn invalid_fields_and_unknown_fields_are_refused() {
        let bad = |body: Value| {
            serde_json::from_value::<TenantPatch>(body)
                .unwrap()
                .apply(&profile())
                .unwrap_err()
                .code()
                .to_owned()
        };
        assert_eq!(bad(json!({"currency": "eur"})), "invalid_currency");
        assert_eq!(
            bad(json!({"time_zone": "Nowhere/Land"})),
            "invalid_time_zone"
        );
        assert_eq!(bad(json!({"industry": "mining"})), "invalid_industry");
        assert_eq!(bad(json!({"plan": "gold"})), "invalid_plan");
        assert_eq!(bad(json!({"settings": [1]})), "invalid_settings");
        assert_eq!(bad(json!({"branding": "blue"})), "invalid_branding");
        assert_eq!(bad(json!({"name": ""})), "invalid_name");
        assert!(serde_json::from_value::<TenantPatch>(json!({"slug": "new"})).is_err());
    }
}
