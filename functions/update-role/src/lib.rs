//! `update-role` — `PATCH /v1/roles/{id}` (needs `roles:write`).
//!
//! Body: any of `name`, `description`, `permissions` (replaced whole); absent or `null` is
//! unchanged. Same rules as `create-role`: 422 `invalid_name` / `invalid_permission`, 409
//! `role_name_taken`, and 403 `permission_denied` for a permission the role gains that the
//! caller does not hold (removing permissions is always allowed). Built-in roles are read-only:
//! 409 `builtin_role`. Requires `If-Match: "<version>"` (or the bare number): missing is 428
//! `precondition_required`, stale is 412 `version_mismatch` with `current_version`. An unknown
//! id, or another tenant's, is 404. A change bumps `version`, is audited with before/after of the
//! changed fields and answers the role with its new `ETag`; a no-op answers the role as it is.
//! Tokens already issued keep their permissions until they expire (minutes).
//!
//! Audit: `auth.role.updated`. Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`,
//! `AUTH_AUDIENCE`. Emits no events.

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use olympus::audit::{self, AuditEvent, Changes};
use olympus::auth::Principal;
use olympus::auth::api_keys;
use olympus::auth::roles::{
    ensure_held, name_taken, validate_description, validate_name, validate_permissions,
};
use olympus::db;
use olympus::http::{ClientInfo, Json, Path, versioning};
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

pub const WRITE: &str = "roles:write";
pub use olympus::auth::roles::{MAX_DESCRIPTION_CHARS, MAX_PERMISSIONS};

use olympus::auth::roles::ROLE_COLUMNS as COLUMNS;

pub fn function() -> Function {
    Function::http("update-role")
        .route(&Method::PATCH, "/v1/roles/{id}", update)
        .build()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RolePatch {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    permissions: Option<Vec<String>>,
}

pub use olympus::auth::roles::RoleView;

fn not_found() -> Error {
    Error::not_found("No such role.")
}

/// The validated fields of a patch.
#[derive(Debug, Default, PartialEq, Eq)]
struct Valid {
    name: Option<String>,
    description: Option<String>,
    permissions: Option<Vec<String>>,
}

impl RolePatch {
    fn validate(self) -> Result<Valid, Error> {
        let description = self
            .description
            .as_deref()
            .map(validate_description)
            .transpose()?;
        Ok(Valid {
            name: self.name.as_deref().map(validate_name).transpose()?,
            description,
            permissions: self.permissions.map(validate_permissions).transpose()?,
        })
    }
}

/// The permissions of `next` that `current` lacks: what the update would hand out.
fn gained<'a>(current: &[String], next: &'a [String]) -> Vec<&'a String> {
    next.iter().filter(|p| !current.contains(p)).collect()
}

async fn update(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(patch): Json<RolePatch>,
) -> Result<Response, Error> {
    principal.require(WRITE)?;
    let expected = versioning::expected_version(&headers, "role")?;
    let id = Uuid::try_parse(&id).map_err(|_| not_found())?;
    let patch = patch.validate()?;

    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let row = tx
        .query_opt(
            &format!("SELECT {COLUMNS} FROM auth.roles WHERE id = $1 FOR UPDATE"),
            &[&id],
        )
        .await?
        .ok_or_else(not_found)?;
    let before = RoleView::from_row(&row);
    if before.builtin {
        return Err(Error::conflict(
            "builtin_role",
            format!(
                "`{}` is a built-in role and cannot be changed.",
                before.name
            ),
        ));
    }
    if before.version != expected {
        return Err(
            Error::new(StatusCode::PRECONDITION_FAILED, "version_mismatch")
                .with_detail(format!(
                    "If-Match names version {expected} but the role is at version {}; \
                 fetch it again and reapply the change.",
                    before.version
                ))
                .with_extension("current_version", before.version)
                .with_header(header::ETAG, versioning::etag(before.version)),
        );
    }
    let name = patch.name.unwrap_or_else(|| before.name.clone());
    let description = patch
        .description
        .unwrap_or_else(|| before.description.clone());
    let permissions = patch
        .permissions
        .unwrap_or_else(|| before.permissions.clone());
    ensure_held(&principal, gained(&before.permissions, &permissions))?;

    let mut changes = Changes::new();
    changes.diff("name", json!(before.name), json!(name));
    changes.diff("description", json!(before.description), json!(description));
    let mut old_sorted = before.permissions.clone();
    old_sorted.sort();
    changes.diff("permissions", json!(old_sorted), json!(permissions));
    if changes.is_empty() {
        tx.commit().await?;
        return respond(before);
    }

    let row = tx
        .query_one(
            &format!(
                "UPDATE auth.roles
                 SET name = $2, description = $3, permissions = $4, version = version + 1,
                     updated_at = now()
                 WHERE id = $1
                 RETURNING {COLUMNS}"
            ),
            &[&id, &name, &description, &permissions],
        )
        .await
        .map_err(|e| {
            let unique = e
                .as_db_error()
                .and_then(|d| d.constraint())
                .is_some_and(|c| c == "roles_name_unique");
            if unique { name_taken(&name) } else { e.into() }
        })?;
    let after = RoleView::from_row(&row);
    audit::record(
        &tx,
        principal.tenant_id,
        &client,
        AuditEvent::new(api_keys::actor(&principal), "auth.role.updated")
            .target("role", id)
            .versioned_change(changes, before.version, after.version),
    )
    .await?;
    tx.commit().await?;
    respond(after)
}

fn respond(view: RoleView) -> Result<Response, Error> {
    Ok(([(header::ETAG, versioning::etag(view.version))], Json(view)).into_response())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn patches_are_validated_and_only_gained_permissions_count() {
        let patch: RolePatch = serde_json::from_value(json!({
            "name": " baristas ", "permissions": ["orders:read", "kitchen:*", "orders:read"]
        }))
        .unwrap();
        let valid = patch.validate().unwrap();
        assert_eq!(valid.name.as_deref(), Some("baristas"));
        assert_eq!(valid.description, None);
        let permissions = valid.permissions.unwrap();
        assert_eq!(permissions, ["kitchen:*", "orders:read"]);
        let current = vec!["orders:read".to_owned(), "refunds:write".to_owned()];
        assert_eq!(gained(&current, &permissions), [&"kitchen:*".to_owned()]);
        assert!(gained(&current, &current[..1]).is_empty());
        let bad: RolePatch = serde_json::from_value(json!({"permissions": ["x:y"]})).unwrap();
        assert_eq!(bad.validate().unwrap_err().code(), "invalid_permission");
        let bad: RolePatch = serde_json::from_value(json!({"name": "api_key"})).unwrap();
        assert_eq!(bad.validate().unwrap_err().code(), "role_name_taken");
        assert!(serde_json::from_value::<RolePatch>(json!({"builtin": false})).is_err());
    }
}
