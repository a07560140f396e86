//! The audit log (`audit.events`): every authentication event and every admin change, written
//! in the transaction of the change so the log and the change commit together.

use serde_json::{Map, Value};
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

    /// The record of a versioned update (`PATCH` with `If-Match`): `before`/`after` hold the
    /// changed fields plus `version` on each side, and `details` is `{"changed": [names]}`.
    #[must_use]
    pub fn versioned_change(
        self,
        changes: Changes,
        before_version: i32,
        after_version: i32,
    ) -> Self {
        let Changes {
            mut before,
            mut after,
            changed,
        } = changes;
        before.insert("version".to_owned(), Value::from(before_version));
        after.insert("version".to_owned(), Value::from(after_version));
        self.change(Some(Value::Object(before)), Some(Value::Object(after)))
            .details(serde_json::json!({ "changed": changed }))
    }
}

/// The changed fields of an update, collected for its audit record.
///
/// Every versioned `PATCH` handler (locations, tenants, users, roles) built the same two images
/// and the list of changed names by hand; they share this instead so their audit records keep
/// one shape. Names keep the order they were recorded in (the order `details.changed` lists).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    before: Map<String, Value>,
    after: Map<String, Value>,
    changed: Vec<&'static str>,
}

impl Changes {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `field` when `old` and `new` differ; an equal pair is no change.
    pub fn diff(&mut self, field: &'static str, old: Value, new: Value) {
        if old != new {
            self.record(field, old, new);
        }
    }

    /// Records `field` as changed whatever the values (the caller has decided it changed, e.g.
    /// when the new value is read back after the update).
    pub fn record(&mut self, field: &'static str, old: Value, new: Value) {
        self.before.insert(field.to_owned(), old);
        self.after.insert(field.to_owned(), new);
        self.changed.push(field);
    }

    /// Whether nothing changed (the update is a no-op).
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty()
    }

    /// The names of the changed fields, in the order they were recorded.
    pub fn changed(&self) -> &[&'static str] {
        &self.changed
    }
}

/// Collects an already-filtered diff: each `(name, old, new)` is recorded as changed.
impl FromIterator<(&'static str, Value, Value)> for Changes {
    fn from_iter<I: IntoIterator<Item = (&'static str, Value, Value)>>(iter: I) -> Self {
        let mut changes = Self::new();
        for (field, old, new) in iter {
            changes.record(field, old, new);
        }
        changes
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_differing_fields_are_changes() {
        let mut changes = Changes::new();
        changes.diff("name", json!("a"), json!("a"));
        assert!(changes.is_empty());
        changes.diff("name", json!("a"), json!("b"));
        changes.record("roles", json!([]), json!([]));
        assert_eq!(changes.changed(), ["name", "roles"]);
    }

    #[test]
    fn a_versioned_change_holds_the_fields_and_the_versions() {
        let changes: Changes = vec![
            ("time_zone", json!("UTC"), json!("Europe/Paris")),
            ("active", json!(true), json!(false)),
        ]
        .into_iter()
        .collect();
        let event = AuditEvent::new(Actor::System, "platform.location.updated")
            .versioned_change(changes, 3, 4);
        assert_eq!(
            event.before,
            Some(json!({ "time_zone": "UTC", "active": true, "version": 3 }))
        );
        assert_eq!(
            event.after,
            Some(json!({ "time_zone": "Europe/Paris", "active": false, "version": 4 }))
        );
        assert_eq!(event.details, json!({ "changed": ["time_zone", "active"] }));
    }
}
