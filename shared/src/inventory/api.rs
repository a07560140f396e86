//! What the inventory endpoints share beyond the engine: the checks of their bodies
//! (`occurred_at`, `reason`, the number of lines), the ledger row as the API shows it
//! ([`MovementView`]) and the levels a write answers with. One copy, so the adjustment, count
//! and transfer endpoints cannot drift apart in what they accept or answer.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use tokio_postgres::Row;
use uuid::Uuid;

use super::{LEVEL_COLUMNS, LEVEL_JOIN, LevelView, Recorded};
use crate::auth::Principal;
use crate::auth::api_keys::is_api_key;
use crate::db::Transaction;
use crate::error::Error;
use crate::events::catalog::StockLine;

/// Most lines of one adjustment, count, transfer or reservation.
pub const MAX_LINES: usize = 500;
/// Longest `reason` (characters), as the ledger stores it.
pub const MAX_REASON: usize = 500;
/// How far in the future a client clock may date a movement (clock skew of a till).
pub const MAX_FUTURE_SECONDS: i64 = 300;

fn invalid(code: &'static str, field: &str, detail: impl Into<String>) -> Error {
    Error::unprocessable(code, detail).with_extension("field", field)
}

/// When the movements happened: `value` (the client's time) or `now`; more than
/// [`MAX_FUTURE_SECONDS`] ahead of `now` is 422 `invalid_occurred_at`.
pub fn occurred_at(
    value: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, Error> {
    let at = value.unwrap_or(now);
    if at > now + Duration::seconds(MAX_FUTURE_SECONDS) {
        return Err(invalid(
            "invalid_occurred_at",
            "occurred_at",
            format!("occurred_at is more than {MAX_FUTURE_SECONDS} seconds in the future."),
        ));
    }
    Ok(at)
}

/// A free-text reason: trimmed, blank is none, at most [`MAX_REASON`] characters (422
/// `invalid_reason` naming `field`).
pub fn reason(field: &str, value: Option<&str>) -> Result<Option<String>, Error> {
    let Some(text) = value.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > MAX_REASON {
        return Err(invalid(
            "invalid_reason",
            field,
            format!("A reason is at most {MAX_REASON} characters."),
        ));
    }
    Ok(Some(text.to_owned()))
}

/// 1 to [`MAX_LINES`] lines, else 422 `invalid_lines`.
pub fn line_count(count: usize) -> Result<(), Error> {
    if (1..=MAX_LINES).contains(&count) {
        Ok(())
    } else {
        Err(invalid(
            "invalid_lines",
            "lines",
            format!("Send 1 to {MAX_LINES} lines."),
        ))
    }
}

/// A per-line field error: 422 `code` with `field` (`lines[3].kind`) and `line` (3).
pub fn invalid_line(code: &'static str, index: usize, field: &str, detail: String) -> Error {
    invalid(code, &format!("lines[{index}].{field}"), detail).with_extension("line", index)
}

/// The user a ledger row names as its actor: the signed-in user; none for an API key (whose id
/// is not a user's).
pub fn actor(principal: &Principal) -> Option<Uuid> {
    (!is_api_key(principal)).then_some(principal.user_id)
}

/// The columns [`MovementView::from_row`] reads, for `FROM inventory.movements`.
pub const MOVEMENT_COLUMNS: &str = "id, variant_id, location_id, kind, quantity, delta, \
     on_hand_after, reason, actor_user_id, occurred_at, recorded_at, reference_type, reference_id";

/// A ledger row as `GET /v1/inventory/movements` (and every stock write) shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MovementView {
    pub id: Uuid,
    pub variant_id: Uuid,
    pub location_id: Uuid,
    pub kind: String,
    /// Signed as it moved stock; for a count, the counted level.
    pub quantity: i64,
    /// The effect on `on_hand` (0 for a movement an earlier-recorded, later-dated count saw).
    pub delta: i64,
    pub on_hand_after: i64,
    pub reason: Option<String>,
    pub actor_user_id: Option<Uuid>,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub reference_type: Option<String>,
    pub reference_id: Option<String>,
}

impl MovementView {
    pub fn from_row(row: &Row) -> Result<Self, Error> {
        Ok(Self {
            id: row.try_get("id")?,
            variant_id: row.try_get("variant_id")?,
            location_id: row.try_get("location_id")?,
            kind: row.try_get("kind")?,
            quantity: row.try_get("quantity")?,
            delta: row.try_get("delta")?,
            on_hand_after: row.try_get("on_hand_after")?,
            reason: row.try_get("reason")?,
            actor_user_id: row.try_get("actor_user_id")?,
            occurred_at: row.try_get("occurred_at")?,
            recorded_at: row.try_get("recorded_at")?,
            reference_type: row.try_get("reference_type")?,
            reference_id: row.try_get("reference_id")?,
        })
    }
}

/// The ledger rows just recorded, in the order they were recorded.
pub async fn movements(
    tx: &Transaction<'_>,
    recorded: &[Recorded],
) -> Result<Vec<MovementView>, Error> {
    let ids: Vec<Uuid> = recorded.iter().map(|r| r.id).collect();
    let rows = tx
        .query(
            &format!("SELECT {MOVEMENT_COLUMNS} FROM inventory.movements WHERE id = ANY($1)"),
            &[&ids],
        )
        .await?;
    let order: HashMap<Uuid, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let mut views = rows
        .iter()
        .map(MovementView::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    views.sort_by_key(|v| order.get(&v.id).copied());
    Ok(views)
}

/// The levels of the pairs `recorded` touched, by (variant, location).
pub async fn levels(tx: &Transaction<'_>, recorded: &[Recorded]) -> Result<Vec<LevelView>, Error> {
    let variants: Vec<Uuid> = recorded.iter().map(|r| r.variant_id).collect();
    let locations: Vec<Uuid> = recorded.iter().map(|r| r.location_id).collect();
    let rows = tx
        .query(
            &format!(
                "SELECT {LEVEL_COLUMNS}
                 FROM inventory.stock s
                 {LEVEL_JOIN}
                 WHERE (s.variant_id, s.location_id) IN (
                     SELECT v, l FROM unnest($1::uuid[], $2::uuid[]) AS p(v, l))
                 ORDER BY s.variant_id, s.location_id"
            ),
            &[&variants, &locations],
        )
        .await?;
    rows.iter().map(LevelView::from_row).collect()
}

/// The lines of a stock event, one per recorded movement.
pub fn stock_lines(recorded: &[Recorded]) -> Vec<StockLine> {
    recorded
        .iter()
        .map(|r| StockLine {
            variant_id: r.variant_id,
            location_id: r.location_id,
            kind: r.kind.as_str().to_owned(),
            quantity: r.quantity,
            delta: r.delta,
            on_hand: r.on_hand_after,
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn occurred_at_defaults_to_now_and_refuses_the_far_future() {
        let now = Utc::now();
        assert_eq!(occurred_at(None, now).unwrap(), now);
        let past = now - Duration::days(3);
        assert_eq!(occurred_at(Some(past), now).unwrap(), past);
        let skewed = now + Duration::seconds(MAX_FUTURE_SECONDS);
        assert_eq!(occurred_at(Some(skewed), now).unwrap(), skewed);
        let err = occurred_at(Some(skewed + Duration::seconds(1)), now).unwrap_err();
        assert_eq!(err.code(), "invalid_occurred_at");
        assert_eq!(err.problem().extensions["field"], "occurred_at");
    }

    #[test]
    fn reasons_are_trimmed_and_bounded() {
        assert_eq!(reason("reason", None).unwrap(), None);
        assert_eq!(reason("reason", Some("  ")).unwrap(), None);
        assert_eq!(
            reason("reason", Some(" broken ")).unwrap().as_deref(),
            Some("broken")
        );
        let long = "é".repeat(MAX_REASON);
        assert!(reason("reason", Some(&long)).is_ok());
        let err = reason("lines[2].reason", Some(&format!("{long}x"))).unwrap_err();
        assert_eq!(err.code(), "invalid_reason");
        assert_eq!(err.problem().extensions["field"], "lines[2].reason");
    }

    #[test]
    fn line_counts_are_bounded() {
        assert!(line_count(1).is_ok());
        assert!(line_count(MAX_LINES).is_ok());
        assert_eq!(line_count(0).unwrap_err().code(), "invalid_lines");
        assert_eq!(
            line_count(MAX_LINES + 1).unwrap_err().code(),
            "invalid_lines"
        );
        let err = invalid_line("invalid_kind", 3, "kind", "no".to_owned());
        assert_eq!(err.problem().extensions["field"], "lines[3].kind");
        assert_eq!(err.problem().extensions["line"], 3);
    }
}

/// What an adjustment or a count sheet answers: the sheet, its ledger rows and the levels after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StockSheet {
    pub id: Uuid,
    pub location_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub reason: Option<String>,
    pub movements: Vec<MovementView>,
    pub levels: Vec<LevelView>,
}

/// Who recorded a sheet and what it is called in the audit log (`inventory.adjustment.created`
/// on target `adjustment`, ...).
pub struct SheetAudit<'a> {
    pub principal: &'a Principal,
    pub client: &'a crate::http::ClientInfo,
    pub action: &'static str,
    pub target: &'static str,
}

/// The common end of a stock sheet once the engine has recorded it: `inventory.stock.adjusted`
/// into the outbox, the answer read back, the audit record, commit, publish; answers 201.
#[allow(clippy::too_many_arguments)]
pub async fn finish_sheet(
    state: &crate::AppState,
    tx: Transaction<'_>,
    mut outbox: crate::events::Outbox,
    audit: SheetAudit<'_>,
    id: Uuid,
    location_id: Uuid,
    occurred_at: DateTime<Utc>,
    reason: Option<String>,
    recorded: &[Recorded],
) -> Result<axum::response::Response, Error> {
    use axum::response::IntoResponse as _;

    let tenant = audit.principal.tenant_id;
    outbox
        .record(
            &tx,
            Some(tenant),
            &crate::events::catalog::StockAdjusted {
                location_id,
                occurred_at,
                lines: stock_lines(recorded),
            },
        )
        .await?;
    let sheet = StockSheet {
        id,
        location_id,
        occurred_at,
        reason,
        movements: movements(&tx, recorded).await?,
        levels: levels(&tx, recorded).await?,
    };
    crate::audit::record(
        &tx,
        tenant,
        audit.client,
        crate::audit::AuditEvent::new(audit.principal.into(), audit.action)
            .target(audit.target, id)
            .details(serde_json::json!({
                "location_id": location_id,
                "occurred_at": occurred_at,
                "lines": recorded.len(),
            })),
    )
    .await?;
    tx.commit().await?;
    outbox.publish(state).await;
    Ok((axum::http::StatusCode::CREATED, crate::http::Json(sheet)).into_response())
}
