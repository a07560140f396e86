//! `olympus`: everything two Olympus functions would otherwise copy.
//!
//! A function crate exports a [`Function`] spec (name, trigger, published events, router) and
//! its `main` calls [`runtime::serve`]. The dev runner mounts every spec in one process; the
//! topology generator turns the same specs into Terraform input.

pub mod analytics;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod config;
pub mod customers;
pub mod db;
pub mod error;
pub mod events;
pub mod function;
pub mod http;
pub mod inventory;
pub mod kitchen;
pub mod locations;
pub mod loyalty;
pub mod mail;
pub mod plans;
pub mod runtime;
pub mod sales;
pub mod state;
pub mod telemetry;
pub mod tenants;
#[cfg(feature = "testing")]
pub mod testing;
pub mod transitions;
pub mod users;

pub use config::Config;
pub use error::{Error, Result};
pub use function::{Function, Trigger};
pub use state::AppState;
