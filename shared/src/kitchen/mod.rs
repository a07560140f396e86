//! Kitchen (issue 5, schema `kitchen`): stations per location and the tickets placing an order
//! creates for them.
//!
//! - A station (grill, bar, pastry) belongs to one location and cooks some catalog categories;
//!   a category goes to at most one station per location, and a product in a subcategory goes
//!   to the station of its nearest mapped ancestor. One station per location may be the
//!   default: it takes the lines whose category no active station cooks (and lines without a
//!   category). Inactive stations get no new tickets.
//! - Placing an order ([`crate::sales::lifecycle::place`]) calls
//!   [`tickets::create_tickets_for_order`]: one ticket per (order, station) with the order's
//!   number, table, channel and note, and one item per line (product and variant name,
//!   quantity, modifiers, note). A line that maps to no station (no mapping and no default)
//!   gets no ticket; a location without stations gets no tickets at all, and placing works as
//!   before.
//! - A ticket moves `pending` → `preparing` → `ready` → `served`; the bump (`pending` or
//!   `preparing` → `ready`) skips `preparing`; `voided` from any state before `served`.
//!   Cancelling a placed order voids its tickets that were not served
//!   ([`tickets::void_tickets_for_order`]). Becoming `ready` records `kitchen.ticket.ready`.

pub mod stations;
pub mod tickets;

/// The permission to read stations and tickets (what a kitchen display holds).
pub const READ: &str = "kitchen:read";
/// The permission to move tickets.
pub const WRITE: &str = "kitchen:write";
/// The permission to configure stations: they are part of a location's set-up.
pub const CONFIGURE: &str = "locations:write";
