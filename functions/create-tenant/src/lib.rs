//! `create-tenant` — `POST /v1/tenants`: public sign-up of a business.
//!
//! Creates, in one transaction scoped to the new tenant: the tenant and its slug in the public
//! directory, its first location, the built-in roles, the owner user (granted `owner`), an audit
//! record, and the first session, whose tokens it returns (201). A taken slug is 409
//! `slug_taken`; every invalid field is a 422 with its own code (`invalid_slug`,
//! `invalid_industry`, `invalid_currency`, `invalid_time_zone`, `invalid_plan`, `invalid_name`,
//! `invalid_email`, `weak_password`). Not behind `Idempotency-Key`:
//! the stored replay would keep the tokens and a fast hash of the owner's password at rest; a
//! retried sign-up answers 409 `slug_taken` and the client signs in instead.
//!
//! Env: `DATABASE_URL`, `AUTH_SIGNING_KEY`, `AUTH_SIGNING_KEY_ID`, `AUTH_SIGNING_ALG`,
//! `AUTH_ISSUER`, `AUTH_AUDIENCE`, `AUTH_JWKS`, `GOOGLE_CLOUD_PROJECT`,
//! `PUBSUB_EMULATOR_HOST` (local). Emits: `platform.tenant.created`.

pub use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use olympus::audit::{self, Actor, AuditEvent};
use olympus::auth::password;
use olympus::auth::roles::{BUILTIN_ROLES, OWNER};
use olympus::auth::session::{self, Tokens};
use olympus::db::{self, Transaction};
use olympus::events::identity::TenantCreated;
use olympus::events::{Event, Outbox};
use olympus::http::{ClientInfo, Json};
use olympus::locations::{self, LocationView};
use olympus::plans::Plan;
use olympus::{AppState, Error, Function};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio_postgres::error::SqlState;
use uuid::Uuid;

pub use olympus::tenants::TenantView;
use olympus::tenants::{self as tenant_view, validate};

pub fn function() -> Function {
    Function::http("create-tenant")
        .route(&Method::POST, "/v1/tenants", create_tenant)
        .publishes(&[TenantCreated::TYPE])
        .secrets(&[olympus::auth::SIGNING_KEY_SECRET])
        .build()
}

/// Name of the first location when the request names none.
pub const DEFAULT_LOCATION_NAME: &str = "Main";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignUpRequest {
    name: String,
    slug: String,
    industry: String,
    currency: String,
    time_zone: String,
    #[serde(default)]
    plan: Option<String>,
    owner: OwnerRequest,
    #[serde(default)]
    location: Option<LocationRequest>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OwnerRequest {
    name: String,
    email: String,
    password: String,
}

// Never print the password, even in a debug log.
impl std::fmt::Debug for OwnerRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnerRequest")
            .field("name", &self.name)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LocationRequest {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    time_zone: Option<String>,
    #[serde(default)]
    currency: Option<String>,
}

/// A sign-up request that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SignUp {
    name: String,
    slug: String,
    industry: String,
    currency: String,
    time_zone: String,
    plan: Plan,
    owner_name: String,
    owner_email: String,
    location_name: String,
    location_time_zone: String,
    location_currency: String,
}

impl SignUpRequest {
    /// Checks every field (pure), returning the normalized sign-up and the password.
    fn validate(self) -> Result<(SignUp, String), Error> {
        let name = validate::name("name", &self.name)?;
        let slug = validate::slug(&self.slug)?;
        let industry = validate::industry(&self.industry)?;
        let currency = validate::currency("currency", &self.currency)?;
        let time_zone = validate::time_zone("time_zone", &self.time_zone)?;
        let plan = match self.plan.as_deref() {
            Some(plan) => validate::plan(plan)?,
            None => Plan::Free,
        };
        let owner_name = validate::name("owner.name", &self.owner.name)?;
        let owner_email = validate::email(&self.owner.email)?;
        password::validate_new_password(&self.owner.password)?;
        let location = self.location.unwrap_or_default();
        let location_name = match location.name.as_deref() {
            Some(n) => validate::name("location.name", n)?,
            None => DEFAULT_LOCATION_NAME.to_owned(),
        };
        let location_time_zone = match location.time_zone.as_deref() {
            Some(tz) => validate::time_zone("location.time_zone", tz)?,
            None => time_zone.clone(),
        };
        let location_currency = match location.currency.as_deref() {
            Some(c) => validate::currency("location.currency", c)?,
            None => currency.clone(),
        };
        Ok((
            SignUp {
                name,
                slug,
                industry,
                currency,
                time_zone,
                plan,
                owner_name,
                owner_email,
                location_name,
                location_time_zone,
                location_currency,
            },
            self.owner.password,
        ))
    }
}

#[derive(Debug, Serialize)]
struct SignUpResponse {
    tenant: TenantView,
    user: UserView,
    location: LocationView,
    tokens: Tokens,
}

#[derive(Debug, Serialize)]
struct UserView {
    id: Uuid,
    email: String,
    name: String,
}

fn slug_taken(slug: &str) -> Error {
    Error::conflict(
        "slug_taken",
        format!("The slug `{slug}` is already taken; choose another."),
    )
    .with_extension("field", "slug")
}

/// A unique violation on either slug constraint is a taken slug (two sign-ups racing for one
/// slug: the pre-check passed for both, the index decides); anything else maps as usual.
fn slug_error(slug: &str, err: tokio_postgres::Error) -> Error {
    let taken = err.as_db_error().is_some_and(|db| {
        *db.code() == SqlState::UNIQUE_VIOLATION
            && matches!(
                db.constraint(),
                Some("tenant_directory_pkey" | "tenants_slug_key")
            )
    });
    if taken {
        slug_taken(slug)
    } else {
        Error::from(err)
    }
}

async fn create_tenant(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(request): Json<SignUpRequest>,
) -> Result<Response, Error> {
    let (signup, password) = request.validate()?;
    // Fail before the expensive hash when this deployment cannot issue tokens.
    let signer = state.signer()?;
    let password_hash = password::hash(password).await?;

    let tenant = Uuid::now_v7();
    let owner = Uuid::now_v7();
    let location = Uuid::now_v7();
    let mut outbox = Outbox::default();

    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;

    let view = insert_tenant(&tx, tenant, &signup).await?;
    // The location as every other endpoint shows it (day cutoff, hours, ...), from the row.
    let location_row = tx
        .query_one(
            format!(
                "INSERT INTO platform.locations (id, tenant_id, name, time_zone, currency)
                 VALUES ($1, $2, $3, $4, $5)
                 RETURNING {}",
                locations::COLUMNS
            )
            .as_str(),
            &[
                &location,
                &tenant,
                &signup.location_name,
                &signup.location_time_zone,
                &signup.location_currency,
            ],
        )
        .await?;
    let location_view = LocationView::from_row(&location_row)?;
    let owner_role = insert_builtin_roles(&tx, tenant).await?;
    tx.execute(
        "INSERT INTO auth.users (id, tenant_id, email, name, password_hash, status)
         VALUES ($1, $2, $3, $4, $5, 'active')",
        &[
            &owner,
            &tenant,
            &signup.owner_email,
            &signup.owner_name,
            &password_hash,
        ],
    )
    .await?;
    tx.execute(
        "INSERT INTO auth.role_grants (tenant_id, user_id, role_id, location_ids)
         VALUES ($1, $2, $3, NULL)",
        &[&tenant, &owner, &owner_role],
    )
    .await?;

    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new(Actor::User(owner), TenantCreated::TYPE)
            .target("tenant", tenant)
            .change(None, Some(view.to_json()?))
            .details(json!({
                "owner_user_id": owner,
                "first_location_id": location,
            })),
    )
    .await?;
    outbox
        .record(
            &tx,
            Some(tenant),
            &TenantCreated {
                tenant_id: tenant,
                slug: signup.slug.clone(),
                name: signup.name.clone(),
                industry: signup.industry.clone(),
                owner_user_id: owner,
                first_location_id: location,
            },
        )
        .await?;

    let tokens = session::start(
        &tx,
        signer,
        tenant,
        owner,
        session::Method::Signup,
        None,
        &client,
    )
    .await?;
    tx.commit().await?;
    outbox.publish(&state).await;

    tracing::info!(tenant_id = %tenant, slug = %signup.slug, plan = signup.plan.as_str(), "tenant created");
    let body = SignUpResponse {
        tenant: view,
        user: UserView {
            id: owner,
            email: signup.owner_email,
            name: signup.owner_name,
        },
        location: location_view,
        tokens,
    };
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, HeaderValue::from_static("/v1/tenant"))],
        Json(body),
    )
        .into_response())
}

/// Inserts the tenant and its directory entry; a taken slug is 409 `slug_taken`.
async fn insert_tenant(
    tx: &Transaction<'_>,
    tenant: Uuid,
    signup: &SignUp,
) -> Result<TenantView, Error> {
    // The directory is outside RLS, so this sees every tenant's slug.
    let taken = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM platform.tenant_directory WHERE slug = $1)",
            &[&signup.slug],
        )
        .await?
        .get::<_, bool>(0);
    if taken {
        return Err(slug_taken(&signup.slug));
    }
    let row = tx
        .query_one(
            &format!(
                "INSERT INTO platform.tenants (id, slug, name, industry, currency, time_zone, plan)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 RETURNING {}",
                tenant_view::COLUMNS
            ),
            &[
                &tenant,
                &signup.slug,
                &signup.name,
                &signup.industry,
                &signup.currency,
                &signup.time_zone,
                &signup.plan.as_str(),
            ],
        )
        .await
        .map_err(|e| slug_error(&signup.slug, e))?;
    tx.execute(
        "INSERT INTO platform.tenant_directory (slug, tenant_id) VALUES ($1, $2)",
        &[&signup.slug, &tenant],
    )
    .await
    .map_err(|e| slug_error(&signup.slug, e))?;
    TenantView::from_row(&row)
}

/// Inserts every built-in role; returns the id of `owner`.
async fn insert_builtin_roles(tx: &Transaction<'_>, tenant: Uuid) -> Result<Uuid, Error> {
    let mut owner_role = None;
    for role in BUILTIN_ROLES {
        let id = Uuid::now_v7();
        tx.execute(
            "INSERT INTO auth.roles (id, tenant_id, name, description, permissions, builtin)
             VALUES ($1, $2, $3, $4, $5, true)",
            &[
                &id,
                &tenant,
                &role.name,
                &role.description,
                &role.permissions,
            ],
        )
        .await?;
        if role.name == OWNER {
            owner_role = Some(id);
        }
    }
    owner_role
        .ok_or_else(|| Error::internal(std::io::Error::other("BUILTIN_ROLES has no owner role")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn request(body: serde_json::Value) -> Result<SignUpRequest, serde_json::Error> {
        serde_json::from_value(body)
    }

    fn minimal() -> serde_json::Value {
        json!({
            "name": "Joe's Diner",
            "slug": "joes-diner",
            "industry": "restaurant",
            "currency": "EUR",
            "time_zone": "Europe/Paris",
            "owner": {"name": "Joe", "email": " Joe@Example.com", "password": "correct horse battery"}
        })
    }

    #[test]
    fn defaults_come_from_the_tenant() {
        let (signup, password) = request(minimal()).unwrap().validate().unwrap();
        assert_eq!(password, "correct horse battery");
        assert_eq!(signup.plan, Plan::Free);
        assert_eq!(signup.owner_email, "joe@example.com");
        assert_eq!(signup.location_name, DEFAULT_LOCATION_NAME);
        assert_eq!(signup.location_time_zone, "Europe/Paris");
        assert_eq!(signup.location_currency, "EUR");
    }

    #[test]
    fn the_location_may_differ_and_is_validated() {
        let mut body = minimal();
        body["plan"] = json!("pro");
        body["location"] =
            json!({"name": "Gare du Nord", "time_zone": "Europe/London", "currency": "GBP"});
        let (signup, _) = request(body.clone()).unwrap().validate().unwrap();
        assert_eq!(signup.plan, Plan::Pro);
        assert_eq!(signup.location_name, "Gare du Nord");
        assert_eq!(signup.location_time_zone, "Europe/London");
        assert_eq!(signup.location_currency, "GBP");
        body["location"]["time_zone"] = json!("Europe/Nowhere");
        let err = request(body).unwrap().validate().unwrap_err();
        assert_eq!(err.code(), "invalid_time_zone");
        assert_eq!(err.problem().extensions["field"], "location.time_zone");
    }

    #[test]
    fn unknown_fields_are_refused_and_the_password_is_never_debug_printed() {
        let mut body = minimal();
        body["owner"]["role"] = json!("admin");
        assert!(request(body).is_err());
        let req = request(minimal()).unwrap();
        assert!(!format!("{req:?}").contains("correct horse"));
    }

    #[test]
    fn weak_passwords_are_refused() {
        let mut body = minimal();
        body["owner"]["password"] = json!("short");
        let err = request(body).unwrap().validate().unwrap_err();
        assert_eq!(err.code(), "weak_password");
    }
}
