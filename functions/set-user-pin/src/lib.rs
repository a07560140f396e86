//! `set-user-pin` — `PUT /v1/users/{id}/pin` with `{"pin": "1234"}`: sets the PIN a staff
//! member types at a POS device (`POST /v1/auth/pin`).
//!
//! A user may set their own PIN; setting another user's needs `users:write`, and the caller
//! must hold every permission and location the target user holds (no one gives themselves a
//! way to sign in as someone more privileged): else 403 `permission_denied`. The PIN is 4 to 6
//! digits (else 422 `invalid_pin`); it is stored as an argon2 hash, and the PIN failure counter
//! and lockout are reset. Answers 204. An unknown, malformed or other tenant's user id is 404
//! and changes nothing. Audit: `auth.pin.set`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits: nothing.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use olympus::audit::{self, AuditEvent};
use olympus::auth::session::{self, Grants};
use olympus::auth::{Principal, password};
use olympus::db;
use olympus::http::{ClientInfo, Json, Path};
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

/// The permission setting another user's PIN needs.
pub const ADMIN_PERMISSION: &str = "users:write";
pub const MIN_PIN_DIGITS: usize = 4;
pub const MAX_PIN_DIGITS: usize = 6;

pub fn function() -> Function {
    Function::http("set-user-pin")
        .route(&Method::PUT, "/v1/users/{id}/pin", set_pin)
        .build()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetPin {
    pin: String,
}

impl std::fmt::Debug for SetPin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetPin").finish_non_exhaustive()
    }
}

/// `Ok` for 4 to 6 ASCII digits.
pub fn validate_pin(pin: &str) -> Result<(), Error> {
    if (MIN_PIN_DIGITS..=MAX_PIN_DIGITS).contains(&pin.len())
        && pin.bytes().all(|b| b.is_ascii_digit())
    {
        Ok(())
    } else {
        Err(Error::unprocessable(
            "invalid_pin",
            format!("The PIN must be {MIN_PIN_DIGITS} to {MAX_PIN_DIGITS} digits."),
        )
        .with_extension("field", "pin"))
    }
}

/// Whether `principal` holds everything `target` holds: each permission, and each location
/// (an unrestricted target needs an unrestricted principal).
fn covers(principal: &Principal, target: &Grants) -> bool {
    let permissions = target
        .permissions
        .iter()
        .all(|p| principal.has_permission(p));
    let locations = match (&principal.locations, &target.locations) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(mine), Some(theirs)) => theirs.iter().all(|l| mine.contains(l)),
    };
    permissions && locations
}

fn user_not_found() -> Error {
    Error::not_found("No such user.")
}

async fn set_pin(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    Path(id): Path<String>,
    Json(request): Json<SetPin>,
) -> Result<StatusCode, Error> {
    let user = Uuid::try_parse(&id).map_err(|_| user_not_found())?;
    let own = user == principal.user_id;
    if !own {
        principal.require(ADMIN_PERMISSION)?;
    }
    validate_pin(&request.pin)?;
    let tenant = principal.tenant_id;

    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    // RLS hides other tenants' users: their ids are simply not found.
    tx.query_opt(
        "SELECT id FROM auth.users WHERE id = $1 FOR UPDATE",
        &[&user],
    )
    .await?
    .ok_or_else(user_not_found)?;
    if !own && !covers(&principal, &session::load_grants(&tx, user).await?) {
        return Err(Error::forbidden(
            "permission_denied",
            "You may not set the PIN of a user who holds permissions or locations you do not.",
        ));
    }
    let hash = password::hash(request.pin).await?;
    tx.execute(
        "UPDATE auth.users SET pin_hash = $2, pin_failed = 0, pin_locked_until = NULL,
                updated_at = now()
         WHERE id = $1",
        &[&user, &hash],
    )
    .await?;
    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new((&principal).into(), "auth.pin.set")
            .target("user", user)
            .details(json!({ "own": own })),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pins_are_four_to_six_digits() {
        for ok in ["0000", "12345", "987654"] {
            assert!(validate_pin(ok).is_ok(), "{ok}");
        }
        for bad in ["", "123", "1234567", "12a4", " 1234", "١٢٣٤", "12.4"] {
            assert_eq!(
                validate_pin(bad).unwrap_err().code(),
                "invalid_pin",
                "{bad}"
            );
        }
    }

    fn principal(perms: &[&str], locations: Option<Vec<Uuid>>) -> Principal {
        Principal {
            tenant_id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            session_id: None,
            roles: Vec::new(),
            permissions: perms.iter().map(|p| (*p).to_owned()).collect(),
            locations,
        }
    }

    fn grants(perms: &[&str], locations: Option<Vec<Uuid>>) -> Grants {
        Grants {
            roles: Vec::new(),
            permissions: perms.iter().map(|p| (*p).to_owned()).collect(),
            locations,
        }
    }

    #[test]
    fn only_users_with_no_more_rights_are_covered() {
        let a = Uuid::now_v7();
        let b = Uuid::now_v7();
        let admin = principal(&["users:write", "orders:*"], None);
        assert!(covers(&admin, &grants(&["orders:read"], Some(vec![a]))));
        assert!(covers(&admin, &grants(&["orders:*"], None)));
        assert!(!covers(&admin, &grants(&["*"], None)));
        assert!(!covers(&admin, &grants(&["tenant:billing"], Some(vec![a]))));
        let local = principal(&["*"], Some(vec![a]));
        assert!(covers(&local, &grants(&["orders:read"], Some(vec![a]))));
        assert!(!covers(&local, &grants(&["orders:read"], Some(vec![a, b]))));
        assert!(!covers(&local, &grants(&["orders:read"], None)));
        assert!(covers(&principal(&["*"], None), &grants(&["*"], None)));
    }
}
