//! Brute-force protection of the sign-in endpoints (`login`, `verify-mfa`, `pin-login`).
//!
//! - Account lockout: [`LOCKOUT_THRESHOLD`] consecutive failures lock a user's counter for
//!   [`LOCKOUT_MINUTES`] minutes ([`record_failure`]); a locked sign-in answers 429
//!   `account_locked` with `Retry-After` ([`account_locked`]). Passwords and second factors
//!   share one counter ([`Counter::Password`]); PINs have their own ([`Counter::Pin`]).
//! - Per-IP throttle: [`IP_FAILURE_LIMIT`] failures from one IP against one tenant within
//!   [`IP_WINDOW_MINUTES`] minutes ([`record_ip_failure`], [`ip_throttled`]) answer 429
//!   `too_many_attempts` ([`too_many_attempts`]).

use std::net::IpAddr;

use axum::http::{HeaderValue, StatusCode, header};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::audit::{self, Actor, AuditEvent};
use crate::db::Transaction;
use crate::error::Error;
use crate::http::ClientInfo;

/// Consecutive failures that lock a counter.
pub const LOCKOUT_THRESHOLD: i32 = 5;
/// How long a lockout lasts.
pub const LOCKOUT_MINUTES: i32 = 15;
/// Failures from one IP against one tenant that trigger the per-IP throttle...
pub const IP_FAILURE_LIMIT: i64 = 20;
/// ...within this window.
pub const IP_WINDOW_MINUTES: i32 = 15;

/// Which failure counter of `auth.users` a failure counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// `failed_logins` / `locked_until`: passwords (`login`) and second factors (`verify-mfa`).
    Password,
    /// `pin_failed` / `pin_locked_until`: PINs at a POS device (`pin-login`).
    Pin,
}

impl Counter {
    /// The (failure count, locked until) columns.
    fn columns(self) -> (&'static str, &'static str) {
        match self {
            Self::Password => ("failed_logins", "locked_until"),
            Self::Pin => ("pin_failed", "pin_locked_until"),
        }
    }
}

/// The counter after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failures {
    /// Consecutive failures, this one included.
    pub count: i32,
    /// The end of the lockout, when the counter is locked.
    pub locked_until: Option<DateTime<Utc>>,
}

impl Failures {
    /// The end of the lockout when this very failure locked the counter (the one to audit as
    /// `auth.account.locked`).
    pub fn just_locked(&self) -> Option<DateTime<Utc>> {
        self.locked_until
            .filter(|_| self.count == LOCKOUT_THRESHOLD)
    }
}

/// Counts a failure against `user`'s `counter`, locking it for [`LOCKOUT_MINUTES`] at
/// [`LOCKOUT_THRESHOLD`]. A lockout that has run out starts a fresh count.
pub async fn record_failure(
    tx: &Transaction<'_>,
    user: Uuid,
    counter: Counter,
) -> Result<Failures, Error> {
    let (failed, locked) = counter.columns();
    let row = tx
        .query_one(
            &format!(
                "UPDATE auth.users u SET
                        {failed} = c.n,
                        {locked} = CASE WHEN c.n >= $2 THEN now() + make_interval(mins => $3)
                                        ELSE NULL END
                 FROM (SELECT id, CASE WHEN {locked} IS NOT NULL AND {locked} <= now()
                                       THEN 1 ELSE {failed} + 1 END AS n
                       FROM auth.users WHERE id = $1 FOR UPDATE) c
                 WHERE u.id = c.id
                 RETURNING u.{failed}, u.{locked}"
            ),
            &[&user, &LOCKOUT_THRESHOLD, &LOCKOUT_MINUTES],
        )
        .await?;
    Ok(Failures {
        count: row.try_get(0)?,
        locked_until: row.try_get(1)?,
    })
}

/// Audits `auth.account.locked` (actor `system`) when this very failure locked `user`'s
/// counter; nothing otherwise.
///
/// `login` and `verify-mfa` share the password counter and wrote this record identically; it
/// lives here so the lock event keeps one shape (`failed_logins`, `locked_until`, `minutes`).
pub async fn audit_if_locked(
    tx: &Transaction<'_>,
    tenant: Uuid,
    client: &ClientInfo,
    user: Uuid,
    failures: &Failures,
) -> Result<(), Error> {
    if let Some(event) = locked_event(user, failures) {
        audit::record(tx, tenant, client, event).await?;
    }
    Ok(())
}

/// The `auth.account.locked` record of [`audit_if_locked`] (pure).
fn locked_event(user: Uuid, failures: &Failures) -> Option<AuditEvent> {
    failures.just_locked().map(|locked_until| {
        AuditEvent::new(Actor::System, "auth.account.locked")
            .target("user", user)
            .details(serde_json::json!({
                "failed_logins": failures.count,
                "locked_until": locked_until,
                "minutes": LOCKOUT_MINUTES,
            }))
    })
}

/// Counts a failed attempt from `ip` against `tenant` for the per-IP throttle.
pub async fn record_ip_failure(
    tx: &Transaction<'_>,
    tenant: Uuid,
    ip: IpAddr,
) -> Result<(), Error> {
    tx.execute(
        "INSERT INTO auth.login_failures (tenant_id, ip) VALUES ($1, $2)",
        &[&tenant, &ip],
    )
    .await?;
    Ok(())
}

/// Seconds until the per-IP throttle lifts, when `ip` is throttled for `tenant`.
pub async fn ip_throttled(
    tx: &Transaction<'_>,
    tenant: Uuid,
    ip: IpAddr,
) -> Result<Option<i64>, Error> {
    // The LIMIT-th newest failure in the window: once it ages out, the IP is below the limit.
    let row = tx
        .query_opt(
            "SELECT ceil(extract(epoch FROM
                        failed_at + make_interval(mins => $3) - now()))::bigint
             FROM auth.login_failures
             WHERE tenant_id = $1 AND ip = $2
               AND failed_at > now() - make_interval(mins => $3)
             ORDER BY failed_at DESC
             OFFSET $4 LIMIT 1",
            &[&tenant, &ip, &IP_WINDOW_MINUTES, &(IP_FAILURE_LIMIT - 1)],
        )
        .await?;
    row.map(|r| r.try_get::<_, i64>(0))
        .transpose()
        .map_err(Error::from)
}

/// A 429 `code` with `detail`, `retry_after` (at least 1 second) as extension member and
/// `Retry-After` header.
pub fn too_many(code: &'static str, detail: &str, retry_after: i64) -> Error {
    let seconds = retry_after.max(1);
    let mut err = Error::new(StatusCode::TOO_MANY_REQUESTS, code)
        .with_detail(detail)
        .with_extension("retry_after", seconds);
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        err = err.with_header(header::RETRY_AFTER, value);
    }
    err
}

/// 429 `account_locked` of the password counter, `retry_after` seconds left.
pub fn account_locked(retry_after: i64) -> Error {
    too_many(
        "account_locked",
        "Too many failed sign-ins: this account is locked for a while.",
        retry_after,
    )
}

/// 429 `too_many_attempts` of the per-IP throttle, `retry_after` seconds left.
pub fn too_many_attempts(retry_after: i64) -> Error {
    too_many(
        "too_many_attempts",
        "Too many failed sign-ins from this address; try again later.",
        retry_after,
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn too_many_answers_carry_retry_after() {
        let err = account_locked(90);
        assert_eq!(err.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(err.code(), "account_locked");
        assert_eq!(err.problem().extensions["retry_after"], 90);
        let err = too_many_attempts(0);
        assert_eq!(err.code(), "too_many_attempts");
        assert_eq!(err.problem().extensions["retry_after"], 1);
    }

    #[test]
    fn only_the_locking_failure_is_audited_as_a_lock() {
        let user = Uuid::now_v7();
        let until = Utc::now();
        let below = Failures {
            count: LOCKOUT_THRESHOLD - 1,
            locked_until: None,
        };
        assert!(locked_event(user, &below).is_none());
        let locking = Failures {
            count: LOCKOUT_THRESHOLD,
            locked_until: Some(until),
        };
        let event = locked_event(user, &locking).unwrap();
        assert_eq!(event.actor, Actor::System);
        assert_eq!(event.action, "auth.account.locked");
        assert_eq!(event.target_id, Some(user.to_string()));
        assert_eq!(event.details["failed_logins"], LOCKOUT_THRESHOLD);
        assert_eq!(event.details["minutes"], LOCKOUT_MINUTES);
        assert_eq!(event.details["locked_until"], serde_json::json!(until));
    }

    #[test]
    fn only_the_locking_failure_is_just_locked() {
        let until = Some(Utc::now());
        let at = |count, locked_until| {
            Failures {
                count,
                locked_until,
            }
            .just_locked()
        };
        assert_eq!(at(LOCKOUT_THRESHOLD, until), until);
        assert_eq!(at(LOCKOUT_THRESHOLD - 1, None), None);
        assert_eq!(at(LOCKOUT_THRESHOLD + 1, until), None);
        assert_eq!(at(LOCKOUT_THRESHOLD, None), None);
    }

    #[test]
    fn counters_name_their_columns() {
        assert_eq!(
            Counter::Password.columns(),
            ("failed_logins", "locked_until")
        );
        assert_eq!(Counter::Pin.columns(), ("pin_failed", "pin_locked_until"));
    }
}
