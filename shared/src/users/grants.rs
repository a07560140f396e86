//! Role grants as a request names them (`POST /v1/users`, `PATCH /v1/users/{id}`), and their
//! resolution in the tenant: the roles and locations must exist there, and nobody grants more
//! than they hold.

use crate::auth::{Principal, codes};
use crate::db::Transaction;
use crate::error::Error;
use serde::Deserialize;
use uuid::Uuid;

/// Most roles one user may hold.
pub const MAX_GRANTS: usize = 20;

/// `{"role_id": uuid}` or `{"role": name}`, with `location_ids` (absent or null: everywhere).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantRequest {
    #[serde(default)]
    pub role_id: Option<Uuid>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub location_ids: Option<Vec<Uuid>>,
}

/// A grant whose role and locations exist in the tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub role_id: Uuid,
    pub name: String,
    pub permissions: Vec<String>,
    pub location_ids: Option<Vec<Uuid>>,
}

fn invalid(detail: impl Into<String>) -> Error {
    Error::unprocessable("invalid_roles", detail).with_extension("field", "roles")
}

/// The shape checks (pure): 1 to [`MAX_GRANTS`] grants, each naming its role exactly one way,
/// `location_ids` absent or non-empty.
pub fn check_shape(requests: &[GrantRequest]) -> Result<(), Error> {
    if requests.is_empty() {
        return Err(invalid("`roles` must grant at least one role."));
    }
    if requests.len() > MAX_GRANTS {
        return Err(invalid(format!(
            "`roles` may grant at most {MAX_GRANTS} roles."
        )));
    }
    for request in requests {
        if request.role_id.is_some() == request.role.is_some() {
            return Err(invalid(
                "Each entry of `roles` names its role by `role_id` or by `role` (its name), not both.",
            ));
        }
        if request.location_ids.as_ref().is_some_and(Vec::is_empty) {
            return Err(invalid(
                "`location_ids` must list at least one location; omit it to grant the role everywhere.",
            ));
        }
    }
    Ok(())
}

/// 403 `permission_denied` unless `principal` holds every permission of the role: only an
/// owner (`*`) grants or takes away the owner role, and nobody hands out more than they have.
pub fn ensure_grantable(
    principal: &Principal,
    role_name: &str,
    permissions: &[String],
) -> Result<(), Error> {
    match permissions.iter().find(|p| !principal.has_permission(p)) {
        None => Ok(()),
        Some(missing) => Err(Error::forbidden(
            codes::PERMISSION_DENIED,
            format!(
                "Granting or removing the role `{role_name}` requires the `{missing}` permission."
            ),
        )
        .with_extension("permission", missing.as_str())
        .with_extension("role", role_name)),
    }
}

/// Resolves `requests` inside the tenant's transaction: 422 `invalid_roles`, `unknown_role`,
/// `duplicate_role` or `unknown_location`; 403 `permission_denied` (see [`ensure_grantable`])
/// or `location_denied` (a location-restricted principal grants only at its own locations).
pub async fn resolve(
    tx: &Transaction<'_>,
    principal: &Principal,
    requests: Vec<GrantRequest>,
) -> Result<Vec<Resolved>, Error> {
    check_shape(&requests)?;
    let mut resolved: Vec<Resolved> = Vec::with_capacity(requests.len());
    for request in requests {
        let (row, label) = match (request.role_id, request.role) {
            (Some(id), None) => (
                tx.query_opt(
                    "SELECT id, name, permissions FROM auth.roles WHERE id = $1",
                    &[&id],
                )
                .await?,
                id.to_string(),
            ),
            (None, Some(name)) => {
                let name = name.trim().to_owned();
                (
                    tx.query_opt(
                        "SELECT id, name, permissions FROM auth.roles WHERE name = $1",
                        &[&name],
                    )
                    .await?,
                    name,
                )
            }
            _ => return Err(invalid("Each entry of `roles` names exactly one role.")),
        };
        let Some(row) = row else {
            return Err(Error::unprocessable(
                "unknown_role",
                format!("There is no role `{label}` in this tenant."),
            )
            .with_extension("role", label));
        };
        let grant = Resolved {
            role_id: row.try_get(0)?,
            name: row.try_get(1)?,
            permissions: row.try_get(2)?,
            location_ids: request.location_ids.map(|mut ids| {
                ids.sort();
                ids.dedup();
                ids
            }),
        };
        if resolved.iter().any(|g| g.role_id == grant.role_id) {
            return Err(Error::unprocessable(
                "duplicate_role",
                format!("The role `{}` is listed twice.", grant.name),
            )
            .with_extension("role", grant.name));
        }
        ensure_grantable(principal, &grant.name, &grant.permissions)?;
        match &grant.location_ids {
            Some(ids) => {
                let found: Vec<Uuid> = tx
                    .query(
                        "SELECT id FROM platform.locations WHERE id = ANY($1)",
                        &[ids],
                    )
                    .await?
                    .iter()
                    .map(|r| r.try_get(0))
                    .collect::<Result<_, _>>()?;
                if let Some(missing) = ids.iter().find(|id| !found.contains(id)) {
                    return Err(Error::unprocessable(
                        "unknown_location",
                        format!("There is no location {missing} in this tenant."),
                    )
                    .with_extension("location_id", missing.to_string()));
                }
                for id in ids {
                    principal.require_location(*id)?;
                }
            }
            None if principal.locations.is_some() => {
                return Err(Error::forbidden(
                    codes::LOCATION_DENIED,
                    "You may act on some locations only: grant the role with `location_ids`.",
                ));
            }
            None => {}
        }
        resolved.push(grant);
    }
    Ok(resolved)
}

/// Inserts the grants of `user` (inside the tenant's transaction).
pub async fn insert(
    tx: &Transaction<'_>,
    tenant: Uuid,
    user: Uuid,
    grants: &[Resolved],
) -> Result<(), Error> {
    for grant in grants {
        tx.execute(
            "INSERT INTO auth.role_grants (tenant_id, user_id, role_id, location_ids)
             VALUES ($1, $2, $3, $4)",
            &[&tenant, &user, &grant.role_id, &grant.location_ids],
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn requests(value: serde_json::Value) -> Vec<GrantRequest> {
        serde_json::from_value(value).unwrap()
    }

    fn principal(permissions: &[&str]) -> Principal {
        Principal {
            tenant_id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            session_id: None,
            roles: Vec::new(),
            permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
            locations: None,
        }
    }

    #[test]
    fn shapes_are_checked() {
        let code = |v| check_shape(&requests(v)).unwrap_err().code().to_owned();
        assert!(check_shape(&requests(json!([{"role": "staff"}]))).is_ok());
        assert!(
            check_shape(&requests(
                json!([{"role_id": Uuid::now_v7(), "location_ids": [Uuid::now_v7()]}])
            ))
            .is_ok()
        );
        assert_eq!(code(json!([])), "invalid_roles");
        assert_eq!(code(json!([{}])), "invalid_roles");
        assert_eq!(
            code(json!([{"role": "staff", "role_id": Uuid::now_v7()}])),
            "invalid_roles"
        );
        assert_eq!(
            code(json!([{"role": "staff", "location_ids": []}])),
            "invalid_roles"
        );
        let many: Vec<_> = (0..=MAX_GRANTS).map(|_| json!({"role": "staff"})).collect();
        assert_eq!(code(json!(many)), "invalid_roles");
        assert!(serde_json::from_value::<GrantRequest>(json!({"role": "x", "perm": 1})).is_err());
    }

    #[test]
    fn only_holders_of_every_permission_grant_a_role() {
        let owner_perms = vec!["*".to_owned()];
        let admin = principal(&["users:write", "catalog:*"]);
        let err = ensure_grantable(&admin, "owner", &owner_perms).unwrap_err();
        assert_eq!(err.code(), "permission_denied");
        assert_eq!(err.problem().extensions["permission"], "*");
        assert!(ensure_grantable(&principal(&["*"]), "owner", &owner_perms).is_ok());
        assert!(ensure_grantable(&admin, "cook", &["catalog:read".to_owned()]).is_ok());
        assert!(ensure_grantable(&admin, "x", &["tenant:*".to_owned()]).is_err());
    }
}
