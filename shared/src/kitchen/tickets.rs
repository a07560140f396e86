//! Kitchen tickets: created when an order is placed, one per (order, station); moved through
//! `pending` → `preparing` → `ready` → `served` (or `voided`) by the kitchen display; voided
//! when their order is cancelled.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::db::Prepared as _;
use crate::db::Transaction;
use crate::error::Error;
use crate::events::Outbox;
use crate::events::kitchen::{TicketCreated, TicketReady};
use crate::transitions::{self, StateMachine};

/// Where a ticket is in the kitchen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Preparing,
    Ready,
    Served,
    Voided,
}

impl Status {
    /// Every status, in the order of the ticket's life.
    pub const ALL: [Status; 5] = [
        Self::Pending,
        Self::Preparing,
        Self::Ready,
        Self::Served,
        Self::Voided,
    ];
    /// What a kitchen display shows: the tickets not yet served or voided.
    pub const OPEN: [Status; 3] = [Self::Pending, Self::Preparing, Self::Ready];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Preparing => "preparing",
            Self::Ready => "ready",
            Self::Served => "served",
            Self::Voided => "voided",
        }
    }

    /// The status named `text`, if any.
    pub fn from_name(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    fn parse(text: &str) -> Result<Self, Error> {
        Self::from_name(text)
            .ok_or_else(|| Error::internal(format!("unknown ticket status {text:?}")))
    }

    /// The states a ticket may move to from this one. `pending` may go straight to `ready`
    /// (the display's bump on a ticket nobody started).
    pub fn next_states(self) -> &'static [Status] {
        match self {
            Self::Pending => &[Self::Preparing, Self::Ready, Self::Voided],
            Self::Preparing => &[Self::Ready, Self::Voided],
            Self::Ready => &[Self::Served, Self::Voided],
            Self::Served | Self::Voided => &[],
        }
    }
}

impl StateMachine for Status {
    const RESOURCE: &'static str = "A ticket";

    fn as_str(self) -> &'static str {
        Status::as_str(self)
    }

    fn next_states(self) -> &'static [Self] {
        Status::next_states(self)
    }
}

/// A comma-separated status list (`pending,ready`), deduplicated; 400 `invalid_query` naming
/// the field for an unknown or empty one.
pub fn parse_status_list(text: &str) -> Result<Vec<Status>, Error> {
    let mut statuses = Vec::new();
    for part in text.split(',') {
        let status = Status::from_name(part.trim()).ok_or_else(|| {
            Error::bad_request(
                "invalid_query",
                format!(
                    "`status` is a comma-separated list of: {}.",
                    Status::ALL.map(Status::as_str).join(", ")
                ),
            )
            .with_extension("field", "status")
        })?;
        if !statuses.contains(&status) {
            statuses.push(status);
        }
    }
    Ok(statuses)
}

/// One line of the order, as the station sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TicketItemView {
    pub id: Uuid,
    pub order_line_id: Uuid,
    pub position: i32,
    pub product_name: String,
    pub variant_name: String,
    pub quantity: i64,
    /// The line's modifiers as priced (`[{"name": "Oat milk", ...}]`).
    pub modifiers: Value,
    pub note: Option<String>,
}

/// A ticket as answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TicketView {
    pub id: Uuid,
    pub location_id: Uuid,
    pub station_id: Uuid,
    pub station_name: String,
    pub order_id: Uuid,
    pub order_number: String,
    pub table: Option<String>,
    pub channel: String,
    pub order_note: Option<String>,
    pub status: Status,
    pub next_states: Vec<Status>,
    pub items: Vec<TicketItemView>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub ready_at: Option<DateTime<Utc>>,
    pub served_at: Option<DateTime<Utc>>,
    pub voided_at: Option<DateTime<Utc>>,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
}

const TICKET_SELECT: &str = "SELECT t.id, t.location_id, t.station_id, s.name AS station_name, \
    t.order_id, t.order_number, t.table_label, t.channel, t.order_note, t.status, t.created_at, \
    t.started_at, t.ready_at, t.served_at, t.voided_at, t.version, t.updated_at \
    FROM kitchen.tickets t JOIN kitchen.stations s ON s.id = t.station_id";

impl TicketItemView {
    fn from_row(row: &tokio_postgres::Row) -> Result<Self, Error> {
        Ok(Self {
            id: row.try_get("id")?,
            order_line_id: row.try_get("order_line_id")?,
            position: row.try_get("position")?,
            product_name: row.try_get("product_name")?,
            variant_name: row.try_get("variant_name")?,
            quantity: row.try_get("quantity")?,
            modifiers: row.try_get("modifiers")?,
            note: row.try_get("note")?,
        })
    }
}

impl TicketView {
    fn from_row(row: &tokio_postgres::Row, items: Vec<TicketItemView>) -> Result<Self, Error> {
        let status = Status::parse(row.try_get("status")?)?;
        Ok(Self {
            id: row.try_get("id")?,
            location_id: row.try_get("location_id")?,
            station_id: row.try_get("station_id")?,
            station_name: row.try_get("station_name")?,
            order_id: row.try_get("order_id")?,
            order_number: row.try_get("order_number")?,
            table: row.try_get("table_label")?,
            channel: row.try_get("channel")?,
            order_note: row.try_get("order_note")?,
            status,
            next_states: status.next_states().to_vec(),
            items,
            created_at: row.try_get("created_at")?,
            started_at: row.try_get("started_at")?,
            ready_at: row.try_get("ready_at")?,
            served_at: row.try_get("served_at")?,
            voided_at: row.try_get("voided_at")?,
            version: row.try_get("version")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

/// The tickets of `rows` with their items (one more statement).
async fn with_items(
    tx: &Transaction<'_>,
    rows: &[tokio_postgres::Row],
) -> Result<Vec<TicketView>, Error> {
    let ids: Vec<Uuid> = rows
        .iter()
        .map(|row| row.try_get("id"))
        .collect::<Result<_, _>>()?;
    let item_rows = tx
        .query_cached(
            "SELECT ticket_id, id, order_line_id, position, product_name, variant_name, quantity,
                    modifiers, note
             FROM kitchen.ticket_items WHERE ticket_id = ANY($1) ORDER BY ticket_id, position",
            &[&ids],
        )
        .await?;
    let mut items: HashMap<Uuid, Vec<TicketItemView>> = HashMap::new();
    for row in &item_rows {
        items
            .entry(row.try_get("ticket_id")?)
            .or_default()
            .push(TicketItemView::from_row(row)?);
    }
    rows.iter()
        .zip(ids)
        .map(|(row, id)| TicketView::from_row(row, items.remove(&id).unwrap_or_default()))
        .collect()
}

/// The ticket `id` with its items, or `None` (RLS: another tenant's ticket is absent).
pub async fn load(tx: &Transaction<'_>, id: Uuid) -> Result<Option<TicketView>, Error> {
    let rows = tx
        .query(&format!("{TICKET_SELECT} WHERE t.id = $1"), &[&id])
        .await?;
    Ok(with_items(tx, &rows).await?.into_iter().next())
}

/// The tickets of order `order_id`, oldest first.
pub async fn of_order(tx: &Transaction<'_>, order_id: Uuid) -> Result<Vec<TicketView>, Error> {
    let rows = tx
        .query(
            &format!("{TICKET_SELECT} WHERE t.order_id = $1 ORDER BY t.id"),
            &[&order_id],
        )
        .await?;
    with_items(tx, &rows).await
}

/// Filters of [`list`]; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// The last id of the previous page (tickets come oldest first).
    pub cursor: Option<Uuid>,
    pub location_id: Option<Uuid>,
    /// The principal's locations (`None`: every location of the tenant).
    pub locations: Option<Vec<Uuid>>,
    pub station_id: Option<Uuid>,
    /// At least one status.
    pub statuses: Vec<Status>,
    /// Rows to fetch.
    pub limit: i64,
}

/// Tickets matching `filter`, oldest first (what a kitchen display polls), with their items.
pub async fn list(tx: &Transaction<'_>, filter: &ListFilter) -> Result<Vec<TicketView>, Error> {
    let statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
    let rows = tx
        .query(
            &format!(
                "{TICKET_SELECT}
                 WHERE ($1::uuid IS NULL OR t.id > $1)
                   AND ($2::uuid IS NULL OR t.location_id = $2)
                   AND ($3::uuid[] IS NULL OR t.location_id = ANY($3))
                   AND ($4::uuid IS NULL OR t.station_id = $4)
                   AND t.status = ANY($5)
                 ORDER BY t.id
                 LIMIT $6"
            ),
            &[
                &filter.cursor,
                &filter.location_id,
                &filter.locations,
                &filter.station_id,
                &statuses,
                &filter.limit,
            ],
        )
        .await?;
    with_items(tx, &rows).await
}

/// The ticket id of a path segment; a malformed one is simply not found.
pub fn path_id(text: &str) -> Result<Uuid, Error> {
    Uuid::try_parse(text).map_err(|_| not_found())
}

/// 404 `not_found` for a ticket.
pub fn not_found() -> Error {
    Error::not_found("No such kitchen ticket.")
}

/// A line of the order being placed.
struct Line {
    id: Uuid,
    product_name: String,
    variant_name: String,
    quantity: i64,
    modifiers: Value,
    note: Option<String>,
}

/// Creates the kitchen tickets of order `order_id` (called by
/// [`crate::sales::lifecycle::place`] in the placing transaction, before the stock is sold):
/// the order's lines are grouped by station — the active station that cooks the line's
/// category or its nearest mapped ancestor, else the location's active default station — and
/// each station gets one `pending` ticket with the order's number, table, channel and note.
/// Lines that map to no station get no ticket; a location without active stations gets no
/// tickets at all. Records `kitchen.ticket.created` per ticket; returns the ticket ids.
pub async fn create_tickets_for_order(
    tx: &Transaction<'_>,
    tenant: Uuid,
    order_id: Uuid,
    outbox: &mut Outbox,
) -> Result<Vec<Uuid>, Error> {
    // One round trip when the location has no stations (the common case of a shop).
    let order = tx
        .query_one_cached(
            "SELECT o.location_id, o.number, o.table_label, o.channel, o.note,
                    EXISTS (SELECT 1 FROM kitchen.stations s
                            WHERE s.location_id = o.location_id AND s.active) AS has_stations,
                    (SELECT s.id FROM kitchen.stations s
                     WHERE s.location_id = o.location_id AND s.active AND s.is_default)
                        AS default_station
             FROM sales.orders o WHERE o.id = $1",
            &[&order_id],
        )
        .await?;
    if !order.try_get::<_, bool>("has_stations")? {
        return Ok(Vec::new());
    }
    let location: Uuid = order.try_get("location_id")?;
    let default: Option<Uuid> = order.try_get("default_station")?;
    let lines_params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&order_id];
    let route_params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&order_id, &location];
    let (line_rows, routes) = futures::try_join!(
        tx.query_cached(
            "SELECT id, product_name, variant_name, quantity, modifiers, note
             FROM sales.order_lines WHERE order_id = $1 ORDER BY position",
            &lines_params,
        ),
        // Each line's category, then its ancestors, nearest first; the nearest one an active
        // station at the location cooks decides.
        tx.query_cached(
            "WITH RECURSIVE up AS (
                 SELECT l.id AS line_id, c.id AS category_id, c.parent_id, 0 AS depth
                 FROM sales.order_lines l JOIN catalog.categories c ON c.id = l.category_id
                 WHERE l.order_id = $1
               UNION ALL
                 SELECT up.line_id, c.id, c.parent_id, up.depth + 1
                 FROM up JOIN catalog.categories c ON c.id = up.parent_id
                 WHERE up.depth < 64
             )
             SELECT DISTINCT ON (up.line_id) up.line_id, sc.station_id
             FROM up
             JOIN kitchen.station_categories sc
               ON sc.category_id = up.category_id AND sc.location_id = $2
             JOIN kitchen.stations s ON s.id = sc.station_id AND s.active
             ORDER BY up.line_id, up.depth",
            &route_params,
        )
    )?;
    let mut route: HashMap<Uuid, Uuid> = HashMap::new();
    for row in &routes {
        route.insert(row.try_get("line_id")?, row.try_get("station_id")?);
    }
    // Stations in the order of their first line, lines in order within a station.
    let mut tickets: BTreeMap<usize, (Uuid, Vec<Line>)> = BTreeMap::new();
    let mut slot: HashMap<Uuid, usize> = HashMap::new();
    for row in &line_rows {
        let line = Line {
            id: row.try_get("id")?,
            product_name: row.try_get("product_name")?,
            variant_name: row.try_get("variant_name")?,
            quantity: row.try_get("quantity")?,
            modifiers: row.try_get("modifiers")?,
            note: row.try_get("note")?,
        };
        let Some(station) = route.get(&line.id).copied().or(default) else {
            continue;
        };
        let next = slot.len();
        let at = *slot.entry(station).or_insert(next);
        tickets
            .entry(at)
            .or_insert_with(|| (station, Vec::new()))
            .1
            .push(line);
    }

    let number: String = order.try_get("number")?;
    let table: Option<String> = order.try_get("table_label")?;
    let channel: String = order.try_get("channel")?;
    let note: Option<String> = order.try_get("note")?;
    let item_statement = tx
        .prepare_cached(
            "INSERT INTO kitchen.ticket_items
                    (id, tenant_id, ticket_id, order_line_id, position, product_name,
                     variant_name, quantity, modifiers, note)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .await?;
    let mut ids = Vec::with_capacity(tickets.len());
    for (station, lines) in tickets.into_values() {
        let id = Uuid::now_v7();
        let created_at: DateTime<Utc> = tx
            .query_one_cached(
                "INSERT INTO kitchen.tickets
                        (id, tenant_id, location_id, station_id, order_id, order_number,
                         table_label, channel, order_note)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 RETURNING created_at",
                &[
                    &id, &tenant, &location, &station, &order_id, &number, &table, &channel, &note,
                ],
            )
            .await?
            .try_get(0)?;
        let item_ids: Vec<(Uuid, i32)> = (0..lines.len())
            .map(|position| (Uuid::now_v7(), i32::try_from(position).unwrap_or(i32::MAX)))
            .collect();
        let params: Vec<Vec<&(dyn tokio_postgres::types::ToSql + Sync)>> = lines
            .iter()
            .zip(&item_ids)
            .map(|(line, (item_id, position))| {
                let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![
                    item_id,
                    &tenant,
                    &id,
                    &line.id,
                    position,
                    &line.product_name,
                    &line.variant_name,
                    &line.quantity,
                    &line.modifiers,
                    &line.note,
                ];
                params
            })
            .collect();
        // Pipelined: one round trip for every item.
        futures::future::try_join_all(params.iter().map(|item| tx.execute(&item_statement, item)))
            .await?;
        outbox
            .record(
                tx,
                Some(tenant),
                &TicketCreated {
                    ticket_id: id,
                    order_id,
                    location_id: location,
                    station_id: station,
                    number: number.clone(),
                    table: table.clone(),
                    items: lines.len(),
                    created_at,
                },
            )
            .await?;
        ids.push(id);
    }
    Ok(ids)
}

/// Voids the tickets of order `order_id` that were not served or voided yet (called by
/// [`crate::sales::lifecycle::cancel`] in the cancelling transaction); returns how many.
pub async fn void_tickets_for_order(tx: &Transaction<'_>, order_id: Uuid) -> Result<u64, Error> {
    tx.execute_cached(
        "UPDATE kitchen.tickets
         SET status = 'voided', voided_at = now(), version = version + 1, updated_at = now()
         WHERE order_id = $1 AND status IN ('pending', 'preparing', 'ready')",
        &[&order_id],
    )
    .await
}

/// Moves the ticket `id` to `to` (409 `invalid_transition` with `status` and `next_states`
/// unless allowed), stamping the state's time; 404 when absent or at a location `visible`
/// refuses. Becoming `ready` records `kitchen.ticket.ready`.
pub async fn transition(
    tx: &Transaction<'_>,
    tenant: Uuid,
    id: Uuid,
    to: Status,
    visible: &(dyn Fn(Uuid) -> bool + Sync),
    outbox: &mut Outbox,
) -> Result<TicketView, Error> {
    let row = tx
        .query_opt_cached(
            "SELECT location_id, status FROM kitchen.tickets WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await?
        .ok_or_else(not_found)?;
    if !visible(row.try_get("location_id")?) {
        return Err(not_found());
    }
    let from = Status::parse(row.try_get("status")?)?;
    transitions::check(from, to)?;
    tx.execute_cached(
        "UPDATE kitchen.tickets
         SET status = $2, version = version + 1, updated_at = now(),
             started_at = CASE WHEN $2 = 'preparing' THEN now() ELSE started_at END,
             ready_at = CASE WHEN $2 = 'ready' THEN now() ELSE ready_at END,
             served_at = CASE WHEN $2 = 'served' THEN now() ELSE served_at END,
             voided_at = CASE WHEN $2 = 'voided' THEN now() ELSE voided_at END
         WHERE id = $1",
        &[&id, &to.as_str()],
    )
    .await?;
    let view = load(tx, id).await?.ok_or_else(not_found)?;
    if to == Status::Ready {
        outbox
            .record(
                tx,
                Some(tenant),
                &TicketReady {
                    ticket_id: view.id,
                    order_id: view.order_id,
                    location_id: view.location_id,
                    station_id: view.station_id,
                    number: view.order_number.clone(),
                    table: view.table.clone(),
                    ready_at: view.ready_at.unwrap_or_else(Utc::now),
                },
            )
            .await?;
    }
    Ok(view)
}

/// The common ending of a move: commit, publish the events, answer the ticket with its `ETag`.
pub async fn finish(
    state: &crate::state::AppState,
    tx: Transaction<'_>,
    outbox: Outbox,
    view: TicketView,
) -> Result<axum::response::Response, Error> {
    use axum::response::IntoResponse;
    tx.commit().await?;
    outbox.publish(state).await;
    Ok((
        [(
            axum::http::header::ETAG,
            crate::http::versioning::etag(view.version),
        )],
        crate::http::Json(view),
    )
        .into_response())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_state_machine_reaches_served_or_voided() {
        use Status::*;
        assert!(transitions::check(Pending, Preparing).is_ok());
        assert!(transitions::check(Pending, Ready).is_ok());
        assert!(transitions::check(Preparing, Ready).is_ok());
        assert!(transitions::check(Ready, Served).is_ok());
        for from in [Pending, Preparing, Ready] {
            assert!(transitions::check(from, Voided).is_ok());
        }
        for from in [Served, Voided] {
            assert!(from.next_states().is_empty());
        }
        let err = transitions::check(Ready, Preparing).unwrap_err();
        assert_eq!(err.code(), "invalid_transition");
        assert_eq!(
            err.problem().extensions["next_states"],
            serde_json::json!(["served", "voided"])
        );
        assert_eq!(
            err.detail(),
            Some("A ticket that is ready cannot become preparing; it can become: served, voided.")
        );
    }

    #[test]
    fn status_lists_parse_and_refuse_unknown_names() {
        assert_eq!(
            parse_status_list("ready, pending,ready").unwrap(),
            vec![Status::Ready, Status::Pending]
        );
        for bad in ["", "done", "pending,"] {
            let err = parse_status_list(bad).unwrap_err();
            assert_eq!(err.code(), "invalid_query", "{bad}");
            assert_eq!(err.problem().extensions["field"], "status");
        }
    }
}
