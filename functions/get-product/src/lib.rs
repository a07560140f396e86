//! `get-product` — placeholder until its issue-4 implementation lands.

use olympus::Function;

pub fn function() -> Function {
    Function::http("get-product").build()
}
