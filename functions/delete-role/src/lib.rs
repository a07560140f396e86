//! `delete-role` — `DELETE /v1/roles/{id}` (needs `roles:write`).
//!
//! Deletes a custom role and answers 204. Built-in roles cannot be deleted (409
//! `builtin_role`); a role still granted to any user is 409 `role_in_use` (revoke the grants
//! first). An unknown id, or another tenant's, is 404 and changes nothing.
//!
//! Audit: `auth.role.deleted` (before: the role). Env: `DATABASE_URL`, `AUTH_JWKS`,
//! `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits no events.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use olympus::audit::{self, AuditEvent};
use olympus::auth::Principal;
use olympus::auth::api_keys;
use olympus::db;
use olympus::http::{ClientInfo, Path};
use olympus::{AppState, Error, Function};
use serde_json::json;
use uuid::Uuid;

pub const WRITE: &str = "roles:write";

pub fn function() -> Function {
    Function::http("delete-role")
        .route(&Method::DELETE, "/v1/roles/{id}", delete)
        .build()
}

fn not_found() -> Error {
    Error::not_found("No such role.")
}

async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, Error> {
    principal.require(WRITE)?;
    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    // FOR UPDATE conflicts with the KEY SHARE lock a new grant's foreign key takes, so no grant
    // can appear between the check below and the delete.
    let row = tx
        .query_opt(
            "SELECT name, description, permissions, builtin, version,
                    EXISTS (SELECT 1 FROM auth.role_grants g WHERE g.role_id = r.id) AS in_use
             FROM auth.roles r WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await?
        .ok_or_else(not_found)?;
    let name: String = row.get("name");
    if row.get::<_, bool>("builtin") {
        return Err(Error::conflict(
            "builtin_role",
            format!("`{name}` is a built-in role and cannot be deleted."),
        ));
    }
    if row.get::<_, bool>("in_use") {
        return Err(Error::conflict(
            "role_in_use",
            format!("`{name}` is still granted to users; revoke those grants first."),
        ));
    }
    tx.execute("DELETE FROM auth.roles WHERE id = $1", &[&id])
        .await?;
    audit::record(
        &tx,
        principal.tenant_id,
        &client,
        AuditEvent::new(api_keys::actor(&principal), "auth.role.deleted")
            .target("role", id)
            .change(
                Some(json!({
                    "name": name,
                    "description": row.get::<_, String>("description"),
                    "permissions": row.get::<_, Vec<String>>("permissions"),
                    "version": row.get::<_, i32>("version"),
                })),
                None,
            ),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
