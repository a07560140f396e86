//! The black-box tests of the whole platform, as one test binary: each module below was its own
//! binary once, and every one of them linked the whole platform (about 100 MB each in a debug
//! build), which filled small CI disks and cost a link per file.

mod common;
#[path = "support/shop.rs"]
mod support;

mod analytics;
mod analytics_ask;
mod analytics_export;
mod analytics_forecast;
mod analytics_recommendations;
mod auth_flow;
mod catalog_feed;
mod catalog_import;
mod catalog_menus;
mod catalog_modifiers;
mod catalog_products;
mod catalog_read_cache;
mod catalog_structure;
mod customers;
mod events;
mod http;
mod inventory;
mod inventory_concurrency;
mod keys;
mod kitchen;
mod locations;
mod loyalty;
mod loyalty_redeem;
mod mfa;
mod orders;
mod orders_lifecycle;
mod orders_preview;
mod orders_update;
mod passwords;
mod payments;
mod restaurant_flow;
mod rls;
mod roles_keys;
mod runtime;
mod seed;
mod tenant_reads;
mod tenants;
mod terraform;
mod users;
