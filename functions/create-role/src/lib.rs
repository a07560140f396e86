//! `create-role` — `POST /v1/roles` (needs `roles:write`; honours `Idempotency-Key`).
//!
//! Body: `{"name": "[a-z][a-z0-9_-]{0,62}", "description": "...", "permissions": [...]}`.
//! Each permission must be known (`olympus::auth::roles::is_valid_permission`, else 422
//! `invalid_permission`) and held by the caller (else 403 `permission_denied`: nobody hands out
//! more than they have). A name already used in the tenant, or reserved (`api_key`, the role of
//! API-key principals), is 409 `role_name_taken`. Answers 201 with the role and its `ETag`.
//!
//! Audit: `auth.role.created`. Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`,
//! `AUTH_AUDIENCE`. Emits no events.

use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use olympus::audit::{self, AuditEvent};
use olympus::auth::Principal;
use olympus::auth::api_keys;
use olympus::auth::roles::{
    ensure_held, name_taken, validate_description, validate_name, validate_permissions,
};
use olympus::db;
use olympus::http::{ClientInfo, Idempotency, Json};
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

pub const WRITE: &str = "roles:write";
pub use olympus::auth::roles::{MAX_DESCRIPTION_CHARS, MAX_PERMISSIONS};

pub fn function() -> Function {
    Function::http("create-role")
        .idempotent_route(&Method::POST, "/v1/roles", create, Idempotency::Optional)
        .build()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRole {
    name: String,
    #[serde(default)]
    description: Option<String>,
    permissions: Vec<String>,
}

pub use olympus::auth::roles::RoleView;

/// A validated role: trimmed name and description, sorted and deduplicated permissions.
#[derive(Debug, PartialEq, Eq)]
struct Valid {
    name: String,
    description: String,
    permissions: Vec<String>,
}

impl NewRole {
    fn validate(self) -> Result<Valid, Error> {
        let name = validate_name(&self.name)?;
        let description = validate_description(&self.description.unwrap_or_default())?;
        Ok(Valid {
            name,
            description,
            permissions: validate_permissions(self.permissions)?,
        })
    }
}

async fn create(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    Json(body): Json<NewRole>,
) -> Result<Response, Error> {
    principal.require(WRITE)?;
    let role = body.validate()?;
    ensure_held(&principal, &role.permissions)?;

    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    let row = tx
        .query_opt(
            "INSERT INTO auth.roles (id, tenant_id, name, description, permissions, builtin)
             VALUES ($1, $2, $3, $4, $5, false)
             ON CONFLICT (tenant_id, name) DO NOTHING
             RETURNING id, name, description, permissions, builtin, version, created_at, updated_at",
            &[
                &Uuid::now_v7(),
                &principal.tenant_id,
                &role.name,
                &role.description,
                &role.permissions,
            ],
        )
        .await?
        .ok_or_else(|| name_taken(&role.name))?;
    let view = RoleView::from_row(&row);
    audit::record(
        &tx,
        principal.tenant_id,
        &client,
        AuditEvent::new(api_keys::actor(&principal), "auth.role.created")
            .target("role", view.id)
            .change(
                None,
                Some(json!({
                    "name": view.name,
                    "description": view.description,
                    "permissions": view.permissions,
                    "version": view.version,
                })),
            ),
    )
    .await?;
    tx.commit().await?;
    let etag = HeaderValue::from_str(&format!("\"{}\"", view.version)).map_err(Error::internal)?;
    Ok((StatusCode::CREATED, [(header::ETAG, etag)], Json(view)).into_response())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn role(name: &str, permissions: &[&str]) -> Result<Valid, Error> {
        NewRole {
            name: name.to_owned(),
            description: Some("  Does things. ".to_owned()),
            permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
        }
        .validate()
    }

    #[test]
    fn names_and_permissions_are_validated_and_normalised() {
        let valid = role(
            " cashier-2 ",
            &["orders:write", "catalog:*", "orders:write"],
        )
        .unwrap();
        assert_eq!(valid.name, "cashier-2");
        assert_eq!(valid.description, "Does things.");
        assert_eq!(valid.permissions, ["catalog:*", "orders:write"]);
        for bad in ["", "Cashier", "2nd", "a b", "é", &"a".repeat(64)] {
            assert_eq!(role(bad, &[]).unwrap_err().code(), "invalid_name", "{bad}");
        }
        assert_eq!(role("api_key", &[]).unwrap_err().code(), "role_name_taken");
        let err = role("x", &["orders:fly"]).unwrap_err();
        assert_eq!(err.code(), "invalid_permission");
        assert_eq!(err.problem().extensions["permission"], "orders:fly");
        assert_eq!(
            role("x", &["ships:*"]).unwrap_err().code(),
            "invalid_permission"
        );
    }

    #[test]
    fn nobody_grants_what_they_do_not_hold() {
        let principal = Principal {
            tenant_id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            session_id: None,
            roles: Vec::new(),
            permissions: vec!["orders:*".to_owned(), "roles:write".to_owned()],
            locations: None,
        };
        assert!(
            ensure_held(
                &principal,
                &["orders:read".to_owned(), "orders:*".to_owned()]
            )
            .is_ok()
        );
        let err = ensure_held(&principal, &["orders:read".to_owned(), "*".to_owned()]).unwrap_err();
        assert_eq!(err.status(), StatusCode::FORBIDDEN);
        assert_eq!(err.code(), "permission_denied");
        assert_eq!(err.problem().extensions["permission"], "*");
    }
}
