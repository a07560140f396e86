//! The audit log (`audit.events`): every authentication event and every admin change, written
//! in the transaction of the change so the log and the change commit together.

use serde_json::Value;
use uuid::Uuid;

use crate::auth::Principal;
use crate::db::Transaction;
use crate::error::Error;
use crate::http::ClientInfo;

/// Who acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    User(Uuid),
    ApiKey(Uuid),
    System,
    Anonymous,
}

impl Actor {
    fn parts(self) -> (&'static str, Option<Uuid>) {
        match self {
            Self::User(id) => ("user", Some(id)),
            Self::ApiKey(id) => ("api_key", Some(id)),
            Self::System => ("system", None),
            Self::Anonymous => ("anonymous", None),
        }
    }
}

impl From<&Principal> for Actor {
    fn from(principal: &Principal) -> Self {
        crate::auth::api_keys::actor(principal)
    }
}

/// One audit record.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub actor: Actor,
    /// `module.entity.verb` style, e.g. `auth.login.failed`, `platform.tenant.updated`.
    pub action: &'static str,
    pub target_type: Option<&'static str>,
    pub target_id: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub details: Value,
}

impl AuditEvent {
    pub fn new(actor: Actor, action: &'static str) -> Self {
        Self {
            actor,
            action,
            target_type: None,
            target_id: None,
            before: None,
            after: None,
            details: Value::Object(serde_json::Map::new()),
        }
    }

    #[must_use]
    // By value: ids are small Copy values (Uuid) at every call site.
    #[allow(clippy::needless_pass_by_value)]
    pub fn target(mut self, kind: &'static str, id: impl ToString) -> Self {
        self.target_type = Some(kind);
        self.target_id = Some(id.to_string());
        self
    }

    #[must_use]
    pub fn change(mut self, before: Option<Value>, after: Option<Value>) -> Self {
        self.before = before;
        self.after = after;
        self
    }

    #[must_use]
    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

/// Writes `event` for `tenant` inside `tx` (which must be scoped to that tenant).
pub async fn record(
    tx: &Transaction<'_>,
    tenant: Uuid,
    client: &ClientInfo,
    event: AuditEvent,
) -> Result<(), Error> {
    let (actor_type, actor_id) = event.actor.parts();
    tx.execute(
        "INSERT INTO audit.events (id, tenant_id, actor_type, actor_id, action, target_type,
                                   target_id, ip, user_agent, request_id, before, after, details)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        &[
            &Uuid::now_v7(),
            &tenant,
            &actor_type,
            &actor_id,
            &event.action,
            &event.target_type,
            &event.target_id,
            &client.ip,
            &client.user_agent,
            &client.request_id,
            &event.before,
            &event.after,
            &event.details,
        ],
    )
    .await?;
    Ok(())
}
