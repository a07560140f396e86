//! `set-variant-location` — `PUT /v1/variants/{id}/locations/{location_id}`: sets a variant's
//! overrides at one location (needs `catalog:write` and access to the location).
//!
//! Body (every field optional; an absent one keeps its value, or its default when the
//! override is created): `price_minor` (integer ≥ 0, or `null`: sell at the variant's price;
//! default null), `sold_out_until` (RFC 3339 time, or `null`: not sold out; default null),
//! `sold_out_today` (`true` sets `sold_out_until` to the next midnight in the location's time
//! zone, `false` clears it; not together with `sold_out_until`), `hidden` (not sold at this
//! location; default false). Answers 201 with the override and its `ETag` when it is created,
//! else 200; a PUT that changes nothing answers the override as it is (no new version).
//! `If-Match` is optional: when sent it must name the override's version (412
//! `version_mismatch`); it is not checked when the override does not exist yet (there is no
//! version to name). A change bumps `version` and is audited
//! (`catalog.variant_location.created` / `catalog.variant_location.updated`). When the price
//! the location sells at (the override, else the variant's price) changes,
//! `catalog.price.changed` is emitted with `location_id` and the old and new effective prices.
//!
//! Errors: 404 (unknown, archived or another tenant's variant — or one whose product is
//! archived; unknown or another tenant's location); 403 `location_denied`,
//! `permission_denied`; 422 `invalid_price`, `invalid_sold_out_until`, `conflicting_fields`
//! (with `field`), `invalid_body`; 400 `invalid_if_match`; 412 `version_mismatch`.
//!
//! Env: `DATABASE_URL`, `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`, plus the Pub/Sub settings
//! of the publisher. Emits: `catalog.price.changed`.

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, SubsecRound, TimeZone, Utc};
use chrono_tz::Tz;
use olympus::audit::{self, AuditEvent, Changes};
use olympus::auth::Principal;
use olympus::catalog::patch::{nullable, optional_expected_version};
use olympus::catalog::{
    VARIANT_LOCATION_COLUMNS, VariantLocationView, WRITE, not_found, path_id, validate,
};
use olympus::db::{self, Transaction};
use olympus::events::Event as _;
use olympus::events::Outbox;
use olympus::events::catalog::PriceChanged;
use olympus::http::versioning::{etag, version_mismatch};
use olympus::http::{ClientInfo, Json, Path};
use olympus::{AppState, Error, Function};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

pub fn function() -> Function {
    Function::http("set-variant-location")
        .route(
            &Method::PUT,
            "/v1/variants/{id}/locations/{location_id}",
            put,
        )
        .publishes(&[PriceChanged::TYPE])
        .build()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PutOverride {
    #[serde(default, deserialize_with = "nullable")]
    price_minor: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    sold_out_until: Option<Option<String>>,
    #[serde(default)]
    sold_out_today: Option<bool>,
    #[serde(default)]
    hidden: Option<bool>,
}

/// How `sold_out_until` is to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SoldOut {
    Until(Option<DateTime<Utc>>),
    /// Until the next midnight at the location.
    Today,
}

/// A validated body: `None` keeps the field.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Change {
    price_minor: Option<Option<i64>>,
    sold_out: Option<SoldOut>,
    hidden: Option<bool>,
}

/// The overridable settings, as stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Settings {
    price_minor: Option<i64>,
    sold_out_until: Option<DateTime<Utc>>,
    hidden: bool,
}

impl Settings {
    fn of(view: &VariantLocationView) -> Self {
        Self {
            price_minor: view.price_minor,
            sold_out_until: view.sold_out_until,
            hidden: view.hidden,
        }
    }

    fn diff(&self, next: &Self) -> Changes {
        let mut changes = Changes::new();
        changes.diff(
            "price_minor",
            json!(self.price_minor),
            json!(next.price_minor),
        );
        changes.diff(
            "sold_out_until",
            json!(self.sold_out_until),
            json!(next.sold_out_until),
        );
        changes.diff("hidden", json!(self.hidden), json!(next.hidden));
        changes
    }
}

fn invalid(code: &'static str, field: &str, detail: &str) -> Error {
    Error::unprocessable(code, detail.to_owned()).with_extension("field", field)
}

impl PutOverride {
    fn validate(self) -> Result<Change, Error> {
        let price_minor = match self.price_minor {
            Some(Some(price)) => Some(Some(validate::money("price_minor", price)?)),
            other => other,
        };
        let sold_out = match (self.sold_out_until, self.sold_out_today) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "conflicting_fields",
                    "sold_out_today",
                    "Send either `sold_out_until` or `sold_out_today`, not both.",
                ));
            }
            // `sold_out_today: false` is the same as clearing the time.
            (Some(None), None) | (None, Some(false)) => Some(SoldOut::Until(None)),
            (Some(Some(text)), None) => {
                let until = DateTime::parse_from_rfc3339(text.trim()).map_err(|_| {
                    invalid(
                        "invalid_sold_out_until",
                        "sold_out_until",
                        "`sold_out_until` must be an RFC 3339 time, e.g. 2025-03-01T23:00:00Z.",
                    )
                })?;
                // Stored with microsecond precision: rounding here keeps a repeated PUT of the
                // same time a no-op.
                Some(SoldOut::Until(Some(
                    until.with_timezone(&Utc).trunc_subsecs(6),
                )))
            }
            (None, Some(true)) => Some(SoldOut::Today),
            (None, None) => None,
        };
        Ok(Change {
            price_minor,
            sold_out,
            hidden: self.hidden,
        })
    }
}

impl Change {
    fn apply(&self, current: Settings, time_zone: Tz, now: DateTime<Utc>) -> Settings {
        let mut next = current;
        if let Some(price) = self.price_minor {
            next.price_minor = price;
        }
        match self.sold_out {
            Some(SoldOut::Until(until)) => next.sold_out_until = until,
            Some(SoldOut::Today) => next.sold_out_until = Some(next_local_midnight(time_zone, now)),
            None => {}
        }
        if let Some(hidden) = self.hidden {
            next.hidden = hidden;
        }
        next
    }
}

/// The first instant of the next local day at `time_zone` after `now`. Where the clocks skip
/// midnight (a DST change at 00:00), the first local time that exists after it.
fn next_local_midnight(time_zone: Tz, now: DateTime<Utc>) -> DateTime<Utc> {
    let today = now.with_timezone(&time_zone).date_naive();
    let start = today.succ_opt().and_then(|day| day.and_hms_opt(0, 0, 0));
    if let Some(start) = start {
        for minutes in (0..=180).step_by(15) {
            let local = start + Duration::minutes(minutes);
            if let Some(instant) = time_zone.from_local_datetime(&local).earliest() {
                return instant.with_timezone(&Utc);
            }
        }
    }
    // Unreachable for real zones (no gap is hours long, no date is the last one).
    now + Duration::days(1)
}

/// The variant (live, of a live product): its product and price; locks its price until
/// commit so the event's old and new prices are those of one moment.
async fn load_variant(tx: &Transaction<'_>, id: Uuid) -> Result<(Uuid, i64), Error> {
    let row = tx
        .query_opt(
            "SELECT v.product_id, v.price_minor
             FROM catalog.variants v JOIN catalog.products p ON p.id = v.product_id
             WHERE v.id = $1 AND v.archived_at IS NULL AND p.archived_at IS NULL
             FOR SHARE OF v",
            &[&id],
        )
        .await?
        .ok_or_else(|| not_found("variant"))?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

async fn location_time_zone(tx: &Transaction<'_>, id: Uuid) -> Result<Tz, Error> {
    let row = tx
        .query_opt(
            "SELECT time_zone FROM platform.locations WHERE id = $1",
            &[&id],
        )
        .await?
        .ok_or_else(|| not_found("location"))?;
    let name: String = row.try_get(0)?;
    name.parse::<Tz>().map_err(|_| {
        Error::internal(std::io::Error::other(format!(
            "location {id} has an unknown time zone {name:?}"
        )))
    })
}

async fn lock_override(
    tx: &Transaction<'_>,
    variant: Uuid,
    location: Uuid,
) -> Result<Option<VariantLocationView>, Error> {
    tx.query_opt(
        &format!(
            "SELECT {VARIANT_LOCATION_COLUMNS} FROM catalog.variant_locations
             WHERE variant_id = $1 AND location_id = $2 FOR UPDATE"
        ),
        &[&variant, &location],
    )
    .await?
    .as_ref()
    .map(VariantLocationView::from_row)
    .transpose()
}

async fn put(
    State(state): State<AppState>,
    principal: Principal,
    client: ClientInfo,
    Path((variant, location)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<PutOverride>,
) -> Result<Response, Error> {
    principal.require(WRITE)?;
    let variant_id = path_id(&variant, "variant")?;
    let location_id = path_id(&location, "location")?;
    principal.require_location(location_id)?;
    let expected = optional_expected_version(&headers, "override")?;
    let change = body.validate()?;
    let tenant = principal.tenant_id;
    let now = Utc::now();

    let mut conn = state.db()?.get().await?;
    let tx = db::tenant_tx(&mut conn, tenant).await?;
    let (product_id, variant_price) = load_variant(&tx, variant_id).await?;
    let time_zone = location_time_zone(&tx, location_id).await?;

    let mut existing = lock_override(&tx, variant_id, location_id).await?;
    let mut created = None;
    if existing.is_none() {
        let next = change.apply(Settings::default(), time_zone, now);
        let row = tx
            .query_opt(
                &format!(
                    "INSERT INTO catalog.variant_locations
                            (id, tenant_id, variant_id, location_id, price_minor,
                             sold_out_until, hidden)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (tenant_id, variant_id, location_id) DO NOTHING
                     RETURNING {VARIANT_LOCATION_COLUMNS}"
                ),
                &[
                    &Uuid::now_v7(),
                    &tenant,
                    &variant_id,
                    &location_id,
                    &next.price_minor,
                    &next.sold_out_until,
                    &next.hidden,
                ],
            )
            .await?;
        match row {
            Some(row) => created = Some(VariantLocationView::from_row(&row)?),
            // A concurrent PUT created it first: this one updates it.
            None => existing = lock_override(&tx, variant_id, location_id).await?,
        }
    }

    let mut outbox = Outbox::default();
    let (view, status, old_price) = if let Some(view) = created {
        audit::record(
            &tx,
            tenant,
            &client,
            AuditEvent::new((&principal).into(), "catalog.variant_location.created")
                .target("variant_location", view.id)
                .change(
                    None,
                    Some(serde_json::to_value(&view).map_err(Error::internal)?),
                ),
        )
        .await?;
        (view, StatusCode::CREATED, variant_price)
    } else {
        let before = existing.ok_or_else(|| {
            Error::internal(std::io::Error::other(
                "variant override neither inserted nor found",
            ))
        })?;
        if let Some(expected) = expected.filter(|v| *v != before.version) {
            return Err(version_mismatch("override", expected, before.version));
        }
        let current = Settings::of(&before);
        let next = change.apply(current, time_zone, now);
        let changes = current.diff(&next);
        if changes.is_empty() {
            tx.commit().await?;
            return respond(before, StatusCode::OK);
        }
        let row = tx
            .query_one(
                &format!(
                    "UPDATE catalog.variant_locations
                     SET price_minor = $2, sold_out_until = $3, hidden = $4,
                         version = version + 1, updated_at = now()
                     WHERE id = $1
                     RETURNING {VARIANT_LOCATION_COLUMNS}"
                ),
                &[
                    &before.id,
                    &next.price_minor,
                    &next.sold_out_until,
                    &next.hidden,
                ],
            )
            .await?;
        let after = VariantLocationView::from_row(&row)?;
        audit::record(
            &tx,
            tenant,
            &client,
            AuditEvent::new((&principal).into(), "catalog.variant_location.updated")
                .target("variant_location", after.id)
                .versioned_change(changes, before.version, after.version),
        )
        .await?;
        let old_price = before.price_minor.unwrap_or(variant_price);
        (after, StatusCode::OK, old_price)
    };

    let new_price = view.price_minor.unwrap_or(variant_price);
    if new_price != old_price {
        outbox
            .record(
                &tx,
                Some(tenant),
                &PriceChanged {
                    product_id,
                    variant_id,
                    location_id: Some(location_id),
                    old_price_minor: Some(old_price),
                    new_price_minor: Some(new_price),
                },
            )
            .await?;
    }
    tx.commit().await?;
    outbox.publish(&state).await;
    respond(view, status)
}

fn respond(view: VariantLocationView, status: StatusCode) -> Result<Response, Error> {
    Ok((status, [(header::ETAG, etag(view.version))], Json(view)).into_response())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn change(body: Value) -> Result<Change, Error> {
        serde_json::from_value::<PutOverride>(body)
            .unwrap()
            .validate()
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn midnight_is_the_next_local_one() {
        let paris: Tz = "Europe/Paris".parse().unwrap();
        // 23:30 UTC is 00:30 on the 2nd in Paris (UTC+1 in winter).
        assert_eq!(
            next_local_midnight(paris, utc("2025-01-01T23:30:00Z")),
            utc("2025-01-02T23:00:00Z")
        );
        assert_eq!(
            next_local_midnight(paris, utc("2025-07-01T10:00:00Z")),
            utc("2025-07-01T22:00:00Z")
        );
        let new_york: Tz = "America/New_York".parse().unwrap();
        assert_eq!(
            next_local_midnight(new_york, utc("2025-03-09T12:00:00Z")),
            utc("2025-03-10T04:00:00Z")
        );
        // Santiago skipped 2022-09-11 00:00 (clocks went to 01:00).
        let santiago: Tz = "America/Santiago".parse().unwrap();
        assert_eq!(
            next_local_midnight(santiago, utc("2022-09-10T12:00:00Z")),
            utc("2022-09-11T04:00:00Z")
        );
    }

    #[test]
    fn fields_absent_keep_their_value_and_null_clears() {
        let now = utc("2025-01-01T12:00:00Z");
        let tz: Tz = "UTC".parse().unwrap();
        let current = Settings {
            price_minor: Some(450),
            sold_out_until: Some(now),
            hidden: true,
        };
        assert_eq!(change(json!({})).unwrap().apply(current, tz, now), current);
        let cleared = change(json!({"price_minor": null, "sold_out_until": null}))
            .unwrap()
            .apply(current, tz, now);
        assert_eq!(cleared.price_minor, None);
        assert_eq!(cleared.sold_out_until, None);
        assert!(cleared.hidden);
        let today = change(json!({"sold_out_today": true, "hidden": false}))
            .unwrap()
            .apply(Settings::default(), tz, now);
        assert_eq!(today.sold_out_until, Some(utc("2025-01-02T00:00:00Z")));
        assert!(!today.hidden);
        assert_eq!(
            current.diff(&today).changed(),
            ["price_minor", "sold_out_until", "hidden"]
        );
        let precise = change(json!({"sold_out_until": "2025-01-01T12:00:00.123456789+02:00"}))
            .unwrap()
            .apply(current, tz, now);
        assert_eq!(
            precise.sold_out_until,
            Some(utc("2025-01-01T10:00:00.123456Z"))
        );
    }

    #[test]
    fn bad_fields_are_refused_with_their_codes() {
        let code = |body| change(body).unwrap_err().code().to_owned();
        assert_eq!(code(json!({"price_minor": -1})), "invalid_price");
        assert_eq!(
            code(json!({"sold_out_until": "tomorrow"})),
            "invalid_sold_out_until"
        );
        assert_eq!(
            code(json!({"sold_out_until": null, "sold_out_today": true})),
            "conflicting_fields"
        );
        assert!(serde_json::from_value::<PutOverride>(json!({"stock": 1})).is_err());
    }
}
