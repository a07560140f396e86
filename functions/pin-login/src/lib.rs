//! `pin-login` — `POST /v1/auth/pin` with `{"device_id", "user_id" | "email", "pin"}`: a staff
//! member signs in at a registered POS device with their PIN.
//!
//! The device id names the tenant (through the public `auth.device_directory`) and the location
//! (the device's). On success it answers 200 `{access_token, token_type, expires_in,
//! session_id, session_expires_at, user_id, location_id}`: a new session (method `pin`, device
//! = the device's name) that expires after [`SESSION_HOURS`] hours (a shift), and a 15-minute
//! access token limited to the device's location (`locs` = [location]) carrying only the roles
//! and permissions of the user's grants that cover that location. No refresh token is issued:
//! `session::refresh` re-derives grants over every location and extends sessions to 30 days,
//! which would widen a PIN session; the till signs in again with the PIN instead.
//!
//! - One answer, 401 `invalid_credentials`, for an unknown or revoked device (or one at an
//!   inactive location), an unknown user, a user that is not active, a wrong PIN, no PIN set,
//!   and a user without a role grant covering the device's location; the same argon2 work is
//!   done in every case (a dummy hash is verified when there is no real one).
//! - Lockout: [`LOCKOUT_THRESHOLD`] consecutive wrong PINs lock PIN sign-in of that user for
//!   [`LOCKOUT_MINUTES`] minutes: 429 `account_locked` with `Retry-After`, the PIN not even
//!   checked. A success resets the counter. (Password sign-in has its own counter.)
//! - Per-IP throttle shared with password login: [`IP_FAILURE_LIMIT`] failures from one IP
//!   against one tenant within [`IP_WINDOW_MINUTES`] minutes answer 429 `too_many_attempts`.
//! - Exactly one of `user_id` and `email` (else 422 `invalid_body`).
//!
//! Audit: `auth.pin_login.succeeded`, `auth.pin_login.failed` (with the reason), committed
//! although the answer is an error. Not behind `Idempotency-Key`: the answer holds a token.
//!
//! Env: `DATABASE_URL`, `AUTH_SIGNING_KEY`, `AUTH_SIGNING_KEY_ID`, `AUTH_SIGNING_ALG`,
//! `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits no events.

use axum::extract::State;
use axum::http::Method;
use chrono::{DateTime, Utc};
use olympus::audit::{self, Actor, AuditEvent};
use olympus::auth::lockout::{self, Counter, ip_throttled, too_many, too_many_attempts};
use olympus::auth::{ACCESS_TOKEN_SECONDS, password};
use olympus::db::{self, Transaction};
use olympus::http::{ClientInfo, Json};
use olympus::{AppState, Error, Function};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

// The PIN lockout (its own counter, the same values as `login`'s) and the per-IP throttle
// (shared with `login`).
pub use olympus::auth::lockout::{
    IP_FAILURE_LIMIT, IP_WINDOW_MINUTES, LOCKOUT_MINUTES, LOCKOUT_THRESHOLD,
};
/// Lifetime of a PIN session: one shift.
pub const SESSION_HOURS: i32 = 12;

pub fn function() -> Function {
    Function::http("pin-login")
        .route(&Method::POST, "/v1/auth/pin", pin_login)
        .secrets(&[olympus::auth::SIGNING_KEY_SECRET])
        .build()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PinRequest {
    device_id: String,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    email: Option<String>,
    pin: String,
}

impl std::fmt::Debug for PinRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinRequest")
            .field("device_id", &self.device_id)
            .field("user_id", &self.user_id)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// What a successful PIN sign-in returns.
#[derive(Debug, Serialize)]
pub struct PinTokens {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub session_id: Uuid,
    pub session_expires_at: DateTime<Utc>,
    pub user_id: Uuid,
    pub location_id: Uuid,
}

/// Who is signing in.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Who {
    Id(Option<Uuid>),
    Email(String),
}

impl Who {
    fn of(request: &PinRequest) -> Result<Self, Error> {
        match (&request.user_id, &request.email) {
            (Some(id), None) => Ok(Self::Id(Uuid::try_parse(id.trim()).ok())),
            (None, Some(email)) => Ok(Self::Email(email.trim().to_lowercase())),
            _ => Err(Error::unprocessable(
                "invalid_body",
                "Send exactly one of `user_id` and `email`.",
            )),
        }
    }

    fn describe(&self) -> serde_json::Value {
        match self {
            Self::Id(id) => json!({ "user_id": id }),
            Self::Email(email) => json!({ "email": email }),
        }
    }
}

/// The one answer for every credential failure, byte for byte.
fn invalid_credentials() -> Error {
    Error::unauthorized(
        "invalid_credentials",
        "The device, user or PIN is not correct.",
    )
}

fn account_locked(retry_after: i64) -> Error {
    too_many(
        "account_locked",
        "Too many wrong PINs: PIN sign-in of this user is locked for a while.",
        retry_after,
    )
}

/// Why a PIN sign-in failed: only for the audit log, never shown to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FailureReason {
    UnknownDevice,
    UnknownUser,
    NotActive,
    WrongPin,
    NotGrantedHere,
    AccountLocked,
    TooManyAttempts,
}

impl FailureReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::UnknownDevice => "unknown_device",
            Self::UnknownUser => "unknown_user",
            Self::NotActive => "user_not_active",
            Self::WrongPin => "wrong_pin",
            Self::NotGrantedHere => "not_granted_at_location",
            Self::AccountLocked => "account_locked",
            Self::TooManyAttempts => "too_many_attempts",
        }
    }
}

/// The device as PIN login sees it.
struct Device {
    id: Uuid,
    location: Uuid,
    name: String,
}

/// The user as PIN login sees it.
struct Account {
    id: Uuid,
    pin_hash: Option<String>,
    status: String,
    /// Seconds left of a current PIN lockout.
    locked_for: Option<i64>,
}

/// The roles and permissions of a user's grants that cover one location.
#[derive(Debug, Default)]
struct LocalGrants {
    roles: Vec<String>,
    permissions: Vec<String>,
}

async fn pin_login(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(request): Json<PinRequest>,
) -> Result<Json<PinTokens>, Error> {
    let who = Who::of(&request)?;
    let signer = state.signer()?;
    let device_id = Uuid::try_parse(request.device_id.trim()).ok();

    let mut conn = state.db()?.get().await?;
    // The directory is deliberately outside RLS: the device id is all a till knows.
    let tenant: Option<Uuid> = match device_id {
        Some(id) => conn
            .query_opt(
                "SELECT tenant_id FROM auth.device_directory WHERE device_id = $1",
                &[&id],
            )
            .await?
            .map(|row| row.get(0)),
        None => None,
    };
    let (Some(tenant), Some(device_id)) = (tenant, device_id) else {
        drop(conn);
        password::verify(request.pin, None).await?;
        tracing::info!(reason = "unknown_device", "pin login failed");
        return Err(invalid_credentials());
    };

    let tx = db::tenant_tx(&mut conn, tenant).await?;
    let failure = Failure {
        tx: &tx,
        tenant,
        client: &client,
        device: device_id,
        who: &who,
    };

    if let Some(ip) = client.ip
        && let Some(retry_after) = ip_throttled(&tx, tenant, ip).await?
    {
        failure
            .record(None, None, FailureReason::TooManyAttempts)
            .await?;
        tx.commit().await?;
        return Err(too_many_attempts(retry_after));
    }

    let Some(device) = find_device(&tx, device_id).await? else {
        password::verify(request.pin, None).await?;
        failure
            .fail(None, None, FailureReason::UnknownDevice)
            .await?;
        tx.commit().await?;
        return Err(invalid_credentials());
    };
    let location = Some(device.location);

    let account = find_account(&tx, &who).await?;
    if let Some(account) = &account
        && let Some(locked_for) = account.locked_for
    {
        failure
            .record(Some(account.id), location, FailureReason::AccountLocked)
            .await?;
        tx.commit().await?;
        return Err(account_locked(locked_for));
    }

    let stored = account.as_ref().and_then(|a| a.pin_hash.clone());
    let matches = password::verify(request.pin, stored).await?;
    let grants = match &account {
        Some(a) => local_grants(&tx, a.id, device.location).await?,
        None => None,
    };

    let (user, grants) = match (&account, grants) {
        (None, _) => (None, Err(FailureReason::UnknownUser)),
        (Some(a), _) if a.status != "active" => (Some(a.id), Err(FailureReason::NotActive)),
        (Some(a), _) if !matches => (Some(a.id), Err(FailureReason::WrongPin)),
        (Some(a), None) => (Some(a.id), Err(FailureReason::NotGrantedHere)),
        (Some(a), Some(grants)) => (Some(a.id), Ok(grants)),
    };
    let (user, grants) = match (user, grants) {
        (Some(user), Ok(grants)) => (user, grants),
        (user, outcome) => {
            let reason = outcome.err().unwrap_or(FailureReason::UnknownUser);
            failure.fail(user, location, reason).await?;
            tx.commit().await?;
            return Err(invalid_credentials());
        }
    };

    // Reset the counter; a lockout set by a concurrent failure since the lookup still wins.
    let reset = tx
        .execute(
            "UPDATE auth.users SET pin_failed = 0, pin_locked_until = NULL
             WHERE id = $1 AND (pin_locked_until IS NULL OR pin_locked_until <= now())",
            &[&user],
        )
        .await?;
    if reset == 0 {
        let locked_for = find_account(&tx, &Who::Id(Some(user)))
            .await?
            .and_then(|a| a.locked_for)
            .unwrap_or(1);
        tx.commit().await?;
        return Err(account_locked(locked_for));
    }

    let session = Uuid::now_v7();
    let session_expires_at: DateTime<Utc> = tx
        .query_one(
            "INSERT INTO auth.sessions (id, tenant_id, user_id, method, device, ip, user_agent,
                                        expires_at)
             VALUES ($1, $2, $3, 'pin', $4, $5, $6, now() + make_interval(hours => $7))
             RETURNING expires_at",
            &[
                &session,
                &tenant,
                &user,
                &device.name,
                &client.ip,
                &client.user_agent,
                &SESSION_HOURS,
            ],
        )
        .await?
        .get(0);
    let claims = signer.claims(
        tenant,
        user,
        Some(session),
        grants.roles,
        grants.permissions,
        Some(vec![device.location]),
    );
    let access_token = signer.sign(&claims)?;
    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new(Actor::User(user), "auth.pin_login.succeeded")
            .target("session", session)
            .details(json!({
                "method": "pin",
                "device_id": device.id,
                "device": device.name,
                "location_id": device.location,
            })),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(PinTokens {
        access_token,
        token_type: "Bearer",
        expires_in: ACCESS_TOKEN_SECONDS,
        session_id: session,
        session_expires_at,
        user_id: user,
        location_id: device.location,
    }))
}

/// A registered, unrevoked device at an active location.
async fn find_device(tx: &Transaction<'_>, id: Uuid) -> Result<Option<Device>, Error> {
    let row = tx
        .query_opt(
            "SELECT d.id, d.location_id, d.name
             FROM auth.devices d JOIN platform.locations l ON l.id = d.location_id
             WHERE d.id = $1 AND d.revoked_at IS NULL AND l.active",
            &[&id],
        )
        .await?;
    Ok(row.map(|r| Device {
        id: r.get(0),
        location: r.get(1),
        name: r.get(2),
    }))
}

async fn find_account(tx: &Transaction<'_>, who: &Who) -> Result<Option<Account>, Error> {
    const COLUMNS: &str = "SELECT id, pin_hash, status,
                                  CASE WHEN pin_locked_until > now()
                                       THEN ceil(extract(epoch FROM pin_locked_until - now()))::bigint
                                  END
                           FROM auth.users";
    let row = match who {
        Who::Id(None) => None,
        Who::Id(Some(id)) => {
            tx.query_opt(&format!("{COLUMNS} WHERE id = $1"), &[id])
                .await?
        }
        Who::Email(email) => {
            tx.query_opt(&format!("{COLUMNS} WHERE email = $1"), &[email])
                .await?
        }
    };
    Ok(row.map(|r| Account {
        id: r.get(0),
        pin_hash: r.get(1),
        status: r.get(2),
        locked_for: r.get(3),
    }))
}

/// The grants of `user` that cover `location` (everywhere, or listing it); `None` when none do.
async fn local_grants(
    tx: &Transaction<'_>,
    user: Uuid,
    location: Uuid,
) -> Result<Option<LocalGrants>, Error> {
    let rows = tx
        .query(
            "SELECT r.name, r.permissions
             FROM auth.role_grants g JOIN auth.roles r ON r.id = g.role_id
             WHERE g.user_id = $1 AND (g.location_ids IS NULL OR $2 = ANY(g.location_ids))
             ORDER BY r.name",
            &[&user, &location],
        )
        .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut grants = LocalGrants::default();
    for row in rows {
        grants.roles.push(row.get(0));
        grants.permissions.extend(row.get::<_, Vec<String>>(1));
    }
    grants.permissions.sort();
    grants.permissions.dedup();
    Ok(Some(grants))
}

/// The context of recording a failed attempt.
struct Failure<'a> {
    tx: &'a Transaction<'a>,
    tenant: Uuid,
    client: &'a ClientInfo,
    device: Uuid,
    who: &'a Who,
}

impl Failure<'_> {
    /// A credential failure: counts it against the IP and (for a wrong PIN) the user, locks PIN
    /// sign-in at the threshold, and audits it.
    async fn fail(
        &self,
        user: Option<Uuid>,
        location: Option<Uuid>,
        reason: FailureReason,
    ) -> Result<(), Error> {
        if let Some(ip) = self.client.ip {
            lockout::record_ip_failure(self.tx, self.tenant, ip).await?;
        }
        let mut locked = None;
        if reason == FailureReason::WrongPin
            && let Some(user) = user
        {
            // A lockout that has run out starts a fresh count.
            locked = lockout::record_failure(self.tx, user, Counter::Pin)
                .await?
                .just_locked();
        }
        self.audit(user, location, reason, locked).await
    }

    /// Audits a refused attempt that counts against nothing (lockout, throttle).
    async fn record(
        &self,
        user: Option<Uuid>,
        location: Option<Uuid>,
        reason: FailureReason,
    ) -> Result<(), Error> {
        self.audit(user, location, reason, None).await
    }

    async fn audit(
        &self,
        user: Option<Uuid>,
        location: Option<Uuid>,
        reason: FailureReason,
        locked_until: Option<DateTime<Utc>>,
    ) -> Result<(), Error> {
        let mut details = json!({
            "reason": reason.as_str(),
            "device_id": self.device,
            "location_id": location,
            "who": self.who.describe(),
        });
        if let Some(until) = locked_until {
            details["locked_until"] = json!(until);
            details["minutes"] = json!(LOCKOUT_MINUTES);
        }
        let mut event = AuditEvent::new(
            user.map_or(Actor::Anonymous, Actor::User),
            "auth.pin_login.failed",
        )
        .details(details);
        if let Some(user) = user {
            event = event.target("user", user);
        }
        audit::record(self.tx, self.tenant, self.client, event).await
    }
}
