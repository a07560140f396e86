//! Built-in roles, the permission vocabulary (`resource:action`) and the validation of custom
//! roles.
//!
//! `create-role` and `update-role` hold custom roles to the same rules (name, description,
//! permissions, and no granting what the caller does not hold); the rules live here so the two
//! cannot drift apart.

use crate::auth::api_keys::API_KEY_ROLE;
use crate::auth::{Principal, codes};
use crate::error::Error;

/// The most permissions a custom role holds.
pub const MAX_PERMISSIONS: usize = 100;
/// The longest description of a custom role, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1000;

/// Every permission a built-in role may hold; custom roles pick from these (and wildcards).
pub const PERMISSIONS: &[&str] = &[
    "tenant:read",
    "tenant:write",
    "tenant:billing",
    "users:read",
    "users:write",
    "roles:read",
    "roles:write",
    "locations:read",
    "locations:write",
    "devices:write",
    "api_keys:read",
    "api_keys:write",
    "audit:read",
    "catalog:read",
    "catalog:write",
    "inventory:read",
    "inventory:write",
    "orders:read",
    "orders:write",
    "payments:write",
    "refunds:write",
    "kitchen:read",
    "kitchen:write",
    "customers:read",
    "customers:write",
    "analytics:read",
];

/// A role every tenant has from sign-up.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinRole {
    pub name: &'static str,
    pub description: &'static str,
    pub permissions: &'static [&'static str],
}

pub const OWNER: &str = "owner";
pub const ADMIN: &str = "admin";
pub const MANAGER: &str = "manager";
pub const STAFF: &str = "staff";

/// owner ⊃ admin ⊃ manager ⊃ staff. Only the owner holds `tenant:billing` (plan changes).
pub const BUILTIN_ROLES: &[BuiltinRole] = &[
    BuiltinRole {
        name: OWNER,
        description: "Everything, including the plan and billing.",
        permissions: &["*"],
    },
    BuiltinRole {
        name: ADMIN,
        description: "Everything but the plan and billing.",
        permissions: &[
            "tenant:read",
            "tenant:write",
            "users:read",
            "users:write",
            "roles:read",
            "roles:write",
            "locations:read",
            "locations:write",
            "devices:write",
            "api_keys:read",
            "api_keys:write",
            "audit:read",
            "catalog:*",
            "inventory:*",
            "orders:*",
            "payments:*",
            "refunds:*",
            "kitchen:*",
            "customers:*",
            "analytics:*",
        ],
    },
    BuiltinRole {
        name: MANAGER,
        description: "Runs locations: catalog, stock, orders, refunds, staff view, reports.",
        permissions: &[
            "tenant:read",
            "users:read",
            "roles:read",
            "locations:read",
            "devices:write",
            "catalog:*",
            "inventory:*",
            "orders:*",
            "payments:*",
            "refunds:*",
            "kitchen:*",
            "customers:*",
            "analytics:read",
        ],
    },
    BuiltinRole {
        name: STAFF,
        description: "Takes orders and payments, works the kitchen.",
        permissions: &[
            "tenant:read",
            "locations:read",
            "catalog:read",
            "inventory:read",
            "orders:read",
            "orders:write",
            "payments:write",
            "kitchen:read",
            "kitchen:write",
            "customers:read",
            "customers:write",
        ],
    },
];

/// Whether `permission` is a known permission or a wildcard over a known resource.
pub fn is_valid_permission(permission: &str) -> bool {
    if permission == "*" {
        return true;
    }
    if let Some(resource) = permission.strip_suffix(":*") {
        return PERMISSIONS
            .iter()
            .any(|p| p.split(':').next() == Some(resource));
    }
    PERMISSIONS.contains(&permission)
}

/// 409 `role_name_taken`: `name` is used in the tenant, or reserved.
pub fn name_taken(name: &str) -> Error {
    Error::conflict(
        "role_name_taken",
        format!("The role name `{name}` is already used in this tenant."),
    )
    .with_extension("name", name)
}

/// The trimmed name of a custom role: 1 to 63 characters, a lowercase letter then lowercase
/// letters, digits, `_` or `-` (else 422 `invalid_name`); the reserved [`API_KEY_ROLE`] is
/// 409 `role_name_taken`.
pub fn validate_name(name: &str) -> Result<String, Error> {
    let name = name.trim();
    let mut bytes = name.bytes();
    let ok = name.len() <= 63
        && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !ok {
        return Err(Error::unprocessable(
            "invalid_name",
            "name must be 1 to 63 characters: a lowercase letter, then lowercase letters, digits, `_` or `-`.",
        )
        .with_extension("field", "name"));
    }
    if name == API_KEY_ROLE {
        return Err(name_taken(name));
    }
    Ok(name.to_owned())
}

/// The trimmed description of a custom role: at most [`MAX_DESCRIPTION_CHARS`] characters
/// (else 422 `invalid_description`).
pub fn validate_description(description: &str) -> Result<String, Error> {
    let description = description.trim();
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(Error::unprocessable(
            "invalid_description",
            format!("description is at most {MAX_DESCRIPTION_CHARS} characters."),
        ));
    }
    Ok(description.to_owned())
}

/// The permissions of a custom role, trimmed, sorted and deduplicated: at most
/// [`MAX_PERMISSIONS`] (else 422 `invalid_permissions`), each [valid](is_valid_permission)
/// (else 422 `invalid_permission` with extension `permission`).
pub fn validate_permissions(permissions: Vec<String>) -> Result<Vec<String>, Error> {
    if permissions.len() > MAX_PERMISSIONS {
        return Err(Error::unprocessable(
            "invalid_permissions",
            format!("A role holds at most {MAX_PERMISSIONS} permissions."),
        ));
    }
    let mut permissions: Vec<String> = permissions
        .into_iter()
        .map(|p| p.trim().to_owned())
        .collect();
    if let Some(bad) = permissions.iter().find(|p| !is_valid_permission(p)) {
        return Err(Error::unprocessable(
            "invalid_permission",
            format!("`{bad}` is not a known permission (`resource:action`, `resource:*` or `*`)."),
        )
        .with_extension("permission", bad.clone()));
    }
    permissions.sort();
    permissions.dedup();
    Ok(permissions)
}

/// 403 `permission_denied` (extension `permission`) unless `principal` holds every one of
/// `permissions`: nobody hands out more than they have.
pub fn ensure_held<S: AsRef<str>>(
    principal: &Principal,
    permissions: impl IntoIterator<Item = S>,
) -> Result<(), Error> {
    match permissions
        .into_iter()
        .find(|p| !principal.has_permission(p.as_ref()))
    {
        None => Ok(()),
        Some(missing) => {
            let missing = missing.as_ref();
            Err(Error::forbidden(
                codes::PERMISSION_DENIED,
                format!("You cannot grant `{missing}`: you do not hold it yourself."),
            )
            .with_extension("permission", missing))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use uuid::Uuid;

    use super::*;

    #[test]
    fn custom_roles_are_validated_and_normalised() {
        assert_eq!(validate_name(" cashier-2 ").unwrap(), "cashier-2");
        for bad in ["", "Cashier", "2nd", "a b", "é", &"a".repeat(64)] {
            assert_eq!(
                validate_name(bad).unwrap_err().code(),
                "invalid_name",
                "{bad}"
            );
        }
        assert_eq!(
            validate_name(API_KEY_ROLE).unwrap_err().code(),
            "role_name_taken"
        );
        assert_eq!(
            validate_description("  Does things. ").unwrap(),
            "Does things."
        );
        assert_eq!(
            validate_description(&"x".repeat(MAX_DESCRIPTION_CHARS + 1))
                .unwrap_err()
                .code(),
            "invalid_description"
        );
        let permissions = ["orders:write", " catalog:* ", "orders:write"]
            .map(str::to_owned)
            .to_vec();
        assert_eq!(
            validate_permissions(permissions).unwrap(),
            ["catalog:*", "orders:write"]
        );
        let err = validate_permissions(vec!["orders:fly".to_owned()]).unwrap_err();
        assert_eq!(err.code(), "invalid_permission");
        assert_eq!(err.problem().extensions["permission"], "orders:fly");
        let too_many = vec!["orders:read".to_owned(); MAX_PERMISSIONS + 1];
        assert_eq!(
            validate_permissions(too_many).unwrap_err().code(),
            "invalid_permissions"
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
        assert!(ensure_held(&principal, ["orders:read", "orders:*"]).is_ok());
        assert!(ensure_held(&principal, Vec::<String>::new()).is_ok());
        let err = ensure_held(&principal, ["orders:read", "*"]).unwrap_err();
        assert_eq!(err.code(), codes::PERMISSION_DENIED);
        assert_eq!(err.problem().extensions["permission"], "*");
    }

    #[test]
    fn builtin_roles_use_only_known_permissions() {
        for role in BUILTIN_ROLES {
            for permission in role.permissions {
                assert!(
                    is_valid_permission(permission),
                    "{}: {permission}",
                    role.name
                );
            }
        }
        assert!(!is_valid_permission("orders:fly"));
        assert!(!is_valid_permission("ships:*"));
    }
}

/// The columns [`RoleView::from_row`] reads, in `SELECT`/`RETURNING` form.
pub const ROLE_COLUMNS: &str =
    "id, name, description, permissions, builtin, version, created_at, updated_at";

/// A role as the API shows it (list, create, update).
#[derive(Debug, Clone, serde::Serialize)]
pub struct RoleView {
    pub id: uuid::Uuid,
    pub name: String,
    pub description: String,
    pub permissions: Vec<String>,
    pub builtin: bool,
    pub version: i32,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl RoleView {
    /// Reads a row selected with [`ROLE_COLUMNS`].
    pub fn from_row(row: &tokio_postgres::Row) -> Self {
        Self {
            id: row.get(0),
            name: row.get(1),
            description: row.get(2),
            permissions: row.get(3),
            builtin: row.get(4),
            version: row.get(5),
            created_at: row.get(6),
            updated_at: row.get(7),
        }
    }
}
