//! `create-api-key` — `POST /v1/api-keys` (needs `api_keys:write`).
//!
//! Body: `{"name": "...", "scopes": ["catalog:read", ...], "location_ids": [uuid]?,
//! "expires_at": RFC 3339?}`. Scopes are permission strings: each must be known (422
//! `invalid_permission`) and held by the caller (403 `permission_denied`); at least one (422
//! `invalid_scopes`). `location_ids` restricts the key to those locations of the tenant (422
//! `unknown_location` otherwise); a caller restricted to some locations must restrict the key
//! to a subset of them (403 `location_denied`). `expires_at` must be in the future (422
//! `invalid_expires_at`); absent, the key lives until revoked.
//!
//! Answers 201 with the key's metadata and `key`: `olk_<prefix>_<secret>`, shown this once and
//! never stored (only the SHA-256 of the secret is). Deliberately NOT behind `Idempotency-Key`:
//! a stored response would hold the secret. Present the key as `Authorization: Bearer olk_...`
//! or `X-Api-Key: olk_...`.
//!
//! Audit: `auth.api_key.created`. Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`,
//! `AUTH_AUDIENCE`. Emits no events.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use chrono::{DateTime, Utc};
use olympus::audit::{self, AuditEvent};
use olympus::auth::roles::is_valid_permission;
use olympus::auth::{Principal, api_keys, codes};
use olympus::db;
use olympus::http::{ClientInfo, Json};
use olympus::{AppState, Error, Function};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

pub const WRITE: &str = "api_keys:write";
pub const MAX_SCOPES: usize = 100;
pub const MAX_LOCATIONS: usize = 1000;

pub fn function() -> Function {
    Function::http("create-api-key")
        .route(&Method::POST, "/v1/api-keys", create)
        .build()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    name: String,
    scopes: Vec<String>,
    #[serde(default)]
    location_ids: Option<Vec<Uuid>>,
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
}

/// The 201 body: the key's metadata and, this once, the key itself.
#[derive(Debug, Serialize)]
pub struct CreatedKey {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    pub location_ids: Option<Vec<Uuid>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub key: String,
}

#[derive(Debug, PartialEq, Eq)]
struct Valid {
    name: String,
    scopes: Vec<String>,
    location_ids: Option<Vec<Uuid>>,
    expires_at: Option<DateTime<Utc>>,
}

impl NewKey {
    /// Validates the body on its own (pure): `now` is the reference for `expires_at`.
    fn validate(self, now: DateTime<Utc>) -> Result<Valid, Error> {
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(
                Error::unprocessable("invalid_name", "name must be 1 to 200 characters.")
                    .with_extension("field", "name"),
            );
        }
        if self.scopes.is_empty() || self.scopes.len() > MAX_SCOPES {
            return Err(Error::unprocessable(
                "invalid_scopes",
                format!("scopes must list 1 to {MAX_SCOPES} permissions."),
            ));
        }
        let mut scopes: Vec<String> = self.scopes.iter().map(|s| s.trim().to_owned()).collect();
        if let Some(bad) = scopes.iter().find(|p| !is_valid_permission(p)) {
            return Err(Error::unprocessable(
                "invalid_permission",
                format!(
                    "`{bad}` is not a known permission (`resource:action`, `resource:*` or `*`)."
                ),
            )
            .with_extension("permission", bad.clone()));
        }
        scopes.sort();
        scopes.dedup();
        let location_ids = match self.location_ids {
            Some(ids) if ids.len() > MAX_LOCATIONS => {
                return Err(Error::unprocessable(
                    "invalid_location_ids",
                    format!("location_ids lists at most {MAX_LOCATIONS} locations."),
                ));
            }
            Some(mut ids) => {
                ids.sort();
                ids.dedup();
                Some(ids)
            }
            None => None,
        };
        if self.expires_at.is_some_and(|at| at <= now) {
            return Err(Error::unprocessable(
                "invalid_expires_at",
                "expires_at must be in the future.",
            ));
        }
        Ok(Valid {
            name,
            scopes,
            location_ids,
            expires_at: self.expires_at,
        })
    }
}

/// The key may do nothing its creator may not: every scope held, locations within theirs.
fn ensure_within(principal: &Principal, key: &Valid) -> Result<(), Error> {
    if let Some(missing) = key.scopes.iter().find(|p| !principal.has_permission(p)) {
        return Err(Error::forbidden(
            codes::PERMISSION_DENIED,
            format!("You cannot give a key `{missing}`: you do not hold it yourself."),
        )
        .with_extension("permission", missing.clone()));
    }
    if principal.locations.is_some() {
        let Some(ids) = &key.location_ids else {
            return Err(Error::forbidden(
                codes::LOCATION_DENIED,
                "You may act on some locations only: list them in location_ids.",
            ));
        };
        for id in ids {
            principal.require_location(*id)?;
        }
    }
    Ok(())
}

async fn create(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    Json(body): Json<NewKey>,
) -> Result<(StatusCode, Json<CreatedKey>), Error> {
    principal.require(WRITE)?;
    let key = body.validate(Utc::now())?;
    ensure_within(&principal, &key)?;

    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, principal.tenant_id).await?;
    if let Some(ids) = &key.location_ids {
        let known: Vec<Uuid> = tx
            .query(
                "SELECT id FROM platform.locations WHERE id = ANY($1)",
                &[ids],
            )
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
        if let Some(unknown) = ids.iter().find(|id| !known.contains(id)) {
            return Err(Error::unprocessable(
                "unknown_location",
                format!("Location {unknown} does not exist."),
            )
            .with_extension("location_id", unknown.to_string()));
        }
    }
    let new = api_keys::generate()?;
    let id = Uuid::now_v7();
    // A key made by a key has no creating user; neither has a token of no stored user.
    let creator = (!api_keys::is_api_key(&principal)).then_some(principal.user_id);
    let row = tx
        .query_one(
            "INSERT INTO auth.api_keys (id, tenant_id, prefix, secret_hash, name, scopes,
                                        location_ids, expires_at, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8,
                     (SELECT u.id FROM auth.users u WHERE u.id = $9))
             RETURNING created_at",
            &[
                &id,
                &principal.tenant_id,
                &new.prefix,
                &new.secret_hash,
                &key.name,
                &key.scopes,
                &key.location_ids,
                &key.expires_at,
                &creator,
            ],
        )
        .await?;
    tx.execute(
        "INSERT INTO auth.api_key_directory (prefix, tenant_id) VALUES ($1, $2)",
        &[&new.prefix, &principal.tenant_id],
    )
    .await?;
    audit::record(
        &tx,
        principal.tenant_id,
        &client,
        AuditEvent::new(api_keys::actor(&principal), "auth.api_key.created")
            .target("api_key", id)
            .change(
                None,
                Some(json!({
                    "name": key.name,
                    "prefix": new.prefix,
                    "scopes": key.scopes,
                    "location_ids": key.location_ids,
                    "expires_at": key.expires_at,
                })),
            ),
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            id,
            name: key.name,
            prefix: new.prefix,
            scopes: key.scopes,
            location_ids: key.location_ids,
            expires_at: key.expires_at,
            created_at: row.get(0),
            last_used_at: None,
            revoked_at: None,
            key: new.key,
        }),
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn body(value: serde_json::Value) -> Result<Valid, Error> {
        serde_json::from_value::<NewKey>(value)
            .unwrap()
            .validate(Utc::now())
    }

    fn principal(permissions: &[&str], locations: Option<Vec<Uuid>>) -> Principal {
        Principal {
            tenant_id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            session_id: Some(Uuid::now_v7()),
            roles: vec!["manager".to_owned()],
            permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
            locations,
        }
    }

    #[test]
    fn bodies_are_validated() {
        let valid =
            body(json!({"name": " sync ", "scopes": ["catalog:read", "catalog:read"]})).unwrap();
        assert_eq!(valid.name, "sync");
        assert_eq!(valid.scopes, ["catalog:read"]);
        let code = |v| body(v).unwrap_err().code().to_owned();
        assert_eq!(
            code(json!({"name": " ", "scopes": ["catalog:read"]})),
            "invalid_name"
        );
        assert_eq!(code(json!({"name": "x", "scopes": []})), "invalid_scopes");
        assert_eq!(
            code(json!({"name": "x", "scopes": ["nope"]})),
            "invalid_permission"
        );
        assert_eq!(
            code(
                json!({"name": "x", "scopes": ["catalog:read"], "expires_at": "2001-01-01T00:00:00Z"})
            ),
            "invalid_expires_at"
        );
        assert!(
            serde_json::from_value::<NewKey>(json!({"name": "x", "scopes": [], "secret": "s"}))
                .is_err()
        );
    }

    #[test]
    fn keys_stay_within_their_creator() {
        let here = Uuid::now_v7();
        let key = |scopes: &[&str], locations: Option<Vec<Uuid>>| Valid {
            name: "k".to_owned(),
            scopes: scopes.iter().map(|p| (*p).to_owned()).collect(),
            location_ids: locations,
            expires_at: None,
        };
        let manager = principal(&["catalog:*"], None);
        assert!(ensure_within(&manager, &key(&["catalog:read"], None)).is_ok());
        let err = ensure_within(&manager, &key(&["orders:read"], None)).unwrap_err();
        assert_eq!(err.code(), "permission_denied");
        let local = principal(&["*"], Some(vec![here]));
        assert!(ensure_within(&local, &key(&["orders:read"], Some(vec![here]))).is_ok());
        assert_eq!(
            ensure_within(&local, &key(&["orders:read"], None))
                .unwrap_err()
                .code(),
            "location_denied"
        );
        assert_eq!(
            ensure_within(&local, &key(&["orders:read"], Some(vec![Uuid::now_v7()])))
                .unwrap_err()
                .code(),
            "location_denied"
        );
    }
}
