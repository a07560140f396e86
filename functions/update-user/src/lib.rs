//! `update-user` — `PATCH /v1/users/{id}`: changes a user of the caller's tenant (needs
//! `users:write`).
//!
//! Body: any of `name`, `roles` (same shape as `POST /v1/users`; the list replaces every grant
//! of the user); a field absent or `null` is unchanged. Requires `If-Match: "<version>"` (or
//! the bare number): missing is 428 `precondition_required`, stale is 412 `version_mismatch`
//! with `current_version`. A change bumps `version`, is audited (`auth.user.updated`, before and
//! after of the changed fields) and answers the user with its new `ETag`; a request that changes
//! nothing answers the user as it is.
//!
//! Role rules: every role granted or taken away must be within the caller's own permissions
//! (403 `permission_denied`: only an owner grants or removes `owner`); the tenant must keep at
//! least one active owner (409 `last_owner`). Role changes take effect when the user's access
//! token is next refreshed (at most its 15-minute lifetime): tokens already issued keep their
//! grants until then. An id of another tenant, unknown or malformed is 404 `not_found`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits no events.

use axum::extract::State;
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use olympus::audit::{self, AuditEvent, Changes};
use olympus::auth::Principal;
use olympus::db::{self, Transaction};
use olympus::http::versioning::{etag, expected_version, version_mismatch};
use olympus::http::{ClientInfo, Json, Path};
use olympus::tenants::validate;
use olympus::users::{self, grants};
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

pub use olympus::users::grants::GrantRequest;
pub use olympus::users::{RoleGrant, UserView};

pub const WRITE: &str = "users:write";

pub fn function() -> Function {
    Function::http("update-user")
        .route(&Method::PATCH, "/v1/users/{id}", update_user)
        .build()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserPatch {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    roles: Option<Vec<GrantRequest>>,
}

impl UserPatch {
    /// The pure checks: the new name, the shape of the new grants.
    fn check(self) -> Result<(Option<String>, Option<Vec<GrantRequest>>), Error> {
        let name = self
            .name
            .as_deref()
            .map(|n| validate::name("name", n))
            .transpose()?;
        if let Some(roles) = &self.roles {
            grants::check_shape(roles)?;
        }
        Ok((name, self.roles))
    }
}

fn not_found() -> Error {
    Error::not_found("No such user.")
}

/// The grants as a comparable set: (role id, sorted location ids), sorted.
fn grant_set(
    grants: impl Iterator<Item = (Uuid, Option<Vec<Uuid>>)>,
) -> Vec<(Uuid, Option<Vec<Uuid>>)> {
    let mut set: Vec<_> = grants
        .map(|(role, locations)| {
            (
                role,
                locations.map(|mut ids| {
                    ids.sort();
                    ids.dedup();
                    ids
                }),
            )
        })
        .collect();
    set.sort();
    set
}

/// Active users holding the built-in owner role.
pub(crate) async fn active_owners(tx: &Transaction<'_>) -> Result<i64, Error> {
    Ok(tx
        .query_one(
            "SELECT count(DISTINCT u.id)
             FROM auth.users u
             JOIN auth.role_grants g ON g.user_id = u.id
             JOIN auth.roles r ON r.id = g.role_id
             WHERE u.status = 'active' AND r.builtin AND r.name = 'owner'",
            &[],
        )
        .await?
        .try_get(0)?)
}

fn last_owner() -> Error {
    Error::conflict(
        "last_owner",
        "The tenant must keep at least one active owner; make someone else owner first.",
    )
}

async fn update_user(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    Json(patch): Json<UserPatch>,
) -> Result<Response, Error> {
    principal.require(WRITE)?;
    let expected = expected_version(&headers, "user")?;
    let (name, roles) = patch.check()?;
    let tenant = principal.tenant_id;

    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    if roles.is_some() {
        // Serializes owner changes (and invites): two demotions cannot both keep "one owner".
        tx.execute("SELECT 1 FROM platform.tenants FOR UPDATE", &[])
            .await?;
    }
    let before = users::find(&tx, id, true).await?.ok_or_else(not_found)?;
    if before.version != expected {
        return Err(version_mismatch("user", expected, before.version));
    }

    let new_name = name.filter(|n| *n != before.name);
    let new_grants = match roles {
        Some(requests) => {
            let resolved = grants::resolve(&tx, &principal, requests).await?;
            let old = grant_set(
                before
                    .roles
                    .iter()
                    .map(|g| (g.role_id, g.location_ids.clone())),
            );
            let new = grant_set(resolved.iter().map(|g| (g.role_id, g.location_ids.clone())));
            (old != new).then_some(resolved)
        }
        None => None,
    };
    if new_name.is_none() && new_grants.is_none() {
        tx.commit().await?;
        return respond(before);
    }

    let mut changes = Changes::new();
    if let Some(name) = &new_name {
        changes.record("name", json!(before.name), json!(name));
    }
    if let Some(grants) = &new_grants {
        // Taking a role away is held to the same rule as granting it.
        let removed: Vec<Uuid> = before
            .roles
            .iter()
            .map(|g| g.role_id)
            .filter(|role| !grants.iter().any(|g| g.role_id == *role))
            .collect();
        for row in tx
            .query(
                "SELECT name, permissions FROM auth.roles WHERE id = ANY($1)",
                &[&removed],
            )
            .await?
        {
            let role: String = row.try_get(0)?;
            let permissions: Vec<String> = row.try_get(1)?;
            grants::ensure_grantable(&principal, &role, &permissions)?;
        }
        tx.execute("DELETE FROM auth.role_grants WHERE user_id = $1", &[&id])
            .await?;
        grants::insert(&tx, tenant, id, grants).await?;
        let was_owner = before.status == "active" && before.roles.iter().any(|g| g.name == "owner");
        if was_owner && active_owners(&tx).await? == 0 {
            return Err(last_owner());
        }
    }
    tx.execute(
        "UPDATE auth.users SET name = coalesce($2, name), version = version + 1,
                updated_at = now()
         WHERE id = $1",
        &[&id, &new_name],
    )
    .await?;
    let after = users::find(&tx, id, false).await?.ok_or_else(not_found)?;
    if new_grants.is_some() {
        // The new grants are read back (with their role names) after the update.
        changes.record("roles", json!(before.roles), json!(after.roles));
    }
    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new((&principal).into(), "auth.user.updated")
            .target("user", id)
            .versioned_change(changes, before.version, after.version),
    )
    .await?;
    tx.commit().await?;
    respond(after)
}

fn respond(user: UserView) -> Result<Response, Error> {
    Ok(([(header::ETAG, etag(user.version))], Json(user)).into_response())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn patches_are_checked() {
        let patch = |v: serde_json::Value| serde_json::from_value::<UserPatch>(v).unwrap().check();
        let (name, roles) = patch(json!({"name": " Sam "})).unwrap();
        assert_eq!(name.as_deref(), Some("Sam"));
        assert!(roles.is_none());
        assert_eq!(
            patch(json!({"name": ""})).unwrap_err().code(),
            "invalid_name"
        );
        assert_eq!(
            patch(json!({"roles": []})).unwrap_err().code(),
            "invalid_roles"
        );
        assert!(serde_json::from_value::<UserPatch>(json!({"email": "x@y.z"})).is_err());
    }

    #[test]
    fn grant_sets_ignore_order_and_duplicate_locations() {
        let (a, b, l1, l2) = (
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
        );
        assert_eq!(
            grant_set([(a, Some(vec![l2, l1, l1])), (b, None)].into_iter()),
            grant_set([(b, None), (a, Some(vec![l1, l2]))].into_iter())
        );
        assert_ne!(
            grant_set([(a, None)].into_iter()),
            grant_set([(a, Some(vec![l1]))].into_iter())
        );
    }
}
