//! Who is calling, and what they may do.

use uuid::Uuid;

use crate::error::Error;

use super::codes;

/// A verified caller: the tenant, the user, and the grants carried by the access token.
///
/// Built only by [`super::Verifier`] (or by a middleware that verified a credential itself and
/// put the result into the request extensions); handlers never build one from client input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    /// `None` for credentials without a session (API keys, later).
    pub session_id: Option<Uuid>,
    pub roles: Vec<String>,
    /// Permission strings: `orders:read`, `orders:*` (every `orders:` permission) or `*`.
    pub permissions: Vec<String>,
    /// The locations this principal may act on; `None` means every location of the tenant.
    pub locations: Option<Vec<Uuid>>,
}

impl Principal {
    /// Whether any granted permission covers `permission`.
    ///
    /// `*` grants everything; `orders:*` grants every permission starting with `orders:`
    /// (including deeper ones such as `orders:items.write`) but not `orders` itself; anything
    /// else must match exactly (case-sensitive). An empty request is never granted, so a typo
    /// such as `require("")` fails closed.
    pub fn has_permission(&self, permission: &str) -> bool {
        !permission.is_empty() && self.permissions.iter().any(|g| grants(g, permission))
    }

    /// `Ok` when [`has_permission`](Self::has_permission), else 403 `permission_denied` naming
    /// the missing permission (also as the `permission` extension member).
    pub fn require(&self, permission: &str) -> Result<(), Error> {
        if self.has_permission(permission) {
            Ok(())
        } else {
            Err(Error::forbidden(
                codes::PERMISSION_DENIED,
                format!("This action requires the `{permission}` permission."),
            )
            .with_extension("permission", permission))
        }
    }

    /// Whether the principal may act on the location `id` (always, when unrestricted).
    pub fn can_access_location(&self, id: Uuid) -> bool {
        self.locations
            .as_ref()
            .is_none_or(|locations| locations.contains(&id))
    }

    /// `Ok` when [`can_access_location`](Self::can_access_location), else 403
    /// `location_denied` with the location id as the `location_id` extension member.
    pub fn require_location(&self, id: Uuid) -> Result<(), Error> {
        if self.can_access_location(id) {
            Ok(())
        } else {
            Err(Error::forbidden(
                codes::LOCATION_DENIED,
                format!("You may not act on location {id}."),
            )
            .with_extension("location_id", id.to_string()))
        }
    }
}

/// Whether one granted permission covers the wanted one.
fn grants(granted: &str, wanted: &str) -> bool {
    if granted == "*" || granted == wanted {
        return true;
    }
    // `orders:*` -> prefix `orders:`; a bare `*` suffix without the dot (`orders*`) grants
    // nothing beyond an exact match, so `orders*` can never reach `ordersecrets:read`.
    granted
        .strip_suffix('*')
        .filter(|prefix| prefix.ends_with(':'))
        .is_some_and(|prefix| wanted.len() > prefix.len() && wanted.starts_with(prefix))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    fn principal(perms: &[&str]) -> Principal {
        Principal {
            tenant_id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            session_id: None,
            roles: Vec::new(),
            permissions: perms.iter().map(|p| (*p).to_owned()).collect(),
            locations: None,
        }
    }

    #[test]
    fn exact_permission_matches_only_itself() {
        let p = principal(&["orders:read"]);
        assert!(p.has_permission("orders:read"));
        assert!(!p.has_permission("orders:write"));
        assert!(!p.has_permission("orders"));
        assert!(!p.has_permission("Orders.read"));
        assert!(!p.has_permission("orders:read.extra"));
    }

    #[test]
    fn star_grants_everything() {
        let p = principal(&["*"]);
        assert!(p.has_permission("orders:read"));
        assert!(p.has_permission("catalog.items.write"));
        assert!(p.has_permission("*"));
    }

    #[test]
    fn module_wildcard_grants_that_module_only() {
        let p = principal(&["orders:*"]);
        assert!(p.has_permission("orders:read"));
        assert!(p.has_permission("orders:items.write"));
        assert!(p.has_permission("orders:*"));
        assert!(!p.has_permission("orders"));
        assert!(!p.has_permission("orders:"));
        assert!(!p.has_permission("ordersx:read"));
        assert!(!p.has_permission("payments.read"));
        assert!(!p.has_permission("*"));
    }

    #[test]
    fn malformed_wildcards_and_empty_requests_grant_nothing() {
        let p = principal(&["orders*", ""]);
        assert!(!p.has_permission("ordersecrets:read"));
        assert!(!p.has_permission("orders:read"));
        assert!(!p.has_permission(""));
        assert!(!principal(&["*"]).has_permission(""));
        assert!(!principal(&[]).has_permission("orders:read"));
    }

    #[test]
    fn require_names_the_missing_permission() {
        let err = principal(&["orders:read"])
            .require("orders:write")
            .unwrap_err();
        assert_eq!(err.status(), StatusCode::FORBIDDEN);
        assert_eq!(err.code(), "permission_denied");
        assert!(err.detail().unwrap().contains("orders:write"));
        assert_eq!(err.problem().extensions["permission"], "orders:write");
        assert!(principal(&["orders:*"]).require("orders:write").is_ok());
    }

    #[test]
    fn locations_restrict_only_when_listed() {
        let here = Uuid::now_v7();
        let there = Uuid::now_v7();
        let mut p = principal(&[]);
        assert!(p.can_access_location(there));
        p.locations = Some(vec![here]);
        assert!(p.can_access_location(here));
        assert!(!p.can_access_location(there));
        assert!(p.require_location(here).is_ok());
        let err = p.require_location(there).unwrap_err();
        assert_eq!(err.code(), "location_denied");
        p.locations = Some(Vec::new());
        assert!(!p.can_access_location(here));
    }
}
