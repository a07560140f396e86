//! `update-inventory-level` — `PATCH /v1/inventory/levels/{variant_id}/{location_id}`: sets a
//! stock pair's policy (needs `inventory:write` and access to the location).
//!
//! Body: any of `oversell` (`block`: a sale or transfer may not take the level below the live
//! holds; `allow_negative`: it may, e.g. a till that must never refuse a sale), `reorder_point`
//! (integer 0..=1e9, or `null` for none), `reorder_quantity` (integer 1..=1e9, or `null`); an
//! absent field is unchanged (and `oversell: null` too). Levels themselves change only through
//! movements and counts. The pair's stock row is created (level 0, `block`) if it has none.
//! `If-Match` is optional: when sent it must name the row's current `version` (every movement
//! bumps it), else 412 `version_mismatch`. A new reorder point at or above the level flags the
//! pair `below_reorder` and, if it was not flagged, emits `inventory.stock.low` (a crossing);
//! a point below the level (or none) clears the flag. A change bumps `version`, is audited
//! (`inventory.level.updated`) and answers the level (as `GET /v1/inventory` lists it) with
//! its `ETag`; a request that changes nothing answers the level unchanged.
//!
//! Errors: 403 `permission_denied`, `location_denied`; 404 `not_found` (an unknown, malformed
//! or other tenant's variant or location); 400 `invalid_if_match`; 412 `version_mismatch`;
//! 422 `invalid_oversell`, `invalid_reorder_point`, `invalid_reorder_quantity`,
//! `invalid_body`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`. Emits:
//! `inventory.stock.low`.

use axum::extract::State;
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use olympus::audit::{self, AuditEvent, Changes};
use olympus::auth::Principal;
use olympus::db;
use olympus::events::catalog::StockLow;
use olympus::events::{Event, Outbox};
use olympus::http::versioning::{etag, expected_version, version_mismatch};
use olympus::http::{ClientInfo, Json, Path};
use olympus::inventory::{self, LEVEL_COLUMNS, LEVEL_JOIN, LevelView, MAX_QUANTITY};
use olympus::{AppState, Error, Function};
use serde::{Deserialize, Deserializer};
use serde_json::json;
use uuid::Uuid;

pub fn function() -> Function {
    Function::http("update-inventory-level")
        .route(
            &Method::PATCH,
            "/v1/inventory/levels/{variant_id}/{location_id}",
            update_level,
        )
        .publishes(&[StockLow::TYPE])
        .build()
}

/// `Some(None)` for an explicit `null`, `None` (by `default`) for an absent field.
fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LevelPatch {
    #[serde(default)]
    oversell: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    reorder_point: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    reorder_quantity: Option<Option<i64>>,
}

/// The settable part of a stock pair.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Settings {
    oversell: String,
    reorder_point: Option<i64>,
    reorder_quantity: Option<i64>,
}

impl Settings {
    fn of(view: &LevelView) -> Self {
        Self {
            oversell: view.oversell.clone(),
            reorder_point: view.reorder_point,
            reorder_quantity: view.reorder_quantity,
        }
    }

    fn diff(&self, next: &Self) -> Changes {
        let mut changes = Changes::new();
        changes.diff("oversell", json!(self.oversell), json!(next.oversell));
        changes.diff(
            "reorder_point",
            json!(self.reorder_point),
            json!(next.reorder_point),
        );
        changes.diff(
            "reorder_quantity",
            json!(self.reorder_quantity),
            json!(next.reorder_quantity),
        );
        changes
    }
}

fn invalid(code: &'static str, field: &str, detail: &str) -> Error {
    Error::unprocessable(code, detail).with_extension("field", field)
}

impl LevelPatch {
    /// Validates the given fields (pure) and applies them to `current`.
    fn apply(self, current: &Settings) -> Result<Settings, Error> {
        let mut next = current.clone();
        if let Some(oversell) = self.oversell {
            if !matches!(oversell.as_str(), "block" | "allow_negative") {
                return Err(invalid(
                    "invalid_oversell",
                    "oversell",
                    "oversell is block or allow_negative.",
                ));
            }
            next.oversell = oversell;
        }
        if let Some(point) = self.reorder_point {
            if point.is_some_and(|p| !(0..=MAX_QUANTITY).contains(&p)) {
                return Err(invalid(
                    "invalid_reorder_point",
                    "reorder_point",
                    "reorder_point is an integer from 0 to 1000000000, or null.",
                ));
            }
            next.reorder_point = point;
        }
        if let Some(quantity) = self.reorder_quantity {
            if quantity.is_some_and(|q| !(1..=MAX_QUANTITY).contains(&q)) {
                return Err(invalid(
                    "invalid_reorder_quantity",
                    "reorder_quantity",
                    "reorder_quantity is an integer from 1 to 1000000000, or null.",
                ));
            }
            next.reorder_quantity = quantity;
        }
        Ok(next)
    }
}

fn level_not_found() -> Error {
    Error::not_found("No such variant or location.")
}

async fn update_level(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    Path((variant_id, location_id)): Path<(String, String)>,
    headers: HeaderMap,
    Json(patch): Json<LevelPatch>,
) -> Result<Response, Error> {
    principal.require(inventory::WRITE)?;
    let variant_id = Uuid::try_parse(&variant_id).map_err(|_| level_not_found())?;
    let location_id = Uuid::try_parse(&location_id).map_err(|_| level_not_found())?;
    principal.require_location(location_id)?;
    let expected = if headers.contains_key(header::IF_MATCH) {
        Some(expected_version(&headers, "stock level")?)
    } else {
        None
    };
    let tenant = principal.tenant_id;

    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    // Creates the row if needed; ids of path segments that name nothing (RLS hides other
    // tenants' too) are 404 here, not the engine's 422 for ids in bodies.
    inventory::level(&tx, tenant, variant_id, location_id)
        .await
        .map_err(|e| match e.code() {
            "unknown_variant" | "unknown_location" => level_not_found(),
            _ => e,
        })?;
    tx.execute(
        "SELECT 1 FROM inventory.stock WHERE variant_id = $1 AND location_id = $2 FOR UPDATE",
        &[&variant_id, &location_id],
    )
    .await?;
    let before = read(&tx, variant_id, location_id).await?;
    let current = Settings::of(&before);
    let next = patch.apply(&current)?;
    if let Some(expected) = expected
        && expected != before.version
    {
        return Err(version_mismatch("stock level", expected, before.version));
    }
    let changes = current.diff(&next);
    if changes.is_empty() {
        tx.commit().await?;
        return respond(before);
    }

    let below = next.reorder_point.is_some_and(|p| before.on_hand <= p);
    tx.execute(
        "UPDATE inventory.stock
         SET oversell = $3, reorder_point = $4, reorder_quantity = $5, below_reorder = $6,
             version = version + 1, updated_at = now()
         WHERE variant_id = $1 AND location_id = $2",
        &[
            &variant_id,
            &location_id,
            &next.oversell,
            &next.reorder_point,
            &next.reorder_quantity,
            &below,
        ],
    )
    .await?;
    let mut outbox = Outbox::default();
    if let Some(point) = next
        .reorder_point
        .filter(|_| below && !before.below_reorder)
    {
        outbox
            .record(
                &tx,
                Some(tenant),
                &StockLow {
                    variant_id,
                    location_id,
                    on_hand: before.on_hand,
                    reorder_point: point,
                    reorder_quantity: next.reorder_quantity,
                },
            )
            .await?;
    }
    let after = read(&tx, variant_id, location_id).await?;
    audit::record(
        &tx,
        tenant,
        &client,
        AuditEvent::new((&principal).into(), "inventory.level.updated")
            .target("stock_level", format!("{variant_id}/{location_id}"))
            .versioned_change(changes, before.version, after.version),
    )
    .await?;
    tx.commit().await?;
    outbox.publish(&state).await;
    respond(after)
}

async fn read(
    tx: &db::Transaction<'_>,
    variant_id: Uuid,
    location_id: Uuid,
) -> Result<LevelView, Error> {
    let row = tx
        .query_one(
            &format!(
                "SELECT {LEVEL_COLUMNS} FROM inventory.stock s {LEVEL_JOIN}
                 WHERE s.variant_id = $1 AND s.location_id = $2"
            ),
            &[&variant_id, &location_id],
        )
        .await?;
    LevelView::from_row(&row)
}

fn respond(view: LevelView) -> Result<Response, Error> {
    Ok(([(header::ETAG, etag(view.version))], Json(view)).into_response())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn current() -> Settings {
        Settings {
            oversell: "block".to_owned(),
            reorder_point: Some(5),
            reorder_quantity: Some(20),
        }
    }

    fn apply(body: Value) -> Result<Settings, Error> {
        serde_json::from_value::<LevelPatch>(body)
            .unwrap()
            .apply(&current())
    }

    #[test]
    fn absent_fields_are_unchanged_and_null_clears() {
        assert_eq!(apply(json!({})).unwrap(), current());
        assert_eq!(apply(json!({"oversell": null})).unwrap(), current());
        let cleared = apply(json!({"reorder_point": null})).unwrap();
        assert_eq!(cleared.reorder_point, None);
        assert_eq!(cleared.reorder_quantity, Some(20));
        let next = apply(json!({"oversell": "allow_negative", "reorder_quantity": 7})).unwrap();
        assert_eq!(next.oversell, "allow_negative");
        assert_eq!(next.reorder_quantity, Some(7));
        let names = current().diff(&next);
        assert_eq!(names.changed(), ["oversell", "reorder_quantity"]);
        assert!(current().diff(&current()).is_empty());
    }

    #[test]
    fn invalid_fields_are_refused_with_their_codes() {
        let code = |body: Value| apply(body).unwrap_err().code().to_owned();
        assert_eq!(code(json!({"oversell": "sometimes"})), "invalid_oversell");
        assert_eq!(code(json!({"reorder_point": -1})), "invalid_reorder_point");
        assert_eq!(
            code(json!({"reorder_quantity": 0})),
            "invalid_reorder_quantity"
        );
        assert_eq!(
            code(json!({"reorder_quantity": MAX_QUANTITY + 1})),
            "invalid_reorder_quantity"
        );
        assert!(serde_json::from_value::<LevelPatch>(json!({"on_hand": 3})).is_err());
        assert!(serde_json::from_value::<LevelPatch>(json!({"reorder_point": 1.5})).is_err());
    }
}
