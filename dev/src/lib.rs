//! The local platform, never deployed: every function in one process ([`runner`]), the local
//! services ([`services`]: PostgreSQL, the Pub/Sub emulator), the topology generator
//! ([`topology`]), the benchmarks ([`bench`]) and the demo data ([`seed`]).

pub mod bench;
pub mod bench_auth;
pub mod bench_catalog;
pub mod bench_orders;
pub mod bench_rollup;
pub mod load;
pub mod pubsub;
pub mod rollup;
pub mod runner;
pub mod seed;
pub mod services;
pub mod topology;

/// Every function crate under `functions/`.
pub mod registry {
    include!(concat!(env!("OUT_DIR"), "/registry.rs"));
}
