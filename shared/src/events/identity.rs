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

/// Someone asked to reset a password. Carries the single-use token to the mail handler (the
/// database keeps only its hash); consumers other than the mailer must not log or store it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PasswordResetRequested {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub token: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

impl Event for PasswordResetRequested {
    const TYPE: &'static str = "auth.password_reset.requested";
}

/// An email address must be verified; carries the single-use token to the mail handler.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EmailVerificationRequested {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub token: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

impl Event for EmailVerificationRequested {
    const TYPE: &'static str = "auth.email_verification.requested";
}

/// A user was invited; carries the single-use invite token to the mail handler.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserInvited {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub invited_by: Uuid,
    pub token: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

impl Event for UserInvited {
    const TYPE: &'static str = "auth.user.invited";
}

/// A user was deactivated (their sessions are revoked).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserDeactivated {
    pub user_id: Uuid,
    pub deactivated_by: Uuid,
}

impl Event for UserDeactivated {
    const TYPE: &'static str = "auth.user.deactivated";
}
