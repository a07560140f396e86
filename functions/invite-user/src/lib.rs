//! `invite-user` — `POST /v1/users`: invites a user into the caller's tenant (needs
//! `users:write`).
//!
//! Body: `{"email", "name", "roles": [{"role_id": uuid} | {"role": name}, with optional
//! "location_ids": [uuid]]}` (absent `location_ids`: the role applies everywhere). The user is
//! created with status `invited` and no password, with its role grants and a single-use invite
//! token (7 days) that only travels in the `auth.user.invited` event to the mailer
//! (`on-user-invited`); the response never contains it. Answers 201 `{"user", "invite_expires_at"}`
//! with `Location: /v1/users/{id}` and `ETag`. Honours `Idempotency-Key`.
//!
//! Errors: 422 `invalid_email`, `invalid_name`, `invalid_roles`, `unknown_role`,
//! `duplicate_role`, `unknown_location`; 403 `permission_denied` (no `users:write`, or a role
//! with permissions the caller does not hold — so only an owner grants `owner`),
//! `location_denied`, `plan_limit` (active and invited users count); 409 `email_taken` (any
//! user of the tenant, deactivated ones included). Audit: `auth.user.invited`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`, `GOOGLE_CLOUD_PROJECT`,
//! `PUBSUB_EMULATOR_HOST` (local). Emits: `auth.user.invited`.

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use olympus::audit::{self, AuditEvent};
use olympus::auth::Principal;
use olympus::auth::one_time::{self, Purpose};
use olympus::db;
use olympus::events::identity::UserInvited;
use olympus::events::{Event, Outbox};
use olympus::http::versioning::etag;
use olympus::http::{ClientInfo, Idempotency, Json};
use olympus::plans::{self, Resource};
use olympus::tenants::validate;
use olympus::users::{self, grants};
use olympus::{AppState, Error, Function};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio_postgres::error::SqlState;
use uuid::Uuid;

pub use olympus::users::grants::GrantRequest;
pub use olympus::users::{RoleGrant, UserView};

/// The permission inviting needs.
pub const WRITE: &str = "users:write";
/// How long an invite link works.
pub const INVITE_LIFETIME: Duration = Duration::from_secs(7 * 24 * 60 * 60);

pub fn function() -> Function {
    Function::http("invite-user")
        .idempotent_route(&Method::POST, "/v1/users", invite, Idempotency::Optional)
        .publishes(&[UserInvited::TYPE])
        .build()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InviteRequest {
    email: String,
    name: String,
    roles: Vec<GrantRequest>,
}

/// An invite whose fields passed the pure checks.
#[derive(Debug)]
struct Invite {
    email: String,
    name: String,
    roles: Vec<GrantRequest>,
}

impl InviteRequest {
    fn validate(self) -> Result<Invite, Error> {
        let email = validate::email(&self.email)?;
        let name = validate::name("name", &self.name)?;
        grants::check_shape(&self.roles)?;
        Ok(Invite {
            email,
            name,
            roles: self.roles,
        })
    }
}

#[derive(Debug, Serialize)]
struct InviteResponse {
    user: UserView,
    invite_expires_at: DateTime<Utc>,
}

fn email_taken(email: &str) -> Error {
    Error::conflict(
        "email_taken",
        format!("A user with the email {email} already exists in this tenant."),
    )
    .with_extension("field", "email")
}

async fn invite(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    Json(request): Json<InviteRequest>,
) -> Result<Response, Error> {
    principal.require(WRITE)?;
    let invite = request.validate()?;
    let tenant = principal.tenant_id;

    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    let grants = grants::resolve(&tx, &principal, invite.roles).await?;
    // Locks the tenant row: concurrent invites cannot both take the last seat.
    plans::ensure_room_for(&tx, Resource::Users).await?;
    let taken: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM auth.users WHERE email = $1)",
            &[&invite.email],
        )
        .await?
        .try_get(0)?;
    if taken {
        return Err(email_taken(&invite.email));
    }

    let id = Uuid::now_v7();
    let row = tx
        .query_one(
            &format!(
                "INSERT INTO auth.users (id, tenant_id, email, name, status)
                 VALUES ($1, $2, $3, $4, 'invited')
                 RETURNING {}",
                users::COLUMNS
            ),
            &[&id, &tenant, &invite.email, &invite.name],
        )
        .await
        .map_err(|e| {
            let unique = e.as_db_error().is_some_and(|db| {
                *db.code() == SqlState::UNIQUE_VIOLATION
                    && db.constraint() == Some("users_email_unique")
            });
            if unique {
                email_taken(&invite.email)
            } else {
                Error::from(e)
            }
        })?;
    let mut user = UserView::from_row(&row)?;
    grants::insert(&tx, tenant, id, &grants).await?;
    user.roles = users::grants_of(&tx, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();

    let expires_at =
        Utc::now() + chrono::Duration::from_std(INVITE_LIFETIME).map_err(Error::internal)?;
    let token = one_time::issue(
        &tx,
        tenant,
        id,
        Purpose::Invite,
        INVITE_LIFETIME,
        &json!({ "invited_by": principal.user_id }),
    )
    .await?;
    let mut outbox = Outbox::default();
    outbox
        .record(
            &tx,
            Some(tenant),
            &UserInvited {
                user_id: id,
                email: user.email.clone(),
                name: user.name.clone(),
                invited_by: principal.user_id,
                token,
                expires_at,
            },
        )
        .await?;
    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new((&principal).into(), "auth.user.invited")
            .target("user", id)
            .change(None, Some(user.to_json()?))
            .details(json!({ "invite_expires_at": expires_at })),
    )
    .await?;
    tx.commit().await?;
    outbox.publish(&state).await;

    tracing::info!(tenant_id = %tenant, user_id = %id, "user invited");
    let location = HeaderValue::from_str(&format!("/v1/users/{id}")).map_err(Error::internal)?;
    Ok((
        StatusCode::CREATED,
        [
            (header::LOCATION, location),
            (header::ETAG, etag(user.version)),
        ],
        Json(InviteResponse {
            user,
            invite_expires_at: expires_at,
        }),
    )
        .into_response())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn request(body: serde_json::Value) -> InviteRequest {
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn invites_are_normalized_and_validated() {
        let invite = request(json!({
            "email": " Sam@Example.COM ", "name": " Sam ", "roles": [{"role": "staff"}]
        }))
        .validate()
        .unwrap();
        assert_eq!(invite.email, "sam@example.com");
        assert_eq!(invite.name, "Sam");
        let code = |body| request(body).validate().unwrap_err().code().to_owned();
        assert_eq!(
            code(json!({"email": "nope", "name": "Sam", "roles": [{"role": "staff"}]})),
            "invalid_email"
        );
        assert_eq!(
            code(json!({"email": "a@b.example", "name": "", "roles": [{"role": "staff"}]})),
            "invalid_name"
        );
        assert_eq!(
            code(json!({"email": "a@b.example", "name": "Sam", "roles": []})),
            "invalid_roles"
        );
        assert!(
            serde_json::from_value::<InviteRequest>(json!({
                "email": "a@b.example", "name": "Sam", "roles": [], "password": "x"
            }))
            .is_err()
        );
    }
}
