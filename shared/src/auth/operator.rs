//! Platform operators: principals of the operator's own tenant (`OPERATOR_TENANT_ID`) holding
//! `platform:operate`. Cross-tenant admin endpoints (dead letters) accept only them, because a
//! tenant's own permissions — even `*` — must never reach other tenants' data.

use super::Principal;
use crate::config::Config;
use crate::error::Error;

/// The permission an operator principal must hold.
pub const OPERATE: &str = "platform:operate";

/// Passes only a platform operator.
pub fn require_operator(principal: &Principal, config: &Config) -> Result<(), Error> {
    match config.operator_tenant_id {
        Some(operator) if operator == principal.tenant_id => principal.require(OPERATE),
        _ => Err(Error::forbidden(
            super::codes::PERMISSION_DENIED,
            "This endpoint is reserved to platform operators.",
        )
        .with_extension("permission", OPERATE)),
    }
}
