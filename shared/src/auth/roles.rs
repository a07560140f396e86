//! Built-in roles and the permission vocabulary (`resource:action`).

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

#[cfg(test)]
mod tests {
    use super::*;

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
