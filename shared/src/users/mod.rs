//! Users as the user endpoints (`get-user`, `list-users`, `invite-user`, `update-user`) show
//! them — never a password hash, PIN or lockout counter — and their loading inside a tenant
//! transaction; [`grants`] resolves the role grants a request names.

pub mod grants;

use std::collections::HashMap;

use crate::db::Transaction;
use crate::error::Error;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// The columns [`UserView::from_row`] reads (without the `u.` prefix).
pub const COLUMNS: &str =
    "id, email, name, status, email_verified_at IS NOT NULL, version, created_at, updated_at";

/// One role granted to a user: everywhere (`location_ids` null) or at some locations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleGrant {
    pub role_id: Uuid,
    pub name: String,
    pub location_ids: Option<Vec<Uuid>>,
}

/// A user: never its password hash, PIN or lockout counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    /// `invited`, `active` or `deactivated`.
    pub status: String,
    pub email_verified: bool,
    pub roles: Vec<RoleGrant>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl UserView {
    /// A user from a row of [`COLUMNS`], without its roles.
    pub fn from_row(row: &tokio_postgres::Row) -> Result<Self, Error> {
        Ok(Self {
            id: row.try_get(0)?,
            email: row.try_get(1)?,
            name: row.try_get(2)?,
            status: row.try_get(3)?,
            email_verified: row.try_get(4)?,
            roles: Vec::new(),
            version: row.try_get(5)?,
            created_at: row.try_get(6)?,
            updated_at: row.try_get(7)?,
        })
    }

    /// The strong entity tag of this version: `"<version>"`.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }

    /// The view as JSON, for audit images.
    pub fn to_json(&self) -> Result<Value, Error> {
        serde_json::to_value(self).map_err(Error::internal)
    }
}

/// The role grants of `users`, each user's sorted by role name.
pub async fn grants_of(
    tx: &Transaction<'_>,
    users: &[Uuid],
) -> Result<HashMap<Uuid, Vec<RoleGrant>>, Error> {
    let rows = tx
        .query(
            "SELECT g.user_id, g.role_id, r.name, g.location_ids
             FROM auth.role_grants g JOIN auth.roles r ON r.id = g.role_id
             WHERE g.user_id = ANY($1)
             ORDER BY r.name",
            &[&users],
        )
        .await?;
    let mut grants: HashMap<Uuid, Vec<RoleGrant>> = HashMap::new();
    for row in rows {
        grants.entry(row.try_get(0)?).or_default().push(RoleGrant {
            role_id: row.try_get(1)?,
            name: row.try_get(2)?,
            location_ids: row.try_get(3)?,
        });
    }
    Ok(grants)
}

/// The user `id` with its roles (row-locked when `for_update`), `None` when RLS or reality
/// says there is no such user.
pub async fn find(
    tx: &Transaction<'_>,
    id: Uuid,
    for_update: bool,
) -> Result<Option<UserView>, Error> {
    let lock = if for_update { " FOR UPDATE" } else { "" };
    let row = tx
        .query_opt(
            &format!("SELECT {COLUMNS} FROM auth.users WHERE id = $1{lock}"),
            &[&id],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let mut user = UserView::from_row(&row)?;
    user.roles = grants_of(tx, &[id]).await?.remove(&id).unwrap_or_default();
    Ok(Some(user))
}
