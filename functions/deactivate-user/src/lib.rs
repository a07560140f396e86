//! `deactivate-user` — `DELETE /v1/users/{id}`: deactivates a user of the caller's tenant
//! (needs `users:write`). Users are never deleted: audit rows and history keep pointing at them.
//!
//! Sets the status `deactivated` (bumping `version`), revokes every session of the user (so
//! their refresh tokens stop working at once; an access token already issued lives out its
//! 15 minutes), records `auth.user.deactivated` in the outbox and the audit log, and answers
//! 204. A user already deactivated answers 204 without any change. A deactivated user cannot
//! log in, refresh, or accept an invite, and no longer counts against the plan's user limit.
//!
//! Refused: your own id (409 `cannot_deactivate_self`), the last active owner (409
//! `last_owner`), a user holding a role with permissions you do not hold (403
//! `permission_denied`: only an owner deactivates an owner). An id of another tenant, unknown
//! or malformed is 404 `not_found`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`, `GOOGLE_CLOUD_PROJECT`,
//! `PUBSUB_EMULATOR_HOST` (local). Emits: `auth.user.deactivated`.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use olympus::audit::{self, AuditEvent};
use olympus::auth::{Principal, codes, session};
use olympus::db;
use olympus::events::identity::UserDeactivated;
use olympus::events::{Event, Outbox};
use olympus::http::{ClientInfo, Path};
use olympus::{AppState, Error, Function};
use serde_json::json;
use uuid::Uuid;

pub const WRITE: &str = "users:write";

pub fn function() -> Function {
    Function::http("deactivate-user")
        .route(&Method::DELETE, "/v1/users/{id}", deactivate)
        .publishes(&[UserDeactivated::TYPE])
        .build()
}

async fn deactivate(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, Error> {
    principal.require(WRITE)?;
    if id == principal.user_id {
        return Err(Error::conflict(
            "cannot_deactivate_self",
            "You cannot deactivate yourself; ask another administrator.",
        ));
    }
    let tenant = principal.tenant_id;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    // Serializes owner changes: two owners deactivating each other cannot both succeed.
    tx.execute("SELECT 1 FROM platform.tenants FOR UPDATE", &[])
        .await?;
    let row = tx
        .query_opt(
            "SELECT status, version FROM auth.users WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await?
        .ok_or_else(|| Error::not_found("No such user."))?;
    let status: String = row.try_get(0)?;
    let version: i32 = row.try_get(1)?;
    if status == "deactivated" {
        tx.commit().await?;
        return Ok(StatusCode::NO_CONTENT);
    }

    let roles = tx
        .query(
            "SELECT r.name, r.permissions, r.builtin AND r.name = 'owner'
             FROM auth.role_grants g JOIN auth.roles r ON r.id = g.role_id
             WHERE g.user_id = $1 ORDER BY r.name",
            &[&id],
        )
        .await?;
    let mut names = Vec::new();
    let mut owner = false;
    for row in &roles {
        let name: String = row.try_get(0)?;
        let permissions: Vec<String> = row.try_get(1)?;
        if let Some(missing) = permissions.iter().find(|p| !principal.has_permission(p)) {
            return Err(Error::forbidden(
                codes::PERMISSION_DENIED,
                format!("Deactivating a user with the role `{name}` requires the `{missing}` permission."),
            )
            .with_extension("permission", missing.as_str())
            .with_extension("role", name));
        }
        owner |= row.try_get::<_, bool>(2)?;
        names.push(name);
    }

    tx.execute(
        "UPDATE auth.users SET status = 'deactivated', version = version + 1, updated_at = now()
         WHERE id = $1",
        &[&id],
    )
    .await?;
    if owner && status == "active" {
        let remaining: i64 = tx
            .query_one(
                "SELECT count(DISTINCT u.id)
                 FROM auth.users u
                 JOIN auth.role_grants g ON g.user_id = u.id
                 JOIN auth.roles r ON r.id = g.role_id
                 WHERE u.status = 'active' AND r.builtin AND r.name = 'owner'",
                &[],
            )
            .await?
            .try_get(0)?;
        if remaining == 0 {
            return Err(Error::conflict(
                "last_owner",
                "The tenant must keep at least one active owner; make someone else owner first.",
            ));
        }
    }
    let sessions = session::revoke_user_sessions(&tx, id, None, "user_deactivated").await?;
    // An invite link still in a mailbox must not work any more (acceptance checks the status
    // too; this also keeps the data honest).
    tx.execute(
        "UPDATE auth.one_time_tokens SET used_at = now() WHERE user_id = $1 AND used_at IS NULL",
        &[&id],
    )
    .await?;
    let mut outbox = Outbox::default();
    outbox
        .record(
            &tx,
            Some(tenant),
            &UserDeactivated {
                user_id: id,
                deactivated_by: principal.user_id,
            },
        )
        .await?;
    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new((&principal).into(), "auth.user.deactivated")
            .target("user", id)
            .change(
                Some(json!({ "status": status, "version": version })),
                Some(json!({ "status": "deactivated", "version": version + 1 })),
            )
            .details(json!({ "roles": names, "sessions_revoked": sessions })),
    )
    .await?;
    tx.commit().await?;
    outbox.publish(&state).await;
    tracing::info!(tenant_id = %tenant, user_id = %id, sessions, "user deactivated");
    Ok(StatusCode::NO_CONTENT)
}
