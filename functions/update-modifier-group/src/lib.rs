//! `update-modifier-group` — `PATCH /v1/modifier-groups/{id}`: changes a modifier group and its
//! modifiers (needs `catalog:write`).
//!
//! Body (each field optional; absent is unchanged): `name`, `min_selections`,
//! `max_selections` (`null`: unbounded), `allow_repeats`, `archived` (`true` archives, `false`
//! restores) and `modifiers`, the group's full new list in order: an entry with `id` keeps
//! (and updates) that live modifier of this group, an entry without `id` is a new modifier,
//! and live modifiers not listed are archived. Requires `If-Match: "<version>"`: missing is 428
//! `precondition_required`, stale is 412 `version_mismatch` with `current_version`. 422:
//! `unknown_modifier` (an `id` that is not a live modifier of this group, with
//! `modifier_id`), `duplicate_modifier` (a name or an id twice), `invalid_name`,
//! `invalid_price`, `invalid_selection_limits` (checked on the resulting group),
//! `invalid_body`. An unknown id (or another tenant's) is 404. A change bumps `version` and
//! the group's `change_seq` (which also covers its modifiers), is audited
//! (`catalog.modifier_group.updated`, before/after of the changed fields) and answers the group
//! with its new `ETag`; a request that changes nothing answers the group as it is, unwritten.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use std::collections::HashSet;

use axum::extract::State;
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use olympus::audit::{self, AuditEvent};
use olympus::auth::Principal;
use olympus::catalog::import::{GroupState, write_group};
use olympus::catalog::patch::nullable;
use olympus::catalog::write::{NewModifier, load_modifier_group};
use olympus::catalog::{self, ModifierGroupView, path_id};
use olympus::db;
use olympus::http::versioning::{etag, expected_version, version_mismatch};
use olympus::http::{ClientInfo, Json, Path};
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use uuid::Uuid;

pub fn function() -> Function {
    Function::http("update-modifier-group")
        .route(&Method::PATCH, "/v1/modifier-groups/{id}", update)
        .build()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupPatch {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    min_selections: Option<i32>,
    #[serde(default, deserialize_with = "nullable")]
    max_selections: Option<Option<i32>>,
    #[serde(default)]
    allow_repeats: Option<bool>,
    #[serde(default)]
    modifiers: Option<Vec<NewModifier>>,
    #[serde(default)]
    archived: Option<bool>,
}

fn modifier_error(code: &'static str, id: Uuid, detail: String) -> Error {
    Error::unprocessable(code, detail)
        .with_extension("field", "modifiers")
        .with_extension("modifier_id", id.to_string())
}

impl GroupPatch {
    /// The group as it would be after the patch, checked as a whole.
    fn apply(self, current: &ModifierGroupView) -> Result<GroupState, Error> {
        let mut next = GroupState::of(current);
        if let Some(name) = self.name {
            next.name = name;
        }
        if let Some(min) = self.min_selections {
            next.min_selections = min;
        }
        if let Some(max) = self.max_selections {
            next.max_selections = max;
        }
        if let Some(repeats) = self.allow_repeats {
            next.allow_repeats = repeats;
        }
        if let Some(list) = self.modifiers {
            let mut seen = HashSet::new();
            for id in list.iter().filter_map(|m| m.id) {
                if !current.modifiers.iter().any(|m| m.id == id) {
                    return Err(modifier_error(
                        "unknown_modifier",
                        id,
                        format!("Modifier {id} is not a live modifier of this group."),
                    ));
                }
                if !seen.insert(id) {
                    return Err(modifier_error(
                        "duplicate_modifier",
                        id,
                        format!("Modifier {id} is listed twice."),
                    ));
                }
            }
            next.modifiers = list;
        }
        if let Some(archived) = self.archived {
            next.archived = archived;
        }
        next.validated()
    }
}

async fn update(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(patch): Json<GroupPatch>,
) -> Result<Response, Error> {
    principal.require(catalog::WRITE)?;
    let id = path_id(&id, "modifier group")?;
    let expected = expected_version(&headers, "modifier group")?;
    let tenant = principal.tenant_id;

    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    // RLS hides other tenants' groups: their ids are simply not found.
    tx.query_opt(
        "SELECT 1 FROM catalog.modifier_groups WHERE id = $1 FOR UPDATE",
        &[&id],
    )
    .await?
    .ok_or_else(|| catalog::not_found("modifier group"))?;
    let before = load_modifier_group(&tx, id).await?;
    if before.version != expected {
        return Err(version_mismatch("modifier group", expected, before.version));
    }
    let current = GroupState::of(&before);
    let next = patch.apply(&before)?;
    let changes = current.changes(&next);
    if changes.is_empty() {
        tx.commit().await?;
        return respond(before);
    }
    let after = write_group(&tx, tenant, id, &next).await?;
    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new((&principal).into(), "catalog.modifier_group.updated")
            .target("modifier_group", id)
            .versioned_change(changes, before.version, after.version),
    )
    .await?;
    tx.commit().await?;
    respond(after)
}

fn respond(view: ModifierGroupView) -> Result<Response, Error> {
    Ok(([(header::ETAG, etag(view.version))], Json(view)).into_response())
}
