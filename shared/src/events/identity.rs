//! Events of the identity and platform module, shared by producers and consumers.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Event;

/// A tenant signed up.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TenantCreated {
    pub tenant_id: Uuid,
    pub slug: String,
    pub name: String,
    pub industry: String,
    pub owner_user_id: Uuid,
    pub first_location_id: Uuid,
}

impl Event for TenantCreated {
    const TYPE: &'static str = "platform.tenant.created";
}

/// A refresh token was presented again after its rotation: its session was revoked.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionReuseDetected {
    pub session_id: Uuid,
    pub user_id: Uuid,
}

impl Event for SessionReuseDetected {
    const TYPE: &'static str = "auth.session.reuse_detected";
}
