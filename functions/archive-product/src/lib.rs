//! `archive-product` — placeholder until its issue-4 implementation lands.

use olympus::Function;

pub fn function() -> Function {
    Function::http("archive-product").build()
}
