//! Rebuilds the crate when a migration is added or changed: `refinery::embed_migrations!`
//! reads `migrations/` at compile time, and cargo does not otherwise watch that directory, so a
//! new migration file would silently be left out of an incremental build.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
